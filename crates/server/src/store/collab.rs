//! Reactions, pins, thread follows and read marks, mentions and per-room
//! notification settings. The stored events that announce reactions and
//! pins are appended by the caller ([`super::events::append`]).

use super::event_rows::{from_row, select};
use super::events::Stored;
use super::sql::{Db, OptionalExtension, params};
use super::{StoreError, sql_seq};
use securechat_proto::collab::NotifyLevel;
use securechat_proto::{MessageId, RoomId, Seq, Timestamp, UserId};

/// Adds `user`'s `emoji` to `msg`; `false` if it was there already.
pub fn add_reaction(
    conn: &Db<'_>,
    msg: MessageId,
    emoji: &str,
    user: UserId,
    ts: Timestamp,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![msg.0, emoji, user.0, ts.0])?
        == 1)
}

/// Removes `user`'s `emoji` from `msg`; `false` if it was not there.
pub fn remove_reaction(
    conn: &Db<'_>,
    msg: MessageId,
    emoji: &str,
    user: UserId,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
        )?
        .execute(params![msg.0, emoji, user.0])?
        == 1)
}

/// The different reactions on `msg`.
pub fn reaction_kinds(conn: &Db<'_>, msg: MessageId) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT emoji FROM reactions WHERE message_id = ?1")?;
    let rows = stmt.query_map([msg.0], |r| r.get(0))?;
    Ok(rows)
}

/// Pins or unpins `msg`; `false` if it already was so.
pub fn set_pinned(
    conn: &Db<'_>,
    msg: MessageId,
    pinned: bool,
    ts: Timestamp,
) -> Result<bool, StoreError> {
    let sql = if pinned {
        "UPDATE events SET pinned_at = ?2 WHERE id = ?1 AND pinned_at IS NULL"
    } else {
        "UPDATE events SET pinned_at = NULL WHERE id = ?1 AND pinned_at IS NOT NULL AND ?2 = ?2"
    };
    Ok(conn.execute(sql, params![msg.0, ts.0])? == 1)
}

/// Pinned messages of `room`, most recently pinned first.
pub fn pinned(conn: &Db<'_>, room: RoomId) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(select!(
        "WHERE e.room_id = ?1 AND e.pinned_at IS NOT NULL ORDER BY e.pinned_at DESC, e.id DESC"
    ))?;
    let rows = stmt.query_map([room.0], from_row)?;
    Ok(rows)
}

/// Counts one more reply on `root`.
pub fn bump_thread(conn: &Db<'_>, root: MessageId, ts: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE events SET reply_count = reply_count + 1, last_reply_at = ?2 WHERE id = ?1",
    )?
    .execute(params![root.0, ts.0])?;
    Ok(())
}

/// The replies in `root`'s thread, oldest first (at most `limit`).
pub fn replies(conn: &Db<'_>, root: MessageId, limit: usize) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(select!("WHERE e.thread_id = ?1 ORDER BY e.id LIMIT ?2"))?;
    let rows = stmt.query_map(params![root.0, limit as i64], from_row)?;
    Ok(rows)
}

/// Whether `user` follows `root`, and their read mark in it.
pub fn thread_state(
    conn: &Db<'_>,
    user: UserId,
    root: MessageId,
) -> Result<(bool, Seq), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT following, read_seq FROM thread_follows WHERE user_id = ?1 AND root_id = ?2",
        )?
        .query_row(params![user.0, root.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((false, 0)))
}

/// Makes `user` follow `root`: always when `force` (they replied or were
/// mentioned), or only if they never chose (they started the thread).
/// `true` if they did not follow it before.
pub fn follow(
    conn: &Db<'_>,
    user: UserId,
    room: RoomId,
    root: MessageId,
    force: bool,
) -> Result<bool, StoreError> {
    let sql = if force {
        "INSERT INTO thread_follows (user_id, root_id, room_id, following) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (user_id, root_id) DO UPDATE SET following = 1 WHERE thread_follows.following = 0"
    } else {
        "INSERT INTO thread_follows (user_id, root_id, room_id, following) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT DO NOTHING"
    };
    Ok(conn
        .prepare_cached(sql)?
        .execute(params![user.0, root.0, room.0])?
        == 1)
}

/// Sets whether `user` follows `root` (an explicit choice, kept: starting
/// the thread no longer makes them follow it again).
pub fn set_following(
    conn: &Db<'_>,
    user: UserId,
    room: RoomId,
    root: MessageId,
    following: bool,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO thread_follows (user_id, root_id, room_id, following) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, root_id) DO UPDATE SET following = ?4",
        params![user.0, root.0, room.0, following],
    )?;
    Ok(())
}

