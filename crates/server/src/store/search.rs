//! Message search: the FTS5 index (`events_fts`, kept by triggers; see
//! migration 5) joined with the rooms the user is a member of now, so a
//! user only ever finds what history would show them.

use super::StoreError;
use super::sql::{Backend, Db, OptionalExtension, Param, params};
use crate::search::Query;
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

/// How far the server's clock may have stepped back between two events
/// (events are numbered in the order they are stored, and stamped with the
/// time then): date filters look this much further on either side.
const CLOCK_SLACK_MS: i64 = 24 * 60 * 60 * 1000;

/// The smallest event id stamped at or after `ts` (one past the last id
/// when none is), by binary search over ids: ids and timestamps grow
/// together, up to [`CLOCK_SLACK_MS`]. About 20 primary-key lookups.
fn id_at(conn: &Db<'_>, ts: i64) -> Result<i64, StoreError> {
    // Two subqueries: SQLite reads min() or max() off the index only when
    // each is alone; together they scan the whole table.
    const ENDS: &str = "SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)";
    let (first, last): (Option<i64>, Option<i64>) =
        conn.query_row(ENDS, (), |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(mut lo), Some(last)) = (first, last) else {
        return Ok(0);
    };
    let mut hi = last + 1;
    let mut probe =
        conn.prepare_cached("SELECT ts FROM events WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: Option<i64> = probe.query_row([mid], |r| r.get(0)).optional()?;
        if at.is_some_and(|t| t < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// What checking one message against the index costs, in units of
/// walking one match of the index (measured: ~70–100 µs against ~0.9 µs;
/// on the safe side, since a wrong choice of the room costs more).
const PROBE_COST: u64 = 150;

/// `in:#room` with a word: the index's matches are walked newest first
/// and kept if they are in the room, which for a common word in a quiet
/// room means walking nearly all of them (100 ms at 1,000,000 messages).
/// When the room's events, each checked against the index, cost less than
/// the word's matches would (counted up to that cost), this gives the
/// room's id, to walk its messages instead. Same results either way.
fn quiet_room(conn: &Db<'_>, fts: &str, room: &str) -> Result<Option<RoomId>, StoreError> {
    let found: Option<(i64, u64)> = conn
        .prepare_cached("SELECT id, last_seq FROM rooms WHERE name = ?1 AND kind != 'dm'")?
        .query_row([room], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, events)) = found else {
        return Ok(None);
    };
    let budget = events.saturating_mul(PROBE_COST).min(200_000);
    let matches: u64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![fts, budget as i64], |r| r.get(0))?;
    Ok((matches >= budget).then_some(RoomId(id)))
}

/// Up to `limit` hits after skipping `offset`, and whether more exist.
pub fn search(
    conn: &Db<'_>,
    user: UserId,
    q: &Query,
    order: Order,
    limit: usize,
    offset: usize,
) -> Result<(Vec<Hit>, bool), StoreError> {
    if conn.backend() == Backend::Postgres {
        return super::search_pg::search(conn, user, q, order, limit, offset);
    }
    let mut sql = String::new();
    let mut args: Vec<Box<dyn Param>> = vec![Box::new(user.0)];
    let snippet = if q.fts.is_some() {
        "snippet(events_fts, 0, char(2), char(3), '…', 20)"
    } else {
        "substr(e.body, 1, 200)"
    };
    sql.push_str(&format!("{HIT_COLUMNS}, {snippet}, e.file_id FROM "));
    // A quiet room and a common word: walk the room's messages, newest
    // first, and check each against the index (see `quiet_room`).
    let by_room = match (&q.fts, &q.room, order) {
        (Some(fts), Some(room), Order::Newest) => quiet_room(conn, fts, room)?,
        _ => None,
    };
    match (&q.fts, by_room) {
        (Some(fts), Some(_)) => {
            sql.push_str("events e CROSS JOIN events_fts ON events_fts.rowid = e.id ");
            args.push(Box::new(fts.clone()));
        }
        (Some(fts), None) => {
            sql.push_str("events_fts JOIN events e ON e.id = events_fts.rowid ");
            args.push(Box::new(fts.clone()));
        }
        _ => sql.push_str("events e "),
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
    let mut arg = |sql: &mut String, clause: &str, v: Box<dyn Param>| {
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
    if let Some(room) = by_room {
        arg(&mut sql, " AND e.room_id = ?", Box::new(room.0));
    }
    if let Some(before) = q.before {
        arg(&mut sql, " AND e.ts < ?", Box::new(before));
    }
    if let Some(after) = q.after {
        arg(&mut sql, " AND e.ts >= ?", Box::new(after));
    }
    // Dates also bound the ids walked (see `id_at`), so a month long ago
    // costs its own matches, not every newer one.
    let id = if q.fts.is_some() && by_room.is_none() {
        "events_fts.rowid"
    } else {
        "e.id"
    };
    if let Some(after) = q.after {
        let lo = id_at(conn, after.saturating_sub(CLOCK_SLACK_MS))?;
        arg(&mut sql, &format!(" AND {id} >= ?"), Box::new(lo));
    }
    if let Some(before) = q.before {
        let hi = id_at(conn, before.saturating_add(CLOCK_SLACK_MS))?;
        arg(&mut sql, &format!(" AND {id} < ?"), Box::new(hi));
    }
    if q.has_file {
        sql.push_str(" AND e.file_id IS NOT NULL");
    }
    // Newest first walks the index in rowid (= event id) order and stops
    // at the page's end, so a common word costs a page, not every match.
    sql.push_str(match (order, q.fts.is_some(), by_room.is_some()) {
        (Order::Best, true, _) => " ORDER BY bm25(events_fts), e.id DESC",
        (Order::Newest, true, true) => " ORDER BY e.room_id DESC, e.seq DESC",
        (Order::Newest, true, false) => " ORDER BY events_fts.rowid DESC",
        _ => " ORDER BY e.id DESC",
    });
    arg(&mut sql, " LIMIT ?", Box::new(limit as i64 + 1));
    arg(&mut sql, " OFFSET ?", Box::new(offset as i64));
    page_of_hits(conn, &sql, &args, limit)
}

/// The columns both backends' search queries start with: the hit's ids,
/// its room's kind and name (for a DM, the other member's username, as
/// seen by the searcher `?1`), seq, time and sender; then each backend's
/// snippet and the file id.
pub(super) const HIT_COLUMNS: &str = "SELECT e.id, e.room_id, r.kind,
           CASE WHEN r.kind = 'dm' THEN (
               SELECT o.username FROM members mo JOIN users o ON o.id = mo.user_id
               WHERE mo.room_id = r.id AND mo.user_id != ?1 LIMIT 1)
           ELSE r.name END,
           e.seq, e.ts, u.username";

/// Runs a search query whose `LIMIT` is one more than `limit`: the hits,
/// and whether more exist.
pub(super) fn page_of_hits(
    conn: &Db<'_>,
    sql: &str,
    args: &[Box<dyn Param>],
    limit: usize,
) -> Result<(Vec<Hit>, bool), StoreError> {
    let params: Vec<&dyn Param> = args.iter().map(|b| b.as_ref()).collect();
    let mut hits = conn.query_map(sql, params.as_slice(), |r| {
        Ok(Hit {
            id: MessageId(r.get(0)?),
            room: RoomId(r.get(1)?),
            room_kind: r.get(2)?,
            room_name: r.get::<Option<String>>(3)?.unwrap_or_default(),
            seq: r.get(4)?,
            ts: r.get(5)?,
            from: r.get(6)?,
            snippet: r.get::<Option<String>>(7)?.unwrap_or_default(),
            file: r.get::<Option<i64>>(8)?.map(FileId),
        })
    })?;
    let more = hits.len() > limit;
    hits.truncate(limit);
    Ok((hits, more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::{NewMessage, insert_message};
    use securechat_proto::Timestamp;

    /// Date filters bound the ids they walk, yet find exactly what the
    /// timestamps say, a clock that stepped back an hour included.
    #[test]
    fn date_filters_find_exactly_the_days_asked_for() {
        let (_dir, lite, ann) = crate::store::scratch();
        let conn = crate::store::Db::Sqlite(&lite);
        let room = RoomId(1);
        let day = 24 * 3600 * 1000;
        let start = 1_780_272_000_000; // 2026-06-01
        // One message every 6 hours for 20 days; the 41st is stamped an
        // hour before the one stored before it.
        let mut stamps = Vec::new();
        for i in 0..80i64 {
            let ts = if i == 41 {
                start + 40 * day / 4 - 3600 * 1000
            } else {
                start + i * day / 4
            };
            let cmid = format!("c{i}");
            let body = format!("note {i}");
            let m = NewMessage {
                ts: Timestamp(ts),
                ..NewMessage::new(room, ann, &cmid, &body)
            };
            insert_message(&conn, &m).unwrap().unwrap();
            stamps.push(ts);
        }
        crate::store::search_index::catch_up(&conn).unwrap();
        for (after, before) in [
            (start + 2 * day, start + 10 * day),
            (start + 5 * day, start + 12 * day),
            (start + 10 * day, start + 11 * day),
            (start, start + day / 2),
        ] {
            for fts in [Some("\"note\"".to_owned()), None] {
                let q = Query {
                    fts: fts.clone(),
                    after: Some(after),
                    before: Some(before),
                    ..Default::default()
                };
                let (hits, _) = search(&conn, ann, &q, Order::Newest, 100, 0).unwrap();
                let mut got: Vec<i64> = hits.iter().map(|h| h.ts).collect();
                got.sort();
                let mut want: Vec<i64> = stamps
                    .iter()
                    .copied()
                    .filter(|t| *t >= after && *t < before)
                    .collect();
                want.sort();
                assert_eq!(got, want, "after {after} before {before} fts {fts:?}");
            }
        }
    }

    /// A common word in a quiet room: the room's messages are walked
    /// instead of the word's matches, with the same results in the same
    /// order as the index walk gives.
    #[test]
    fn a_quiet_room_is_walked_instead_of_a_common_word() {
        let (_dir, lite, ann) = crate::store::scratch();
        let conn = crate::store::Db::Sqlite(&lite);
        let general = RoomId(1);
        let quiet = crate::store::rooms::insert(
            &conn,
            securechat_proto::ws::RoomKind::Public,
            "quiet",
            None,
            ann,
            None,
            0,
        )
        .unwrap();
        crate::store::rooms::add_member(&conn, quiet, ann, 0).unwrap();
        let mut n = 0;
        let mut post = |room: RoomId, body: &str| {
            n += 1;
            let cmid = format!("c{n}");
            let m = NewMessage {
                ts: Timestamp(n),
                ..NewMessage::new(room, ann, &cmid, body)
            };
            insert_message(&conn, &m).unwrap().unwrap().id.0
        };
        let mut in_quiet = Vec::new();
        for i in 0..600 {
            post(general, &format!("deploy number {i}"));
            if i % 200 == 0 {
                in_quiet.push(post(quiet, &format!("deploy in the quiet room {i}")));
            }
        }
        post(quiet, "something else");
        crate::store::search_index::catch_up(&conn).unwrap();
        let q = crate::search::parse("deploy in:#quiet").unwrap();
        assert!(
            quiet_room(&conn, q.fts.as_deref().unwrap(), "quiet")
                .unwrap()
                .is_some()
        );
        let busy = crate::search::parse("deploy in:#general").unwrap();
        assert!(
            quiet_room(&conn, busy.fts.as_deref().unwrap(), "general")
                .unwrap()
                .is_none()
        );
        let (hits, more) = search(&conn, ann, &q, Order::Newest, 2, 0).unwrap();
        in_quiet.reverse();
        assert_eq!(
            hits.iter().map(|h| h.id.0).collect::<Vec<_>>(),
            in_quiet[..2]
        );
        assert!(more);
        assert!(
            hits.iter().all(|h| h.snippet.contains('\u{2}')),
            "snippets are marked"
        );
        let (rest, more) = search(&conn, ann, &q, Order::Newest, 2, 2).unwrap();
        assert_eq!(
            rest.iter().map(|h| h.id.0).collect::<Vec<_>>(),
            in_quiet[2..]
        );
        assert!(!more);
    }
}
