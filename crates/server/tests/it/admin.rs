//! The admin API, the authorization matrix, and the operator `stats`.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::{ErrorCode, ServerMsg};
use securechat_server::config::RegistrationMode;
use serde_json::{Value, json};

#[tokio::test]
async fn admins_list_disable_enable_invite_and_see_stats() {
    let app = spawn_with(|c| c.registration = RegistrationMode::Invite).await;
    // The first user of an invite-only server is made by the operator.
    let code = securechat_server::accounts::create_invite(&app.state.store, None)
        .await
        .unwrap()
        .1;
    let res = app
        .post(
            "/api/register",
            json!({"username": "root", "password": PASSWORD, "invite_code": code}),
            None,
        )
        .await;
    let root: Value = res.json().await.unwrap();
    assert_eq!(root["user"]["is_admin"], true);
    let root = root["token"].as_str().unwrap().to_owned();

    // Invites over the API.
    let res = app.post("/api/admin/invites", json!({}), Some(&root)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let invite: Value = res.json().await.unwrap();
    let res = app
        .post(
            "/api/register",
            json!({"username": "bob", "password": PASSWORD, "invite_code": invite["invite_code"]}),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bob: Value = res.json().await.unwrap();
    let bob = bob["token"].as_str().unwrap().to_owned();

    // Non-admins and strangers are kept out.
    for path in ["/api/admin/users", "/api/admin/stats"] {
        assert_eq!(
            app.get(path, Some(&bob)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.get(path, None).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.post("/api/admin/invites", json!({}), Some(&bob))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.post("/api/admin/users/root/disable", json!({}), Some(&bob))
            .await
            .status(),
        403
    );

    let (mut b, w) = app.connect(&bob).await;
    b.send_text(general(&w), "s", "for the stats").await;
    b.next_ack().await;
    let users = app.get_json("/api/admin/users", &root).await;
    let list = users["users"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let bob_row = list.iter().find(|u| u["username"] == "bob").unwrap();
    assert_eq!(
        (bob_row["online"].as_bool(), bob_row["disabled"].as_bool()),
        (Some(true), Some(false))
    );
    let stats = app.get_json("/api/admin/stats", &root).await;
    assert_eq!(
        (stats["users"].as_u64(), stats["messages"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (stats["connections"].as_u64(), stats["rooms"].as_u64()),
        (Some(1), Some(1))
    );

    // Disabling ends bob's live socket at once; he cannot log in until enabled.
    let res = app
        .post("/api/admin/users/bob/disable", json!({}), Some(&root))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(b.expect_close().await.0, 4001);
    assert_eq!(
        app.login("bob", PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );
    let users = app.get_json("/api/users", &root).await;
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["username"] != "bob")
    );
    assert_eq!(
        app.post("/api/admin/users/bob/enable", json!({}), Some(&root))
            .await
            .status(),
        204
    );
    assert_eq!(app.login("bob", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        app.post("/api/admin/users/nobody/disable", json!({}), Some(&root))
            .await
            .status(),
        404
    );
    let res = app
        .post("/api/admin/users/root/disable", json!({}), Some(&root))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "admins cannot lock themselves out"
    );
}

/// Expected HTTP status per actor: (creator, member, non-member, admin).
/// A private room answers those not in it exactly as a missing room (404),
/// admins included, except for what admins may do in any room.
type Row = (&'static str, [u16; 4]);

#[tokio::test]
async fn authorization_matrix() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await; // admin, not in the room
    let alice = app.register_ok("alice").await; // creator
    let bob = app.register_ok("bob").await; // member
    let carol = app.register_ok("carol").await; // not a member
    for extra in ["dave", "erin", "frank", "gina", "hank"] {
        app.register_ok(extra).await;
    }
    let room = app
        .post_room(
            "/api/rooms",
            json!({"name": "matrix", "kind": "private", "members": ["bob"]}),
            &alice,
            201,
        )
        .await
        .id;
    let actors = [&alice, &bob, &carol, &root];
    let (mut a, _) = app.connect(&alice).await;
    let (mut b, _) = app.connect(&bob).await;
    a.send_text(room, "a-msg", "alice's").await;
    let alice_msg = a.next_ack().await.id;
    b.send_text(room, "b-msg", "bob's").await;
    let bob_msg = b.next_ack().await.id;

    // Reads.
    let reads: [Row; 2] = [
        ("GET events", [200, 200, 404, 404]),
        ("GET members", [200, 200, 404, 404]),
    ];
    for ((what, expected), path) in reads.iter().zip(["events", "members"]) {
        for (actor, want) in actors.iter().zip(expected) {
            let status = app
                .get(&format!("/api/rooms/{room}/{path}"), Some(actor))
                .await
                .status();
            assert_eq!(status.as_u16(), *want, "{what}");
        }
    }
    // Writes; each actor gets its own target so earlier rows change nothing.
    let check = |what: &'static str, res: reqwest::Response, want: u16| {
        assert_eq!(res.status().as_u16(), want, "{what}");
    };
    let invitees = ["dave", "erin", "frank", "gina"];
    for ((actor, want), invitee) in actors.iter().zip([200, 200, 404, 404]).zip(invitees) {
        let res = app
            .post(
                &format!("/api/rooms/{room}/invite"),
                json!({"username": invitee}),
                Some(actor),
            )
            .await;
        check("invite", res, want);
    }
    for (actor, want) in actors.iter().zip([200, 403, 404, 200]) {
        let res = app
            .patch(&format!("/api/rooms/{room}"), json!({"topic": "t"}), actor)
            .await;
        check("set topic", res, want);
    }
    for (actor, want) in actors.iter().zip([204, 403, 404, 204]) {
        let res = app
            .delete(&format!("/api/rooms/{room}/members/hank"), actor)
            .await;
        check("remove member", res, want);
    }
    for (actor, want) in actors.iter().zip([200, 403, 404, 404]) {
        let res = app
            .patch(
                &format!("/api/rooms/{room}/messages/{alice_msg}"),
                json!({"body": "edited"}),
                actor,
            )
            .await;
        check("edit alice's message", res, want);
    }
    // Delete bob's message: the creator is not its sender; the admin may.
    for (actor, want) in [(&alice, 403), (&carol, 404), (&root, 204), (&bob, 204)] {
        let res = app
            .delete(&format!("/api/rooms/{room}/messages/{bob_msg}"), actor)
            .await;
        check("delete bob's message", res, want);
    }
    for (actor, want) in actors.iter().zip([200, 200, 404, 404]) {
        let res = app
            .post(&format!("/api/rooms/{room}/join"), json!({}), Some(actor))
            .await;
        check("join private", res, want);
    }
    // Sending over the socket.
    for (token, allowed) in [
        (&carol, false),
        (&root, false),
        (&alice, true),
        (&bob, true),
    ] {
        let (mut c, _) = app.connect(token).await;
        c.send_text(room, "matrix-send", "hello?").await;
        match c
            .next_where(|m| matches!(m, ServerMsg::Ack(_) | ServerMsg::Error(_)))
            .await
        {
            ServerMsg::Ack(_) => assert!(allowed),
            ServerMsg::Error(e) => {
                assert!(!allowed);
                // A private room you are not in answers like a missing one.
                assert_eq!(e.code, ErrorCode::NotFound);
            }
            _ => unreachable!(),
        }
    }
    // An unknown room is not_found for everyone.
    for actor in actors {
        let res = app.get("/api/rooms/4242/events", Some(actor)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}

#[test]
fn operators_see_stats_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_securechat-server");
    let out = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("stats")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("users:    0 (0 disabled)"), "{text}");
    assert!(text.contains("rooms:    1"), "{text}");
}
