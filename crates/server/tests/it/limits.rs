//! Rate limits that tell the client, flood disconnects, frame limits and
//! slow consumers, none of which lose an acknowledged message.

use crate::helpers::*;
use futures_util::SinkExt;
use securechat_proto::{ErrorCode, ServerMsg};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn rate_limited_sends_are_answered_not_stored_and_can_be_retried() {
    // 1/s so that the ten commits of the burst cannot earn an extra token.
    let app = spawn_with(|c| c.rate_per_sec = 1.0).await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    let (mut b, _) = app.connect(&bob).await;
    for i in 0..11 {
        a.send_text(room, &format!("m{i}"), "burst").await;
    }
    let mut acked = Vec::new();
    let mut limited = None;
    while acked.len() + usize::from(limited.is_some()) < 11 {
        match a.next_non_presence().await {
            ServerMsg::Ack(ack) => acked.push(ack.client_msg_id),
            ServerMsg::Error(e) => {
                assert_eq!(e.code, ErrorCode::RateLimited);
                assert_eq!(e.client_msg_id.as_deref(), Some("m10"));
                let wait = e.retry_after_ms.expect("retry_after_ms");
                assert!((1..=1000).contains(&wait), "{wait}");
                limited = Some(wait);
            }
            ServerMsg::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acked.len(), 10);
    // Bob got exactly the ten that were acked.
    for seq in 1..=10 {
        match b.next_non_presence().await {
            ServerMsg::Message(m) => assert_eq!(m.seq, seq),
            other => panic!("{other:?}"),
        }
    }
    b.expect_quiet(Duration::from_millis(200)).await;
    // Resent after the wait, it goes through with the next seq.
    tokio::time::sleep(Duration::from_millis(limited.unwrap())).await;
    a.send_text(room, "m10", "burst").await;
    let ack = a.next_ack().await;
    assert_eq!((ack.client_msg_id.as_str(), ack.seq), ("m10", 11));
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_rate_limited_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_client_that_keeps_flooding_is_disconnected_with_1008() {
    // flood_limit 100 (the default); no refill during the test.
    let app = spawn_with(|c| c.rate_per_sec = 0.001).await;
    let token = app.register_ok("mallory").await;
    let (mut m, w) = app.connect(&token).await;
    let room = general(&w);
    for i in 0..115 {
        m.send_text(room, &format!("f{i}"), "flood").await;
    }
    let mut acks = 0;
    let mut limited = 0;
    let close = loop {
        match m.next_raw().await {
            Some(Ok(Message::Text(t))) => {
                match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                    ServerMsg::Ack(_) => acks += 1,
                    ServerMsg::Error(e) if e.code == ErrorCode::RateLimited => limited += 1,
                    _ => {}
                }
            }
            Some(Ok(Message::Close(Some(f)))) => break f,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1008);
    assert_eq!(acks, 10);
    assert_eq!(limited, 99, "told 99 times; the 100th rejection closes");
    // The ten acked messages are all there.
    let (mut again, w) = app.connect(&token).await;
    assert_eq!(w.rooms[0].last_seq, 10);
    again
        .send_json(json!({"type": "ping", "nonce": "back"}))
        .await;
    assert_eq!(
        again.next().await,
        ServerMsg::Pong {
            nonce: "back".into()
        }
    );
}

#[tokio::test]
async fn oversized_and_binary_frames_close_the_connection() {
    let app = spawn_app().await; // 64 KiB frame limit
    let token = app.register_ok("alice").await;
    let (mut a, _) = app.connect(&token).await;
    a.stream
        .send(Message::text("x".repeat(65 * 1024)))
        .await
        .unwrap();
    assert_eq!(a.expect_close().await.0, 1009);

    let (mut a, _) = app.connect(&token).await;
    a.stream.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(a.expect_close().await.0, 1003);

    // The server is fine.
    let (mut a, _) = app.connect(&token).await;
    a.send_json(json!({"type": "ping", "nonce": "ok"})).await;
    assert_eq!(a.next().await, ServerMsg::Pong { nonce: "ok".into() });
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_and_resumes_losslessly() {
    let app = spawn_with(|c| {
        c.rate_per_sec = 100_000.0;
        c.burst = 100_000;
        c.outbound_queue = 16;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    // Bob reads nothing, through a tiny TCP receive buffer.
    let mut slow = app
        .ws_with(&[("authorization", format!("Bearer {bob}"))], Some(4096))
        .await
        .unwrap();
    let body = "y".repeat(15_000);
    let total = 1200;
    let mut sent = 0;
    while sent < total {
        // Alice reads her acks and echoes after every few sends: a batch
        // is 2 frames a message in her own 16-frame queue, and her own TCP
        // buffers must not decide whether she, too, is a slow consumer.
        let batch = 4.min(total - sent);
        for i in 0..batch {
            a.send_text(room, &format!("s{}", sent + i), &body).await;
        }
        for _ in 0..batch {
            a.next_ack().await;
        }
        sent += batch;
        let m = app
            .state
            .metrics
            .slow_consumer_disconnects_total
            .load(std::sync::atomic::Ordering::Relaxed);
        if m > 0 {
            break;
        }
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_slow_consumer_disconnects_total 1\n"),
        "bob should have been cut off after {sent} messages: {metrics}"
    );
    // Bob's connection ends (close frame if it could still be written).
    let mut ended = false;
    for _ in 0..100_000 {
        match slow.next_raw().await {
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1013);
                ended = true;
                break;
            }
            Some(Ok(_)) => continue,
            _ => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended);
    // Alice was never slowed down and is still connected.
    a.send_json(json!({"type": "ping", "nonce": "fine"})).await;
    loop {
        if let ServerMsg::Pong { nonce } = a.next_non_presence().await {
            assert_eq!(nonce, "fine");
            break;
        }
    }
    // Bob resumes and gets every message, in order, once.
    let (mut b, w) = app.connect(&bob).await;
    let last = w.rooms[0].last_seq;
    assert_eq!(last, sent as u64);
    b.send_json(json!({"type": "sync", "since": {room.to_string(): 0}}))
        .await;
    let mut seqs = Vec::new();
    loop {
        match b.next_non_presence().await {
            ServerMsg::Message(m) => seqs.push(m.seq),
            ServerMsg::Synced => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
}
