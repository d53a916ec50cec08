//! Profiles: display name, status and picture; the directory and user
//! cards; `profile` events to everyone connected.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::ServerMsg;
use serde_json::{Value, json};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0xf8,
    0x0f, 0x00, 0x01, 0x04, 0x01, 0x00, 0x5f, 0xe5, 0xc3, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn put_avatar(app: &TestApp, token: &str, body: Vec<u8>) -> reqwest::Response {
    app.http
        .put(app.url("/api/me/avatar"))
        .bearer_auth(token)
        .header("content-type", "image/png")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn find<'a>(users: &'a Value, name: &str) -> &'a Value {
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap()
}

#[tokio::test]
async fn display_name_and_status_are_set_shown_announced_and_cleared() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut b, _) = app.connect(&bob).await;

    let res = app
        .patch(
            "/api/me",
            json!({"display_name": "  Alice Liddell ", "status": "in meetings until 3"}),
            &alice,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["profile"]["display_name"], "Alice Liddell");
    assert_eq!(me["profile"]["status"], "in meetings until 3");

    // Everyone connected hears of it.
    let ev = b
        .next_where(|m| matches!(m, ServerMsg::Profile { .. }))
        .await;
    let ServerMsg::Profile { user } = ev else {
        unreachable!()
    };
    assert_eq!(user.username, "alice");
    assert_eq!(user.profile.display_name.as_deref(), Some("Alice Liddell"));

    // The directory and the card show it.
    let users = app.get_json("/api/users", &bob).await;
    let a = find(&users, "alice");
    assert_eq!(a["display_name"], "Alice Liddell");
    assert_eq!(a["status"], "in meetings until 3");
    assert_eq!(a["is_admin"], true, "the first user is the admin");
    let card = app.get_json("/api/users/ALICE", &bob).await;
    assert_eq!(card["display_name"], "Alice Liddell");
    assert_eq!(card["online"], false);

    // Only what is given changes; "" clears.
    let me: Value = app
        .patch("/api/me", json!({"status": ""}), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["profile"]["display_name"], "Alice Liddell");
    assert!(me["profile"].get("status").is_none(), "{me}");
    let me = app.get_json("/api/me", &alice).await;
    assert!(me["profile"].get("status").is_none(), "{me}");

    // Bad values: a clear error, nothing changed.
    for bad in [
        json!({"display_name": "x".repeat(65)}),
        json!({"display_name": "evil\u{202e}gpj.exe"}),
        json!({"display_name": "two\nlines"}),
        json!({"display_name": "zero\u{200b}width"}),
        json!({"status": "s".repeat(141)}),
        json!({"status": "bell\u{7}"}),
        json!({"display_name": 5}),
    ] {
        let res = app.patch("/api/me", bad.clone(), &alice).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let (code, message) = error_of(res).await;
        assert_eq!(code, "bad_request");
        assert!(!message.is_empty());
    }
    let card = app.get_json("/api/users/alice", &bob).await;
    assert_eq!(card["display_name"], "Alice Liddell");

    // Strangers and unknown names.
    assert_eq!(app.get("/api/users/alice", None).await.status(), 401);
    assert_eq!(app.get("/api/users/nobody", Some(&bob)).await.status(), 404);
    assert_eq!(
        app.get("/api/users/..%2F..", Some(&bob)).await.status(),
        404
    );
    let res = app
        .http
        .patch(app.url("/api/me"))
        .json(&json!({"display_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn profile_pictures_are_checked_images_served_safely() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;

    let res = put_avatar(&app, &alice, PNG.to_vec()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    let url = me["profile"]["avatar"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/api/users/alice/avatar?v="), "{url}");

    let res = app.get(&url, Some(&bob)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(app.get(&url, None).await.status(), 401);

    // Not an image (SVG, HTML, whatever the declared type): refused, the
    // old picture stays.
    for body in [
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
        b"<html><script>alert(1)</script>".to_vec(),
        Vec::new(),
    ] {
        let res = put_avatar(&app, &alice, body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(error_of(res).await.1.contains("PNG"));
    }
    // Up to 256 KiB is fine (far above the API's 16 KiB JSON limit)…
    let mut large = PNG.to_vec();
    large.resize(256 * 1024, 0);
    assert_eq!(
        put_avatar(&app, &alice, large).await.status(),
        StatusCode::OK
    );
    put_avatar(&app, &alice, PNG.to_vec()).await;
    let url = app.get_json("/api/me", &alice).await["profile"]["avatar"]
        .as_str()
        .unwrap()
        .to_owned();
    // … beyond it, 413.
    let mut big = PNG.to_vec();
    big.resize(300 * 1024, 0);
    let res = put_avatar(&app, &alice, big).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(res).await.0, "too_large");
    assert_eq!(app.get(&url, Some(&bob)).await.status(), StatusCode::OK);

    // A new picture gets a new URL; removing it leaves none.
    let me: Value = put_avatar(&app, &alice, PNG.to_vec())
        .await
        .json()
        .await
        .unwrap();
    let url2 = me["profile"]["avatar"].as_str().unwrap().to_owned();
    assert_ne!(url, url2);
    let res = app.delete("/api/me/avatar", &alice).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert!(me["profile"].get("avatar").is_none());
    assert_eq!(app.get(&url2, Some(&bob)).await.status(), 404);
    let users = app.get_json("/api/users", &bob).await;
    assert!(find(&users, "alice").get("avatar").is_none());

    // A disabled user's picture is not served.
    put_avatar(&app, &bob, PNG.to_vec()).await;
    let bob_url = app.get_json("/api/users/bob", &alice).await["avatar"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("/api/admin/users/bob/disable", json!({}), Some(&alice))
        .await;
    assert_eq!(app.get(&bob_url, Some(&alice)).await.status(), 404);
    assert_eq!(app.get("/api/users/bob", Some(&alice)).await.status(), 404);
}

#[tokio::test]
async fn profile_changes_are_room_actions_on_the_budget() {
    let app = spawn_with(|c| c.action_burst = 5).await;
    let alice = app.register_ok("alice").await;
    // Many at once: each answered, the over-budget ones with 429, and the
    // stored name is one that was answered 200.
    let sends = (0..12).map(|i| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let res = app
                .patch(
                    "/api/me",
                    json!({"display_name": format!("name {i}")}),
                    &alice,
                )
                .await;
            (i, res.status())
        }
    });
    let results = futures_util::future::join_all(sends).await;
    let ok: Vec<String> = results
        .iter()
        .filter(|(_, s)| *s == StatusCode::OK)
        .map(|(i, _)| format!("name {i}"))
        .collect();
    let limited = results
        .iter()
        .filter(|(_, s)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(!ok.is_empty() && ok.len() <= 6, "{results:?}");
    assert_eq!(ok.len() + limited, 12, "{results:?}");
    let me = app.get_json("/api/me", &alice).await;
    let stored = me["profile"]["display_name"].as_str().unwrap().to_owned();
    assert!(ok.contains(&stored), "{stored} not among {ok:?}");
}
