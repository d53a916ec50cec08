//! Retention: which rooms keep their events how long, and expiring the
//! old ones. An expired event keeps its row (room, seq, time, who) so that
//! a client resuming across it sees no gap; everything else goes: a
//! message's text, ciphertext, file (the bytes go with the next sweep),
//! reactions, mentions, pin, and any event's body and data. A room's
//! events expire as a prefix by seq (`rooms.expired_seq`): the sweep stops
//! at the first one still young enough.

use super::StoreError;
use super::sql::{Db, params};
use securechat_proto::{MessageId, RoomId, Seq};

/// Rooms and their own policy (`None`: the server's; `Some(0)`: forever).
pub fn policies(conn: &Db<'_>) -> Result<Vec<(RoomId, Option<u32>)>, StoreError> {
    conn.query_map(
        "SELECT id, retention_days FROM rooms ORDER BY id",
        (),
        |r| {
            Ok((
                RoomId(r.get(0)?),
                r.get::<Option<i64>>(1)?
                    .map(|d| d.clamp(0, u32::MAX.into()) as u32),
            ))
        },
    )
}

/// A room's own policy.
pub fn room_policy(conn: &Db<'_>, room: RoomId) -> Result<Option<u32>, StoreError> {
    conn.query_row(
        "SELECT retention_days FROM rooms WHERE id = ?1",
        [room.0],
        |r| {
            Ok(r.get::<Option<i64>>(0)?
                .map(|d| d.clamp(0, u32::MAX.into()) as u32))
        },
    )
}

/// Sets a room's own policy (`None`: follow the server's).
pub fn set_room_policy(conn: &Db<'_>, room: RoomId, days: Option<u32>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rooms SET retention_days = ?2 WHERE id = ?1",
        params![room.0, days.map(i64::from)],
    )?;
    Ok(())
}

/// Expires up to `limit` of `room`'s oldest events older than `cutoff`
/// (ms); returns how many messages expired and whether more may be due.
pub fn expire_batch(
    conn: &Db<'_>,
    room: RoomId,
    cutoff: i64,
    limit: usize,
) -> Result<(u64, bool), StoreError> {
    let from: Seq = conn.query_row(
        "SELECT expired_seq FROM rooms WHERE id = ?1",
        [room.0],
        |r| r.get(0),
    )?;
    let rows: Vec<(i64, Seq, i64, String)> = conn.query_map(
        "SELECT id, seq, ts, kind FROM events WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        params![room.0, super::sql_seq(from), limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let due: Vec<&(i64, Seq, i64, String)> = rows.iter().take_while(|e| e.2 < cutoff).collect();
    let Some(last) = due.last().map(|e| e.1) else {
        return Ok((0, false));
    };
    let mut messages = 0;
    for (id, _, _, kind) in &due {
        if kind == "message" {
            super::events::mark_deleted(conn, MessageId(*id))?;
            messages += 1;
        }
    }
    conn.execute(
        "UPDATE events SET kind = 'expired', body = NULL, data = NULL, encrypted = NULL,
                file_id = NULL, pinned_at = NULL
         WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3",
        params![room.0, super::sql_seq(from), super::sql_seq(last)],
    )?;
    conn.execute(
        "UPDATE rooms SET expired_seq = ?2 WHERE id = ?1",
        params![room.0, super::sql_seq(last)],
    )?;
    Ok((messages, due.len() == rows.len() && rows.len() == limit))
}
