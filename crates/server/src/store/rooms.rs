//! Rooms, membership and read marks.

use super::sql::{Db, OptionalExtension, Row, params};
use super::{StoreError, sql_seq};
use securechat_proto::collab::NotifyLevel;
use securechat_proto::http::PublicRoom;
use securechat_proto::ws::{RoomInfo, RoomKind};
use securechat_proto::{GENERAL_ROOM, RoomId, Seq, UserId};

fn kind_from_str(s: &str) -> RoomKind {
    match s {
        "private" => RoomKind::Private,
        "dm" => RoomKind::Dm,
        _ => RoomKind::Public,
    }
}

fn kind_str(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Public => "public",
        RoomKind::Private => "private",
        RoomKind::Dm => "dm",
    }
}

/// A room row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: String,
    pub topic: Option<String>,
    pub created_by: Option<UserId>,
    pub last_seq: Seq,
}

impl RoomRow {
    /// `general`, which everyone is in and nobody leaves.
    pub fn is_general(&self) -> bool {
        self.kind == RoomKind::Public && self.name == GENERAL_ROOM
    }
}

pub fn by_id(conn: &Db<'_>, room: RoomId) -> Result<Option<RoomRow>, StoreError> {
    conn.prepare_cached(
        "SELECT id, kind, name, topic, created_by, last_seq FROM rooms WHERE id = ?1",
    )?
    .query_row([room.0], |r| {
        Ok(RoomRow {
            id: RoomId(r.get(0)?),
            kind: kind_from_str(&r.get::<String>(1)?),
            name: r.get(2)?,
            topic: r.get(3)?,
            created_by: r.get::<Option<i64>>(4)?.map(UserId),
            last_seq: r.get(5)?,
        })
    })
    .optional()
}

/// The room info users see: a DM is named after the other member; unread
/// counts messages from others after the read mark that show in the room
/// (not thread-only replies); mentions counts those that mention the user.
const INFO: &str = "SELECT r.id, r.kind,
        CASE WHEN r.kind = 'dm' THEN COALESCE(
            (SELECT u.username FROM members o JOIN users u ON u.id = o.user_id
              WHERE o.room_id = r.id AND o.user_id != m.user_id LIMIT 1), r.name)
        ELSE r.name END,
        r.topic, r.last_seq,
        (SELECT COUNT(*) FROM events e
          WHERE e.room_id = r.id AND e.kind = 'message' AND e.deleted = 0 AND e.in_room = 1
            AND e.seq > m.read_seq AND e.user_id != m.user_id),
        m.read_seq,
        (SELECT COUNT(*) FROM mentions x
          WHERE x.user_id = m.user_id AND x.room_id = r.id AND x.seq > m.read_seq),
        m.notify, m.muted, r.encrypted, r.archived_at IS NOT NULL, r.retention_days
    FROM members m JOIN rooms r ON r.id = m.room_id";

fn info_row(r: &Row<'_>) -> Result<RoomInfo, StoreError> {
    Ok(RoomInfo {
        id: RoomId(r.get(0)?),
        kind: kind_from_str(&r.get::<String>(1)?),
        name: r.get(2)?,
        topic: r.get(3)?,
        last_seq: r.get(4)?,
        unread: r.get(5)?,
        read_seq: r.get(6)?,
        mentions: r.get(7)?,
        notify: NotifyLevel::parse(&r.get::<String>(8)?).unwrap_or_default(),
        muted: r.get(9)?,
        encrypted: r.get(10)?,
        archived: r.get(11)?,
        retention_days: r
            .get::<Option<i64>>(12)?
            .map(|d| d.clamp(0, u32::MAX.into()) as u32),
    })
}

/// The rooms `user` belongs to.
pub fn for_user(conn: &Db<'_>, user: UserId) -> Result<Vec<RoomInfo>, StoreError> {
    let sql = format!("{INFO} WHERE m.user_id = ?1 ORDER BY r.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user.0], info_row)?;
    Ok(rows)
}

/// One room as `user` (a member) sees it.
pub fn info_for(conn: &Db<'_>, room: RoomId, user: UserId) -> Result<RoomInfo, StoreError> {
    conn.prepare_cached(&format!("{INFO} WHERE m.user_id = ?1 AND m.room_id = ?2"))?
        .query_row(params![user.0, room.0], info_row)
}

/// Every public room, with member counts and whether `user` is in it.
pub fn public(conn: &Db<'_>, user: UserId) -> Result<Vec<PublicRoom>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.name, r.topic,
                (SELECT COUNT(*) FROM members m WHERE m.room_id = r.id),
                EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?1)
         FROM rooms r WHERE r.kind = 'public' ORDER BY r.name",
    )?;
    let rows = stmt.query_map([user.0], |r| {
        Ok(PublicRoom {
            id: RoomId(r.get(0)?),
            name: r.get(1)?,
            topic: r.get(2)?,
            members: r.get(3)?,
            joined: r.get(4)?,
        })
    })?;
    Ok(rows)
}

/// Creates a room; `Conflict` if the name (or DM pair) is taken.
pub fn insert(
    conn: &Db<'_>,
    kind: RoomKind,
    name: &str,
    topic: Option<&str>,
    created_by: UserId,
    dm_key: Option<&str>,
    now: i64,
) -> Result<RoomId, StoreError> {
    conn.insert(
        "INSERT INTO rooms (kind, name, topic, created_by, created_at, dm_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind_str(kind), name, topic, created_by.0, now, dm_key],
    )?
    .map(RoomId)
    .ok_or(StoreError::NotFound)
}

