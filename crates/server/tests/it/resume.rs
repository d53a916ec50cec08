//! Reconnect and `sync`: exactly what was missed, in order, once; the
//! offline inbox survives a server restart; heartbeats find dead peers.

use crate::helpers::*;
use securechat_proto::{RoomId, Seq, ServerMsg};
use serde_json::json;
use std::time::Duration;

/// Reads frames until `synced`, returning the seqs of `room` messages.
async fn replay_seqs(c: &mut Client, room: RoomId) -> Vec<Seq> {
    let mut seqs = Vec::new();
    loop {
        match c.next_non_presence().await {
            ServerMsg::Message(m) if m.room == room => seqs.push(m.seq),
            ServerMsg::Synced => return seqs,
            other => panic!("unexpected during replay: {other:?}"),
        }
    }
}

/// Sends `n` messages from `c` and waits for their acks.
async fn send_n(c: &mut Client, room: RoomId, prefix: &str, n: usize) {
    for i in 0..n {
        c.send_text(room, &format!("{prefix}-{i}"), &format!("{prefix} {i}"))
            .await;
    }
    for _ in 0..n {
        c.next_ack().await;
    }
}

#[tokio::test]
async fn reconnect_and_sync_gets_exactly_what_was_missed() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    send_n(&mut a, room, "before", 3).await;
    let mut last_seen = 0;
    while last_seen < 3 {
        if let ServerMsg::Message(m) = b.next_non_presence().await {
            last_seen = m.seq;
        }
    }
    drop(b);
    send_n(&mut a, room, "away", 5).await;

    let (mut b, w) = app.connect(&bob).await;
    let info = &w.rooms[0];
    assert_eq!(
        (info.last_seq, info.unread),
        (8, 8),
        "unread counts messages from others"
    );
    b.send_json(json!({"type": "sync", "since": {room.to_string(): last_seen}}))
        .await;
    assert_eq!(replay_seqs(&mut b, room).await, vec![4, 5, 6, 7, 8]);
    // Live from here on, no duplicate of anything replayed.
    send_n(&mut a, room, "after", 1).await;
    match b.next_non_presence().await {
        ServerMsg::Message(m) => assert_eq!(m.seq, 9),
        other => panic!("{other:?}"),
    }
    b.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn messages_racing_a_resume_arrive_after_the_replay_in_order() {
    let app = spawn_with(|c| {
        c.rate_per_sec = 1000.0;
        c.burst = 1000;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    send_n(&mut a, room, "old", 20).await;
    // Bob connects while alice keeps talking; his sync goes out only after
    // some of those messages were committed.
    let (mut b, w) = app.connect(&bob).await;
    let baseline = w.rooms[0].last_seq;
    send_n(&mut a, room, "racing", 10).await;
    b.send_json(json!({"type": "sync", "since": {room.to_string(): 5}}))
        .await;
    let replayed = replay_seqs(&mut b, room).await;
    assert_eq!(replayed, (6..=baseline).collect::<Vec<_>>());
    let mut live = Vec::new();
    while live.last() != Some(&30) {
        if let ServerMsg::Message(m) = b.next_non_presence().await {
            live.push(m.seq);
        }
    }
    assert_eq!(live, ((baseline + 1)..=30).collect::<Vec<_>>());
    b.expect_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_client_that_never_syncs_still_gets_live_messages() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut b, _) = app.connect(&bob).await;
    let (mut a, w) = app.connect(&alice).await;
    a.send_text(general(&w), "x", "are you there?").await;
    match b.next_non_presence().await {
        ServerMsg::Message(m) => assert_eq!(m.body, "are you there?"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn restart_keeps_users_history_and_the_ca() {
    let app = spawn_app().await;
    let fingerprint = app.state.tls.pin_fingerprint();
    let alice = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    send_n(&mut a, room, "kept", 4).await;
    drop(a);

    let app = app.restart().await;
    assert_eq!(
        app.state.tls.pin_fingerprint(),
        fingerprint,
        "pins survive restarts"
    );
    assert_eq!(
        app.get("/api/me", Some(&alice)).await.status(),
        200,
        "sessions survive"
    );
    let res = app.login("alice", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let (mut a, w) = app.connect(&alice).await;
    assert_eq!(w.rooms[0].last_seq, 4);
    a.send_json(json!({"type": "sync", "since": {room.to_string(): 0}}))
        .await;
    assert_eq!(replay_seqs(&mut a, room).await, vec![1, 2, 3, 4]);
    send_n(&mut a, room, "more", 1).await;
}

#[tokio::test]
async fn app_level_ping_is_answered() {
    let app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let (mut a, _) = app.connect(&token).await;
    a.send_json(json!({"type": "ping", "nonce": "abc-123"}))
        .await;
    assert_eq!(
        a.next().await,
        ServerMsg::Pong {
            nonce: "abc-123".into()
        }
    );
}

#[tokio::test]
async fn a_silent_peer_is_dropped_and_goes_offline() {
    let app = spawn_with(|c| {
        c.ping_interval_ms = 100;
        c.idle_timeout_ms = 500;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, _) = app.connect(&alice).await;
    // Bob's client never reads, so it never answers the server's pings.
    let (mut b, _) = app.connect(&bob).await;
    assert_eq!(a.next().await, presence("bob", true));
    // Alice keeps answering pings because she is reading.
    assert_eq!(a.next().await, presence("bob", false));
    // Bob sees the close frame, or, if his client first tries to answer
    // the pings it finds in its buffer, a connection the server has shut.
    if let Some((code, reason)) = b.next_close_or_end().await {
        assert_eq!((code, reason.as_str()), (1001, "no heartbeat"));
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_idle_disconnects_total 1\n"),
        "{metrics}"
    );
    // Alice, who answered every ping, is still connected.
    a.send_json(json!({"type": "ping", "nonce": "alive"})).await;
    assert_eq!(
        a.next().await,
        ServerMsg::Pong {
            nonce: "alive".into()
        }
    );
}
