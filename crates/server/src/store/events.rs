//! The per-room event stream: each room numbers its events 1, 2, 3, …
//!
//! Messages, membership changes, room updates, edits and deletions are all
//! rows of `events` with the room's next seq, so a replay is one ordered
//! query. Editing or deleting also updates the original message row, so
//! history shows messages as they are now. A message row also carries its
//! thread (root id, or reply count on a root), whom it mentions (`data`)
//! and whether it is pinned; its reactions are read with it.

pub use super::event_rows::mentions_data;
use super::event_rows::select;
use super::event_rows::{from_row, mentioned};
use super::sql::{Backend, Db, OptionalExtension, params};
use super::{StoreError, sql_seq};
use securechat_proto::ws::{MemberAction, MessageEvent};
use securechat_proto::{FileId, MessageId, RoomId, Seq, ServerMsg, Timestamp, UserId};

/// What kind of row an event is, besides a message (messages are stored
/// by [`insert_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Member(MemberAction),
    Update,
    Edit,
    Delete,
    /// A reaction added (`data` = `+`) or removed (`-`); `body` is the emoji.
    React,
    Pin,
    Unpin,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Member(MemberAction::Join) => "join",
            Kind::Member(MemberAction::Leave) => "leave",
            Kind::Member(MemberAction::Invite) => "invite",
            Kind::Member(MemberAction::Remove) => "remove",
            Kind::Update => "update",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
            Kind::React => "react",
            Kind::Pin => "pin",
            Kind::Unpin => "unpin",
        }
    }
}

/// A new event to append.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub kind: Kind,
    /// Who acted.
    pub by: UserId,
    /// Whose membership changed.
    pub subject: Option<UserId>,
    /// The message an edit or deletion applies to.
    pub target: Option<MessageId>,
    /// Message text, edited text, or a room's new name.
    pub body: Option<&'a str>,
    /// A room's new topic.
    pub data: Option<&'a str>,
    /// An edit in an encrypted room: the new content's ciphertext (JSON).
    pub encrypted: Option<&'a str>,
}

impl<'a> NewEvent<'a> {
    pub fn new(kind: Kind, by: UserId) -> Self {
        NewEvent {
            kind,
            by,
            subject: None,
            target: None,
            body: None,
            data: None,
            encrypted: None,
        }
    }
}

/// A stored event: where it sits, and the frame that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub room: RoomId,
    pub seq: Seq,
    pub msg: ServerMsg,
}

/// Result of appending a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next seq.
    New(MessageEvent),
    /// The sender already stored a message with this `client_msg_id`; this is
    /// that message, as it is now.
    Duplicate(MessageEvent),
}

/// Appends an event to `room` with the room's next seq.
pub fn append(
    conn: &Db<'_>,
    room: RoomId,
    ev: NewEvent<'_>,
    ts: Timestamp,
) -> Result<Stored, StoreError> {
    let seq: Seq = conn
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([room.0], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let id = conn.insert(
        "INSERT INTO events (room_id, seq, ts, user_id, kind, subject_id, target_id, body, data,
                             encrypted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
        room.0,
        seq,
        ts.0,
        ev.by.0,
        ev.kind.as_str(),
        ev.subject.map(|u| u.0),
        ev.target.map(|m| m.0),
        ev.body,
        ev.data,
        ev.encrypted,
        ],
    )?
    .ok_or(StoreError::NotFound)?;
    by_id(conn, MessageId(id))?.ok_or(StoreError::NotFound)
}

/// One event by id.
pub fn by_id(conn: &Db<'_>, id: MessageId) -> Result<Option<Stored>, StoreError> {
    conn.prepare_cached(select!("WHERE e.id = ?1"))?
        .query_row([id.0], from_row)
        .optional()
}

fn message_of(stored: Stored) -> Result<MessageEvent, StoreError> {
    match stored.msg {
        ServerMsg::Message(m) => Ok(m),
        _ => Err(StoreError::NotFound),
    }
}

/// A message to store.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub room: RoomId,
    pub user: UserId,
    pub client_msg_id: &'a str,
    pub body: &'a str,
    pub file: Option<FileId>,
    /// The thread root it replies in.
    pub thread: Option<MessageId>,
    /// A reply that also shows in the room.
    pub also_room: bool,
    /// Whom it mentions (see [`mentions_data`]).
    pub mentions: Option<&'a str>,
    /// In an encrypted room: the ciphertext (`body` is then empty). A
    /// message is stored only where it matches the room: ciphertext in an
    /// encrypted room, text elsewhere.
    pub encrypted: Option<&'a securechat_proto::e2e::Encrypted>,
    pub ts: Timestamp,
}

