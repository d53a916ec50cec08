//! The SecureChat server as a library; `main.rs` is a thin binary over it.
//!
//! Layout, from the socket inwards:
//!
//! - [`server`]: accept loop, TLS handshake, HTTP/1.1, graceful shutdown;
//!   [`server::run`] takes a bound listener (tests use port 0);
//! - [`redirect`]: plain HTTP (on the HTTPS port, or a port of its own)
//!   answered with a redirect to https://;
//! - [`proxy`]: behind a reverse proxy, the client address it reports
//!   (`trusted_proxies`); its plain-HTTP listener is served like TLS ones;
//! - [`peers`]: the per-address cap on unauthenticated connections;
//! - [`sockets`]: per-user and per-address caps on authenticated sockets;
//! - [`tls`]: built-in CA and leaf certificates, renewal, rustls config;
//! - [`http`]: router, security headers, the JSON API, ops endpoints;
//! - [`ws`]: the `/ws` endpoint: upgrade, per-connection reader and writer;
//! - [`hub`]: connections, room membership, fan-out, presence; with several
//!   nodes it relays all of it to the others through [`broker`] (NATS);
//! - [`outbox`]: a connection's bounded outbound queue, drained whole;
//! - [`chat`]: posting a message (authorize → store → fan out);
//! - [`conversations`]: rooms, DMs, membership, history, read marks, edits;
//! - [`e2e`]: end-to-end encryption's relay: device keys, one-time keys,
//!   to-device messages (the server holds no private key, no plaintext);
//! - [`action`]: the error type of user actions;
//! - [`accounts`]: users, sessions, passwords, invites (API and CLI);
//! - [`integrations`]: API tokens, bots, posting over HTTPS, incoming and
//!   outgoing webhooks;
//! - [`files`]: file bytes on disk by SHA-256, streamed uploads, the sweep;
//! - [`auth`]: argon2id hashing, tokens, login throttling;
//! - [`ratelimit`]: token buckets: per-user budgets, registrations;
//! - [`retention`]: old messages removed by each room's policy, hourly;
//! - [`search`]: search queries parsed into FTS5 terms and filters;
//! - [`seed`]: a large made-up history, for benchmarks;
//! - [`store`]: SQLite or PostgreSQL behind one SQL interface, group
//!   commit, migrations, queries;
//! - [`config`]: the one validated configuration struct;
//! - [`datadir`]: the data directory's modes (0700/0600) and its lock;
//! - [`metrics`]: counters for `/metrics`;
//! - [`migrate`]: `migrate --to`: a SQLite installation into PostgreSQL;
//! - [`backup`]: `backup` and `restore`: a consistent copy while it runs;
//! - [`export`]: the server's or a user's data as JSON and files;
//! - [`import`]: a Slack export, imported;
//! - [`state`]: the shared [`state::AppState`];
//! - [`tracker`]: counts connection tasks so shutdown can wait for them.

pub mod accounts;
pub mod action;
pub mod auth;
pub mod backup;
pub mod broker;
pub mod chat;
pub mod collab;
pub mod config;
pub mod conversations;
pub mod datadir;
pub mod e2e;
pub mod export;
pub mod files;
pub mod http;
pub mod hub;
pub mod import;
pub mod integrations;
pub mod metrics;
pub mod migrate;
pub mod outbox;
pub mod peers;
pub mod proxy;
pub mod ratelimit;
pub mod redirect;
pub mod retention;
pub mod search;
pub mod seed;
pub mod server;
pub mod sockets;
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
