//! Real-time chat in `general`: delivery, echo, presence, idempotency,
//! authorization and bad frames.

use crate::helpers::*;
use securechat_proto::ws::{ErrorMsg, MessageEvent};
use securechat_proto::{ErrorCode, RoomId, ServerMsg, Timestamp};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn message(msg: ServerMsg) -> MessageEvent {
    match msg {
        ServerMsg::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn error(msg: ServerMsg) -> ErrorMsg {
    match msg {
        ServerMsg::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn two_users_chat_in_general() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, welcome) = app.connect(&alice).await;
    assert_eq!(welcome.protocol_version, 1);
    assert_eq!(welcome.user.username, "alice");
    assert!(welcome.user.is_admin);
    assert_eq!(welcome.online, vec!["alice"]);
    assert_eq!(welcome.limits.max_message_bytes, 16 * 1024);
    assert_eq!(welcome.limits.rate_per_sec, 5.0);
    assert_eq!(welcome.limits.burst, 10);
    assert_eq!(welcome.rooms.len(), 1);
    assert_eq!(welcome.rooms[0].name, "general");
    assert_eq!(welcome.rooms[0].last_seq, 0);
    let room = general(&welcome);

    let (mut b, welcome) = app.connect(&bob).await;
    assert_eq!(welcome.online, vec!["alice", "bob"]);
    assert_eq!(a.next().await, presence("bob", true));

    let before = Timestamp::now();
    a.send_text(room, "a-1", "hello <b>bob</b> \u{1F600}").await;
    // Alice gets the ack and her own message (in either order).
    let mut ack = None;
    let mut echo = None;
    for _ in 0..2 {
        match a.next().await {
            ServerMsg::Ack(x) => ack = Some(x),
            ServerMsg::Message(m) => echo = Some(m),
            other => panic!("unexpected {other:?}"),
        }
    }
    let (ack, echo) = (ack.unwrap(), echo.unwrap());
    assert_eq!(ack.client_msg_id, "a-1");
    assert_eq!((ack.room, ack.seq, ack.id), (room, 1, echo.id));
    let got = message(b.next().await);
    assert_eq!(got, echo);
    assert_eq!(got.from, "alice");
    assert_eq!(
        got.body, "hello <b>bob</b> \u{1F600}",
        "bodies are stored as sent"
    );
    assert!(got.ts >= Timestamp(before.0 - 1000) && got.ts <= Timestamp(Timestamp::now().0 + 1000));

    b.send_text(room, "b-1", "hi alice").await;
    let got = message(a.next().await);
    assert_eq!(
        (got.seq, got.from.as_str(), got.body.as_str()),
        (2, "bob", "hi alice")
    );
}

#[tokio::test]
async fn timestamps_are_rfc3339_utc_with_millis_on_the_wire() {
    let app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&token).await;
    a.send_text(general(&w), "x", "time?").await;
    for _ in 0..2 {
        let Some(Ok(Message::Text(t))) = a.next_raw().await else {
            panic!("text")
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let ts = v["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    }
}

#[tokio::test]
async fn presence_follows_first_and_last_connection() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, _) = app.connect(&alice).await;
    let (mut b1, _) = app.connect(&bob).await;
    assert_eq!(a.next().await, presence("bob", true));
    let (b2, _) = app.connect(&bob).await;
    drop(b1.stream.close(None).await);
    a.expect_quiet(Duration::from_millis(300)).await;
    drop(b2);
    assert_eq!(a.next().await, presence("bob", false));
    // last_seen is recorded.
    let bob = app.user("bob").await;
    assert!(bob.last_seen.is_some());
}

#[tokio::test]
async fn a_retried_send_is_stored_once() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let (mut b, _) = app.connect(&bob).await;
    let room = general(&w);
    a.send_text(room, "same-id", "once").await;
    a.send_text(room, "same-id", "once").await;
    let acks = [a.next_ack().await, a.next_ack().await];
    assert_eq!(acks[0], acks[1], "same id, seq and ts");
    assert_eq!(message(b.next().await).seq, 1);
    b.expect_quiet(Duration::from_millis(300)).await;
    a.send_text(room, "next-id", "twice").await;
    assert_eq!(message(b.next().await).seq, 2, "no seq was burnt");
}

#[tokio::test]
async fn bad_frames_get_bad_request_and_the_connection_stays() {
    let app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&token).await;
    let room = general(&w);
    for raw in [
        "not json",
        "{}",
        r#"{"type":"no_such_type"}"#,
        r#"{"type":"send","room":"general"}"#,
        r#"{"type":"sync","since":{"abc":1}}"#,
    ] {
        a.stream.send_text(raw).await;
        let e = error(a.next().await);
        assert_eq!(e.code, ErrorCode::BadRequest, "{raw}");
    }
    let cases = [
        (
            json!({"type":"send","room":room,"client_msg_id":"","body":"x"}),
            ErrorCode::BadRequest,
        ),
        (
            json!({"type":"send","room":room,"client_msg_id":"c1","body":"   "}),
            ErrorCode::BadRequest,
        ),
        (
            json!({"type":"send","room":room,"client_msg_id":"c2","body":"\u{1b}[2J"}),
            ErrorCode::BadRequest,
        ),
        (
            json!({"type":"send","room":room,"client_msg_id":"c3","body":"x".repeat(16 * 1024 + 1)}),
            ErrorCode::TooLarge,
        ),
        (
            json!({"type":"send","room":999,"client_msg_id":"c4","body":"hi"}),
            ErrorCode::NotFound,
        ),
    ];
    for (frame, code) in cases {
        a.send_json(frame.clone()).await;
        let e = error(a.next().await);
        assert_eq!(e.code, code, "{frame}");
        if code != ErrorCode::BadRequest || frame["client_msg_id"] != "" {
            assert_eq!(e.client_msg_id.as_deref(), frame["client_msg_id"].as_str());
        }
    }
    // Still open, and nothing was stored.
    a.send_json(json!({"type":"ping","nonce":"n1"})).await;
    assert_eq!(a.next().await, ServerMsg::Pong { nonce: "n1".into() });
    a.send_text(room, "ok", "fine").await;
    match a.next().await {
        ServerMsg::Ack(ack) => assert_eq!(ack.seq, 1),
        ServerMsg::Message(m) => assert_eq!(m.seq, 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn non_members_are_forbidden_and_see_nothing() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    // A private room with alice only, made directly in the real database.
    let alice_id = app.user("alice").await.id;
    let private = app
        .state
        .store
        .write(move |tx| {
            let room = tx
                .insert(
                    "INSERT INTO rooms (kind, name, created_at) VALUES ('private', 'secret', 0)",
                    (),
                )?
                .expect("inserted");
            tx.execute(
                "INSERT INTO members (room_id, user_id, joined_at) VALUES (?1, ?2, 0)",
                [room, alice_id.0],
            )?;
            Ok::<_, securechat_server::store::StoreError>(RoomId(room))
        })
        .await
        .unwrap();
    let (mut a, wa) = app.connect(&alice).await;
    assert_eq!(wa.rooms.len(), 2);
    let (mut b, wb) = app.connect(&bob).await;
    assert_eq!(wb.rooms.len(), 1, "bob is not in the private room");
    a.send_text(private, "p1", "top secret").await;
    b.send_text(private, "b1", "let me in").await;
    let e = error(b.next().await);
    assert_eq!(
        (e.code, e.client_msg_id.as_deref()),
        (ErrorCode::NotFound, Some("b1"))
    );
    b.send_json(json!({"type":"sync","since":{private.to_string(): 0, "424242": 0}}))
        .await;
    // The private room and a missing one get the very same answer.
    let answers: Vec<(ErrorCode, String)> = [error(b.next().await), error(b.next().await)]
        .into_iter()
        .map(|e| {
            let msg = e
                .message
                .replace("424242", "ID")
                .replace(&format!("room {private}:"), "room ID:");
            (e.code, msg)
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, ErrorCode::NotFound);
    assert_eq!(b.next().await, ServerMsg::Synced);
    b.expect_quiet(Duration::from_millis(300)).await;
    // Alice did get hers.
    let mut seen = false;
    for _ in 0..3 {
        if let ServerMsg::Message(m) = a.next_non_presence().await {
            assert_eq!(m.body, "top secret");
            seen = true;
            break;
        }
    }
    assert!(seen);
}

trait SendText {
    async fn send_text(&mut self, raw: &str);
}

impl SendText for Ws {
    async fn send_text(&mut self, raw: &str) {
        use futures_util::SinkExt;
        self.send(Message::text(raw)).await.unwrap();
    }
}

/// A client may send without waiting for acks: the sends share group
/// commits, are stored in the order sent, and every frame is answered in
/// the order it arrived (an invalid send in the middle, and a ping after
/// them all, included).
#[tokio::test]
async fn pipelined_sends_are_answered_in_the_order_sent() {
    let app = spawn_with(|c| {
        c.rate_per_sec = 10_000.0;
        c.burst = 10_000;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let (mut a, welcome) = app.connect(&alice).await;
    let room = general(&welcome);
    for i in 0..200 {
        if i == 100 {
            a.send_text(room, "bad", "").await;
        }
        a.send_text(room, &format!("p-{i}"), &format!("m{i}")).await;
    }
    a.send_json(json!({"type": "ping", "nonce": "n7"})).await;
    let mut answers = Vec::new();
    loop {
        match a.next().await {
            ServerMsg::Message(_) => {}
            ServerMsg::Pong { nonce } => {
                assert_eq!(nonce, "n7");
                break;
            }
            other => answers.push(other),
        }
    }
    assert_eq!(answers.len(), 201, "one answer per send");
    let mut last_seq = 0;
    let mut expected = (0..200).map(|i| format!("p-{i}"));
    for (i, answer) in answers.into_iter().enumerate() {
        if i == 100 {
            let e = error(answer);
            assert_eq!(e.code, ErrorCode::BadRequest);
            assert_eq!(e.client_msg_id.as_deref(), Some("bad"));
            continue;
        }
        let ServerMsg::Ack(ack) = answer else {
            panic!("expected an ack, got {answer:?}");
        };
        assert_eq!(Some(ack.client_msg_id), expected.next());
        assert!(ack.seq > last_seq, "seqs follow the order sent");
        last_seq = ack.seq;
    }
    // The latest page of history holds the last sends, in the order sent.
    let bodies = app.history_bodies(room, &alice).await;
    let sent: Vec<String> = (200 - bodies.len()..200).map(|i| format!("m{i}")).collect();
    assert!(bodies.len() >= 50);
    assert_eq!(bodies, sent);
}
