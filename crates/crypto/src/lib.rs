//! SecureChat's end-to-end encryption, shared by the terminal client
//! (natively) and the web app (compiled to WebAssembly): one [`Machine`]
//! per device, built on vodozemac's audited Olm and Megolm.
//!
//! - [`attachment`]: sealing a file for an encrypted conversation before
//!   upload, and checking and opening one after download;
//! - [`keys`]: signing and checking device keys and one-time keys;
//! - [`machine`]: the device's state: its Olm account, Olm sessions with
//!   other devices, Megolm sessions per room (outbound: ours; inbound: every
//!   sender's), the devices it has seen (trust on first use); what to share
//!   with whom before sending, and decryption;
//! - [`pickle`]: saving and loading a machine, every secret encrypted with
//!   a 32-byte pickle key;
//! - [`backup`]: the recovery key (or passphrase, via Argon2id) and the
//!   sealed copies of room keys the server keeps for a new device;
//! - [`safety`]: the safety code two users compare to verify each other's
//!   devices.
//!
//! No cryptography is written here: keys, signatures, Olm and Megolm are
//! vodozemac's; hashes, the AEAD of files and of the key backup
//! (XChaCha20-Poly1305) and Argon2id are RustCrypto's.

pub mod attachment;
pub mod backup;
pub mod keys;
pub mod machine;
pub mod pickle;
pub mod safety;

pub use attachment::{decrypt_file, encrypt_file};
pub use backup::RecoveryKey;
pub use machine::{Decrypted, Machine, Received, SharePlan, Trust};
pub use safety::{SafetyCode, safety_code};

use securechat_proto::DeviceId;
use thiserror::Error;

/// What can go wrong in the client's cryptography.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    /// The room key of this message has not reached this device (an
    /// "unable to decrypt"): it may arrive later, or come from a backup.
    #[error("the key for this message has not arrived")]
    UnknownSession,
    /// The message claims a sender other than the one who shared its key.
    #[error("the message's sender does not match its key")]
    WrongSender,
    /// A device key, one-time key or message signature does not verify.
    #[error("bad signature on {0}")]
    BadSignature(&'static str),
    /// We have no keys for the device a to-device message claims to come
    /// from: look them up, then hand the message in again.
    #[error("unknown device {0}")]
    UnknownDevice(DeviceId),
    /// The message names another room, device or recipient than the one it
    /// arrived in or for: a replay or a redirection.
    #[error("the message was meant for {0}")]
    Misdirected(&'static str),
    /// Ciphertext that does not decrypt (tampered, or not for us).
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// Malformed input (bad base64, JSON, key).
    #[error("malformed {0}")]
    Format(String),
    /// A saved machine that cannot be opened with this pickle key.
    #[error("cannot open the saved keys: {0}")]
    Pickle(String),
}

/// `N` bytes from the operating system's (or the browser's) CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| Error::format("randomness", e))?;
    Ok(b)
}

impl Error {
    /// A short stable name for the kind of failure (for the web app).
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownSession => "unknown_session",
            Error::WrongSender => "wrong_sender",
            Error::BadSignature(_) => "bad_signature",
            Error::UnknownDevice(_) => "unknown_device",
            Error::Misdirected(_) => "misdirected",
            Error::Decrypt(_) => "decrypt",
            Error::Format(_) => "format",
            Error::Pickle(_) => "pickle",
        }
    }

    fn format(what: &str, e: impl std::fmt::Display) -> Error {
        Error::Format(format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests;
