//! WebSocket frames: one JSON object per text frame, tagged by `"type"`.
//!
//! Unknown fields are ignored (so either side can grow), unknown `type`s are
//! an error (`bad_request`).

use crate::{ErrorCode, FileId, MessageId, RoomId, Seq, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Post `body` to `room`. `client_msg_id` makes retries idempotent.
    Send {
        room: RoomId,
        client_msg_id: String,
        /// The text; empty (or left out) when `encrypted` is given.
        #[serde(default)]
        body: String,
        /// In an end-to-end encrypted room: the message, encrypted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted: Option<crate::e2e::Encrypted>,
        /// With `encrypted`: the encrypted file this message carries,
        /// uploaded just before (its name, type and key are in the
        /// ciphertext). Files in the clear are sent by upload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<FileId>,
        /// With `encrypted`: whom it mentions (usernames, or `room`), in
        /// the clear so the server can notify them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<String>,
        /// Reply in the thread of this message (a reply to a reply joins
        /// the same thread).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<MessageId>,
        /// With `thread`: also show the reply in the room.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        also_room: bool,
    },
    /// Replay every event after the given seq, per room, then `synced`.
    Sync {
        #[serde(deserialize_with = "room_keyed")]
        since: BTreeMap<RoomId, Seq>,
    },
    /// Application-level heartbeat (browsers cannot send WebSocket pings).
    Ping { nonce: String },
    /// Everything in `room` up to `seq` has been read (by any of the user's
    /// sessions).
    Read { room: RoomId, seq: Seq },
    /// The user is typing in `room` (ephemeral, never stored).
    Typing { room: RoomId },
    /// Every `to_device` message up to this id has been handled: the
    /// server may forget them.
    ToDeviceAck { upto: u64 },
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First frame on every connection.
    Welcome(Welcome),
    /// A `send` is durable; `id` and `seq` are its place in the room.
    Ack(Ack),
    /// A chat message, live or replayed.
    Message(MessageEvent),
    /// Someone joined, left, was invited to or removed from a room (stored).
    Member(MemberEvent),
    /// A room's name or topic changed (stored).
    RoomUpdated(RoomUpdated),
    /// A message was edited (stored; the original now has the new body).
    Edited(Edited),
    /// A message was deleted (stored; the original is now empty).
    Deleted(Deleted),
    /// A reaction was added to or removed from a message (stored).
    Reaction(crate::collab::ReactionEvent),
    /// A message was pinned or unpinned (stored).
    Pin(crate::collab::PinEvent),
    /// Your follow state or read mark in a thread changed (from any of
    /// your sessions, or because you replied or were mentioned).
    Thread(crate::collab::ThreadState),
    /// Your notification settings for a room changed.
    Notifications {
        room: RoomId,
        level: crate::collab::NotifyLevel,
        muted: bool,
    },
    /// You are now a member of this room (joined, invited, DM opened).
    RoomAdded { room: RoomInfo },
    /// You are no longer a member of this room (left or removed).
    RoomRemoved { room: RoomId },
    /// Your read mark moved (from any of your sessions).
    Read { room: RoomId, seq: Seq },
    /// `user` is typing in `room`.
    Typing { room: RoomId, user: String },
    /// The replay asked for by `sync` is complete; what follows is live.
    Synced,
    /// Answer to `ping`.
    Pong { nonce: String },
    /// A user came online (first connection) or went offline (last one).
    Presence { user: String, online: bool },
    /// A user's profile (display name, status, picture) changed.
    Profile { user: crate::http::DirectoryEntry },
    /// A device-to-device message for this connection's device.
    ToDevice(crate::e2e::ToDeviceEvent),
    /// A request failed.
    Error(ErrorMsg),
}

/// The first frame: who you are, where you are, and the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u32,
    pub server_version: String,
    pub user: UserInfo,
    /// This connection's device id (its session's).
    #[serde(default)]
    pub device: crate::DeviceId,
    pub rooms: Vec<RoomInfo>,
    /// Usernames online now (sharing a room with you), you included.
    pub online: Vec<String>,
    pub limits: Limits,
}

/// A user as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    /// A bot account (it signs in with an API token, not a password).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
}

/// What kind of conversation a room is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    #[default]
    Public,
    Private,
    Dm,
}

/// A room the user belongs to, as listed in `welcome`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: RoomId,
    pub kind: RoomKind,
    /// For a DM, the other user's name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Seq of the newest event in the room (0 when empty).
    pub last_seq: Seq,
    /// Messages from others the user has not read yet.
    pub unread: u64,
    /// The user's read mark.
    #[serde(default)]
    pub read_seq: Seq,
    /// Unread messages that mention the user (or `@room`).
    #[serde(default)]
    pub mentions: u64,
    /// When this room notifies the user.
    #[serde(default)]
    pub notify: crate::collab::NotifyLevel,
    /// Muted: no notifications, and the room's unread does not count in
    /// the title badge.
    #[serde(default)]
    pub muted: bool,
    /// End-to-end encrypted: messages are Megolm ciphertext the server
    /// cannot read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// Archived: read-only; history stays, nothing can be added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// The room's own retention policy in days (`0`: kept forever); absent:
    /// the server's (`Limits::retention_days`) applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

/// Limits the client should respect (the server enforces them anyway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest `body`, in UTF-8 bytes.
    pub max_message_bytes: usize,
    /// Largest WebSocket frame; larger ones close the connection (1009).
    pub max_frame_bytes: usize,
    /// Sustained sends per second per user.
    pub rate_per_sec: f64,
    /// Sends allowed in a burst.
    pub burst: u32,
    /// How often the server pings; send something at least this often.
    pub ping_interval_ms: u64,
    /// The server's retention policy: messages older than this many days
    /// are removed where a room has no policy of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

