//! Register, login, logout, change password, throttling, registration modes.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_server::config::RegistrationMode;
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_me_logout() {
    let app = spawn_app().await;
    let res = app.register("Alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in [
        "__Host-securechat_session=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice", "names are lowercased");
    assert_eq!(body["user"]["is_admin"], true, "first user is admin");
    let token = body["token"].as_str().unwrap().to_owned();

    let bob: Value = app.register("bob", PASSWORD).await.json().await.unwrap();
    assert_eq!(bob["user"]["is_admin"], false);

    let res = app.login("ALICE", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let login: Value = res.json().await.unwrap();
    assert_eq!(login["user"]["username"], "alice");
    assert_ne!(login["token"], body["token"], "each login is a new session");

    // Bearer and cookie both authenticate.
    let me: Value = app.get("/api/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["user"]["username"], "alice");
    let res = app
        .http
        .get(app.url("/api/me"))
        .header(
            "cookie",
            format!("other=1; __Host-securechat_session={token}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = app.post("/api/logout", json!({}), Some(&token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let res = app.get("/api/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(res).await.0, "unauthorized");
    let res = app.get("/api/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.get("/api/me", Some("not-a-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_registrations_are_explained() {
    let app = spawn_app().await;
    app.register_ok("carol").await;
    let cases = [
        (
            json!({"username": "CAROL", "password": PASSWORD}),
            409,
            "username_taken",
        ),
        (
            json!({"username": "x", "password": PASSWORD}),
            400,
            "bad_request",
        ),
        (
            json!({"username": "no spaces", "password": PASSWORD}),
            400,
            "bad_request",
        ),
        (
            json!({"username": "dave", "password": "short"}),
            400,
            "bad_request",
        ),
        (json!({"username": "dave"}), 400, "bad_request"),
        (json!(["not", "an", "object"]), 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let res = app.post("/api/register", body.clone(), None).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
        let (got, message) = error_of(res).await;
        assert_eq!(got, code, "{body}");
        assert!(!message.is_empty());
    }
    let res = app
        .http
        .post(app.url("/api/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(res).await.0, "bad_request");
    let res = app
        .http
        .post(app.url("/api/register"))
        .header("content-type", "application/json")
        .body(format!("{{\"username\":\"{}\"}}", "x".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(res).await.0, "too_large");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    app.register_ok("erin").await;
    let wrong = app.login("erin", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = app.login("nobody", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(wrong).await, error_of(unknown).await);
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_ip() {
    let app = spawn_with(|c| {
        c.login_attempts_per_account = 3;
        c.login_attempts_per_ip = 6;
    })
    .await;
    app.register_ok("frank").await;
    app.register_ok("grace").await;
    for _ in 0..3 {
        assert_eq!(app.login("frank", "wrong password").await.status(), 401);
    }
    // The next failure starts a delay; while it runs even the right
    // password is refused, with Retry-After.
    assert_eq!(app.login("frank", "wrong password").await.status(), 401);
    let res = app.login("frank", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(error_of(res).await.0, "rate_limited");
    // Another account from the same IP still works until the IP's own limit.
    assert_eq!(app.login("grace", PASSWORD).await.status(), 200);
    assert_eq!(app.login("grace", "wrong password").await.status(), 401);
    assert_eq!(app.login("nobody", "wrong password").await.status(), 401);
    // 6 IP failures so far are free; the 7th blocks the IP.
    assert_eq!(app.login("nobody2", "wrong password").await.status(), 401);
    let res = app.login("grace", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // After the wait, the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.login("frank", PASSWORD).await.status(), 200);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("securechat_logins_failed_total 9"),
        "{metrics}"
    );
}

#[tokio::test]
async fn registration_modes() {
    let closed = spawn_with(|c| c.registration = RegistrationMode::Closed).await;
    let res = closed.register("henry", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_of(res).await.0, "registration_closed");

    let invite = spawn_with(|c| c.registration = RegistrationMode::Invite).await;
    let res = invite.register("henry", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_of(res).await.0, "registration_closed");
    let code = securechat_server::accounts::create_invite(&invite.state.store, None)
        .await
        .unwrap()
        .1;
    let with_code =
        |name: &str| json!({"username": name, "password": PASSWORD, "invite_code": code.clone()});
    let res = invite.post("/api/register", with_code("henry"), None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = invite.post("/api/register", with_code("irene"), None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "an invite works once");
    assert!(error_of(res).await.1.contains("invite"));
    let bogus = json!({"username": "irene", "password": PASSWORD, "invite_code": "nope"});
    assert_eq!(
        invite.post("/api/register", bogus, None).await.status(),
        403
    );
}

#[tokio::test]
async fn logout_closes_that_sessions_sockets_only() {
    let app = spawn_app().await;
    let first = app.register_ok("jack").await;
    let second: Value = app.login("jack", PASSWORD).await.json().await.unwrap();
    let second = second["token"].as_str().unwrap();
    let (mut a, _) = app.connect(&first).await;
    let (mut b, _) = app.connect(second).await;
    let res = app.post("/api/logout", json!({}), Some(&first)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(a.expect_close().await.0, 4001);
    // The other session lives on.
    b.send_json(json!({"type": "ping", "nonce": "still here"}))
        .await;
    assert_eq!(
        b.next().await,
        securechat_proto::ServerMsg::Pong {
            nonce: "still here".into()
        }
    );
    // And the revoked token can no longer open a socket.
    let err = app.ws(&first).await.err().expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn change_password_revokes_other_sessions() {
    let app = spawn_app().await;
    let current = app.register_ok("kate").await;
    let other: Value = app.login("kate", PASSWORD).await.json().await.unwrap();
    let other = other["token"].as_str().unwrap();
    let (mut other_ws, _) = app.connect(other).await;

    let wrong = json!({"old_password": "not it at all", "new_password": "a new password"});
    let res = app.post("/api/password", wrong, Some(&current)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let short = json!({"old_password": PASSWORD, "new_password": "short"});
    assert_eq!(
        app.post("/api/password", short, Some(&current))
            .await
            .status(),
        400
    );

    let ok = json!({"old_password": PASSWORD, "new_password": "a new password"});
    let res = app.post("/api/password", ok, Some(&current)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(other_ws.expect_close().await.0, 4001);
    assert_eq!(app.get("/api/me", Some(other)).await.status(), 401);
    assert_eq!(app.get("/api/me", Some(&current)).await.status(), 200);
    assert_eq!(app.login("kate", PASSWORD).await.status(), 401);
    assert_eq!(app.login("kate", "a new password").await.status(), 200);
}

#[tokio::test]
async fn disabled_users_cannot_log_in_or_connect() {
    let app = spawn_app().await;
    let token = app.register_ok("liam").await;
    let user = app.user("liam").await;
    let ended = securechat_server::accounts::set_disabled(&app.state.store, user.id, true)
        .await
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(app.get("/api/me", Some(&token)).await.status(), 401);
    let res = app.login("liam", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.ws(&token).await.is_err());
}

#[tokio::test]
async fn expired_sessions_are_refused_and_their_sockets_closed() {
    let app = spawn_with(|c| {
        c.ping_interval_ms = 100;
        c.idle_timeout_ms = 5_000;
    })
    .await;
    app.register_ok("mia").await;
    let user = app.user("mia").await;
    let ttl = std::time::Duration::from_millis(1500);
    let (token, _) = securechat_server::accounts::create_session(&app.state.store, user.id, ttl)
        .await
        .unwrap();
    assert_eq!(app.get("/api/me", Some(&token)).await.status(), 200);
    let (mut ws, _) = app.connect(&token).await;
    assert_eq!(
        ws.expect_close().await.0,
        4001,
        "closed when the session expires"
    );
    let res = app.get("/api/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(res).await.0, "unauthorized");
}

#[tokio::test]
async fn sessions_ended_by_another_process_close_live_sockets() {
    let app = spawn_with(|c| c.ping_interval_ms = 100).await;
    let token = app.register_ok("noah").await;
    let (mut ws, _) = app.connect(&token).await;
    // What `securechat-server user disable noah` does: its own connection
    // to the same database file.
    let cli = app.config.open_store().unwrap();
    let user = securechat_server::accounts::find_user(&cli, "noah")
        .await
        .unwrap()
        .unwrap();
    securechat_server::accounts::set_disabled(&cli, user.id, true)
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || cli.close())
        .await
        .unwrap();
    assert_eq!(ws.expect_close().await.0, 4001);
}
