//! SecureChat's load generator as a library; `main.rs` is the CLI.
//!
//! - [`target`]: the server under test (loopback only): SecureChat, or a
//!   peer from `bench/peers/` (raw WebSocket broadcast, Socket.IO, IRC over
//!   WebSocket); its CA; set-up calls (accounts, rooms) and the frames each
//!   protocol sends;
//! - [`ws`]: wss:// connections (tungstenite for SecureChat's own
//!   scenarios; [`lean`] for `fanout`'s load), each protocol's handshake,
//!   and the load message format (each body carries its intended send
//!   time); [`lean`]: a minimal WebSocket client that parses frames in
//!   place, so that reading does not saturate the generator first;
//! - [`scenarios`]: `fanout` (and `max`), `durable`, `idle`, `connect` (full
//!   and resumed handshakes), `storm`, `slow`, `logins` (a login storm
//!   against live traffic), `search`;
//! - [`proof`]: what each receiver got, checked message by message (lost,
//!   duplicated, out of order, corrupted);
//! - [`stats`]: HDR latency histograms; [`procfs`]: memory and CPU
//!   readings; [`clock`]: the run's one clock, and the senders' pacing
//!   thread (on time to about 0.1 ms, where tokio's timer is 1–2 ms late).

pub mod clock;
pub mod lean;
pub mod procfs;
pub mod proof;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod ws;
