//! Integration tests: one binary, every test against a real server over
//! real TLS sockets (see `helpers.rs`).

mod auth;
mod chat;
mod cli;
mod helpers;
mod limits;
mod ops;
mod resume;
mod tls;
