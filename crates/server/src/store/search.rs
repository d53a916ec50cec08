//! Message search: the FTS5 index (`events_fts`, kept by triggers; see
//! migration 5) joined with the rooms the user is a member of now, so a
//! user only ever finds what history would show them.

use super::StoreError;
use crate::search::Query;
use rusqlite::{Connection, ToSql};
use securechat_proto::{FileId, MessageId, RoomId, UserId};

/// Where the snippet's highlighted words start and end (control
/// characters, which no message can contain).
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: MessageId,
    pub room: RoomId,
    pub room_kind: String,
    /// The room's name; for a DM, the other member's username.
    pub room_name: String,
    pub seq: i64,
    pub ts: i64,
    pub from: String,
    pub snippet: String,
    pub file: Option<FileId>,
}

/// Newest first, or best match first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Newest,
    Best,
}

/// Up to `limit` hits after skipping `offset`, and whether more exist.
pub fn search(
    conn: &Connection,
    user: UserId,
    q: &Query,
    order: Order,
    limit: usize,
    offset: usize,
) -> Result<(Vec<Hit>, bool), StoreError> {
    let mut sql = String::new();
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(user.0)];
    let snippet = if q.fts.is_some() {
        "snippet(events_fts, 0, char(2), char(3), '…', 20)"
    } else {
        "substr(e.body, 1, 200)"
    };
    sql.push_str(&format!(
        "SELECT e.id, e.room_id, r.kind,
           CASE WHEN r.kind = 'dm' THEN (
               SELECT o.username FROM members mo JOIN users o ON o.id = mo.user_id
               WHERE mo.room_id = r.id AND mo.user_id != ?1 LIMIT 1)
           ELSE r.name END,
           e.seq, e.ts, u.username, {snippet}, e.file_id
         FROM "
    ));
    if let Some(fts) = &q.fts {
        sql.push_str("events_fts JOIN events e ON e.id = events_fts.rowid ");
        args.push(Box::new(fts.clone()));
    } else {
        sql.push_str("events e ");
    }
    sql.push_str(
        "JOIN members m ON m.room_id = e.room_id AND m.user_id = ?1
         JOIN rooms r ON r.id = e.room_id
         JOIN users u ON u.id = e.user_id
         WHERE e.kind = 'message' AND e.deleted = 0",
    );
    if q.fts.is_some() {
        sql.push_str(" AND events_fts MATCH ?2");
    }
    let mut arg = |sql: &mut String, clause: &str, v: Box<dyn ToSql>| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(from) = &q.from {
        arg(&mut sql, " AND u.username = ?", Box::new(from.clone()));
    }
    if let Some(room) = &q.room {
        arg(
            &mut sql,
            " AND r.kind != 'dm' AND r.name = ?",
            Box::new(room.clone()),
        );
    }
    if let Some(before) = q.before {
        arg(&mut sql, " AND e.ts < ?", Box::new(before));
    }
    if let Some(after) = q.after {
        arg(&mut sql, " AND e.ts >= ?", Box::new(after));
    }
    if q.has_file {
        sql.push_str(" AND e.file_id IS NOT NULL");
    }
    // Newest first walks the index in rowid (= event id) order and stops
    // at the page's end, so a common word costs a page, not every match.
    sql.push_str(match (order, q.fts.is_some()) {
        (Order::Best, true) => " ORDER BY bm25(events_fts), e.id DESC",
        (Order::Newest, true) => " ORDER BY events_fts.rowid DESC",
        _ => " ORDER BY e.id DESC",
    });
    arg(&mut sql, " LIMIT ?", Box::new(limit as i64 + 1));
    arg(&mut sql, " OFFSET ?", Box::new(offset as i64));
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let mut hits = stmt
        .query_map(params.as_slice(), |r| {
            Ok(Hit {
                id: MessageId(r.get(0)?),
                room: RoomId(r.get(1)?),
                room_kind: r.get(2)?,
                room_name: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                seq: r.get(4)?,
                ts: r.get(5)?,
                from: r.get(6)?,
                snippet: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                file: r.get::<_, Option<i64>>(8)?.map(FileId),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let more = hits.len() > limit;
    hits.truncate(limit);
    Ok((hits, more))
}
