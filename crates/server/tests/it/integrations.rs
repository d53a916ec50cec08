//! Integrations: personal API tokens (scoped, revocable, hashed at rest),
//! bot accounts, posting over HTTPS, incoming webhooks, and outgoing
//! webhooks delivered to a real local receiver (signed, retried, answered,
//! never holding up the room).

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::ServerMsg;
use securechat_proto::integrations::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn make_token(app: &TestApp, session: &str, scopes: &[&str]) -> (String, i64) {
    let res = app
        .post(
            "/api/tokens",
            json!({"name": "ci script", "scopes": scopes}),
            Some(session),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    (
        v["token"].as_str().unwrap().to_owned(),
        v["id"].as_i64().unwrap(),
    )
}

async fn send(
    app: &TestApp,
    room: securechat_proto::RoomId,
    token: &str,
    body: &str,
) -> reqwest::Response {
    app.post(
        &format!("/api/rooms/{}/messages", room.0),
        json!({"body": body}),
        Some(token),
    )
    .await
}

async fn general_of(app: &TestApp, token: &str) -> securechat_proto::RoomId {
    let (mut c, w) = app.connect(token).await;
    drop(c.stream.close(None).await);
    general(&w)
}

#[tokio::test]
async fn api_tokens_are_scoped_revocable_and_stored_hashed() {
    let app = spawn_app().await;
    let _root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let room = general_of(&app, &alice).await;

    // Bad requests are explained; a non-admin gets no admin scope.
    for (body, status) in [
        (json!({"name": "x", "scopes": []}), 400),
        (json!({"name": "", "scopes": ["read"]}), 400),
        (json!({"name": "x", "scopes": ["root"]}), 400),
        (
            json!({"name": "x", "scopes": ["read"], "expires_days": 0}),
            400,
        ),
        (json!({"name": "x", "scopes": ["admin"]}), 403),
    ] {
        let res = app.post("/api/tokens", body.clone(), Some(&alice)).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
    }

    let (read, read_id) = make_token(&app, &alice, &["read"]).await;
    let (write, _) = make_token(&app, &alice, &["read", "write"]).await;
    assert!(read.starts_with("sct_"));

    // Listed without the token; stored only as its SHA-256.
    let list = app.get_json("/api/tokens", &alice).await;
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(!list.to_string().contains(&read[4..]));
    assert_eq!(tokens[1]["scopes"], json!(["read"]));
    let plain = read.clone().into_bytes();
    let hashed = securechat_server::auth::token::hash_token(&read).to_vec();
    let (as_is, by_hash) = app
        .state
        .store
        .read(move |c| {
            let n = |h: &[u8]| {
                c.query_row(
                    "SELECT COUNT(*) FROM sessions WHERE token_hash = ?1",
                    [h],
                    |r| r.get::<i64>(0),
                )
            };
            Ok::<_, securechat_server::store::StoreError>((n(&plain)?, n(&hashed)?))
        })
        .await
        .unwrap();
    assert_eq!((as_is, by_hash), (0, 1));

    // read: reads, but neither writes nor manages tokens.
    assert_eq!(app.get("/api/rooms", Some(&read)).await.status(), 200);
    let res = send(&app, room, &read, "from a read token").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(error_of(res).await.1.contains("write scope"));
    let res = app
        .post(
            "/api/tokens",
            json!({"name": "more", "scopes": ["read"]}),
            Some(&write),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/tokens", Some(&write)).await.status(), 403);
    // Not the admin API either, without the admin scope.
    assert_eq!(
        app.get("/api/admin/users", Some(&write)).await.status(),
        403
    );

    // The WebSocket: a read token receives, but may not send.
    let (mut watcher, _) = app.connect(&read).await;
    watcher
        .send_json(json!({"type": "send", "room": room, "client_msg_id": "r1", "body": "no"}))
        .await;
    match watcher.next_non_presence().await {
        ServerMsg::Error(e) => {
            assert!(e.message.contains("write scope"), "{e:?}");
            assert_eq!(
                e.client_msg_id.as_deref(),
                Some("r1"),
                "it answers the send"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // write: posts over HTTPS; the message is stored and delivered live.
    let res = send(&app, room, &write, "hello from a script").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let posted: Value = res.json().await.unwrap();
    assert_eq!(posted["type"], "message");
    assert_eq!(posted["from"], "alice");
    let ServerMsg::Message(m) = watcher
        .next_where(|m| matches!(m, ServerMsg::Message(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(m.body, "hello from a script");
    assert!(
        app.history_bodies(room, &alice)
            .await
            .contains(&"hello from a script".to_owned())
    );
    // A retry with the same client_msg_id is stored once.
    for _ in 0..2 {
        let res = app
            .post(
                &format!("/api/rooms/{}/messages", room.0),
                json!({"body": "once", "client_msg_id": "job-42"}),
                Some(&write),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let bodies = app.history_bodies(room, &alice).await;
    assert_eq!(bodies.iter().filter(|b| *b == "once").count(), 1);

    // Last use is recorded.
    let list = app.get_json("/api/tokens", &alice).await;
    assert!(
        list["tokens"][0]["last_used_at"].is_i64() || list["tokens"][0]["last_used_at"].is_string()
    );

    // Revoked: refused at once, and its socket is closed.
    assert_eq!(
        app.delete(&format!("/api/tokens/{read_id}"), &alice)
            .await
            .status(),
        204
    );
    assert_eq!(watcher.expect_close().await.0, 4001);
    assert_eq!(app.get("/api/rooms", Some(&read)).await.status(), 401);
    assert_eq!(
        app.delete(&format!("/api/tokens/{read_id}"), &alice)
            .await
            .status(),
        404
    );
    // Someone else's token cannot be revoked by id.
    let bob = app.register_ok("bob").await;
    let (_, write_id) = (
        write.clone(),
        app.get_json("/api/tokens", &alice).await["tokens"][0]["id"]
            .as_i64()
            .unwrap(),
    );
    assert_eq!(
        app.delete(&format!("/api/tokens/{write_id}"), &bob)
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/api/rooms", Some(&write)).await.status(), 200);

    // A password change ends every session, tokens included.
    let res = app
        .post(
            "/api/password",
            json!({"old_password": PASSWORD, "new_password": "another long password"}),
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/rooms", Some(&write)).await.status(), 401);
}

#[tokio::test]
async fn an_admin_makes_bots_that_post_with_tokens_and_have_no_password() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let room = general_of(&app, &alice).await;

    let res = app
        .post(
            "/api/admin/bots",
            json!({"username": "deploybot"}),
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post(
            "/api/admin/bots",
            json!({"username": "deploybot", "display_name": "Deploys"}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bot: Value = res.json().await.unwrap();
    let token = bot["token"].as_str().unwrap().to_owned();
    assert_eq!(bot["scopes"], json!(["read", "write"]));
    let res = app
        .post(
            "/api/admin/bots",
            json!({"username": "deploybot"}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // It posts as itself; everyone sees a bot.
    let (mut watcher, _) = app.connect(&alice).await;
    assert_eq!(
        send(&app, room, &token, "deployed v1.2").await.status(),
        201
    );
    let ServerMsg::Message(m) = watcher
        .next_where(|m| matches!(m, ServerMsg::Message(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(
        (m.from.as_str(), m.body.as_str()),
        ("deploybot", "deployed v1.2")
    );
    let card = app.get_json("/api/users/deploybot", &alice).await;
    assert_eq!(card["is_bot"], true);
    assert_eq!(card["display_name"], "Deploys");
    let me = app.get_json("/api/me", &token).await;
    assert_eq!(me["user"]["is_bot"], true, "{me}");

    // No password: no login.
    for password in [securechat_server::store::users::BOT_PASSWORD, ""] {
        assert_eq!(app.login("deploybot", password).await.status(), 401);
    }
    // Nor can one be set, nor the admin role; a bot cannot make itself
    // tokens; an admin can, for bots only.
    let token_req = json!({"name": "x", "scopes": ["read"]});
    for (path, body, by, status) in [
        (
            "/api/admin/users/deploybot/password",
            json!({"new_password": "a good long password"}),
            &root,
            409,
        ),
        (
            "/api/admin/users/deploybot/reset-link",
            json!({}),
            &root,
            409,
        ),
        (
            "/api/admin/users/deploybot/role",
            json!({"is_admin": true}),
            &root,
            409,
        ),
        ("/api/tokens", token_req.clone(), &token, 403),
        (
            "/api/admin/bots/deploybot/tokens",
            token_req.clone(),
            &root,
            201,
        ),
        (
            "/api/admin/bots/alice/tokens",
            token_req.clone(),
            &root,
            404,
        ),
    ] {
        let res = app.post(path, body, Some(by)).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
    }
    // Disabling the bot stops its tokens.
    let res = app
        .post("/api/admin/users/deploybot/disable", json!({}), Some(&root))
        .await;
    assert!(res.status().is_success());
    assert_eq!(send(&app, room, &token, "still here?").await.status(), 401);
}

#[tokio::test]
async fn the_cli_makes_a_bot_whose_token_works() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let room = general_of(&app, &alice).await;
    let out = app
        .cli()
        .args(["user", "add-bot", "ci-bot"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("sct_"), "{token}");
    assert_eq!(
        send(&app, room, &token, "from the cli bot").await.status(),
        201
    );
    let out = app
        .cli()
        .args(["user", "reset-link", "ci-bot"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a bot"));
}

#[tokio::test]
async fn an_incoming_webhook_posts_to_its_room_as_its_owner() {
    let app = spawn_app().await;
    let _root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let room = general_of(&app, &alice).await;
    let ops = app.new_room(&alice, "ops", "public").await;
    app.post(&format!("/api/rooms/{}/join", ops.0), json!({}), Some(&bob))
        .await;

    let res = app
        .post(
            &format!("/api/rooms/{}/webhooks", ops.0),
            json!({"kind": "incoming", "name": "Alerts"}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let hook: Value = res.json().await.unwrap();
    let url = hook["hook_url"].as_str().unwrap().to_owned();
    let port = app.addr.port();
    assert!(
        url.starts_with(&format!("https://localhost:{port}/hooks/sch_")),
        "{url}"
    );
    assert!(hook.get("secret").is_none());

    // Anyone with the URL posts, no session needed (as a curl would).
    let (mut watcher, _) = app.connect(&alice).await;
    let res = app
        .http
        .post(&url)
        .json(&json!({"text": "disk 91% full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let ServerMsg::Message(m) = watcher
        .next_where(|m| matches!(m, ServerMsg::Message(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(
        (m.room, m.from.as_str(), m.body.as_str()),
        (ops, "bob", "disk 91% full")
    );

    // Bad input is explained; a wrong secret is a plain 404.
    let res = app
        .http
        .post(&url)
        .json(&json!({"text": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.http.post(&url).body("not json").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let wrong = format!("{}x", &url[..url.len() - 1]);
    let res = app
        .http
        .post(&wrong)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Listed for members (no secret); a stranger to a private room sees nothing.
    let list = app
        .get_json(&format!("/api/rooms/{}/webhooks", ops.0), &alice)
        .await;
    assert_eq!(list["webhooks"][0]["owner"], "bob");
    assert!(!list.to_string().contains("sch_"));
    let private = app.new_room(&alice, "secret-plans", "private").await;
    let res = app
        .post(
            &format!("/api/rooms/{}/webhooks", private.0),
            json!({"kind": "incoming", "name": "sneaky"}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Its owner leaves: it stops. Back again: it works.
    app.post(
        &format!("/api/rooms/{}/leave", ops.0),
        json!({}),
        Some(&bob),
    )
    .await;
    let res = app
        .http
        .post(&url)
        .json(&json!({"text": "hello?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.post(&format!("/api/rooms/{}/join", ops.0), json!({}), Some(&bob))
        .await;

    // Only its owner, the room's creator or an admin deletes it.
    let id = hook["id"].as_i64().unwrap();
    let carol = app.register_ok("carol").await;
    app.post(
        &format!("/api/rooms/{}/join", ops.0),
        json!({}),
        Some(&carol),
    )
    .await;
    let path = format!("/api/rooms/{}/webhooks/{id}", ops.0);
    assert_eq!(app.delete(&path, &carol).await.status(), 403);
    assert_eq!(app.delete(&path, &alice).await.status(), 204);
    let res = app
        .http
        .post(&url)
        .json(&json!({"text": "gone?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        !app.history_bodies(ops, &alice)
            .await
            .contains(&"gone?".to_owned())
    );
    assert!(
        !app.history_bodies(room, &alice)
            .await
            .contains(&"disk 91% full".to_owned())
    );
}

#[tokio::test]
async fn webhooks_are_refused_in_encrypted_conversations_and_to_private_addresses() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let _bob = app.register_ok("bob").await;
    let room = general_of(&app, &alice).await;
    let dm = app
        .post(
            "/api/dms",
            json!({"username": "bob", "encrypted": true}),
            Some(&alice),
        )
        .await;
    let dm: Value = dm.json().await.unwrap();
    let dm = dm["room"]["id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/rooms/{dm}/webhooks"),
            json!({"kind": "incoming", "name": "x"}),
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(res).await.1.contains("encrypted"));
    // The default rule: no private, loopback or plain-http targets.
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1:9/hook",
        "https://localhost:9/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "file:///etc/passwd",
    ] {
        let res = app
            .post(
                &format!("/api/rooms/{}/webhooks", room.0),
                json!({"kind": "outgoing", "name": "x", "url": url}),
                Some(&alice),
            )
            .await;
        assert!(res.status().is_client_error(), "{url}: {}", res.status());
        let (_, message) = error_of(res).await;
        assert!(message.contains("webhook URL refused"), "{url}: {message}");
    }
}

/// What the receiver was sent.
#[derive(Clone, Debug)]
struct Received {
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A plain-HTTP receiver on loopback: records each request and answers
/// with `answer(n)` for the n-th one (from 0).
async fn receiver(
    answer: impl Fn(usize) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = seen.clone();
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (log, answer) = (log.clone(), answer.clone());
                async move {
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(Received {
                            headers,
                            body: body.to_vec(),
                        });
                        log.len() - 1
                    };
                    let (status, body) = answer(n);
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

async fn wait_for(seen: &Arc<Mutex<Vec<Received>>>, n: usize, within: Duration) {
    let until = Instant::now() + within;
    while seen.lock().unwrap().len() < n {
        assert!(
            Instant::now() < until,
            "{} deliveries, expected {n}",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_outgoing_webhook_is_signed_retried_answered_and_filtered() {
    let app = spawn_with(|c| c.webhook_allow = vec!["127.0.0.1".into()]).await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let room = general_of(&app, &alice).await;
    // First try fails (500), the retry is answered with a reply.
    let (url, seen) = receiver(|n| match n {
        0 => (500, "down".into()),
        _ => (200, json!({"text": "pong"}).to_string()),
    })
    .await;
    let res = app
        .post(
            &format!("/api/rooms/{}/webhooks", room.0),
            json!({"kind": "outgoing", "name": "Pinger", "url": url, "triggers": ["!Ping"]}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let hook: Value = res.json().await.unwrap();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert_eq!(hook["triggers"], json!(["!ping"]));
    // Other members see where it goes, not its path (it may hold the
    // receiver's own secret); its owner sees all of it.
    let list = |token: String| {
        let app = &app;
        async move {
            app.get_json(&format!("/api/rooms/{}/webhooks", room.0), &token)
                .await["webhooks"][0]["url"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(list(bob.clone()).await, url);
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let carl = app.register_ok("carl").await;
    assert_eq!(list(carl).await, format!("http://127.0.0.1:{port}/…"));

    let (mut watcher, _) = app.connect(&alice).await;
    // Not a trigger: not sent. Bob's own trigger: not sent either.
    assert_eq!(
        send(&app, room, &alice, "just chatting").await.status(),
        201
    );
    assert_eq!(send(&app, room, &bob, "!ping myself").await.status(), 201);
    assert_eq!(
        send(&app, room, &alice, "!PING the bot").await.status(),
        201
    );
    wait_for(&seen, 2, Duration::from_secs(15)).await;
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "only the trigger, tried twice");
    let (first, second) = (&got[0], &got[1]);
    assert_eq!(first.body, second.body, "a retry sends the same delivery");
    assert_eq!(
        first.headers[DELIVERY_HEADER],
        second.headers[DELIVERY_HEADER]
    );
    let payload: Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(payload["body"], "!PING the bot");
    assert_eq!(payload["sender"], "alice");
    assert_eq!(payload["room_name"], "general");
    assert_eq!(payload["trigger"], "!ping");
    // The signature: HMAC-SHA256 of "timestamp.body" under the secret.
    let ts = second.headers[TIMESTAMP_HEADER].to_str().unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = second.headers[SIGNATURE_HEADER].to_str().unwrap();
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&second.body);
    let expected = |data: &[u8]| {
        let tag = ring::hmac::sign(&key, data);
        format!("sha256={}", securechat_proto::digest::hex(tag.as_ref()))
    };
    assert_eq!(sig, expected(&signed), "a valid signature");
    signed.push(b' ');
    assert_ne!(sig, expected(&signed));
    let age = securechat_proto::Timestamp::now().0 / 1000 - ts.parse::<i64>().unwrap();
    assert!((0..30).contains(&age));

    // The reply is posted to the room as the webhook's owner.
    let reply = watcher
        .next_where(|m| matches!(m, ServerMsg::Message(e) if e.body == "pong"))
        .await;
    let ServerMsg::Message(reply) = reply else {
        unreachable!()
    };
    assert_eq!(reply.from, "bob");
    // …which is bob's own message: it does not trigger the webhook again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.lock().unwrap().len(), 2);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_webhook_deliveries_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("securechat_webhook_retries_total 1"));
}

#[tokio::test]
async fn a_stuck_or_refusing_receiver_never_holds_up_the_room() {
    let app = spawn_with(|c| {
        c.webhook_allow = vec!["127.0.0.0/8".into()];
        c.burst = 100;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let room = general_of(&app, &alice).await;
    // A receiver that takes the connection and never answers.
    let stuck = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stuck_addr = stuck.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = stuck.accept().await {
            conns.push(c);
        }
    });
    // And one that refuses (403): given up at once, not retried.
    let (refusing, seen) = receiver(|_| (403, "no".into())).await;
    for url in [format!("http://{stuck_addr}/hook"), refusing] {
        let res = app
            .post(
                &format!("/api/rooms/{}/webhooks", room.0),
                json!({"kind": "outgoing", "name": "slow", "url": url}),
                Some(&alice),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let bob = app.register_ok("bob").await;
    let (mut client, _) = app.connect(&bob).await;
    let started = Instant::now();
    for i in 0..40 {
        client
            .send_text(room, &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    for _ in 0..40 {
        client.next_ack().await;
    }
    let took = started.elapsed();
    // Each stuck delivery waits 10 s per try: acks never wait for them.
    assert!(took < Duration::from_secs(5), "40 acks took {took:?}");
    wait_for(&seen, 40, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().unwrap().len(), 40, "a 403 is not retried");
    held.abort();
}