/// Makes a new room end-to-end encrypted (there is no way back).
pub fn set_encrypted(conn: &Db<'_>, room: RoomId) -> Result<(), StoreError> {
    conn.execute("UPDATE rooms SET encrypted = 1 WHERE id = ?1", [room.0])?;
    Ok(())
}

/// The DM room of a pair, if it exists.
pub fn dm_by_key(conn: &Db<'_>, key: &str) -> Result<Option<RoomId>, StoreError> {
    conn.prepare_cached("SELECT id FROM rooms WHERE dm_key = ?1")?
        .query_row([key], |r| Ok(RoomId(r.get(0)?)))
        .optional()
}

/// Sets a room's name and topic.
pub fn update(
    conn: &Db<'_>,
    room: RoomId,
    name: &str,
    topic: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rooms SET name = ?2, topic = ?3 WHERE id = ?1",
        params![room.0, name, topic],
    )?;
    Ok(())
}

/// Adds a member whose read mark starts at the room's newest event (a
/// newcomer has missed nothing personally). False if already a member.
pub fn add_member(conn: &Db<'_>, room: RoomId, user: UserId, now: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "INSERT INTO members (room_id, user_id, joined_at, read_seq)
         SELECT id, ?2, ?3, last_seq FROM rooms WHERE id = ?1
         ON CONFLICT DO NOTHING",
        params![room.0, user.0, now],
    )?;
    Ok(n == 1)
}

/// Removes a member; false if they were not one.
pub fn remove_member(conn: &Db<'_>, room: RoomId, user: UserId) -> Result<bool, StoreError> {
    let n = conn.execute(
        "DELETE FROM members WHERE room_id = ?1 AND user_id = ?2",
        params![room.0, user.0],
    )?;
    Ok(n == 1)
}

/// Whether a room is archived (read-only).
pub fn archived(conn: &Db<'_>, room: RoomId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT archived_at IS NOT NULL FROM rooms WHERE id = ?1")?
        .query_row(params![room.0], |r| r.get::<bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// Archives a room at `now`, or (`None`) makes it writable again.
pub fn set_archived(conn: &Db<'_>, room: RoomId, now: Option<i64>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rooms SET archived_at = ?2 WHERE id = ?1",
        params![room.0, now],
    )?;
    Ok(())
}

/// Member ids of a room.
pub fn member_ids(conn: &Db<'_>, room: RoomId) -> Result<Vec<UserId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM members WHERE room_id = ?1")?;
    let ids: Vec<i64> = stmt.query_map(params![room.0], |r| r.get(0))?;
    Ok(ids.into_iter().map(UserId).collect())
}

/// Deletes a room with everything that belongs to it (members, events and
/// what hangs off them, file rows; the blob sweep then deletes the bytes).
pub fn delete(conn: &Db<'_>, room: RoomId) -> Result<(), StoreError> {
    conn.execute("DELETE FROM rooms WHERE id = ?1", params![room.0])?;
    super::search_index::forget_deleted(conn)
}

/// Member usernames of a room, sorted.
pub fn member_names(conn: &Db<'_>, room: RoomId) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.username FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 ORDER BY u.username",
    )?;
    let rows = stmt.query_map([room.0], |r| r.get(0))?;
    Ok(rows)
}

/// Moves `user`'s read mark in `room` forward to `seq` (never back, never
/// past the newest event). Returns the mark now.
pub fn mark_read(conn: &Db<'_>, room: RoomId, user: UserId, seq: Seq) -> Result<Seq, StoreError> {
    conn
        .prepare_cached(
            "UPDATE members SET read_seq = GREATEST(read_seq, LEAST(?3, (SELECT last_seq FROM rooms WHERE id = ?1)))
             WHERE room_id = ?1 AND user_id = ?2 RETURNING read_seq",
        )?
        .query_row(params![room.0, user.0, sql_seq(seq)], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)
}

/// Number of rooms (DMs included).
pub fn count(conn: &Db<'_>) -> Result<u64, StoreError> {
    conn.query_row("SELECT COUNT(*) FROM rooms", (), |r| r.get(0))
}

/// How a user stands with a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Member,
    /// A public room the user is not in: listed, so its existence is no
    /// secret.
    NotMember,
    /// A private room or DM the user is not in: to them it must look
    /// exactly like [`Access::NoSuchRoom`].
    Hidden,
    NoSuchRoom,
}

impl Access {
    /// Whether the user may know the room exists.
    pub fn visible(self) -> bool {
        matches!(self, Access::Member | Access::NotMember)
    }
}

pub fn access(conn: &Db<'_>, room: RoomId, user: UserId) -> Result<Access, StoreError> {
    let (kind, member): (Option<String>, bool) = conn
        .prepare_cached(
            "SELECT (SELECT kind FROM rooms WHERE id = ?1),
                    EXISTS (SELECT 1 FROM members WHERE room_id = ?1 AND user_id = ?2)",
        )?
        .query_row(params![room.0, user.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match (kind.as_deref(), member) {
        (_, true) => Access::Member,
        (Some("public"), false) => Access::NotMember,
        (Some(_), false) => Access::Hidden,
        (None, false) => Access::NoSuchRoom,
    })
}
