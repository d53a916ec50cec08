//! Rooms, private rooms and invites, DMs, the directory and history.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::ws::{MemberAction, RoomKind};
use securechat_proto::{RoomId, ServerMsg};
use serde_json::{Value, json};
use std::time::Duration;

fn is_member_event(action: MemberAction, user: &str) -> impl Fn(&ServerMsg) -> bool + '_ {
    move |m| matches!(m, ServerMsg::Member(e) if e.action == action && e.user == user)
}

#[tokio::test]
async fn public_rooms_create_join_rename_leave() {
    let app = spawn_app().await;
    let _root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, _) = app.connect(&alice).await;
    let (mut b, _) = app.connect(&bob).await;

    let dev = app
        .post_room(
            "/api/rooms",
            json!({"name": "Dev", "kind": "public", "topic": "Dev talk"}),
            &alice,
            201,
        )
        .await;
    assert_eq!(
        (dev.kind, dev.name.as_str(), dev.topic.as_deref()),
        (RoomKind::Public, "dev", Some("Dev talk"))
    );
    assert_eq!(dev.last_seq, 1, "the creator's join is the first event");
    match a
        .next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await
    {
        ServerMsg::RoomAdded { room } => assert_eq!(room.id, dev.id),
        _ => unreachable!(),
    }
    a.next_where(is_member_event(MemberAction::Join, "alice"))
        .await;
    a.send_text(dev.id, "d1", "first in dev").await;
    a.next_ack().await;

    // Names: unique, validated; topics validated.
    for (body, status) in [
        (json!({"name": "DEV", "kind": "public"}), 409),
        (json!({"name": "has space", "kind": "public"}), 400),
        (json!({"kind": "public"}), 400),
        (
            json!({"name": "ok", "kind": "public", "topic": "bell\u{7}"}),
            400,
        ),
        (json!({"name": "x", "kind": "dm"}), 400),
    ] {
        let res = app.post("/api/rooms", body.clone(), Some(&alice)).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
    }

    // Bob finds it in the public list, and its history once he joins.
    let list = app.get_json("/api/rooms", &bob).await;
    let public: Vec<Value> = list["public"].as_array().unwrap().clone();
    let entry = public.iter().find(|r| r["name"] == "dev").expect("listed");
    assert_eq!(
        (entry["members"].as_u64(), entry["joined"].as_bool()),
        (Some(1), Some(false))
    );
    let path = format!("/api/rooms/{}/events", dev.id);
    assert_eq!(
        app.get(&path, Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    let joined = app
        .post_room(&format!("/api/rooms/{}/join", dev.id), json!({}), &bob, 200)
        .await;
    assert_eq!(joined.id, dev.id);
    b.next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await;
    a.next_where(is_member_event(MemberAction::Join, "bob"))
        .await;
    let again = app
        .post_room(&format!("/api/rooms/{}/join", dev.id), json!({}), &bob, 200)
        .await;
    assert_eq!(
        again.last_seq, joined.last_seq,
        "joining twice stores nothing"
    );
    let bodies = app.history_bodies(dev.id, &bob).await;
    assert_eq!(
        bodies,
        ["first in dev"],
        "a new member sees the room's history"
    );

    // Renaming: the creator yes, another member no.
    let rename = |name: &str| json!({"name": name, "topic": "Engineering"});
    let res = app
        .patch(&format!("/api/rooms/{}", dev.id), rename("eng"), &bob)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .patch(&format!("/api/rooms/{}", dev.id), rename("eng"), &alice)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    match b
        .next_where(|m| matches!(m, ServerMsg::RoomUpdated(_)))
        .await
    {
        ServerMsg::RoomUpdated(u) => {
            assert_eq!(
                (u.name.as_str(), u.topic.as_deref(), u.by.as_str()),
                ("eng", Some("Engineering"), "alice")
            );
        }
        _ => unreachable!(),
    }

    // Leaving: told to the others, room removed for the leaver, idempotent.
    let leave = format!("/api/rooms/{}/leave", dev.id);
    assert_eq!(app.post(&leave, json!({}), Some(&bob)).await.status(), 204);
    a.next_where(is_member_event(MemberAction::Leave, "bob"))
        .await;
    assert_eq!(
        b.next_where(|m| matches!(m, ServerMsg::RoomRemoved { .. }))
            .await,
        ServerMsg::RoomRemoved { room: dev.id }
    );
    assert_eq!(app.post(&leave, json!({}), Some(&bob)).await.status(), 204);
    assert_eq!(
        app.get(&path, Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    // Bob no longer receives the room's messages.
    a.send_text(dev.id, "d2", "bob is gone").await;
    b.expect_quiet(Duration::from_millis(300)).await;

    // general stays.
    let w = app.get_json("/api/rooms", &bob).await;
    let general_id = w["rooms"][0]["id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/rooms/{general_id}/leave"),
            json!({}),
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .patch(
            &format!("/api/rooms/{general_id}"),
            json!({"name": "random"}),
            &alice,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Unknown rooms.
    for path in ["/api/rooms/999/join", "/api/rooms/999/leave"] {
        let res = app.post(path, json!({}), Some(&bob)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_of(res).await.0, "not_found");
    }
    let res = app.post("/api/rooms/abc/join", json!({}), Some(&bob)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(res).await.0, "bad_request");
}

#[tokio::test]
async fn private_rooms_invites_and_groups() {
    let app = spawn_app().await;
    let _root = app.register_ok("root").await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let (mut b, _) = app.connect(&bob).await;
    let (mut c, _) = app.connect(&carol).await;

    let secret = app
        .post_room(
            "/api/rooms",
            json!({"name": "secret", "kind": "private", "members": ["bob"]}),
            &alice,
            201,
        )
        .await;
    assert_eq!(secret.kind, RoomKind::Private);
    // Bob sees it at once.
    match b
        .next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await
    {
        ServerMsg::RoomAdded { room } => {
            assert_eq!((room.id, room.name.as_str()), (secret.id, "secret"))
        }
        _ => unreachable!(),
    }
    b.next_where(is_member_event(MemberAction::Invite, "bob"))
        .await;

    // Not listed publicly; carol can neither join, read, invite nor post,
    // and every answer is the one a missing room gets.
    let list = app.get_json("/api/rooms", &carol).await;
    assert!(
        list["public"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "secret")
    );
    let id = secret.id;
    assert_eq!(
        app.post(&format!("/api/rooms/{id}/join"), json!({}), Some(&carol))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/api/rooms/{id}/events"), Some(&carol))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/api/rooms/{id}/members"), Some(&carol))
            .await
            .status(),
        404
    );
    let res = app
        .post(
            &format!("/api/rooms/{id}/invite"),
            json!({"username": "carol"}),
            Some(&carol),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    c.send_text(id, "c1", "let me in").await;
    match c.next_non_presence().await {
        ServerMsg::Error(e) => assert_eq!(e.code, securechat_proto::ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }

    // A member invites her; inviting again is a clear conflict.
    let invite = format!("/api/rooms/{id}/invite");
    app.post_room(&invite, json!({"username": "carol"}), &bob, 200)
        .await;
    c.next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await;
    let res = app
        .post(&invite, json!({"username": "Carol"}), Some(&bob))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let (code, message) = error_of(res).await;
    assert_eq!(code, "conflict");
    assert!(message.contains("already a member"), "{message}");
    let res = app
        .post(&invite, json!({"username": "nobody"}), Some(&bob))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let members = app
        .get_json(&format!("/api/rooms/{id}/members"), &carol)
        .await;
    assert_eq!(members["members"], json!(["alice", "bob", "carol"]));

    // Only the creator (or an admin) removes members.
    let remove = format!("/api/rooms/{id}/members/carol");
    assert_eq!(app.delete(&remove, &bob).await.status(), 403);
    assert_eq!(app.delete(&remove, &alice).await.status(), 204);
    assert_eq!(
        c.next_where(|m| matches!(m, ServerMsg::RoomRemoved { .. }))
            .await,
        ServerMsg::RoomRemoved { room: id }
    );
    assert_eq!(
        app.delete(&remove, &alice).await.status(),
        204,
        "idempotent"
    );

    // A group on the fly: a private room with chosen members and no name.
    let group = app
        .post_room(
            "/api/rooms",
            json!({"kind": "private", "members": ["bob", "carol"]}),
            &alice,
            201,
        )
        .await;
    assert!(group.name.starts_with("group-"), "{}", group.name);
    let members = app
        .get_json(&format!("/api/rooms/{}/members", group.id), &carol)
        .await;
    assert_eq!(members["members"], json!(["alice", "bob", "carol"]));
    let res = app
        .post(
            "/api/rooms",
            json!({"kind": "private", "members": ["ghost"]}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "unknown member: nothing created"
    );
}

#[tokio::test]
async fn direct_messages_one_room_per_pair_even_offline() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let dave = app.register_ok("dave").await;
    let eve = app.register_ok("eve").await;
    let (mut a, _) = app.connect(&alice).await;

    // Dave has never connected; the DM still opens.
    let dm = app
        .post_room("/api/dms", json!({"username": "dave"}), &alice, 200)
        .await;
    assert_eq!((dm.kind, dm.name.as_str()), (RoomKind::Dm, "dave"));
    let same = app
        .post_room("/api/dms", json!({"username": "ALICE"}), &dave, 200)
        .await;
    assert_eq!(same.id, dm.id, "one DM per pair, whoever opens it");
    assert_eq!(same.name, "alice", "named after the other user");
    a.next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await;
    a.send_text(dm.id, "dm1", "psst, dave").await;
    a.next_ack().await;

    let (mut d, w) = app.connect(&dave).await;
    let info = w
        .rooms
        .iter()
        .find(|r| r.id == dm.id)
        .expect("dave has the DM");
    assert_eq!(info.unread, 1);
    d.send_json(json!({"type": "sync", "since": {dm.id.to_string(): 0}}))
        .await;
    match d.next_non_presence().await {
        ServerMsg::Message(m) => {
            assert_eq!((m.from.as_str(), m.body.as_str()), ("alice", "psst, dave"))
        }
        other => panic!("{other:?}"),
    }

    // Eve cannot read it, join it or be invited into it.
    let id = dm.id;
    assert_eq!(
        app.get(&format!("/api/rooms/{id}/events"), Some(&eve))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.post(&format!("/api/rooms/{id}/join"), json!({}), Some(&eve))
            .await
            .status(),
        404
    );
    let res = app
        .post(
            &format!("/api/rooms/{id}/invite"),
            json!({"username": "eve"}),
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.post(&format!("/api/rooms/{id}/leave"), json!({}), Some(&alice))
            .await
            .status(),
        403
    );
    // Bad targets.
    let res = app
        .post("/api/dms", json!({"username": "alice"}), Some(&alice))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post("/api/dms", json!({"username": "nobody"}), Some(&alice))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn directory_shows_presence_and_last_seen() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    app.register_ok("carol").await;
    let (_a, _) = app.connect(&alice).await;
    let (b, _) = app.connect(&bob).await;
    drop(b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dir = app.get_json("/api/users", &alice).await;
    let users = dir["users"].as_array().unwrap();
    let get = |n: &str| users.iter().find(|u| u["username"] == n).unwrap().clone();
    assert_eq!(get("alice")["online"], true);
    assert_eq!(get("bob")["online"], false);
    assert!(get("bob")["last_seen"].is_string(), "bob was here");
    assert_eq!(get("carol")["online"], false);
    assert!(
        get("carol").get("last_seen").is_none(),
        "carol never connected"
    );
    assert_eq!(app.get("/api/users", None).await.status(), 401);
}

#[tokio::test]
async fn history_pages_backwards_at_most_200() {
    let app = spawn_with(|c| {
        c.rate_per_sec = 10_000.0;
        c.burst = 10_000;
    })
    .await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    for i in 0..250 {
        a.send_text(room, &format!("h{i}"), &format!("msg {i}"))
            .await;
    }
    for _ in 0..250 {
        a.next_ack().await;
    }
    let path = |q: &str| format!("/api/rooms/{room}/events{q}");
    let page = app.get_json(&path("?limit=500"), &bob).await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 200, "at most 200 per page");
    assert_eq!(events[0]["seq"], 51);
    assert_eq!(events[199]["seq"], 250);
    assert_eq!(page["more"], true);
    let older = app.get_json(&path("?before=51&limit=200"), &bob).await;
    let events = older["events"].as_array().unwrap();
    assert_eq!((events.len(), events[0]["seq"].as_u64()), (50, Some(1)));
    assert_eq!(older["more"], false);
    let default = app.get_json(&path(""), &bob).await;
    assert_eq!(default["events"].as_array().unwrap().len(), 50);
    let res = app.get(&path("?before=oops"), Some(&bob)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Guessing ids gets forbidden or not_found, never content.
    let private = app
        .post_room(
            "/api/rooms",
            json!({"name": "p", "kind": "private"}),
            &alice,
            201,
        )
        .await;
    for id in [private.id, RoomId(9999)] {
        let res = app
            .get(&format!("/api/rooms/{id}/events"), Some(&bob))
            .await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status == 403 || status == 404, "{status}");
        assert!(!text.contains("\"events\""), "{text}");
    }
}

#[tokio::test]
async fn rejoining_on_the_same_connection_does_not_replay_the_absence() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut a, _) = app.connect(&alice).await;
    let (mut b, _) = app.connect(&bob).await;
    let dev = app
        .post_room(
            "/api/rooms",
            json!({"name": "dev", "kind": "public"}),
            &alice,
            201,
        )
        .await;
    let join = format!("/api/rooms/{}/join", dev.id);
    app.post_room(&join, json!({}), &bob, 200).await;
    b.next_where(is_member_event(MemberAction::Join, "bob"))
        .await;
    assert_eq!(
        app.post(
            &format!("/api/rooms/{}/leave", dev.id),
            json!({}),
            Some(&bob)
        )
        .await
        .status(),
        204
    );
    b.next_where(|m| matches!(m, ServerMsg::RoomRemoved { .. }))
        .await;
    for i in 0..3 {
        a.send_text(dev.id, &format!("away{i}"), "while bob was away")
            .await;
        a.next_ack().await;
    }
    let back = app.post_room(&join, json!({}), &bob, 200).await;
    assert!(matches!(b.next().await, ServerMsg::RoomAdded { .. }));
    match b.next().await {
        ServerMsg::Member(e) => assert_eq!(
            (e.action, e.user.as_str(), e.seq),
            (MemberAction::Join, "bob", back.last_seq)
        ),
        other => panic!("expected bob's join, got {other:?}"),
    }
    a.send_text(dev.id, "after", "welcome back").await;
    match b.next().await {
        ServerMsg::Message(m) => assert_eq!(m.body, "welcome back"),
        other => panic!("expected the live message, got {other:?}"),
    }
}

#[tokio::test]
async fn huge_sequence_numbers_are_handled_not_errors() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&alice).await;
    let room = general(&w);
    a.send_text(room, "one", "the only message").await;
    a.next_ack().await;
    let max = u64::MAX;
    let page = app
        .get_json(&format!("/api/rooms/{room}/events?before={max}"), &alice)
        .await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    a.send_json(json!({"type": "sync", "since": {room.to_string(): max}}))
        .await;
    assert_eq!(
        a.next_where(|m| matches!(m, ServerMsg::Synced)).await,
        ServerMsg::Synced
    );
    a.send_json(json!({"type": "read", "room": room, "seq": max}))
        .await;
    assert_eq!(
        a.next_where(|m| matches!(m, ServerMsg::Read { .. })).await,
        ServerMsg::Read { room, seq: 1 }
    );
    a.send_json(json!({"type": "ping", "nonce": "still open"}))
        .await;
    a.next_where(|m| matches!(m, ServerMsg::Pong { .. })).await;
}

