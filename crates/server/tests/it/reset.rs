//! Password reset links: an admin makes one, the user sets a new password
//! with it once; it ends their sessions; a newer link, use, expiry or a
//! race leave exactly one working use; a refused password keeps the link.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn make_link(app: &TestApp, admin: &str, user: &str) -> Value {
    let res = app
        .post(
            &format!("/api/admin/users/{user}/reset-link"),
            json!({}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/password/reset",
        json!({"token": token, "new_password": password}),
        None,
    )
    .await
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_the_users_sessions() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    let bob = app.register_ok("bob").await;
    let (mut live, _) = app.connect(&bob).await;

    // Only admins make links; the link carries the host the admin used.
    let res = app
        .post("/api/admin/users/root/reset-link", json!({}), Some(&bob))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let link = make_link(&app, &root, "bob").await;
    let token = link["token"].as_str().unwrap();
    assert_eq!(
        link["link"].as_str().unwrap(),
        format!("https://localhost:{}/#reset={token}", app.addr.port())
    );
    assert!(link["expires_at"].as_i64().unwrap() > securechat_proto::Timestamp::now().0);

    // A password the rules refuse: explained, and the link still works.
    let res = reset(&app, token, "short").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = reset(&app, token, "a brand new password").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["username"], "bob");
    // Bob's sessions ended: his socket is closed, his token refused.
    assert_eq!(live.expect_close().await.0, 4001);
    assert_eq!(app.get("/api/me", Some(&bob)).await.status(), 401);
    assert_eq!(app.login("bob", PASSWORD).await.status(), 401);
    assert_eq!(app.login("bob", "a brand new password").await.status(), 200);
    // Once only.
    let res = reset(&app, token, "yet another password").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        error_of(res).await.1.contains("ask an admin for a new one"),
        "explained"
    );
    assert_eq!(
        reset(&app, "made-up", "yet another password")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_newer_link_or_the_clock_retires_the_old_one() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    app.register_ok("bob").await;
    let first = make_link(&app, &root, "bob").await;
    let second = make_link(&app, &root, "bob").await;
    let res = reset(
        &app,
        first["token"].as_str().unwrap(),
        "password number one",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "replaced");
    // Expired: the link's clock moved past it.
    app.state
        .store
        .write(|tx| tx.execute("UPDATE password_resets SET expires_at = 1", ()))
        .await
        .unwrap();
    let res = reset(
        &app,
        second["token"].as_str().unwrap(),
        "password number two",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "expired");
    assert_eq!(
        app.login("bob", PASSWORD).await.status(),
        200,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_uses_at_once_exactly_one_sets_the_password() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    app.register_ok("bob").await;
    let link = make_link(&app, &root, "bob").await;
    let token = link["token"].as_str().unwrap().to_owned();
    let tries = (0..8).map(|i| {
        let (app, token) = (&app, token.clone());
        async move {
            let password = format!("racing password {i}");
            (reset(app, &token, &password).await.status(), password)
        }
    });
    let results = futures_util::future::join_all(tries).await;
    let winners: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST)
    );
    assert_eq!(app.login("bob", &winners[0].1).await.status(), 200);
}

#[tokio::test]
async fn the_operator_command_prints_a_working_link() {
    let app = spawn_app().await;
    app.register_ok("bob").await;
    let mut cmd = app.cli();
    cmd.args(["user", "reset-link", "bob"]);
    let out = tokio::task::spawn_blocking(move || crate::cli::run_ok(&mut cmd, None))
        .await
        .unwrap();
    let token = out
        .trim()
        .strip_prefix("https://localhost:8443/#reset=")
        .unwrap_or_else(|| panic!("a link: {out}"));
    let res = reset(&app, token, "chosen from the link").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.login("bob", "chosen from the link").await.status(), 200);
}
