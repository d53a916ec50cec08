//! Authentication pieces: [`password`] hashing (argon2id, off the async
//! runtime), session [`token`]s, and the login [`throttle`].

pub mod password;
pub mod throttle;
pub mod token;