#[tokio::test]
async fn a_deleted_room_goes_with_everything_in_it() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    let ann = app.register_ok("ann").await;
    let bob = app.register_ok("bob").await;
    let room = app
        .post_room(
            "/api/rooms",
            json!({"name": "plans", "kind": "private", "members": ["bob"]}),
            &ann,
            201,
        )
        .await
        .id;
    let (mut a, _) = app.connect(&ann).await;
    let (mut b, _) = app.connect(&bob).await;
    a.send_text(room, "p1", "the secret plans zeppelin").await;
    let msg = a.next_ack().await.id;
    let res = app
        .put(
            &format!("/api/rooms/{room}/messages/{msg}/reactions/%F0%9F%91%8D"),
            json!({}),
            &bob,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let up = crate::files::upload(
        &app,
        &ann,
        room,
        "plans.txt",
        "text/plain",
        b"only here".to_vec(),
    )
    .await;
    let file = up.json::<Value>().await.unwrap()["file"]["id"]
        .as_i64()
        .unwrap();

    // Neither a member who did not make it, nor for general or a DM.
    let del = |path: String, token: String| {
        let app = &app;
        async move { app.delete(&path, &token).await.status() }
    };
    assert_eq!(
        del(format!("/api/rooms/{room}"), bob.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        del("/api/rooms/1".into(), root.clone()).await,
        StatusCode::FORBIDDEN
    );
    let dm = app
        .post_room("/api/dms", json!({"username": "bob"}), &ann, 200)
        .await
        .id;
    assert_eq!(
        del(format!("/api/rooms/{dm}"), root.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        del("/api/rooms/9999".into(), ann.clone()).await,
        StatusCode::NOT_FOUND
    );

    // Its creator deletes it: both members are told at once.
    assert_eq!(
        del(format!("/api/rooms/{room}"), ann.clone()).await,
        StatusCode::NO_CONTENT
    );
    for c in [&mut a, &mut b] {
        let gone = c
            .next_where(|m| matches!(m, ServerMsg::RoomRemoved { .. }))
            .await;
        assert_eq!(gone, ServerMsg::RoomRemoved { room });
    }
    // Nothing of it answers any more, for anyone.
    for token in [&ann, &bob, &root] {
        let res = app
            .get(&format!("/api/rooms/{room}/events"), Some(token))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = app.get(&format!("/api/files/{file}"), Some(token)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let found: Value = app
        .http
        .get(app.url("/api/search"))
        .query(&[("q", "zeppelin")])
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["results"].as_array().unwrap().len(), 0, "{found}");
    // The file's bytes go at the next sweep; the name is free again.
    assert_eq!(app.state.blobs.sweep(&app.state.store).await.unwrap(), 1);
    assert_eq!(app.file_rows().await, 0);
    app.post_room(
        "/api/rooms",
        json!({"name": "plans", "kind": "public"}),
        &bob,
        201,
    )
    .await;
    // Deleting twice: it is not there.
    assert_eq!(
        del(format!("/api/rooms/{room}"), root.clone()).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_archived_room_is_read_only_until_it_is_opened_again() {
    let app = spawn_app().await;
    let root = app.register_ok("root").await;
    let ann = app.register_ok("ann").await;
    let bob = app.register_ok("bob").await;
    let carol = app.register_ok("carol").await;
    let room = app.new_room(&ann, "old-news", "public").await;
    let res = app
        .post(&format!("/api/rooms/{room}/join"), json!({}), Some(&bob))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (mut a, _) = app.connect(&ann).await;
    let (mut b, _) = app.connect(&bob).await;
    a.send_text(room, "n1", "the last word").await;
    let msg = a.next_ack().await.id;
    let archive = |token: String, archived: bool| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/rooms/{room}/archive"),
                json!({ "archived": archived }),
                Some(&token),
            )
            .await
        }
    };

    // Only its creator or an admin; never general.
    assert_eq!(
        archive(bob.clone(), true).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .post(
            "/api/rooms/1/archive",
            json!({"archived": true}),
            Some(&root),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = archive(ann.clone(), true).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["room"]["archived"], true);
    // Members are told: the room comes again, archived.
    match b
        .next_where(|m| matches!(m, ServerMsg::RoomAdded { .. }))
        .await
    {
        ServerMsg::RoomAdded { room: info } => assert!(info.archived && info.id == room),
        _ => unreachable!(),
    }

    // Nothing can be added: messages, edits, reactions, files, members.
    b.send_text(room, "n2", "can I still?").await;
    match b
        .next_where(|m| matches!(m, ServerMsg::Ack(_) | ServerMsg::Error(_)))
        .await
    {
        ServerMsg::Error(e) => {
            assert_eq!(e.code, securechat_proto::ErrorCode::Forbidden);
            assert!(e.message.contains("archived"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    let (status, said) = {
        let res = app
            .patch(
                &format!("/api/rooms/{room}/messages/{msg}"),
                json!({"body": "changed"}),
                &ann,
            )
            .await;
        (res.status(), error_of(res).await.1)
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(said.contains("archived"), "{said}");
    let res = app
        .put(
            &format!("/api/rooms/{room}/messages/{msg}/reactions/%F0%9F%91%8D"),
            json!({}),
            &bob,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = crate::files::upload(&app, &bob, room, "a.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.file_rows().await, 0, "nothing stored");
    let res = app
        .post(&format!("/api/rooms/{room}/join"), json!({}), Some(&carol))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post(
            &format!("/api/rooms/{room}/invite"),
            json!({"username": "carol"}),
            Some(&ann),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .delete(&format!("/api/rooms/{room}/messages/{msg}"), &ann)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "not even its sender");

    // Its history stays readable, and listed as archived.
    assert_eq!(
        app.history_bodies(room, &bob).await.last().unwrap(),
        "the last word"
    );
    let rooms: Value = app.get_json("/api/rooms", &bob).await;
    let listed = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.0)
        .unwrap()
        .clone();
    assert_eq!(listed["archived"], true, "{listed}");

    // Opened again by an admin: writable again.
    assert_eq!(archive(root.clone(), false).await.status(), StatusCode::OK);
    b.send_text(room, "n3", "back in business").await;
    b.next_ack().await;
    assert!(
        app.history_bodies(room, &ann)
            .await
            .contains(&"back in business".to_string())
    );
}
