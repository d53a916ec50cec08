//! A room's webhooks. An incoming one is found by the SHA-256 of the secret
//! in its URL; an outgoing one keeps its URL, its HMAC key (it must sign
//! with it, so it is stored as is) and its trigger words.

use super::StoreError;
use super::sql::{Db, OptionalExtension, Row, params};
use securechat_proto::integrations::WebhookKind;
use securechat_proto::{RoomId, UserId};

/// A stored webhook and its owner's name.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: i64,
    pub room: RoomId,
    pub owner: UserId,
    pub owner_name: String,
    pub kind: WebhookKind,
    pub name: String,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub triggers: Vec<String>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT w.id, w.room_id, w.owner_id, u.username, w.kind, w.name, w.url,
        w.secret, w.triggers, w.created_at
    FROM webhooks w JOIN users u ON u.id = w.owner_id";

fn from_row(r: &Row<'_>) -> Result<WebhookRow, StoreError> {
    let kind = match r.get::<String>(4)?.as_str() {
        "incoming" => WebhookKind::Incoming,
        _ => WebhookKind::Outgoing,
    };
    Ok(WebhookRow {
        id: r.get(0)?,
        room: RoomId(r.get(1)?),
        owner: UserId(r.get(2)?),
        owner_name: r.get(3)?,
        kind,
        name: r.get(5)?,
        url: r.get(6)?,
        secret: r.get(7)?,
        triggers: r
            .get::<Option<String>>(8)?
            .map(|t| t.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
        created_at: r.get(9)?,
    })
}

/// What a new webhook is.
pub enum NewWebhook<'a> {
    Incoming {
        token_hash: &'a [u8],
    },
    Outgoing {
        url: &'a str,
        secret: &'a str,
        triggers: &'a [String],
    },
}

pub fn insert(
    conn: &Db<'_>,
    room: RoomId,
    owner: UserId,
    name: &str,
    new: &NewWebhook<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let (kind, hash, url, secret, triggers) = match new {
        NewWebhook::Incoming { token_hash } => ("incoming", Some(*token_hash), None, None, None),
        NewWebhook::Outgoing {
            url,
            secret,
            triggers,
        } => (
            "outgoing",
            None,
            Some(*url),
            Some(*secret),
            (!triggers.is_empty()).then(|| triggers.join(" ")),
        ),
    };
    conn.insert(
        "INSERT INTO webhooks (room_id, owner_id, kind, name, token_hash, url, secret, triggers, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![room.0, owner.0, kind, name, hash, url, secret, triggers, now],
    )?
    .ok_or(StoreError::NotFound)
}

/// The room's webhooks, oldest first.
pub fn in_room(conn: &Db<'_>, room: RoomId) -> Result<Vec<WebhookRow>, StoreError> {
    conn.query_map(
        &format!("{SELECT} WHERE w.room_id = ?1 ORDER BY w.id"),
        [room.0],
        from_row,
    )
}

/// Every outgoing webhook (the dispatcher keeps them in memory).
pub fn outgoing(conn: &Db<'_>) -> Result<Vec<WebhookRow>, StoreError> {
    conn.query_map(
        &format!("{SELECT} WHERE w.kind = 'outgoing' ORDER BY w.id"),
        (),
        from_row,
    )
}

/// The incoming webhook whose secret hashes to `token_hash`.
pub fn by_token(conn: &Db<'_>, token_hash: &[u8]) -> Result<Option<WebhookRow>, StoreError> {
    conn.query_row(
        &format!("{SELECT} WHERE w.token_hash = ?1"),
        params![token_hash],
        from_row,
    )
    .optional()
}

/// Webhook `id` of `room`.
pub fn get(conn: &Db<'_>, room: RoomId, id: i64) -> Result<Option<WebhookRow>, StoreError> {
    conn.query_row(
        &format!("{SELECT} WHERE w.room_id = ?1 AND w.id = ?2"),
        params![room.0, id],
        from_row,
    )
    .optional()
}

/// Deletes webhook `id` of `room`; false if there is none.
pub fn delete(conn: &Db<'_>, room: RoomId, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM webhooks WHERE room_id = ?1 AND id = ?2",
        params![room.0, id],
    )? == 1)
}

/// How many webhooks `room` has.
pub fn count(conn: &Db<'_>, room: RoomId) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM webhooks WHERE room_id = ?1",
        [room.0],
        |r| r.get(0),
    )
}
