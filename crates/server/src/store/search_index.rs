//! The SQLite search index follows the events table a little behind.
//!
//! A message's commit used to index it through a trigger, which wrote four
//! of the eight pages each one-message commit wrote (FTS5's segment, its
//! b-tree, the structure record, the document sizes). Now a stored
//! message's commit writes only the message, and [`catch_up`] indexes
//! every message after `search_progress.upto` in one go: a background task
//! runs it about once a second, and every search runs it first, so a
//! search still finds everything stored before it. Edits, deletions and
//! expiry of an already indexed message still change the index in their
//! own transaction (the triggers of migration 13 act only at or below
//! `upto`; a message not yet indexed is indexed as it is when its turn
//! comes). PostgreSQL indexes in the row itself and has nothing to catch up.

use super::StoreError;
use super::sql::{Backend, Db, params};

/// Most messages indexed by one job (one transaction): a long backlog, as
/// after `seed`, goes in several.
const CHUNK: i64 = 20_000;

/// Whether stored messages wait to be indexed.
pub fn behind(conn: &Db<'_>) -> Result<bool, StoreError> {
    if conn.backend() == Backend::Postgres {
        return Ok(false);
    }
    let (upto, last) = ends(conn)?;
    Ok(last > upto)
}

/// Indexes up to [`CHUNK`] messages the index has not seen; true when
/// more wait.
pub fn catch_up(conn: &Db<'_>) -> Result<bool, StoreError> {
    catch_up_by(conn, CHUNK)
}

fn catch_up_by(conn: &Db<'_>, chunk: i64) -> Result<bool, StoreError> {
    if conn.backend() == Backend::Postgres {
        return Ok(false);
    }
    let (upto, last) = ends(conn)?;
    if last <= upto {
        return Ok(false);
    }
    let end = last.min(upto + chunk);
    conn.execute(
        "INSERT INTO events_fts (rowid, body)
         SELECT id, body FROM events
         WHERE id > ?1 AND id <= ?2 AND kind = 'message' AND deleted = 0
           AND body IS NOT NULL AND body != ''",
        params![upto, end],
    )?;
    conn.execute("UPDATE search_progress SET upto = ?1", params![end])?;
    Ok(end < last)
}

/// After events were deleted (a room with its history): the next event
/// may take a deleted one's id, which must not count as indexed.
pub fn forget_deleted(conn: &Db<'_>) -> Result<(), StoreError> {
    if conn.backend() == Backend::Postgres {
        return Ok(());
    }
    conn.execute(
        "UPDATE search_progress SET upto = min(upto, (SELECT COALESCE(max(id), 0) FROM events))",
        (),
    )?;
    Ok(())
}

/// (indexed up to, newest event id).
fn ends(conn: &Db<'_>) -> Result<(i64, i64), StoreError> {
    conn.query_row(
        "SELECT upto, (SELECT COALESCE(max(id), 0) FROM events) FROM search_progress",
        (),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::{NewMessage, insert_message};
    use crate::store::{rooms, search};
    use securechat_proto::{RoomId, UserId};

    fn found(conn: &Db<'_>, user: UserId, words: &str) -> Vec<i64> {
        let q = crate::search::parse(words).unwrap();
        let (hits, _) = search::search(conn, user, &q, search::Order::Newest, 100, 0).unwrap();
        let mut ids: Vec<i64> = hits.iter().map(|h| h.id.0).collect();
        ids.sort();
        ids
    }

    fn post(conn: &Db<'_>, room: RoomId, user: UserId, n: u32, body: &str) -> i64 {
        let cmid = format!("c{n}");
        insert_message(conn, &NewMessage::new(room, user, &cmid, body))
            .unwrap()
            .unwrap()
            .id
            .0
    }

    /// Messages are found once caught up, in chunks; an edit or deletion
    /// of one not yet indexed leaves nothing stale behind, one of an
    /// indexed message changes the index at once.
    #[test]
    fn the_index_catches_up_with_edits_and_deletions_in_between() {
        let (_dir, lite, ann) = crate::store::scratch();
        let conn = Db::Sqlite(&lite);
        let general = RoomId(1);
        let ids: Vec<i64> = (0..5)
            .map(|n| post(&conn, general, ann, n, &format!("alpha {n}")))
            .collect();
        assert!(behind(&conn).unwrap());
        assert!(found(&conn, ann, "alpha").is_empty(), "not indexed yet");
        // Not indexed yet: edited, deleted.
        conn.execute(
            "UPDATE events SET body = 'beta' WHERE id = ?1",
            params![ids[0]],
        )
        .unwrap();
        conn.execute(
            "UPDATE events SET deleted = 1 WHERE id = ?1",
            params![ids[1]],
        )
        .unwrap();
        // Two at a time: three jobs.
        assert!(catch_up_by(&conn, 2).unwrap());
        assert!(catch_up_by(&conn, 2).unwrap());
        assert!(!catch_up_by(&conn, 2).unwrap());
        assert!(!behind(&conn).unwrap());
        assert_eq!(found(&conn, ann, "alpha"), ids[2..].to_vec());
        assert_eq!(found(&conn, ann, "beta"), vec![ids[0]]);
        // Indexed: an edit and a deletion change the index themselves.
        conn.execute(
            "UPDATE events SET body = 'gamma' WHERE id = ?1",
            params![ids[2]],
        )
        .unwrap();
        conn.execute(
            "UPDATE events SET deleted = 1 WHERE id = ?1",
            params![ids[3]],
        )
        .unwrap();
        assert!(!behind(&conn).unwrap());
        assert_eq!(found(&conn, ann, "alpha"), vec![ids[4]]);
        assert_eq!(found(&conn, ann, "gamma"), vec![ids[2]]);
        // The FTS5 index is whole (it holds only live messages, so it is
        // not compared with every row of its content table).
        conn.execute(
            "INSERT INTO events_fts (events_fts) VALUES ('integrity-check')",
            (),
        )
        .unwrap();
    }

    /// A room deleted with the newest events: the next message may take a
    /// deleted one's id, and is still indexed.
    #[test]
    fn an_id_freed_by_a_deleted_room_is_indexed_again() {
        let (_dir, lite, ann) = crate::store::scratch();
        let conn = Db::Sqlite(&lite);
        let general = RoomId(1);
        post(&conn, general, ann, 0, "before");
        let doomed = rooms::insert(
            &conn,
            securechat_proto::ws::RoomKind::Public,
            "doomed",
            None,
            ann,
            None,
            0,
        )
        .unwrap();
        rooms::add_member(&conn, doomed, ann, 0).unwrap();
        let gone = post(&conn, doomed, ann, 1, "doomed words");
        catch_up(&conn).unwrap();
        rooms::delete(&conn, doomed).unwrap();
        let next = post(&conn, general, ann, 2, "after");
        assert_eq!(next, gone, "SQLite gives the freed id again");
        catch_up(&conn).unwrap();
        assert_eq!(found(&conn, ann, "after"), vec![next]);
        assert!(found(&conn, ann, "doomed").is_empty());
    }
}
