//! Budgets and caps: every action that stores an event or changes state is
//! charged; sockets are capped; uploads started together cannot pass
//! their budget.

use super::ip;
use crate::helpers::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use securechat_proto::{ErrorCode, ServerMsg};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The `retry-after` of a 429, checked to be a positive whole number.
fn retry_after(res: &reqwest::Response) -> u64 {
    let secs: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 1);
    secs
}

#[tokio::test]
async fn edits_and_joins_in_a_burst_are_charged_to_the_action_budget() {
    let app = spawn_app().await; // 20 actions in a burst, 2 a second
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    a.send_text(room, "m1", "original").await;
    let msg = a.next_ack().await.id;
    let dev = app.new_room(&alice, "dev", "public").await;
    // 40 edits at once.
    let path = format!("/api/rooms/{room}/messages/{msg}");
    let edits =
        join_all((0..40).map(|i| app.patch(&path, json!({"body": format!("edit {i}")}), &alice)))
            .await;
    let ok = edits
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let limited: Vec<_> = edits
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(ok + limited.len(), 40);
    assert!(ok <= 21, "{ok} edits went through");
    retry_after(limited[0]);
    // Only what was answered 200 was stored and fanned out.
    let history = app
        .get_json(&format!("/api/rooms/{room}/events?limit=200"), &bob)
        .await;
    let stored = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "edited")
        .count();
    assert_eq!(stored, ok);

    // Join/leave churn by another user, same budget.
    let mut statuses = Vec::new();
    for _ in 0..25 {
        for what in ["join", "leave"] {
            let res = app
                .post(&format!("/api/rooms/{dev}/{what}"), json!({}), Some(&bob))
                .await;
            statuses.push(res.status().as_u16());
        }
    }
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 10, "bob's 50 join/leave calls: {statuses:?}");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "securechat_actions_rate_limited_total {}\n",
            limited.len() + refused
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn read_marks_and_typing_over_their_budget_are_answered_rate_limited() {
    let app = spawn_with(|c| {
        c.mark_burst = 5;
        c.mark_rate_per_sec = 0.5;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    a.send_text(room, "m", "hi").await;
    let seq = a.next_ack().await.seq;
    for _ in 0..8 {
        a.send_json(json!({"type": "read", "room": room, "seq": seq}))
            .await;
    }
    let mut limited = 0;
    let mut reads = 0;
    while reads + limited < 8 {
        match a.next_non_presence().await {
            ServerMsg::Read { .. } => reads += 1,
            ServerMsg::Error(e) => {
                assert_eq!(e.code, ErrorCode::RateLimited);
                assert!(e.retry_after_ms.unwrap() > 0);
                limited += 1;
            }
            _ => {}
        }
    }
    assert_eq!((reads, limited), (5, 3));
    // A typing notice is charged to the same budget (now empty).
    a.send_json(json!({"type": "typing", "room": room})).await;
    match a.next_non_presence().await {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::RateLimited),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sockets_are_capped_per_user_and_per_address() {
    let app = spawn_with(|c| {
        c.max_sockets_per_user = 3;
        c.max_sockets_per_ip = 5;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.ws_from(&alice, ip(1)).await.expect("under the cap"));
    }
    // The fourth, even from another address, is refused before the upgrade.
    match app.ws_from(&alice, ip(2)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 429);
            let body = String::from_utf8_lossy(res.body().as_deref().unwrap_or_default());
            assert!(body.contains("connections open already"), "{body}");
        }
        Err(other) => panic!("expected 429, got {other:?}"),
        Ok(_) => panic!("a fourth socket of one user was accepted"),
    }
    // Bob on the same address: two more fit the address's cap of 5.
    for _ in 0..2 {
        open.push(app.ws_from(&bob, ip(1)).await.expect("under the cap"));
    }
    assert!(
        app.ws_from(&bob, ip(1)).await.is_err(),
        "the address is full"
    );
    let bob_elsewhere = app.ws_from(&bob, ip(2)).await.expect("another address");
    // Closing one frees its place.
    let mut first = open.remove(0);
    first.stream.close(None).await.unwrap();
    drop(first);
    let mut freed = false;
    for _ in 0..50 {
        if app.state.sockets.of_user(app.user("alice").await.id) < 3 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed);
    let _again = app
        .ws_from(&alice, ip(2))
        .await
        .expect("a place is free again");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_sockets_refused_user_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("securechat_sockets_refused_address_total 1\n"),
        "{metrics}"
    );
    drop(bob_elsewhere);
}

#[tokio::test]
async fn many_sockets_opened_at_once_cannot_pass_the_user_cap() {
    let app = spawn_with(|c| c.max_sockets_per_user = 10).await;
    let alice = Arc::new(app.register_ok("alice").await);
    let results = join_all((0..40).map(|_| app.ws(&alice))).await;
    let opened = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(opened, 10);
}

/// Starts an upload on a raw TLS connection whose body is held back.
async fn upload_headers_only(
    app: &TestApp,
    token: &str,
    room: impl std::fmt::Display,
    len: usize,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut tls = app.raw_tls().await;
    let head = format!(
        "POST /api/rooms/{room}/files?name=race.txt HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/plain\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

#[tokio::test]
async fn uploads_started_together_with_bodies_held_back_cannot_pass_the_budget() {
    let app = spawn_with(|c| c.uploads_per_minute = 5).await;
    let alice = app.register_ok("alice").await;
    let (_, w) = app.connect(&alice).await;
    let room = general(&w);
    let mut conns = Vec::new();
    for _ in 0..12 {
        conns.push(upload_headers_only(&app, &alice, room, 1000).await);
    }
    // Let every request reach its handler before any body byte is sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers = join_all(
        conns
            .into_iter()
            .enumerate()
            .map(|(i, mut tls)| async move {
                let body = vec![b'a' + (i as u8 % 26); 1000];
                let _ = tls.write_all(&body).await; // refused ones may be closed
                status_line(&mut tls).await
            }),
    )
    .await;
    let stored = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 201"))
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 429"))
        .count();
    assert_eq!((stored, refused), (5, 7), "{answers:?}");
    let files = app.file_rows().await;
    assert_eq!(files, 5);
}
