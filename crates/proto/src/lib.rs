//! SecureChat wire protocol: the types both ends of a connection agree on.
//!
//! This crate has no sockets and no database; the server and the clients
//! depend on it, never the other way round. Layout:
//!
//! - [`ids`]: typed ids (`UserId`, `RoomId`, `MessageId`) and `Seq`;
//! - [`time`]: [`Timestamp`], milliseconds since the epoch, RFC 3339 on the wire;
//! - [`ws`]: WebSocket frames, [`ClientMsg`] and [`ServerMsg`] (`"type"`-tagged JSON);
//! - [`http`]: bodies of the HTTPS API (`/api/register`, `/api/login`, …);
//! - [`error`]: the stable error codes shared by both;
//! - [`range`]: the HTTP `Range` header of downloads;
//! - [`retention`]: how long a room keeps its messages;
//! - [`validate`]: the rules for usernames, passwords and message bodies;
//! - [`digest`]: SHA-256 fingerprints and hex, as both ends write them;
//! - [`e2e`]: device keys, to-device messages, encrypted content;
//! - [`collab`]: threads, reactions, pins, mentions, notification levels;
//! - [`integrations`]: API tokens and scopes, bots, webhooks;
//! - [`markup`]: the formatting grammar (a Markdown subset) as a tree.
//!
//! `docs/protocol.md` at the repository root is the human-readable contract.

pub mod collab;
pub mod digest;
pub mod e2e;
pub mod error;
pub mod http;
pub mod ids;
pub mod integrations;
pub mod markup;
pub mod range;
pub mod retention;
pub mod time;
pub mod validate;
pub mod ws;

pub use error::ErrorCode;
pub use ids::{DeviceId, FileId, MessageId, RoomId, Seq, UserId};
pub use time::Timestamp;
pub use ws::{ClientMsg, ServerMsg};

/// Version of the WebSocket protocol, sent in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Name of the room every user belongs to.
pub const GENERAL_ROOM: &str = "general";

/// Name of the session cookie set by `/api/register` and `/api/login`.
pub const SESSION_COOKIE: &str = "__Host-securechat_session";
