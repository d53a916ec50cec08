//! Several nodes on one PostgreSQL database: each node is a [`Store`] with
//! its own writer (group commit) and readers, and the guarantees of one
//! node hold across them. These need `SC_TEST_POSTGRES` (scripts/test.sh
//! starts a PostgreSQL and sets it); on SQLite one writer holds the file,
//! so there is nothing to race, and they say so and pass.

use crate::cli::run_ok;
use crate::files::upload;
use crate::helpers::{general, spawn_with, test_database};
use securechat_proto::ws::RoomKind;
use securechat_proto::{RoomId, Seq, UserId};
use securechat_server::store::events::{NewMessage, insert_message};
use securechat_server::store::rooms;
use securechat_server::store::{Store, StoreError, users};
use serde_json::Value;
use std::collections::HashMap;

const NODES: usize = 3;
const SENDERS_PER_NODE: usize = 4;
const SENDS: usize = 60;

/// Stores one message, retrying (with the same `client_msg_id`, as a
/// client does) when the store fails it; the seq it was stored at.
async fn send(store: &Store, room: RoomId, user: UserId, cmid: String) -> Seq {
    for _ in 0..20 {
        let id = cmid.clone();
        let result = store
            .write(move |db| -> Result<_, StoreError> {
                let m = insert_message(db, &NewMessage::new(room, user, &id, "hello"))?;
                match m {
                    Some(m) => Ok(Some(m.seq)),
                    None => Ok(None), // stored before: look it up below
                }
            })
            .await;
        match result {
            Ok(Some(seq)) => return seq,
            Ok(None) => {
                let id = cmid.clone();
                return store
                    .read(move |db| -> Result<_, StoreError> {
                        db.query_row(
                            "SELECT seq FROM events WHERE user_id = ?1 AND client_msg_id = ?2",
                            [&user.0 as &dyn securechat_server::store::sql::Param, &id],
                            |r| r.get(0),
                        )
                    })
                    .await
                    .unwrap();
            }
            Err(e) => eprintln!("send {cmid} failed, retrying: {e}"),
        }
    }
    panic!("send {cmid} never succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_from_every_node_get_contiguous_unique_seqs_and_retries_store_once() {
    let Some(url) = test_database().await else {
        eprintln!("skipped: several nodes need SC_TEST_POSTGRES");
        return;
    };
    let nodes: Vec<Store> = (0..NODES).map(|_| Store::connect(&url).unwrap()).collect();
    let (ann, rooms) = nodes[0]
        .write(|db| -> Result<_, StoreError> {
            let ann = users::insert(db, "ann", "x", None, 0)?.id;
            let mut made = vec![RoomId(1)];
            for name in ["two", "three"] {
                let room = rooms::insert(db, RoomKind::Public, name, None, ann, None, 0)?;
                rooms::add_member(db, room, ann, 0)?;
                made.push(room);
            }
            Ok((ann, made))
        })
        .await
        .unwrap();
    // Every sender walks the rooms in its own order, so batches on
    // different nodes lock rooms in different orders; a third of the sends
    // are retried on another node.
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for s in 0..SENDERS_PER_NODE {
            let node = node.clone();
            let other = nodes[(n + 1) % NODES].clone();
            let rooms = rooms.clone();
            tasks.push(tokio::spawn(async move {
                let mut stored = Vec::new();
                for i in 0..SENDS {
                    let room = rooms[(i + n + s) % rooms.len()];
                    let cmid = format!("n{n}-s{s}-{i}");
                    let seq = send(&node, room, ann, cmid.clone()).await;
                    if i % 3 == 0 {
                        let again = send(&other, room, ann, cmid.clone()).await;
                        assert_eq!(again, seq, "a retry on another node is the same message");
                    }
                    stored.push((room, seq));
                }
                stored
            }));
        }
    }
    let mut seqs: HashMap<RoomId, Vec<Seq>> = HashMap::new();
    for t in tasks {
        for (room, seq) in t.await.unwrap() {
            seqs.entry(room).or_default().push(seq);
        }
    }
    let total: usize = seqs.values().map(Vec::len).sum();
    assert_eq!(total, NODES * SENDERS_PER_NODE * SENDS);
    for room in &rooms {
        let room = *room;
        let mut acked = seqs.remove(&room).unwrap_or_default();
        acked.sort_unstable();
        let (stored, last): (Vec<Seq>, Seq) = nodes[2]
            .read(move |db| -> Result<_, StoreError> {
                let stored = db.query_map(
                    "SELECT seq FROM events WHERE room_id = ?1 ORDER BY seq",
                    [room.0],
                    |r| r.get(0),
                )?;
                let last =
                    db.query_row("SELECT last_seq FROM rooms WHERE id = ?1", [room.0], |r| {
                        r.get(0)
                    })?;
                Ok((stored, last))
            })
            .await
            .unwrap();
        let expected: Vec<Seq> = (1..=last).collect();
        assert_eq!(stored, expected, "room {room}: seqs 1..={last}, no gap");
        assert_eq!(acked, expected, "room {room}: every ack a distinct seq");
    }
}

