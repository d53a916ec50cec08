//! Durable message writes through the store, without the network: the
//! exact job the server runs for a `send` (`chat::store`), submitted by
//! `SENDERS` concurrent senders keeping `WINDOW` writes in flight each,
//! each sender in a room of its own, through the group-committing writer.
//!
//!   cargo bench -p securechat-server --bench store_writes
//!   STORE_BENCH_MESSAGES=20000 valgrind --tool=callgrind \
//!     target/release/deps/store_writes-*   (instructions per message)
//!
//! It prints messages/s, commits, and the mean batch size. Figures go in
//! bench/RESULTS.md; this is a benchmark, not a test, and checks only
//! that every message was stored once.

use securechat_proto::RoomId;
use securechat_proto::ws::RoomKind;
use securechat_server::action::ActionError;
use securechat_server::chat;
use securechat_server::store::{Store, StoreError, rooms, users};
use std::time::Instant;

const SENDERS: usize = 100;
const WINDOW: usize = 32;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(()); // `cargo test --benches` lists; nothing to list
    }
    let messages = env("STORE_BENCH_MESSAGES", 200_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db"))?;
    let senders: Vec<_> = store
        .write(|tx| -> Result<_, StoreError> {
            (0..SENDERS)
                .map(|i| {
                    let user = users::insert(tx, &format!("u{i}"), "x", Some(false), 0)?.id;
                    let room = rooms::insert(
                        tx,
                        RoomKind::Private,
                        &format!("r{i}"),
                        None,
                        user,
                        None,
                        0,
                    )?;
                    rooms::add_member(tx, room, user, 0)?;
                    Ok((user, room))
                })
                .collect()
        })
        .await?;
    let commits = store.commits();
    let started = Instant::now();
    let per_sender = messages / SENDERS;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, (user, room))| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut in_flight = std::collections::VecDeque::new();
                for n in 0..per_sender {
                    if in_flight.len() == WINDOW {
                        let done: std::pin::Pin<Box<dyn Future<Output = _> + Send>> =
                            in_flight.pop_front().expect("window is full");
                        done.await?;
                    }
                    let post = chat::Post {
                        client_msg_id: format!("{i}-{n}"),
                        body: format!("message {n} from sender {i}, about as long as a chat line"),
                        ..Default::default()
                    };
                    let durable = store
                        .submit_unguarded_then(move |tx| chat::store(tx, user, room, &post), |_| {})
                        .await?;
                    in_flight.push_back(Box::pin(durable));
                }
                for done in in_flight {
                    done.await?;
                }
                Ok::<RoomId, ActionError>(room)
            })
        })
        .collect();
    let mut rooms_done = Vec::new();
    for t in tasks {
        rooms_done.push(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    let total = per_sender * SENDERS;
    let batches = store.commits() - commits;
    let stored: usize = store
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'message'",
                (),
                |r| r.get::<usize>(0),
            )
        })
        .await?;
    anyhow::ensure!(stored == total, "stored {stored} of {total}");
    println!(
        "store_writes: {total} messages from {SENDERS} senders (window {WINDOW}) in {secs:.2} s: \
         {:.0} messages/s, {batches} commits, {:.0} messages per commit",
        total as f64 / secs,
        total as f64 / batches as f64
    );
    drop(rooms_done);
    tokio::task::block_in_place(|| store.close());
    Ok(())
}
