//! The offline inbox and read marks, typing, and edits/deletions that a
//! resuming client receives.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::{ErrorCode, RoomId, ServerMsg};
use serde_json::json;
use std::time::Duration;

/// Sends `n` messages to `room` and waits for their acks; returns the acks.
async fn say(
    c: &mut Client,
    room: RoomId,
    prefix: &str,
    n: usize,
) -> Vec<securechat_proto::ws::Ack> {
    for i in 0..n {
        c.send_text(room, &format!("{prefix}{i}"), &format!("{prefix} {i}"))
            .await;
    }
    let mut acks = Vec::new();
    for _ in 0..n {
        acks.push(c.next_ack().await);
    }
    acks
}

#[tokio::test]
async fn offline_inbox_unread_counts_and_read_marks_follow_the_user() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let (mut a, w) = app.connect(&alice).await;
    let general = general(&w);
    let dev = app
        .post_room(
            "/api/rooms",
            json!({"name": "dev", "kind": "private", "members": ["bob"]}),
            &alice,
            201,
        )
        .await;
    // Bob and carol are away while alice talks.
    say(&mut a, general, "g", 3).await;
    say(&mut a, dev.id, "d", 2).await;

    let (mut b1, w) = app.connect(&bob).await;
    let unread =
        |w: &securechat_proto::ws::Welcome, id| w.rooms.iter().find(|r| r.id == id).unwrap().unread;
    assert_eq!(unread(&w, general), 3);
    assert_eq!(unread(&w, dev.id), 2);
    let (_, wc) = app.connect(&carol).await;
    assert_eq!(unread(&wc, general), 3);
    assert!(
        wc.rooms.iter().all(|r| r.id != dev.id),
        "carol is not in dev"
    );

    // Bob reads general on one device; his other device is told.
    let (mut b2, _) = app.connect(&bob).await;
    let last = w.rooms.iter().find(|r| r.id == general).unwrap().last_seq;
    // Then marks never move back and never pass the newest event.
    for seq in [last, 1, 1_000_000] {
        b1.send_json(json!({"type": "read", "room": general, "seq": seq}))
            .await;
        assert_eq!(
            b2.next_where(|m| matches!(m, ServerMsg::Read { .. })).await,
            ServerMsg::Read {
                room: general,
                seq: last
            },
            "read up to {seq}"
        );
    }
    let (_, w3) = app.connect(&bob).await;
    assert_eq!(unread(&w3, general), 0);
    assert_eq!(unread(&w3, dev.id), 2);
    // Own messages never count as unread.
    say(&mut b1, general, "mine", 1).await;
    let (_, w4) = app.connect(&bob).await;
    assert_eq!(unread(&w4, general), 0);

    // Marking a room you are not in is refused (a private room answers
    // like a missing one).
    let (mut c, _) = app.connect(&carol).await;
    c.send_json(json!({"type": "read", "room": dev.id, "seq": 1}))
        .await;
    match c.next_non_presence().await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn typing_reaches_the_other_members_only_and_is_never_stored() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let (mut a, w) = app.connect(&alice).await;
    let general = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let (mut c, _) = app.connect(&carol).await;
    let private = app
        .post_room(
            "/api/rooms",
            json!({"name": "duo", "kind": "private", "members": ["bob"]}),
            &alice,
            201,
        )
        .await;
    // Alice's own notices of the new room.
    a.next_where(|m| matches!(m, ServerMsg::Member(e) if e.user == "bob"))
        .await;

    a.send_json(json!({"type": "typing", "room": general}))
        .await;
    let typing = ServerMsg::Typing {
        room: general,
        user: "alice".into(),
    };
    assert_eq!(
        b.next_where(|m| matches!(m, ServerMsg::Typing { .. }))
            .await,
        typing
    );
    assert_eq!(
        c.next_where(|m| matches!(m, ServerMsg::Typing { .. }))
            .await,
        typing
    );
    // At most one relayed per room every couple of seconds.
    a.send_json(json!({"type": "typing", "room": general}))
        .await;
    a.send_json(json!({"type": "typing", "room": private.id}))
        .await;
    assert_eq!(
        b.next_where(|m| matches!(m, ServerMsg::Typing { .. }))
            .await,
        ServerMsg::Typing {
            room: private.id,
            user: "alice".into()
        }
    );
    c.expect_quiet(Duration::from_millis(300)).await;
    // Carol may not type into a room she is not in; alice never hears herself.
    c.send_json(json!({"type": "typing", "room": private.id}))
        .await;
    match c.next_non_presence().await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }
    a.expect_quiet(Duration::from_millis(200)).await;
    let rooms = app.get_json("/api/rooms", &alice).await;
    let general_info = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == general.0)
        .unwrap()
        .clone();
    assert_eq!(general_info["last_seq"], 0, "typing is not stored");
}

