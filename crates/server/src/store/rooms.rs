//! Rooms and membership.

use super::StoreError;
use rusqlite::{Connection, params};
use securechat_proto::ws::{RoomInfo, RoomKind};
use securechat_proto::{RoomId, UserId};

fn kind_from_str(s: &str) -> RoomKind {
    match s {
        "private" => RoomKind::Private,
        "dm" => RoomKind::Dm,
        _ => RoomKind::Public,
    }
}

/// The rooms `user` belongs to, with last seq and unread count (events
/// after the user's read mark that others sent).
pub fn for_user(conn: &Connection, user: UserId) -> Result<Vec<RoomInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.kind, r.name, r.last_seq,
                (SELECT COUNT(*) FROM events e
                  WHERE e.room_id = r.id AND e.seq > m.read_seq AND e.user_id != m.user_id)
         FROM members m JOIN rooms r ON r.id = m.room_id
         WHERE m.user_id = ?1 ORDER BY r.id",
    )?;
    let rows = stmt.query_map([user.0], |r| {
        Ok(RoomInfo {
            id: RoomId(r.get(0)?),
            kind: kind_from_str(&r.get::<_, String>(1)?),
            name: r.get(2)?,
            last_seq: r.get(3)?,
            unread: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every (room, member) pair, to warm the hub's membership cache.
pub fn all_members(conn: &Connection) -> Result<Vec<(RoomId, UserId)>, StoreError> {
    let mut stmt = conn.prepare("SELECT room_id, user_id FROM members")?;
    let rows = stmt.query_map([], |r| Ok((RoomId(r.get(0)?), UserId(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How a user stands with a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Member,
    NotMember,
    NoSuchRoom,
}

pub fn access(conn: &Connection, room: RoomId, user: UserId) -> Result<Access, StoreError> {
    let (exists, member): (bool, bool) = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?1),
                    EXISTS (SELECT 1 FROM members WHERE room_id = ?1 AND user_id = ?2)",
        )?
        .query_row(params![room.0, user.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(match (exists, member) {
        (_, true) => Access::Member,
        (true, false) => Access::NotMember,
        (false, false) => Access::NoSuchRoom,
    })
}
