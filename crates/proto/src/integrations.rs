//! Integrations over the HTTPS API: personal API tokens, bot accounts,
//! posting a message without a WebSocket, and incoming and outgoing
//! webhooks.

use crate::{MessageId, RoomId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an API token may do. A login session may do everything its user
/// may; a token only what its scopes allow, and never manage tokens or
/// the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `GET` requests; receiving on the WebSocket.
    Read,
    /// Every other request outside `/api/admin/`; sending on the WebSocket.
    Write,
    /// `/api/admin/…`, if the user is an admin.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /api/tokens`: a new personal API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateToken {
    /// What it is for (1–64 characters), shown in the list.
    pub name: String,
    /// At least one.
    pub scopes: Vec<Scope>,
    /// It stops working after this many days (1–3650); never if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_days: Option<u32>,
}

/// An API token as listed (the token itself is shown only once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
}

/// Answer to `POST /api/tokens` and `POST /api/admin/bots…`: the token,
/// shown this once (only its SHA-256 is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// `GET /api/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensResponse {
    pub tokens: Vec<TokenInfo>,
}

/// `POST /api/admin/bots`: a bot account (no password; it signs in with
/// the API token the answer carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBot {
    pub username: String,
    /// Shown instead of the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// Answer to `POST /api/admin/bots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCreated {
    pub id: UserId,
    pub username: String,
    #[serde(flatten)]
    pub token: NewToken,
}

/// `POST /api/rooms/{id}/messages`: a message sent over HTTPS, as the
/// `send` frame would send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub body: String,
    /// Makes a retry harmless: the same id from the same user is stored
    /// once. A fresh one is made if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Reply in the thread of this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<MessageId>,
}

/// Which kind a webhook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// A secret URL that posts to the room what is POSTed to it.
    Incoming,
    /// A URL the server POSTs the room's messages to, signed.
    Outgoing,
}

/// `POST /api/rooms/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWebhook {
    pub kind: WebhookKind,
    /// What it is for (1–64 characters).
    pub name: String,
    /// Outgoing: where to POST (`https://…`; `http://` only to an address
    /// the server's `webhook_allow` lets it reach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Outgoing: only messages whose first word is one of these (up to 10,
    /// case-insensitive); every message if absent or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
}

/// A webhook as listed. Its secret is shown only when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: i64,
    pub room: RoomId,
    pub kind: WebhookKind,
    pub name: String,
    /// Who made it: an incoming webhook posts as them, an outgoing one
    /// sends only what they may read.
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<String>,
    pub created_at: Timestamp,
}

/// Answer to `POST /api/rooms/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub info: WebhookInfo,
    /// Incoming: the URL to POST to (the secret is in its path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_url: Option<String>,
    /// Outgoing: the HMAC-SHA256 key that signs each delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /api/rooms/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksResponse {
    pub webhooks: Vec<WebhookInfo>,
}

/// `POST /hooks/{secret}`: what an incoming webhook takes (Slack's shape:
/// `text`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingPost {
    pub text: String,
}

/// What an outgoing webhook POSTs, as JSON, for each message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEvent {
    /// Always `"message"`.
    pub event: String,
    pub webhook: i64,
    pub room: RoomId,
    pub room_name: String,
    pub id: MessageId,
    pub seq: u64,
    pub sender: String,
    pub body: String,
    pub ts: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<MessageId>,
    /// The trigger word it matched, if the webhook has triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// What a receiver may answer an outgoing webhook with (status 200): a
/// reply, posted to the room (in the message's thread, if it had one) as
/// the webhook's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingReply {
    #[serde(default)]
    pub text: String,
}

/// The header carrying an outgoing delivery's signature:
/// `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of
/// the timestamp header's value, a `.`, and the body.
pub const SIGNATURE_HEADER: &str = "x-securechat-signature";
/// The header carrying an outgoing delivery's time (Unix seconds): a
/// receiver refuses old ones, so a captured delivery cannot be replayed.
pub const TIMESTAMP_HEADER: &str = "x-securechat-timestamp";
/// The header carrying an outgoing delivery's id (`webhook.message`),
/// the same on each retry: a receiver can drop a repeat.
pub const DELIVERY_HEADER: &str = "x-securechat-delivery";