/// `migrate --to`: a SQLite installation with history, a thread, a
/// reaction, a file, sessions and an invite moves into PostgreSQL; the
/// server started on it shows the same history and search results, old
/// sessions and passwords work, files download, and new messages go on
/// from the old seqs. A second run refuses the non-empty target.
#[tokio::test]
async fn a_sqlite_installation_moves_to_postgresql_with_nothing_lost() {
    let Some(url) = test_database().await else {
        eprintln!("skipped: needs SC_TEST_POSTGRES");
        return;
    };
    let mut app = spawn_with(|c| {
        c.database = None;
        c.burst = 100;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    let mut acks = Vec::new();
    for i in 0..30 {
        a.send_text(
            room,
            &format!("m{i}"),
            &format!("message {i} about the café deploys"),
        )
        .await;
        acks.push(a.next_ack().await);
    }
    let root = acks[0].id;
    a.send_json(
        serde_json::json!({"type": "send", "room": room, "client_msg_id": "r1",
        "body": "a reply in the thread", "thread": root}),
    )
    .await;
    let last = a.next_ack().await.seq;
    app.put(
        &format!("/api/rooms/{room}/messages/{root}/reactions/👍"),
        serde_json::json!({}),
        &bob,
    )
    .await;
    let up: Value = upload(
        &app,
        &alice,
        room,
        "notes.txt",
        "text/plain",
        b"file bytes".to_vec(),
    )
    .await
    .json()
    .await
    .unwrap();
    let file = up["file"]["id"].as_i64().expect("file id");
    app.post("/api/admin/invites", serde_json::json!({}), Some(&alice))
        .await;
    let history = format!("/api/rooms/{room}/events?limit=100");
    let before = app.get_json(&history, &bob).await;
    let found = app.get_json("/api/search?q=cafe", &bob).await;
    assert_eq!(
        found["results"].as_array().unwrap().len(),
        20,
        "a page of hits"
    );
    drop(a);
    app.stop().await;

    let out = run_ok(app.cli().args(["migrate", "--to", &url]), None);
    assert!(out.contains("every table verified"), "{out}");
    assert!(out.contains("events"), "{out}");
    let again = app.cli().args(["migrate", "--to", &url]).output().unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let app = app.restart_with(|c| c.database = Some(url.clone())).await;
    assert_eq!(
        app.get_json(&history, &bob).await,
        before,
        "history as it was"
    );
    assert_eq!(
        app.get_json("/api/search?q=cafe", &bob).await["results"],
        found["results"]
    );
    assert_eq!(
        app.login("alice", crate::helpers::PASSWORD).await.status(),
        200
    );
    let res = app.get(&format!("/api/files/{file}"), Some(&bob)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"file bytes");
    let (mut a, _) = app.connect(&alice).await;
    a.send_text(room, "after", "after the move").await;
    let ack = a.next_ack().await;
    assert!(ack.seq > last, "seqs go on: {} after {last}", ack.seq);
    let stats = run_ok(app.cli().arg("stats"), None);
    assert!(stats.contains("users:    2"), "{stats}");
}

/// A job that ignores one of its statements failing (PostgreSQL then
/// refuses the rest of the transaction) fails alone: the other jobs of its
/// batch commit, and none is told it is durable when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_ignores_a_failed_statement_fails_alone() {
    let Some(url) = test_database().await else {
        eprintln!("skipped: needs SC_TEST_POSTGRES");
        return;
    };
    let store = Store::connect(&url).unwrap();
    let careless = store
        .submit_then(
            |db| -> Result<(), StoreError> {
                let _ = db.execute("INSERT INTO no_such_table VALUES (1)", ());
                Ok(())
            },
            |_| {},
        )
        .await
        .unwrap();
    let fine = store
        .submit_then(
            |db| -> Result<(), StoreError> {
                db.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')", ())?;
                Ok(())
            },
            |_| {},
        )
        .await
        .unwrap();
    assert!(careless.await.is_err(), "not reported durable");
    fine.await.expect("the rest of the batch commits");
    let keys: Vec<String> = store
        .read(|db| db.query_map("SELECT key FROM settings", (), |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(keys, ["k"]);
}
