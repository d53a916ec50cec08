//! The SecureChat server as a library; `main.rs` is a thin binary over it.
//!
//! Layout, from the socket inwards:
//!
//! - [`server`]: accept loop, TLS handshake, HTTP/1.1, graceful shutdown;
//!   [`server::run`] takes a bound listener (tests use port 0);
//! - [`peers`]: the per-address cap on unauthenticated connections;
//! - [`tls`]: built-in CA and leaf certificates, renewal, rustls config;
//! - [`http`]: router, security headers, the JSON API, ops endpoints;
//! - [`ws`]: the `/ws` endpoint: upgrade, per-connection reader and writer;
//! - [`hub`]: connections, room membership, fan-out, presence;
//! - [`outbox`]: a connection's bounded outbound queue, drained whole;
//! - [`chat`]: posting a message (authorize → store → fan out);
//! - [`conversations`]: rooms, DMs, membership, history, read marks, edits;
//! - [`action`]: the error type of user actions;
//! - [`accounts`]: users, sessions, passwords, invites (API and CLI);
//! - [`files`]: file bytes on disk by SHA-256, streamed uploads, the sweep;
//! - [`auth`]: argon2id hashing, tokens, login throttling;
//! - [`ratelimit`]: per-user token bucket for messages;
//! - [`store`]: SQLite with group commit, migrations, queries;
//! - [`config`]: the one validated configuration struct;
//! - [`metrics`]: counters for `/metrics`;
//! - [`state`]: the shared [`state::AppState`];
//! - [`tracker`]: counts connection tasks so shutdown can wait for them.

pub mod accounts;
pub mod action;
pub mod auth;
pub mod chat;
pub mod config;
pub mod conversations;
pub mod files;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod outbox;
pub mod peers;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod tracker;
pub mod ws;

pub use config::Config;
pub use server::{Prepared, ServerError, run, serve};

/// Installs ring as the process-wide rustls crypto provider (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
