//! Requests an attacker crafts: cross-site, look-alike names, room id
//! probing, headers just over the limit.

use super::answer;
use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::{ErrorCode, ServerMsg};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const EVIL: &str = "https://evil.example";

/// A request carrying only the victim's cookie, as a forged page makes
/// the browser send it, with the given `Origin` / `Sec-Fetch-Site`.
fn forged(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("cookie", format!("__Host-securechat_session={token}"));
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(s) = fetch_site {
        req = req.header("sec-fetch-site", s);
    }
    req
}

#[tokio::test]
async fn cross_site_requests_with_the_cookie_are_refused() {
    let app = spawn_app().await;
    let admin = app.register_ok("admin").await;
    let carol = app.register_ok("carol").await;
    let room = app.new_room(&admin, "open", "public").await;
    let post = reqwest::Method::POST;
    let attempts = [
        (
            post.clone(),
            format!("/api/rooms/{room}/join"),
            carol.clone(),
        ),
        (
            post.clone(),
            "/api/rooms/1/files?name=x.txt".to_owned(),
            carol.clone(),
        ),
        (post.clone(), "/api/logout".to_owned(), carol.clone()),
        (
            post.clone(),
            "/api/admin/users/carol/disable".to_owned(),
            admin.clone(),
        ),
    ];
    for (origin, site) in [
        (Some(EVIL), Some("cross-site")),
        (None, Some("same-site")),
        (Some("null"), None),
    ] {
        for (method, path, token) in &attempts {
            let res = forged(&app, method.clone(), path, token, origin, site)
                .header("content-type", "text/plain")
                .body("posted as the victim")
                .send()
                .await
                .unwrap();
            let (status, body) = answer(res).await;
            assert_eq!(status, 403, "{path} from {origin:?}/{site:?}: {body}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }
    // Nothing happened: carol is not in the room, still logged in, not
    // disabled; general holds no message from her.
    let members = app
        .get_json(&format!("/api/rooms/{room}/members"), &admin)
        .await;
    assert_eq!(members["members"], json!(["admin"]));
    assert_eq!(
        app.get("/api/me", Some(&carol)).await.status(),
        StatusCode::OK
    );
    assert!(!app.user("carol").await.disabled);
    assert!(
        app.history_bodies(securechat_proto::RoomId(1), &admin)
            .await
            .is_empty()
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_cross_site_refused_total 12\n"),
        "{metrics}"
    );

    // The app itself (its own origin), a user's own navigation, and bearer
    // clients are served.
    let own = format!("https://localhost:{}", app.addr.port());
    let res = forged(
        &app,
        post.clone(),
        &format!("/api/rooms/{room}/join"),
        &carol,
        Some(&own),
        Some("same-origin"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{room}/leave")))
        .bearer_auth(&carol)
        .header("origin", EVIL)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "bearer clients are not browsers"
    );
}

#[tokio::test]
async fn look_alike_file_names_lose_their_direction_overrides() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let res = app
        .http
        .post(app.url("/api/rooms/1/files"))
        .query(&[("name", "invoice\u{202E}gpj.exe")])
        .bearer_auth(&alice)
        .header("content-type", "application/octet-stream")
        .body(b"MZ not really".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["file"]["name"], "invoicegpj.exe");
    // The 201's message is a message frame like any other.
    assert_eq!(body["message"]["type"], "message");
    assert_eq!(body["message"]["file"]["name"], "invoicegpj.exe");
    let id = body["file"]["id"].as_i64().unwrap();
    let res = app.get(&format!("/api/files/{id}"), Some(&alice)).await;
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!disposition.contains("%E2%80%AE"), "{disposition}");
    assert!(disposition.contains("invoicegpj.exe"), "{disposition}");
    // Other invisible characters go too.
    let res = app
        .http
        .post(app.url("/api/rooms/1/files"))
        .query(&[("name", "\u{2067}re\u{200B}port\u{FEFF}.pdf\u{2069}")])
        .bearer_auth(&alice)
        .body(b"%PDF".to_vec())
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["file"]["name"], "report.pdf");
}

/// Every answer about `room` to `token`, HTTP and WebSocket, normalized so
/// that only the room id differs between two rooms.
async fn answers_about(app: &TestApp, token: &str, room: i64) -> Vec<(u16, Value)> {
    let r = format!("/api/rooms/{room}");
    let mut out = vec![
        answer(app.get(&format!("{r}/events"), Some(token)).await).await,
        answer(app.get(&format!("{r}/members"), Some(token)).await).await,
        answer(app.post(&format!("{r}/join"), json!({}), Some(token)).await).await,
        answer(
            app.post(&format!("{r}/leave"), json!({}), Some(token))
                .await,
        )
        .await,
        answer(
            app.post(
                &format!("{r}/invite"),
                json!({"username": "alice"}),
                Some(token),
            )
            .await,
        )
        .await,
        answer(app.patch(&r, json!({"topic": "mine now"}), token).await).await,
        answer(app.delete(&format!("{r}/members/alice"), token).await).await,
        answer(
            app.patch(&format!("{r}/messages/1"), json!({"body": "x"}), token)
                .await,
        )
        .await,
        answer(app.delete(&format!("{r}/messages/1"), token).await).await,
        answer(
            app.http
                .post(app.url(&format!("{r}/files?name=a.txt")))
                .bearer_auth(token)
                .body("x")
                .send()
                .await
                .unwrap(),
        )
        .await,
    ];
    let (mut c, _) = app.connect(token).await;
    for frame in [
        json!({"type": "send", "room": room, "client_msg_id": "probe", "body": "x"}),
        json!({"type": "read", "room": room, "seq": 1}),
        json!({"type": "typing", "room": room}),
        json!({"type": "sync", "since": {room.to_string(): 0}}),
    ] {
        c.send_json(frame).await;
        match c.next_non_presence().await {
            ServerMsg::Error(e) => {
                let message = e.message.replace(&format!("room {room}:"), "room ID:");
                out.push((0, json!({"code": e.code, "message": message})));
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
    out
}

#[tokio::test]
async fn private_rooms_and_dms_answer_exactly_like_missing_ones() {
    // Probing must not be cut short by the action budget.
    let app = spawn_with(|c| c.action_burst = 1000).await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let eve = app.register_ok("eve").await;
    let private = app.new_room(&alice, "secret", "private").await;
    let dm = app
        .post_room("/api/dms", json!({"username": "bob"}), &alice, 200)
        .await
        .id;
    let missing = answers_about(&app, &eve, 4242).await;
    assert!(
        missing
            .iter()
            .all(|(s, b)| *s == 404 || b["code"] == json!(ErrorCode::NotFound))
    );
    assert_eq!(
        answers_about(&app, &eve, private.0).await,
        missing,
        "a private room"
    );
    assert_eq!(answers_about(&app, &eve, dm.0).await, missing, "a DM");
    // Nothing of it changed anything.
    let info = app.get_json("/api/rooms", &alice).await;
    assert!(info.to_string().contains("secret"));
    assert_eq!(
        app.get_json(&format!("/api/rooms/{}/members", private.0), &alice)
            .await["members"],
        json!(["alice"])
    );
    let _ = bob;
}

/// Sends a raw request head of exactly `size` bytes; returns the status
/// line.
async fn head_of_size(app: &TestApp, size: usize) -> String {
    let start = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let pad = size - start.len() - end.len();
    let request = format!("{start}{}{end}", "a".repeat(pad));
    assert_eq!(request.len(), size);
    let mut tls = app.raw_tls().await;
    let _ = tls.write_all(request.as_bytes()).await;
    status_line(&mut tls).await
}

#[tokio::test]
async fn the_64_kib_header_limit_is_exact() {
    let app = spawn_app().await;
    assert!(
        head_of_size(&app, 64 * 1024)
            .await
            .starts_with("HTTP/1.1 200")
    );
    for size in [64 * 1024 + 1, 66 * 1024, 90 * 1024] {
        let status = head_of_size(&app, size).await;
        assert!(status.starts_with("HTTP/1.1 431"), "{size} bytes: {status}");
    }
}

#[tokio::test]
async fn metrics_answer_loopback_and_the_token_only() {
    let token = "metrics-token-0123456789";
    let app = spawn_with(|c| c.metrics_token = Some(token.into())).await;
    // Loopback (every test client is): served, with or without the token.
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/metrics", Some(token)).await.status(),
        StatusCode::OK
    );
    // Other addresses are decided by the same rule, tested directly.
    use securechat_server::http::ops::metrics_allowed;
    let remote: std::net::IpAddr = "192.0.2.9".parse().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    assert!(!metrics_allowed(remote, &headers, Some(token)));
    assert!(metrics_allowed("::1".parse().unwrap(), &headers, None));
    assert!(metrics_allowed(
        "::ffff:127.0.0.1".parse().unwrap(),
        &headers,
        None
    ));
    headers.insert(
        "authorization",
        "Bearer wrong-token-0123456789".parse().unwrap(),
    );
    assert!(!metrics_allowed(remote, &headers, Some(token)));
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert!(metrics_allowed(remote, &headers, Some(token)));
    assert!(
        !metrics_allowed(remote, &headers, None),
        "no token configured: loopback only"
    );
}
