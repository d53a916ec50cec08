//! Retention: the sweep removes what is older than a room's policy (its
//! own, else the server's) with its files, reactions, mentions and search
//! entries; a client resuming across the removed range gets every seq once,
//! in order (the removed ones as `expired`), unread counts and history
//! start after them; a room may keep its messages forever.

use crate::helpers::*;
use securechat_proto::{RoomId, Seq, ServerMsg, Timestamp};
use securechat_server::retention::sweep;
use serde_json::{Value, json};
use std::time::Duration;

const DAY: i64 = 86_400_000;

async fn send_n(c: &mut Client, room: RoomId, prefix: &str, n: usize) {
    for i in 0..n {
        c.send_text(
            room,
            &format!("{prefix}-{i}"),
            &format!("{prefix} words {i}"),
        )
        .await;
    }
    for _ in 0..n {
        c.next_ack().await;
    }
}

/// Frames of `room` until `synced`: (seq, expired, body).
async fn replay(c: &mut Client, room: RoomId) -> Vec<(Seq, bool, String)> {
    let mut got = Vec::new();
    loop {
        match c.next_non_presence().await {
            ServerMsg::Message(m) if m.room == room => got.push((m.seq, m.expired, m.body)),
            ServerMsg::Synced => return got,
            ServerMsg::Reaction(r) if r.room == room => got.push((r.seq, false, String::new())),
            other => panic!("unexpected during replay: {other:?}"),
        }
    }
}

