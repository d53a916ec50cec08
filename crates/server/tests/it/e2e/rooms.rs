//! Encrypted rooms: members read each other; the server refuses text,
//! and ciphertext whose key has not reached every device; an outsider and
//! a removed member cannot read what follows, with the keys they hold.

use super::{Dev, encrypted_room};
use crate::helpers::*;
use futures_util::StreamExt;
use securechat_crypto::Error as CryptoError;
use securechat_proto::{ErrorCode, ServerMsg};
use serde_json::json;

#[tokio::test]
async fn members_read_and_outsiders_and_leavers_cannot() {
    let app = spawn_app().await;
    let names = ["alice", "bob", "eve", "carol"];
    let mut devs = Vec::new();
    for n in names {
        let token = app.register_ok(n).await;
        devs.push(Dev::new(&app, n, token).await);
    }
    let [mut alice, mut bob, mut eve, mut carol]: [Dev; 4] = devs.try_into().ok().unwrap();
    let room = encrypted_room(&app, &alice.token, "secret", &["bob", "eve"]).await;

    // Text is refused in an encrypted room; so is ciphertext before its
    // key reached the room's devices.
    alice.ws.send_text(room, "plain", "in the clear").await;
    match alice
        .ws
        .next_where(|m| matches!(m, ServerMsg::Error(_)))
        .await
    {
        ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::BadRequest, "{}", e.message),
        _ => unreachable!(),
    }
    let early = alice.m.encrypt(room, "too early").unwrap();
    assert_eq!(
        alice.send_raw(room, "early", &early).await,
        Err(ErrorCode::KeysOutdated)
    );

    // Shared, it goes through; every member reads it.
    let ack = alice
        .send(&app, room, "m1", "the launch is on tuesday")
        .await;
    assert_eq!(ack.room, room);
    for d in [&mut bob, &mut eve] {
        assert_eq!(
            d.next_message(&app, room).await,
            ("alice".into(), "the launch is on tuesday".into())
        );
    }
    // The server's copy is ciphertext only.
    let history = app
        .get_json(&format!("/api/rooms/{room}/events"), &alice.token)
        .await;
    let stored = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "message")
        .unwrap()
        .clone();
    assert_eq!(stored["body"], "");
    assert!(stored["encrypted"]["ciphertext"].as_str().unwrap().len() > 40);

    // Bob answers over the Olm sessions now in place.
    bob.send(&app, room, "b1", "great, I'll tell the team")
        .await;
    assert_eq!(
        alice.next_message(&app, room).await,
        ("bob".into(), "great, I'll tell the team".into())
    );

    // A thread reply that mentions alice: the thread and the mention
    // (named in the clear) work as in any room; the text stays sealed.
    let reply = bob
        .reply(&app, room, "b2", "@alice see thread", ack.id, &["alice"])
        .await;
    assert_eq!(alice.next_message(&app, room).await.1, "@alice see thread");
    let rooms = app.get_json("/api/rooms", &alice.token).await;
    let info = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room.0)
        .unwrap()
        .clone();
    assert_eq!(info["mentions"], 1, "{info}");
    let thread = app
        .get_json(
            &format!("/api/rooms/{room}/threads/{}", ack.id),
            &alice.token,
        )
        .await;
    assert!(
        thread
            .to_string()
            .contains(&format!("\"id\":{}", reply.id.0)),
        "{thread}"
    );

    // An outsider sees nothing of the room, cannot take its devices or
    // slip a key in, and holds no key for it.
    assert_eq!(
        app.get(&format!("/api/rooms/{room}/devices"), Some(&carol.token))
            .await
            .status(),
        404
    );
    let sneak = app
        .post(
            "/api/to_device",
            json!({"messages": [{"device": alice.device(), "body": "x", "room_key": {"room": room, "session": "abc"}}]}),
            Some(&carol.token),
        )
        .await;
    assert_eq!(
        sneak.status(),
        404,
        "not a member: the room does not exist for carol"
    );
    let first = app
        .get_json(&format!("/api/rooms/{room}/events"), &alice.token)
        .await;
    let enc: securechat_proto::e2e::Encrypted = serde_json::from_value(
        first["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "message")
            .unwrap()["encrypted"]
            .clone(),
    )
    .unwrap();
    assert_eq!(
        carol.m.decrypt(room, "alice", &enc),
        Err(CryptoError::UnknownSession)
    );

    // Eve is removed. Alice's session reached eve's device: the server
    // refuses it now, and the client starts a new one without her.
    let res = app
        .delete(&format!("/api/rooms/{room}/members/eve"), &alice.token)
        .await;
    assert_eq!(res.status(), 204);
    let stale = alice.m.encrypt(room, "with the old key").unwrap();
    assert_eq!(
        alice.send_raw(room, "stale", &stale).await,
        Err(ErrorCode::KeysOutdated)
    );
    let old_session = stale.session.clone();
    alice.send(&app, room, "m2", "eve must not read this").await;
    assert_ne!(alice.m.outbound_session(room).unwrap(), old_session);
    assert_eq!(
        bob.next_message(&app, room).await.1,
        "eve must not read this"
    );
    // Eve kept her keys and got the ciphertext anyway (say, from a backup
    // of the server): it does not open.
    let latest = app
        .get_json(&format!("/api/rooms/{room}/events"), &alice.token)
        .await;
    let secret: securechat_proto::e2e::Encrypted = serde_json::from_value(
        latest["events"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["type"] == "message")
            .unwrap()["encrypted"]
            .clone(),
    )
    .unwrap();
    assert_ne!(secret.session, old_session);
    assert_eq!(
        eve.m.decrypt(room, "alice", &secret),
        Err(CryptoError::UnknownSession)
    );
    // Whatever reached her device (opened with her real keys) was never
    // that key.
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(std::time::Duration::from_millis(300), eve.ws.stream.next()).await
    {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = frame
            && let Ok(ServerMsg::ToDevice(ev)) = serde_json::from_str(t.as_str())
        {
            eve.open_to_device(&app, ev).await;
        }
    }
    assert!(!eve.m.has_session(room, &secret.session));

    // What the server counted: key shares, refused stale sends, and no
    // client reported a message it could not open.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("securechat_{name} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("to_device_total") >= 4, "{metrics}");
    assert_eq!(
        value("keys_outdated_total"),
        2,
        "the early send and the stale one"
    );
    assert_eq!(value("undecryptable_total"), 0);
    let res = app
        .post(
            "/api/keys/report",
            json!({"undecryptable": 2}),
            Some(&bob.token),
        )
        .await;
    assert_eq!(res.status(), 204);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("securechat_undecryptable_total 2"));
}

