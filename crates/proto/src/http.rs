//! Bodies of the HTTPS API. Errors are [`ApiErrorBody`]:
//! `{"error":{"code":"…","message":"…"}}`.

use crate::ws::{RoomInfo, RoomKind, UserInfo};
use crate::{ErrorCode, RoomId, ServerMsg, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// `POST /api/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    /// Required when the server's registration mode is `invite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
}

/// `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Answer to register and login: the user and a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResponse {
    pub user: UserInfo,
    pub token: String,
}

/// `POST /api/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

/// `GET /api/me` and `PATCH /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeResponse {
    pub user: UserInfo,
    /// This session's device id (for end-to-end encryption keys).
    #[serde(default)]
    pub device: crate::DeviceId,
    #[serde(default)]
    pub profile: Profile,
}

/// What a user tells others about themselves; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The name shown instead of the username (which is still shown next to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A short status text ("in meetings until 3").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Where the profile picture is (`/api/users/NAME/avatar?v=N`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// `PATCH /api/me`: set what is given; `""` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Every HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiError,
}

/// The inside of an HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

/// `POST /api/rooms/{id}/files?name=…`: the stored file and the message
/// that carries it, shaped exactly as a `message` frame (with
/// `"type": "message"`). In an end-to-end encrypted room the file is
/// ciphertext and there is no message yet: the client sends its encrypted
/// message naming the file next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub file: crate::ws::FileInfo,
    #[serde(
        default,
        serialize_with = "as_message_frame",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<crate::ws::MessageEvent>,
}

/// Serializes a message event as the `message` frame it is.
fn as_message_frame<S: serde::Serializer>(
    ev: &Option<crate::ws::MessageEvent>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Frame<'a> {
        Message(&'a crate::ws::MessageEvent),
    }
    ev.as_ref().map(Frame::Message).serialize(s)
}

/// `POST /api/rooms`: a public or private room; `members` are invited at
/// once (a group conversation made on the fly). A private room without a
/// name gets one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoom {
    #[serde(default)]
    pub name: Option<String>,
    pub kind: RoomKind,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    /// A private room only: end-to-end encrypted (for good).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// `PATCH /api/rooms/{id}`: set what is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRoom {
    #[serde(default)]
    pub name: Option<String>,
    /// `""` clears the topic.
    #[serde(default)]
    pub topic: Option<String>,
}

/// `POST /api/rooms/{id}/invite` and `POST /api/dms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernameRequest {
    pub username: String,
    /// `POST /api/dms` only: the pair's end-to-end encrypted DM (a room of
    /// its own, apart from their plain one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// `PATCH /api/rooms/{id}/messages/{msg}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditRequest {
    /// The new text; empty (or left out) when `encrypted` is given.
    #[serde(default)]
    pub body: String,
    /// In an encrypted room: the new content, encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<crate::e2e::Encrypted>,
}

/// A room as answered by the rooms API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomResponse {
    pub room: RoomInfo,
}

/// `GET /api/rooms`: the caller's rooms, and every public room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsResponse {
    pub rooms: Vec<RoomInfo>,
    pub public: Vec<PublicRoom>,
}

/// A public room in the list anyone may join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRoom {
    pub id: RoomId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub members: u64,
    pub joined: bool,
}

/// `GET /api/rooms/{id}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersResponse {
    pub members: Vec<String>,
}

/// `GET /api/rooms/{id}/events?before=SEQ&limit=N`: stored events, oldest
/// first; `more` says whether older ones exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub events: Vec<ServerMsg>,
    pub more: bool,
}

/// A user in the directory (`GET /api/users`), on a user card
/// (`GET /api/users/{username}`) and in a `profile` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub username: String,
    #[serde(default)]
    pub is_admin: bool,
    /// A bot account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
    pub online: bool,
    /// When they were last connected (now, if online); `None` if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    #[serde(flatten)]
    pub profile: Profile,
}

/// `GET /api/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersResponse {
    pub users: Vec<DirectoryEntry>,
}

/// A user as an admin sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub id: UserId,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub is_admin: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
    pub disabled: bool,
    pub online: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
}

/// `GET /api/admin/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUsersResponse {
    pub users: Vec<AdminUser>,
}

/// `POST /api/admin/users`: an account made by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
}

/// `POST /api/admin/users/{username}/password`: a new password set by an
/// admin; every session of the user ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPassword {
    pub new_password: String,
}

/// `POST /api/rooms/{id}/archive`: archive (read-only) or open again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRequest {
    pub archived: bool,
}

/// `POST /api/admin/users/{username}/reset-link` answers this: a link the
/// user opens to choose a new password, once, within 24 hours (the token
/// is in the fragment, so it never reaches a server log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLink {
    pub token: String,
    /// `https://HOST/#reset=TOKEN`, with the host the admin used.
    pub link: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// `POST /api/password/reset`: a new password with a reset link's token;
/// every session of the user ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub token: String,
    pub new_password: String,
}

/// What `POST /api/password/reset` answers: whose password it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetDone {
    pub username: String,
}

/// `POST /api/admin/users/{username}/role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub is_admin: bool,
}

/// `POST /api/admin/invites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteResponse {
    /// Its id in `GET /api/admin/invites` (for revoking).
    #[serde(default)]
    pub id: i64,
    pub invite_code: String,
    pub expires: Timestamp,
}

/// An invite code as an admin sees it later (the code itself is stored
/// only as a hash, so it is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: i64,
    pub created: Timestamp,
    pub expires: Timestamp,
    /// `unused`, `used`, `expired` or `revoked`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// `GET /api/admin/invites`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitesResponse {
    pub invites: Vec<InviteInfo>,
}

/// `GET /api/admin/settings` and `PATCH /api/admin/settings`: settings an
/// admin changes while the server runs (kept in the database; they win over
/// the configuration file's value once set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    /// `open`, `invite` or `closed`.
    pub registration: String,
}

/// `GET /api/admin/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub users: u64,
    pub disabled_users: u64,
    pub rooms: u64,
    pub messages: u64,
    pub users_online: u64,
    pub connections: u64,
    pub uptime_secs: u64,
}

/// One message found by `GET /api/search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message's id and place.
    pub id: crate::MessageId,
    pub room: RoomId,
    pub room_kind: RoomKind,
    /// The room's name; for a DM, the other member's username.
    pub room_name: String,
    pub seq: crate::Seq,
    pub ts: Timestamp,
    pub from: String,
    /// Text around the match; each matched word is between U+0002 and
    /// U+0003 (characters no message contains), for the client to
    /// highlight as text.
    pub snippet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::FileId>,
}

/// `GET /api/search?q=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
    /// Whether another page exists (ask with `offset` + the page's length).
    pub more: bool,
}