impl<'a> NewMessage<'a> {
    /// A plain message in the room.
    pub fn new(room: RoomId, user: UserId, client_msg_id: &'a str, body: &'a str) -> Self {
        NewMessage {
            room,
            user,
            client_msg_id,
            body,
            file: None,
            thread: None,
            also_room: false,
            mentions: None,
            encrypted: None,
            ts: Timestamp::now(),
        }
    }
}

/// Stores a message from `user` as the next event of `room`, if `user` is
/// a member and has not stored `client_msg_id` before; `None` (and nothing
/// written) otherwise. This is the hot path of every `send`: three point
/// statements, and on SQLite no `RETURNING` (it buffers those rows in a
/// temporary b-tree, which cost more than the insert itself).
///
/// Seqs stay gapless and in commit order with several writers: SQLite has
/// one writer; on PostgreSQL the first statement locks the room's row
/// (`FOR UPDATE`) until the transaction ends, so a writer on another node
/// waits and then reads the seq this one stored. A retry inserts nothing
/// and leaves `last_seq` as it was.
pub fn insert_message(
    conn: &Db<'_>,
    m: &NewMessage<'_>,
) -> Result<Option<MessageEvent>, StoreError> {
    const MEMBER: &str = "SELECT r.last_seq, u.username FROM rooms r
             JOIN members m ON m.room_id = r.id AND m.user_id = ?2
             JOIN users u ON u.id = m.user_id
             WHERE r.id = ?1 AND r.encrypted = ?3 AND r.archived_at IS NULL";
    const MEMBER_LOCKED: &str = "SELECT r.last_seq, u.username FROM rooms r
             JOIN members m ON m.room_id = r.id AND m.user_id = ?2
             JOIN users u ON u.id = m.user_id
             WHERE r.id = ?1 AND r.encrypted = ?3 AND r.archived_at IS NULL FOR UPDATE OF r";
    let member = conn.query_opt(
        match conn.backend() {
            Backend::Sqlite => MEMBER,
            Backend::Postgres => MEMBER_LOCKED,
        },
        params![m.room.0, m.user.0, m.encrypted.is_some()],
        |r| Ok((r.get::<Seq>(0)?, r.get::<String>(1)?)),
    )?;
    let Some((last_seq, from)) = member else {
        return Ok(None);
    };
    let seq = last_seq + 1;
    let in_room = m.thread.is_none() || m.also_room;
    let encrypted_json = m
        .encrypted
        .map(|e| serde_json::to_string(e).expect("ciphertext serializes"));
    let inserted = conn.insert(
        "INSERT INTO events (room_id, seq, ts, user_id, kind, body, client_msg_id, file_id,
                             thread_id, in_room, data, encrypted)
         VALUES (?1, ?2, ?3, ?4, 'message', ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (user_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING",
        params![
            m.room.0,
            seq,
            m.ts.0,
            m.user.0,
            m.body,
            m.client_msg_id,
            m.file.map(|f| f.0),
            m.thread.map(|t| t.0),
            in_room,
            m.mentions,
            encrypted_json.as_deref(),
        ],
    )?;
    let Some(id) = inserted else {
        return Ok(None); // a retry
    };
    let id = MessageId(id);
    conn.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?
        .execute(params![m.room.0, seq])?;
    if m.file.is_some() {
        // The file's details come from its row.
        return by_id(conn, id)?.map(message_of).transpose();
    }
    let (mentions, mentions_room) = mentioned(m.mentions);
    Ok(Some(MessageEvent {
        id,
        room: m.room,
        seq,
        ts: m.ts,
        from,
        body: m.body.to_owned(),
        encrypted: m.encrypted.cloned(),
        thread: m.thread,
        also_room: m.thread.is_some() && m.also_room,
        mentions,
        mentions_room,
        ..Default::default()
    }))
}

/// The message `user` stored with `client_msg_id`, as it is now.
pub fn by_client_msg_id(
    conn: &Db<'_>,
    user: UserId,
    client_msg_id: &str,
) -> Result<Option<MessageEvent>, StoreError> {
    conn.prepare_cached(select!("WHERE e.user_id = ?1 AND e.client_msg_id = ?2"))?
        .query_row(params![user.0, client_msg_id], from_row)
        .optional()?
        .map(message_of)
        .transpose()
}

/// A message as stored, with its sender's id.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub sender: UserId,
    pub deleted: bool,
    pub body: String,
    /// The thread root, for a reply.
    pub thread: Option<MessageId>,
    pub seq: Seq,
}

/// The message `id` in `room`, if there is one (not other event kinds).
pub fn message_row(
    conn: &Db<'_>,
    room: RoomId,
    id: MessageId,
) -> Result<Option<MessageRow>, StoreError> {
    conn.prepare_cached(
        "SELECT user_id, deleted, body, thread_id, seq FROM events
             WHERE id = ?1 AND room_id = ?2 AND kind = 'message'",
    )?
    .query_row(params![id.0, room.0], |r| {
        Ok(MessageRow {
            sender: UserId(r.get(0)?),
            deleted: r.get(1)?,
            body: r.get::<Option<String>>(2)?.unwrap_or_default(),
            thread: r.get::<Option<i64>>(3)?.map(MessageId),
            seq: r.get(4)?,
        })
    })
    .optional()
}

