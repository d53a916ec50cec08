//! The SecureChat client library, used by the `securechat` binary.
//!
//! Layout:
//!
//! - [`trust`]: TLS trust: public CAs, a `--ca-file`, or a pinned
//!   certificate authority (trust on first use, as ssh does);
//! - [`store`]: the client's files (session token, known servers), 0600;
//! - [`api`]: the HTTPS API (register, login, rooms, history, …), and
//!   [`collab`] its reactions, pins, threads and notification settings;
//! - [`conn`]: the WebSocket connection: reconnects with backoff and jitter,
//!   resumes with `sync`, and keeps an outbox so every message is sent
//!   exactly once, in order;
//! - [`e2e`]: this login's end-to-end encryption device: keys, sharing
//!   before sends, opening what arrives, the key backup;
//! - [`transfer`]: file upload and resumable, verified download;
//! - [`format`]: the one way events read as text (`chat`, `history`,
//!   `tail`), sizes, ages;
//! - [`tui`]: the full-screen `securechat chat` (state, rendering, keys);
//! - [`error`]: [`ClientError`] and the exit codes it maps to.

pub mod api;
pub mod collab;
pub mod conn;
pub mod e2e;
pub mod error;
pub mod format;
pub mod store;
pub mod transfer;
pub mod trust;
pub mod tui;

pub use error::ClientError;

/// Installs ring as the process-wide rustls crypto provider (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
