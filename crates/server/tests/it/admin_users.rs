//! What the admin pages use: accounts made by an admin, roles, passwords
//! set by an admin, invites listed and revoked, the registration mode
//! changed while the server runs.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn admins_make_accounts_set_roles_and_passwords() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    let bob = app.register_ok("bob").await;

    // An account made by an admin, whatever the registration mode.
    let res = app
        .post(
            "/api/admin/users",
            json!({"username": "Carol", "password": PASSWORD}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let carol: Value = res.json().await.unwrap();
    assert_eq!(
        (carol["username"].as_str(), carol["is_admin"].as_bool()),
        (Some("carol"), Some(false))
    );
    assert_eq!(app.login("carol", PASSWORD).await.status(), 200);
    let res = app
        .post(
            "/api/admin/users",
            json!({"username": "carol", "password": PASSWORD}),
            Some(&root),
        )
        .await;
    assert_eq!(error_of(res).await.0, "username_taken");
    let res = app
        .post(
            "/api/admin/users",
            json!({"username": "dan", "password": "short"}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Roles: promote, then the promoted admin can act; the last admin
    // cannot be demoted.
    let role = |name: &str, is_admin: bool, token: &str| {
        let path = format!("/api/admin/users/{name}/role");
        let token = token.to_owned();
        let app = &app;
        async move {
            app.post(&path, json!({ "is_admin": is_admin }), Some(&token))
                .await
        }
    };
    assert_eq!(role("bob", true, &bob).await.status(), 403);
    assert_eq!(role("bob", true, &root).await.status(), 204);
    assert_eq!(
        app.get("/api/admin/users", Some(&bob)).await.status(),
        200,
        "the new role holds at once, on the same session"
    );
    assert_eq!(role("root", false, &bob).await.status(), 204);
    assert_eq!(app.get("/api/admin/stats", Some(&root)).await.status(), 403);
    let res = role("bob", false, &bob).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(error_of(res).await.1.contains("last admin"));
    assert_eq!(role("nobody", true, &bob).await.status(), 404);

    // A password set by an admin ends the user's sessions and sockets.
    let carol = login_token(&app, "carol", PASSWORD).await;
    let (mut c, _) = app.connect(&carol).await;
    let res = app
        .post(
            "/api/admin/users/carol/password",
            json!({"new_password": "a brand new one"}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(c.expect_close().await.0, 4001);
    assert_eq!(app.get("/api/me", Some(&carol)).await.status(), 401);
    assert_eq!(app.login("carol", PASSWORD).await.status(), 401);
    assert_eq!(app.login("carol", "a brand new one").await.status(), 200);
    let res = app
        .post(
            "/api/admin/users/carol/password",
            json!({"new_password": "x"}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post(
            "/api/admin/users/carol/password",
            json!({"new_password": "not allowed"}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), 403, "root is no longer an admin");
}

async fn login_token(app: &TestApp, name: &str, password: &str) -> String {
    let res: Value = app.login(name, password).await.json().await.unwrap();
    res["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn invites_are_listed_revoked_and_registration_mode_changes_live() {
    let mut app = spawn_app().await;
    let root = app.register_ok("root").await;
    let bob = app.register_ok("bob").await;

    let settings = app.get_json("/api/admin/settings", &root).await;
    assert_eq!(settings["registration"], "open");
    assert_eq!(
        app.get("/api/admin/settings", Some(&bob)).await.status(),
        403
    );
    let res = app
        .patch(
            "/api/admin/settings",
            json!({"registration": "invite"}),
            &root,
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.register("carol", PASSWORD).await;
    assert_eq!(error_of(res).await.0, "registration_closed");

    // Two invites: one used, one revoked; the list tells them apart and
    // never shows a code again.
    let mut codes = Vec::new();
    for _ in 0..2 {
        let res: Value = app
            .post("/api/admin/invites", json!({}), Some(&root))
            .await
            .json()
            .await
            .unwrap();
        codes.push((
            res["id"].as_i64().unwrap(),
            res["invite_code"].as_str().unwrap().to_owned(),
        ));
    }
    let register_with = |name: &str, code: &str| {
        let body = json!({"username": name, "password": PASSWORD, "invite_code": code});
        let app = &app;
        async move { app.post("/api/register", body, None).await }
    };
    assert_eq!(register_with("carol", &codes[0].1).await.status(), 201);
    let path = format!("/api/admin/invites/{}", codes[1].0);
    assert_eq!(app.delete(&path, &bob).await.status(), 403);
    assert_eq!(app.delete(&path, &root).await.status(), 204);
    assert_eq!(app.delete(&path, &root).await.status(), 204, "idempotent");
    let res = register_with("dan", &codes[1].1).await;
    assert_eq!(res.status(), 403, "a revoked code does not work");
    let used = format!("/api/admin/invites/{}", codes[0].0);
    assert_eq!(app.delete(&used, &root).await.status(), 404);
    assert_eq!(
        app.delete("/api/admin/invites/999", &root).await.status(),
        404
    );
    let list = app.get_json("/api/admin/invites", &root).await;
    let text = list.to_string();
    assert!(!text.contains(&codes[0].1) && !text.contains(&codes[1].1));
    let states: Vec<(&str, Option<&str>)> = list["invites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["state"].as_str().unwrap(), i["used_by"].as_str()))
        .collect();
    assert_eq!(states, [("revoked", None), ("used", Some("carol"))]);
    assert_eq!(list["invites"][0]["created_by"], "root");

    // Closed, then bad values; the choice outlives a restart.
    app.patch(
        "/api/admin/settings",
        json!({"registration": "closed"}),
        &root,
    )
    .await;
    for bad in [json!({"registration": "sometimes"}), json!({})] {
        let res = app.patch("/api/admin/settings", bad, &root).await;
        assert_eq!(res.status(), 400);
    }
    app = app.restart().await;
    let settings = app.get_json("/api/admin/settings", &root).await;
    assert_eq!(settings["registration"], "closed");
    let res = app.register("erin", PASSWORD).await;
    assert_eq!(error_of(res).await.0, "registration_closed");
}