#[tokio::test]
async fn edits_and_deletions_are_live_and_replayed_on_resume() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await; // admin
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    let (mut c, _) = app.connect(&carol).await;
    let acks = say(&mut a, room, "orig", 3).await;
    let (m0, m1, m2) = (acks[0].id, acks[1].id, acks[2].id);
    b.next_where(|m| matches!(m, ServerMsg::Message(e) if e.id == m2))
        .await;
    let bob_last = acks[2].seq;
    drop(b); // bob goes away

    // Alice edits and deletes while bob is away; carol sees it live.
    let edit = |id| format!("/api/rooms/{room}/messages/{id}");
    let res = app
        .patch(&edit(m0), json!({"body": "orig 0 (fixed)"}), &alice)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let now: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (now["body"].as_str(), now["edited"].as_bool()),
        (Some("orig 0 (fixed)"), Some(true))
    );
    match c.next_where(|m| matches!(m, ServerMsg::Edited(_))).await {
        ServerMsg::Edited(e) => assert_eq!(
            (e.target, e.body.as_str(), e.by.as_str()),
            (m0, "orig 0 (fixed)", "alice")
        ),
        _ => unreachable!(),
    }
    assert_eq!(app.delete(&edit(m1), &alice).await.status(), 204);
    c.next_where(|m| matches!(m, ServerMsg::Deleted(d) if d.target == m1))
        .await;
    // Same text again, or deleting twice: nothing new is stored.
    let before = app.get_json("/api/rooms", &alice).await["rooms"][0]["last_seq"].clone();
    assert_eq!(
        app.patch(&edit(m0), json!({"body": "orig 0 (fixed)"}), &alice)
            .await
            .status(),
        200
    );
    assert_eq!(app.delete(&edit(m1), &alice).await.status(), 204);
    assert_eq!(
        app.get_json("/api/rooms", &alice).await["rooms"][0]["last_seq"],
        before
    );

    // Others may not edit or delete alice's messages; the admin may delete.
    assert_eq!(
        app.patch(&edit(m2), json!({"body": "hijack"}), &carol)
            .await
            .status(),
        403
    );
    assert_eq!(app.delete(&edit(m2), &carol).await.status(), 403);
    assert_eq!(
        app.patch(&edit(m1), json!({"body": "undelete"}), &alice)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.patch(
            &edit(securechat_proto::MessageId(9999)),
            json!({"body": "x"}),
            &alice
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.patch(&edit(m2), json!({"body": ""}), &alice)
            .await
            .status(),
        400
    );
    assert_eq!(app.delete(&edit(m2), &root).await.status(), 204);

    // Bob resumes and gets every change he missed, in order, once.
    let (mut b, _) = app.connect(&bob).await;
    b.send_json(json!({"type": "sync", "since": {room.to_string(): bob_last}}))
        .await;
    let mut replay = Vec::new();
    loop {
        match b.next_non_presence().await {
            ServerMsg::Synced => break,
            other => replay.push(other),
        }
    }
    let kinds: Vec<String> = replay
        .iter()
        .map(|m| match m {
            ServerMsg::Edited(e) => format!("edit {} by {}", e.target == m0, e.by),
            ServerMsg::Deleted(d) => format!(
                "delete {} by {}",
                if d.target == m1 { "m1" } else { "m2" },
                d.by
            ),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "edit true by alice",
            "delete m1 by alice",
            "delete m2 by root"
        ]
    );
    let seqs: Vec<u64> = replay
        .iter()
        .map(|m| m.stream_position().unwrap().1)
        .collect();
    assert_eq!(seqs, (bob_last + 1..=bob_last + 3).collect::<Vec<_>>());

    // History shows messages as they are now.
    let history = app
        .get_json(&format!("/api/rooms/{room}/events?limit=3&before=4"), &bob)
        .await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(
        (events[0]["body"].as_str(), events[0]["edited"].as_bool()),
        (Some("orig 0 (fixed)"), Some(true))
    );
    assert_eq!(
        (events[1]["body"].as_str(), events[1]["deleted"].as_bool()),
        (Some(""), Some(true))
    );
    assert_eq!(events[2]["deleted"], true);
}
