//! The per-room event stream: each room numbers its events 1, 2, 3, …

use super::StoreError;
use rusqlite::{Connection, OptionalExtension, Row, params};
use securechat_proto::ws::MessageEvent;
use securechat_proto::{MessageId, RoomId, Seq, Timestamp, UserId};

/// Result of appending a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next seq.
    New(MessageEvent),
    /// The sender already stored a message with this `client_msg_id`; this is
    /// that message, unchanged.
    Duplicate(MessageEvent),
}

impl Appended {
    pub fn event(&self) -> &MessageEvent {
        match self {
            Appended::New(e) | Appended::Duplicate(e) => e,
        }
    }
}

const SELECT: &str = "SELECT e.id, e.room_id, e.seq, e.ts, u.username, e.body
                      FROM events e JOIN users u ON u.id = e.user_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<MessageEvent> {
    Ok(MessageEvent {
        id: MessageId(r.get(0)?),
        room: RoomId(r.get(1)?),
        seq: r.get(2)?,
        ts: Timestamp(r.get(3)?),
        from: r.get(4)?,
        body: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
    })
}

/// Stores a message from `user` in `room` with the room's next seq, unless
/// the same `client_msg_id` was stored before (then returns that one).
pub fn append_message(
    conn: &Connection,
    room: RoomId,
    user: UserId,
    client_msg_id: &str,
    body: &str,
    ts: Timestamp,
) -> Result<Appended, StoreError> {
    let existing = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE e.user_id = ?1 AND e.client_msg_id = ?2"
        ))?
        .query_row(params![user.0, client_msg_id], from_row)
        .optional()?;
    if let Some(event) = existing {
        return Ok(Appended::Duplicate(event));
    }
    let seq: Seq = conn
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([room.0], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    conn.prepare_cached(
        "INSERT INTO events (room_id, seq, ts, user_id, kind, body, client_msg_id)
         VALUES (?1, ?2, ?3, ?4, 'message', ?5, ?6)",
    )?
    .execute(params![room.0, seq, ts.0, user.0, body, client_msg_id])?;
    let id = MessageId(conn.last_insert_rowid());
    let from: String = conn
        .prepare_cached("SELECT username FROM users WHERE id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    Ok(Appended::New(MessageEvent {
        id,
        room,
        seq,
        ts,
        from,
        body: body.to_owned(),
    }))
}

/// Events of `room` with seq in `(after, upto]`, oldest first, at most `limit`.
pub fn range(
    conn: &Connection,
    room: RoomId,
    after: Seq,
    upto: Seq,
    limit: usize,
) -> Result<Vec<MessageEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE e.room_id = ?1 AND e.seq > ?2 AND e.seq <= ?3 ORDER BY e.seq LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![room.0, after, upto, limit as i64], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
