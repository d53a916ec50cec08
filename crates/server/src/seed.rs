//! `securechat-server seed`: fills a data directory with a large,
//! realistic-looking history for benchmarks (search, big databases): rooms,
//! users, and messages of 4–24 words drawn from a Zipf-like vocabulary,
//! with rare words sprinkled in, spread over a year. Written straight into
//! the database in large transactions, then indexed for search in chunks
//! (`store::search_index`), so a million messages take minutes, not hours.

use crate::store::{Db, Store, StoreError, params, users};
use rand::{Rng, SeedableRng, rngs::StdRng};
use securechat_proto::{Timestamp, UserId};

/// What `seed` makes.
#[derive(Debug, Clone)]
pub struct SeedOpts {
    pub rooms: usize,
    pub messages: usize,
    pub users: usize,
    /// The password of every seeded account (`seed-user-N` and `searcher`,
    /// who is in every room).
    pub password_hash: String,
}

/// Common words (most frequent first) and the made-up ones after them.
const COMMON: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "is",
    "in",
    "for",
    "on",
    "it",
    "we",
    "that",
    "this",
    "with",
    "be",
    "you",
    "i",
    "have",
    "are",
    "not",
    "can",
    "will",
    "just",
    "so",
    "do",
    "at",
    "if",
    "but",
    "deploy",
    "build",
    "release",
    "review",
    "test",
    "fix",
    "bug",
    "server",
    "client",
    "meeting",
    "today",
    "tomorrow",
    "design",
    "merge",
    "branch",
    "ticket",
    "customer",
    "update",
    "docs",
    "lunch",
    "coffee",
    "standup",
    "deadline",
    "sprint",
    "roadmap",
    "metrics",
    "latency",
    "database",
    "migration",
    "backup",
    "incident",
    "alert",
    "dashboard",
    "onboarding",
    "feedback",
    "question",
];

/// Words of a message: mostly common ones (Zipf-like), some from a long
/// tail of made-up words, and now and then a rare marker word
/// (`rareword17`) that only a few messages contain.
fn words(rng: &mut StdRng) -> String {
    let n = rng.random_range(4..=24);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let pick: f64 = rng.random();
        let w = if pick < 0.0005 {
            format!("rareword{}", rng.random_range(0..200))
        } else if pick < 0.15 {
            format!("term{}", (rng.random::<f64>().powi(3) * 20_000.0) as u32)
        } else {
            let i = (rng.random::<f64>().powi(2) * COMMON.len() as f64) as usize;
            COMMON[i.min(COMMON.len() - 1)].to_owned()
        };
        out.push(w);
    }
    out.join(" ")
}

/// Users, then rooms, then messages in batches of 20,000 per transaction.
/// Returns (users, rooms, messages) made.
pub async fn seed(store: &Store, opts: SeedOpts) -> Result<(usize, usize, usize), StoreError> {
    let now = Timestamp::now().0;
    let hash = opts.password_hash.clone();
    let users_made = opts.users;
    let ids: Vec<UserId> = store
        .write(move |tx| {
            let mut ids = Vec::new();
            let searcher = match users::by_name(tx, "searcher")? {
                Some(u) => u.id,
                None => users::insert(tx, "searcher", &hash, Some(false), now)?.id,
            };
            ids.push(searcher);
            for i in 0..users_made {
                let name = format!("seed-user-{i}");
                let id = match users::by_name(tx, &name)? {
                    Some(u) => u.id,
                    None => users::insert(tx, &name, &hash, Some(false), now)?.id,
                };
                ids.push(id);
            }
            Ok::<_, StoreError>(ids)
        })
        .await?;
    let rooms_made = opts.rooms;
    let members = ids.clone();
    let rooms: Vec<(i64, i64)> = store
        .write(move |tx| {
            let mut rooms = Vec::new();
            for i in 0..rooms_made {
                tx.execute(
                    "INSERT INTO rooms (kind, name, created_at) VALUES ('public', ?1, ?2)
                     ON CONFLICT DO NOTHING",
                    params![format!("seed-room-{i}"), now],
                )?;
                let (id, last): (i64, i64) = tx.query_row(
                    "SELECT id, last_seq FROM rooms WHERE name = ?1 AND kind = 'public'",
                    [format!("seed-room-{i}")],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                // The searcher and ten others in each room.
                let mut who = vec![members[0]];
                who.extend((0..10).map(|k| members[1 + (i * 7 + k) % (members.len() - 1).max(1)]));
                for u in who {
                    tx.execute(
                        "INSERT INTO members (room_id, user_id, joined_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                        params![id, u.0, now],
                    )?;
                }
                rooms.push((id, last));
            }
            Ok::<_, StoreError>(rooms)
        })
        .await?;
    let mut rng = StdRng::seed_from_u64(20261203);
    let mut seqs: Vec<i64> = rooms.iter().map(|r| r.1).collect();
    let year = 365 * 24 * 3600 * 1000i64;
    let mut made = 0;
    while made < opts.messages {
        let n = (opts.messages - made).min(20_000);
        let mut batch = Vec::with_capacity(n);
        for k in 0..n {
            // Zipf-like room activity: a few rooms busy, most quiet.
            let r = ((rng.random::<f64>().powi(3)) * rooms.len() as f64) as usize % rooms.len();
            seqs[r] += 1;
            let ts = now - year + (year * (made + k) as i64) / opts.messages as i64;
            let from = ids[rng.random_range(0..ids.len())];
            batch.push((rooms[r].0, seqs[r], ts, from.0, words(&mut rng)));
        }
        let last: Vec<(i64, i64)> = rooms.iter().zip(&seqs).map(|(r, s)| (r.0, *s)).collect();
        store
            .write(move |tx| {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO events (room_id, seq, ts, user_id, kind, body)
                     VALUES (?1, ?2, ?3, ?4, 'message', ?5)",
                )?;
                for (room, seq, ts, from, body) in &batch {
                    stmt.execute(params![room, seq, ts, from, body])?;
                }
                let mut up = tx.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?;
                for (room, seq) in &last {
                    up.execute(params![room, seq])?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        made += n;
    }
    store.catch_up_search().await?;
    Ok((ids.len(), rooms.len(), made))
}

/// (messages stored, bytes of the search index: the FTS5 segments and
/// their b-tree index).
pub fn sizes(conn: &Db<'_>) -> Result<(u64, u64), StoreError> {
    if conn.backend() == crate::store::Backend::Postgres {
        let messages: u64 = conn.query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'message' AND deleted = 0",
            (),
            |r| r.get(0),
        )?;
        let index: u64 =
            conn.query_row("SELECT pg_relation_size('events_search')", (), |r| r.get(0))?;
        return Ok((messages, index));
    }
    let messages: u64 = conn.query_row(
        "SELECT COUNT(*) FROM events WHERE kind = 'message' AND deleted = 0",
        (),
        |r| r.get(0),
    )?;
    let index: u64 = conn.query_row(
        "SELECT COALESCE((SELECT SUM(LENGTH(block)) FROM events_fts_data), 0)
              + COALESCE((SELECT SUM(LENGTH(term) + 16) FROM events_fts_idx), 0)",
        (),
        |r| r.get(0),
    )?;
    Ok((messages, index))
}