/// Confirms a durable `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub client_msg_id: String,
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
}

/// A stored chat message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    /// Sender's username.
    pub from: String,
    /// Current text (empty once deleted, and in an encrypted room).
    pub body: String,
    /// In an encrypted room: the current content, encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<crate::e2e::Encrypted>,
    /// Set once the message has been edited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    /// Set once the message has been deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Removed by the room's retention policy (with `deleted`): it keeps
    /// its place in the room's order, so resuming sees no gap, but has no
    /// content; clients show nothing for it. Any older event of the room,
    /// whatever its kind, comes back this way too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// An attached file (download at `/api/files/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// A thread reply: the root message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<MessageId>,
    /// A thread reply also shown in the room.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_room: bool,
    /// A thread root: its replies so far (as stored when the event was read;
    /// later replies arrive as messages with `thread` set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<crate::collab::ThreadSummary>,
    /// Users mentioned (who are members of the room).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// `@room` or `@here` by someone allowed to notify the whole room.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mentions_room: bool,
    /// Reactions, as stored when the event was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::collab::ReactionCount>,
    /// Pinned in the room.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: FileId,
    /// The file's name, made safe (no paths, no control characters).
    pub name: String,
    pub size: u64,
    /// As given by the uploader; served as-is only for checked images.
    pub media_type: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Whether the server checked it is a PNG, JPEG, GIF or WebP image
    /// (which may be shown inline).
    #[serde(default)]
    pub image: bool,
}

/// What happened to a room's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberAction {
    Join,
    Leave,
    Invite,
    Remove,
}

/// A stored membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEvent {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    /// Whose membership changed.
    pub user: String,
    pub action: MemberAction,
    /// Who did it (the user themself for join and leave).
    pub by: String,
}

/// A stored change of a room's name or topic (both given as they are now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomUpdated {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    pub by: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// A stored edit of message `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edited {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    pub target: MessageId,
    pub body: String,
    /// In an encrypted room: the new content, encrypted (`body` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<crate::e2e::Encrypted>,
    pub by: String,
}

/// A stored deletion of message `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    pub target: MessageId,
    pub by: String,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    pub code: ErrorCode,
    pub message: String,
    /// With `rate_limited`: wait this long before trying again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// When the error answers a `send`: which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}

impl ErrorMsg {
    /// An error with just a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorMsg {
            code,
            message: message.into(),
            retry_after_ms: None,
            client_msg_id: None,
        }
    }
}

/// JSON object keys are strings; inside a `"type"`-tagged enum serde cannot
/// turn them into integers by itself, so room ids are parsed here.
fn room_keyed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<RoomId, Seq>, D::Error> {
    let raw = BTreeMap::<String, Seq>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            k.parse::<i64>()
                .map(|id| (RoomId(id), v))
                .map_err(|_| serde::de::Error::custom(format!("room id {k:?} is not a number")))
        })
        .collect()
}

impl ServerMsg {
    /// For events stored in a room's stream: the room and seq.
    pub fn stream_position(&self) -> Option<(RoomId, Seq)> {
        match self {
            ServerMsg::Message(e) => Some((e.room, e.seq)),
            ServerMsg::Member(e) => Some((e.room, e.seq)),
            ServerMsg::RoomUpdated(e) => Some((e.room, e.seq)),
            ServerMsg::Edited(e) => Some((e.room, e.seq)),
            ServerMsg::Deleted(e) => Some((e.room, e.seq)),
            ServerMsg::Reaction(e) => Some((e.room, e.seq)),
            ServerMsg::Pin(e) => Some((e.room, e.seq)),
            _ => None,
        }
    }

    /// Serializes to the JSON text of one frame.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys,
        // no custom serializers that error.
        serde_json::to_string(self).expect("ServerMsg serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn send_frame_matches_the_contract() {
        let msg: ClientMsg = serde_json::from_value(json!({
            "type": "send", "room": 1, "client_msg_id": "c1", "body": "hi", "extra": true
        }))
        .unwrap();
        assert_eq!(
            msg,
            ClientMsg::Send {
                room: RoomId(1),
                client_msg_id: "c1".into(),
                body: "hi".into(),
                encrypted: None,
                file: None,
                mentions: Vec::new(),
                thread: None,
                also_room: false,
            }
        );
    }

    #[test]
    fn sync_keys_are_room_ids_as_strings() {
        let msg: ClientMsg =
            serde_json::from_str(r#"{"type":"sync","since":{"1":5,"7":0}}"#).unwrap();
        let ClientMsg::Sync { since } = &msg else {
            panic!("not a sync: {msg:?}")
        };
        assert_eq!(since.get(&RoomId(1)), Some(&5));
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"type":"sync","since":{"1":5,"7":0}}"#
        );
    }

    #[test]
    fn unknown_type_is_an_error() {
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"room":1}"#).is_err());
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let ack = ServerMsg::Ack(Ack {
            client_msg_id: "c1".into(),
            id: MessageId(9),
            room: RoomId(1),
            seq: 3,
            ts: Timestamp(0),
        });
        assert_eq!(
            serde_json::to_value(&ack).unwrap(),
            json!({"type":"ack","client_msg_id":"c1","id":9,"room":1,"seq":3,
                   "ts":"1970-01-01T00:00:00.000Z"})
        );
        assert_eq!(ServerMsg::Synced.to_json(), r#"{"type":"synced"}"#);
        let err = ServerMsg::Error(ErrorMsg {
            retry_after_ms: Some(200),
            ..ErrorMsg::new(ErrorCode::RateLimited, "slow down")
        });
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"type":"error","code":"rate_limited","message":"slow down",
                   "retry_after_ms":200})
        );
    }
}