/// Replaces a message's body (and whom it mentions) and marks it edited.
pub fn set_body(
    conn: &Db<'_>,
    id: MessageId,
    body: &str,
    mentions: Option<&str>,
    ts: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE events SET body = ?2, data = ?3, edited_at = ?4 WHERE id = ?1",
        params![id.0, body, mentions, ts.0],
    )?;
    Ok(())
}

/// Replaces the encrypted content of `id` (an edit in an encrypted room).
pub fn set_encrypted(
    conn: &Db<'_>,
    id: MessageId,
    encrypted: &str,
    ts: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE events SET encrypted = ?2, edited_at = ?3 WHERE id = ?1",
        params![id.0, encrypted, ts.0],
    )?;
    Ok(())
}

/// Empties a message and marks it deleted; its file (if any) is removed
/// (the sweep deletes the bytes once nothing else uses them).
pub fn mark_deleted(conn: &Db<'_>, id: MessageId) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET removed = 1 WHERE id = (SELECT file_id FROM events WHERE id = ?1)",
        [id.0],
    )?;
    conn.execute(
        "UPDATE events SET body = NULL, data = NULL, encrypted = NULL, deleted = 1, pinned_at = NULL
         WHERE id = ?1",
        [id.0],
    )?;
    conn.execute("DELETE FROM reactions WHERE message_id = ?1", [id.0])?;
    conn.execute("DELETE FROM mentions WHERE event_id = ?1", [id.0])?;
    // A deleted reply no longer counts on its root.
    conn.execute(
        "UPDATE events SET
             reply_count = (SELECT COUNT(*) FROM events r WHERE r.thread_id = events.id AND r.deleted = 0),
             last_reply_at = (SELECT MAX(r.ts) FROM events r WHERE r.thread_id = events.id AND r.deleted = 0)
         WHERE id = (SELECT thread_id FROM events WHERE id = ?1)",
        [id.0],
    )?;
    Ok(())
}

/// Events of `room` with seq in `(after, upto]`, oldest first, at most `limit`.
pub fn range(
    conn: &Db<'_>,
    room: RoomId,
    after: Seq,
    upto: Seq,
    limit: usize,
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(select!(
        "WHERE e.room_id = ?1 AND e.seq > ?2 AND e.seq <= ?3 ORDER BY e.seq LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![room.0, sql_seq(after), sql_seq(upto), limit as i64],
        from_row,
    )?;
    Ok(rows)
}

/// Up to `limit` events of `room` before seq `before`, oldest first.
pub fn before(
    conn: &Db<'_>,
    room: RoomId,
    before: Seq,
    limit: usize,
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(select!(
        "WHERE e.room_id = ?1 AND e.seq < ?2 ORDER BY e.seq DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![room.0, sql_seq(before), limit as i64], from_row)?;
    let mut events: Vec<Stored> = rows;
    events.reverse();
    Ok(events)
}

/// Stored messages (not other events) in all rooms.
pub fn count_messages(conn: &Db<'_>) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM events WHERE kind = 'message' AND deleted = 0",
        (),
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// The bundled SQLite plans with STAT4, which by default re-plans a
    /// join on every new binding; the store's connections turn on the query
    /// planner stability guarantee so a cached statement is compiled once.
    /// (Before: every message cost two full re-prepares on the writer.)
    #[test]
    fn hot_statements_are_compiled_once() {
        let (_dir, lite, ann) = crate::store::scratch();
        let conn = crate::store::Db::Sqlite(&lite);
        let room = RoomId(1); // `general`, made by the first migration
        for i in 0..20 {
            let ts = Timestamp(i);
            let cmid = format!("c{i}");
            let new = |body| NewMessage {
                ts,
                ..NewMessage::new(room, ann, &cmid, body)
            };
            let m = insert_message(&conn, &new("hi")).unwrap();
            assert_eq!(m.map(|m| m.seq), Some(i as Seq + 1));
            assert_eq!(insert_message(&conn, &new("again")).unwrap(), None);
            assert_eq!(
                by_client_msg_id(&conn, ann, &cmid).unwrap().unwrap().body,
                "hi"
            );
            range(&conn, room, i as Seq, Seq::MAX, 10).unwrap();
        }
        for sql in [
            select!("WHERE e.user_id = ?1 AND e.client_msg_id = ?2"),
            select!("WHERE e.room_id = ?1 AND e.seq > ?2 AND e.seq <= ?3 ORDER BY e.seq LIMIT ?4"),
        ] {
            let stmt = lite.prepare_cached(sql).unwrap();
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