/// Moves `user`'s read mark in `root`'s thread forward (never back).
pub fn mark_thread_read(
    conn: &Db<'_>,
    user: UserId,
    room: RoomId,
    root: MessageId,
    seq: Seq,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO thread_follows (user_id, root_id, room_id, following, read_seq)
         VALUES (?1, ?2, ?3, 0, ?4)
         ON CONFLICT (user_id, root_id) DO UPDATE SET read_seq = GREATEST(thread_follows.read_seq, ?4)",
        params![user.0, root.0, room.0, sql_seq(seq)],
    )?;
    Ok(())
}

/// A thread `user` follows.
#[derive(Debug, Clone)]
pub struct Followed {
    pub root: Stored,
    pub read_seq: Seq,
    pub unread: u64,
}

/// The threads `user` follows in rooms they are in now, most recent reply
/// first (at most `limit`).
pub fn followed(conn: &Db<'_>, user: UserId, limit: usize) -> Result<Vec<Followed>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.root_id, f.read_seq,
                (SELECT COUNT(*) FROM events r WHERE r.thread_id = f.root_id AND r.deleted = 0
                   AND r.seq > f.read_seq AND r.user_id != f.user_id)
         FROM thread_follows f
         JOIN members m ON m.room_id = f.room_id AND m.user_id = f.user_id
         JOIN events e ON e.id = f.root_id
         WHERE f.user_id = ?1 AND f.following = 1 AND e.reply_count > 0
         ORDER BY e.last_reply_at DESC LIMIT ?2",
    )?;
    let marks: Vec<(i64, Seq, u64)> = stmt.query_map(params![user.0, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    let mut out = Vec::with_capacity(marks.len());
    for (root, read_seq, unread) in marks {
        if let Some(root) = super::events::by_id(conn, MessageId(root))? {
            out.push(Followed {
                root,
                read_seq,
                unread,
            });
        }
    }
    Ok(out)
}

/// Records that the message at `seq` (event `event`) mentions `users`.
pub fn insert_mentions(
    conn: &Db<'_>,
    room: RoomId,
    seq: Seq,
    event: MessageId,
    users: &[UserId],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO mentions (user_id, room_id, seq, event_id) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for u in users {
        stmt.execute(params![u.0, room.0, sql_seq(seq), event.0])?;
    }
    Ok(())
}

/// Records that the message at `seq` mentions every member but `sender`.
pub fn insert_room_mention(
    conn: &Db<'_>,
    room: RoomId,
    seq: Seq,
    event: MessageId,
    sender: UserId,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO mentions (user_id, room_id, seq, event_id)
         SELECT user_id, room_id, ?2, ?3 FROM members WHERE room_id = ?1 AND user_id != ?4
         ON CONFLICT DO NOTHING",
        params![room.0, sql_seq(seq), event.0, sender.0],
    )?;
    Ok(())
}

/// Forgets that message `event` mentions anyone but `keep` (after an edit).
pub fn prune_mentions(conn: &Db<'_>, event: MessageId, keep: &[UserId]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM mentions WHERE event_id = ?1")?;
    let had: Vec<i64> = stmt.query_map([event.0], |r| r.get(0))?;
    for user in had {
        if !keep.contains(&UserId(user)) {
            conn.execute(
                "DELETE FROM mentions WHERE event_id = ?1 AND user_id = ?2",
                params![event.0, user],
            )?;
        }
    }
    Ok(())
}

/// Messages that mention `user`, in rooms they are in now, newest first:
/// up to `limit` with ids below `before`.
pub fn mentioning(
    conn: &Db<'_>,
    user: UserId,
    before: MessageId,
    limit: usize,
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(select!(
        "JOIN mentions x ON x.event_id = e.id AND x.user_id = ?1
         JOIN members mm ON mm.room_id = e.room_id AND mm.user_id = ?1
         WHERE e.id < ?2 AND e.deleted = 0 ORDER BY e.id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![user.0, before.0, limit as i64], from_row)?;
    Ok(rows)
}

/// Sets `user`'s notification level and mute for `room` (a member).
pub fn set_notify(
    conn: &Db<'_>,
    room: RoomId,
    user: UserId,
    level: NotifyLevel,
    muted: bool,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE members SET notify = ?3, muted = ?4 WHERE room_id = ?1 AND user_id = ?2",
        params![room.0, user.0, level.as_str(), muted],
    )?;
    Ok(())
}