#[tokio::test]
async fn text_and_ciphertext_stay_where_they_belong() {
    let app = spawn_app().await;
    let alice_token = app.register_ok("alice").await;
    let bob_token = app.register_ok("bob").await;
    let mut alice = Dev::new(&app, "alice", alice_token).await;
    let mut bob = Dev::new(&app, "bob", bob_token).await;
    let plain_room = app.new_room(&alice.token, "open", "private").await;
    let enc = alice.m.encrypt(plain_room, "x").unwrap();
    assert_eq!(
        alice.send_raw(plain_room, "c1", &enc).await,
        Err(ErrorCode::BadRequest)
    );

    // Encrypted DMs are rooms of their own, apart from the pair's plain DM.
    let plain_dm = app
        .post_room("/api/dms", json!({"username": "bob"}), &alice.token, 200)
        .await;
    let dm = app
        .post_room(
            "/api/dms",
            json!({"username": "bob", "encrypted": true}),
            &alice.token,
            200,
        )
        .await;
    assert!(dm.encrypted && !plain_dm.encrypted);
    assert_ne!(dm.id, plain_dm.id);
    let again = app
        .post_room(
            "/api/dms",
            json!({"username": "bob", "encrypted": true}),
            &alice.token,
            200,
        )
        .await;
    assert_eq!(again.id, dm.id);
    // A public room cannot be encrypted.
    let res = app
        .post(
            "/api/rooms",
            json!({"name": "pub", "kind": "public", "encrypted": true}),
            Some(&alice.token),
        )
        .await;
    assert_eq!(res.status(), 400);

    // Ciphertext names this session's own device, nobody else's.
    alice.share(&app, dm.id).await;
    let mut forged = alice.m.encrypt(dm.id, "x").unwrap();
    forged.device = securechat_proto::DeviceId(forged.device.0 + 1000);
    assert_eq!(
        alice.send_raw(dm.id, "c2", &forged).await,
        Err(ErrorCode::Forbidden)
    );
    // Text edits are refused in an encrypted room.
    let ack = alice.send(&app, dm.id, "c3", "hello").await;
    let res = app
        .patch(
            &format!("/api/rooms/{}/messages/{}", dm.id, ack.id),
            json!({"body": "plain edit"}),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(bob.next_message(&app, dm.id).await.1, "hello");
    // An encrypted edit: the others open the new content.
    let edited = alice.m.encrypt(dm.id, "hello, edited").unwrap();
    let res = app
        .patch(
            &format!("/api/rooms/{}/messages/{}", dm.id, ack.id),
            json!({"encrypted": edited}),
            &alice.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    let now: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (now["edited"].as_bool(), now["body"].as_str()),
        (Some(true), Some(""))
    );
    match bob
        .ws
        .next_where(|m| matches!(m, ServerMsg::Edited(_)))
        .await
    {
        ServerMsg::Edited(e) => {
            assert_eq!((e.target, e.body.as_str()), (ack.id, ""));
            let opened = bob
                .m
                .decrypt(dm.id, "alice", &e.encrypted.unwrap())
                .unwrap();
            assert_eq!(opened.body, "hello, edited");
        }
        _ => unreachable!(),
    }
    // No file goes to the server in the clear in an encrypted room.
    let res = app
        .http
        .post(app.url(&format!("/api/rooms/{}/files?name=plan.txt", dm.id)))
        .bearer_auth(&alice.token)
        .body("secret plan")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.file_rows().await, 0);
    // An oversized or malformed ciphertext is refused before anything else.
    let mut big = alice.m.encrypt(dm.id, "x").unwrap();
    big.ciphertext = "A".repeat(50_000);
    assert_eq!(
        alice.send_raw(dm.id, "c4", &big).await,
        Err(ErrorCode::TooLarge)
    );
    let mut bad = alice.m.encrypt(dm.id, "x").unwrap();
    bad.ciphertext = "not base64!".into();
    assert_eq!(
        alice.send_raw(dm.id, "c5", &bad).await,
        Err(ErrorCode::BadRequest)
    );
}