#[tokio::test]
async fn old_messages_go_and_resume_unread_and_history_stay_right() {
    let app = spawn_with(|c| {
        c.retention_days = Some(30);
        c.burst = 100;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    send_n(&mut a, room, "seen", 2).await;
    let mut last_seen = 0;
    while last_seen < 2 {
        if let ServerMsg::Message(m) = b.next_non_presence().await {
            last_seen = m.seq;
        }
    }
    drop(b);

    // While bob is away: old messages (one with a file, one reacted to,
    // one mentioning him), then, later, new ones.
    send_n(&mut a, room, "old", 3).await;
    let res = crate::files::upload(
        &app,
        &alice,
        room,
        "old.txt",
        "text/plain",
        b"old bytes".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let upload: Value = res.json().await.unwrap();
    let file_id = upload["file"]["id"].as_i64().unwrap();
    let sha = upload["file"]["sha256"].as_str().unwrap().to_owned();
    let old_id = upload["message"]["id"].as_i64().unwrap();
    let res = app
        .put(
            &format!(
                "/api/rooms/{}/messages/{old_id}/reactions/%F0%9F%91%8D",
                room.0
            ),
            json!({}),
            &alice,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    a.send_text(room, "mention", "old @bob look").await;
    a.next_ack().await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let between = Timestamp::now().0;
    tokio::time::sleep(Duration::from_millis(30)).await;
    send_n(&mut a, room, "new", 2).await;

    // 30 days later (from between the two): the old ones are due.
    let expired = sweep(&app.state.store, Some(30), between + 30 * DAY)
        .await
        .unwrap();
    assert_eq!(
        expired,
        2 + 3 + 1 + 1,
        "the two seen, three old, the file, the mention"
    );
    // Again: nothing more.
    assert_eq!(
        sweep(&app.state.store, Some(30), between + 30 * DAY)
            .await
            .unwrap(),
        0
    );

    // Bob comes back: every seq once, in order, the removed ones empty.
    let (mut b, w) = app.connect(&bob).await;
    let info = w.rooms.iter().find(|r| r.id == room).unwrap();
    assert_eq!(info.unread, 2, "only the new ones are unread");
    assert_eq!(info.mentions, 0, "the mention went with its message");
    b.send_json(json!({"type": "sync", "since": {room.to_string(): last_seen}}))
        .await;
    let got = replay(&mut b, room).await;
    let seqs: Vec<Seq> = got.iter().map(|g| g.0).collect();
    let expected: Vec<Seq> = (last_seen + 1..=info.last_seq).collect();
    assert_eq!(seqs, expected, "no gap, no duplicate");
    let (new, old): (Vec<_>, Vec<_>) = got.iter().partition(|g| !g.1);
    assert!(old.iter().all(|g| g.2.is_empty()), "{old:?}");
    let bodies: Vec<&str> = new.iter().map(|g| g.2.as_str()).collect();
    assert_eq!(bodies, ["new words 0", "new words 1"]);
    // Live on from there.
    a.send_text(room, "after", "after words").await;
    a.next_ack().await;
    match b.next_non_presence().await {
        ServerMsg::Message(m) => {
            assert_eq!((m.seq, m.body.as_str()), (info.last_seq + 1, "after words"))
        }
        other => panic!("{other:?}"),
    }

    // History starts after them; search forgets them; the file is gone.
    let history = app
        .get_json(&format!("/api/rooms/{}/events", room.0), &bob)
        .await;
    let bodies: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert_eq!(bodies, ["new words 0", "new words 1", "after words"]);
    assert_eq!(history["more"], false);
    let found = app.get_json("/api/search?q=old", &bob).await;
    assert_eq!(
        found["results"].as_array().map(Vec::len),
        Some(0),
        "{found}"
    );
    assert_eq!(
        app.get_json("/api/search?q=new", &bob).await["results"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let res = app.get(&format!("/api/files/{file_id}"), Some(&bob)).await;
    assert_eq!(res.status(), 404);
    app.state.blobs.sweep(&app.state.store).await.unwrap();
    assert!(!app.state.blobs.path(&sha).exists(), "the bytes are gone");
    let rows = app
        .state
        .store
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'expired' AND (body IS NOT NULL OR data IS NOT NULL)",
                (),
                |r| r.get::<i64>(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing of their content is kept");
}

#[tokio::test]
async fn a_room_keeps_its_own_policy_set_by_its_creator_or_an_admin() {
    let app = spawn_with(|c| c.retention_days = Some(30)).await;
    let root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let keep = app.new_room(&alice, "keep", "public").await;
    let short = app.new_room(&alice, "short", "public").await;
    app.post(
        &format!("/api/rooms/{}/join", keep.0),
        json!({}),
        Some(&bob),
    )
    .await;
    let path = |r: RoomId| format!("/api/rooms/{}/retention", r.0);
    let policy = app.get_json(&path(keep), &bob).await;
    assert_eq!(policy, json!({"days": 30, "room": null, "server": 30}));

    // Only the creator or an admin; sane values only.
    assert_eq!(
        app.put(&path(keep), json!({"days": 0}), &bob)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.put(&path(keep), json!({"days": 40000}), &alice)
            .await
            .status(),
        400
    );
    let res = app.put(&path(keep), json!({"days": 0}), &alice).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"days": null, "room": 0, "server": 30})
    );
    let res = app.put(&path(short), json!({"days": 1}), &root).await;
    assert_eq!(res.json::<Value>().await.unwrap()["days"], 1);

    let (mut a, _) = app.connect(&alice).await;
    send_n(&mut a, keep, "kept", 2).await;
    send_n(&mut a, short, "brief", 2).await;
    let now = Timestamp::now().0;
    // Two days on: the 1-day room is emptied, the forever room is not.
    assert_eq!(
        sweep(&app.state.store, Some(30), now + 2 * DAY)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        app.history_bodies(keep, &alice).await,
        ["kept words 0", "kept words 1"]
    );
    assert!(app.history_bodies(short, &alice).await.is_empty());
    // Back to the server's: 31 days on, the other room goes too.
    app.put(&path(keep), json!({"days": null}), &alice).await;
    assert_eq!(
        sweep(&app.state.store, Some(30), now + 31 * DAY)
            .await
            .unwrap(),
        2
    );
    assert!(app.history_bodies(keep, &alice).await.is_empty());
}
