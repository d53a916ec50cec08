//! The key directory and to-device delivery: uploads are checked, a
//! one-time key is handed out once however many ask at once, to-device
//! messages wait for a device that is away and come again until acked,
//! and a removed device is gone everywhere.

use super::{Dev, encrypted_room, get, post};
use crate::helpers::*;
use securechat_crypto::Machine;
use securechat_proto::e2e::{Devices, KeysClaimed};
use securechat_proto::{DeviceId, ServerMsg};
use serde_json::json;
use std::collections::HashSet;

#[tokio::test]
async fn uploads_are_checked_and_one_time_keys_go_once() {
    let app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let me = get(&app, "/api/me", &token).await;
    let device = DeviceId(me["device"].as_i64().unwrap());

    // One-time keys before the device's keys; keys naming someone else or
    // another device; malformed keys.
    let mut m = Machine::new("alice", device);
    let (otks, fallback) = m.new_one_time_keys(5);
    let res = app
        .post("/api/keys", json!({"one_time_keys": otks}), Some(&token))
        .await;
    assert_eq!(res.status(), 400);
    let other = Machine::new("bob", device).device_keys();
    let res = app
        .post("/api/keys", json!({"device_keys": other}), Some(&token))
        .await;
    assert_eq!(res.status(), 400);
    let elsewhere = Machine::new("alice", DeviceId(device.0 + 1)).device_keys();
    let res = app
        .post("/api/keys", json!({"device_keys": elsewhere}), Some(&token))
        .await;
    assert_eq!(res.status(), 400);
    let mut garbled = m.device_keys();
    garbled.curve25519 = "<script>".into();
    let res = app
        .post("/api/keys", json!({"device_keys": garbled}), Some(&token))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.get("/api/keys", Some(&token)).await.status(), 405);

    let up = post(
        &app,
        "/api/keys",
        json!({"device_keys": m.device_keys(), "one_time_keys": otks, "fallback_key": fallback}),
        &token,
    )
    .await;
    assert_eq!(up, json!({"device": device, "one_time_keys": 5}));
    // The same keys again are fine; other keys for this device are not.
    post(
        &app,
        "/api/keys",
        json!({"device_keys": m.device_keys()}),
        &token,
    )
    .await;
    let res = app
        .post(
            "/api/keys",
            json!({"device_keys": Machine::new("alice", device).device_keys()}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Twenty claims at once from another user: five distinct one-time
    // keys, then the fallback key.
    let bob = app.register_ok("bob").await;
    let claims: Vec<_> = (0..20)
        .map(|_| {
            let ep = app.http.clone();
            let url = app.url("/api/keys/claim");
            let bob = bob.clone();
            tokio::spawn(async move {
                let res = ep
                    .post(url)
                    .bearer_auth(bob)
                    .json(&json!({"devices": [device]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.json::<KeysClaimed>().await.unwrap()
            })
        })
        .collect();
    let mut one_time = Vec::new();
    let mut fallbacks = 0;
    for c in claims {
        let claimed = c.await.unwrap();
        assert_eq!(claimed.keys.len(), 1);
        let k = &claimed.keys[0];
        if k.fallback {
            fallbacks += 1;
        } else {
            one_time.push(k.key.key_id.clone());
        }
    }
    let distinct: HashSet<_> = one_time.iter().collect();
    assert_eq!((one_time.len(), distinct.len(), fallbacks), (5, 5, 15));

    // The directory lists the device, with the keys it signed.
    let listed: Devices = serde_json::from_value(
        post(
            &app,
            "/api/keys/query",
            json!({"users": ["ALICE", "nobody"]}),
            &bob,
        )
        .await,
    )
    .unwrap();
    assert_eq!(listed.devices, vec![m.device_keys()]);
    assert!(securechat_crypto::keys::verify_device(&listed.devices[0]).is_ok());
}

#[tokio::test]
async fn to_device_messages_wait_and_come_again_until_acked() {
    let app = spawn_app().await;
    let alice_token = app.register_ok("alice").await;
    let bob_token = app.register_ok("bob").await;
    let mut alice = Dev::new(&app, "alice", alice_token).await;
    let mut bob = Dev::new(&app, "bob", bob_token.clone()).await;
    let room = encrypted_room(&app, &alice.token, "pair", &["bob"]).await;
    // Bob is away while alice shares and sends.
    bob.ws.stream.close(None).await.ok();
    drop(bob.ws);
    alice.send(&app, room, "a1", "while you were out").await;

    // He comes back: the key waits for him, and comes again on the next
    // connection until he acks it.
    let (mut ws, _) = app.connect(&bob_token).await;
    let first = match ws.next_where(|m| matches!(m, ServerMsg::ToDevice(_))).await {
        ServerMsg::ToDevice(ev) => ev,
        _ => unreachable!(),
    };
    drop(ws);
    let (ws, _) = app.connect(&bob_token).await;
    bob.ws = ws;
    let again = match bob
        .ws
        .next_where(|m| matches!(m, ServerMsg::ToDevice(_)))
        .await
    {
        ServerMsg::ToDevice(ev) => ev,
        _ => unreachable!(),
    };
    assert_eq!(again, first, "the same message, the same id");
    bob.open_to_device(&app, again.clone()).await;
    // Handled once: a redelivery changes nothing.
    assert_eq!(
        bob.m.receive_to_device(&again),
        Ok(securechat_crypto::Received::Duplicate)
    );
    bob.ws
        .send_json(json!({"type": "sync", "since": {room.0.to_string(): 0}}))
        .await;
    assert_eq!(bob.next_message(&app, room).await.1, "while you were out");
    // Acked: the next connection gets nothing more.
    let (mut ws, _) = app.connect(&bob_token).await;
    ws.send_json(json!({"type": "ping", "nonce": "n"})).await;
    let until_pong = ws
        .next_where(|m| matches!(m, ServerMsg::Pong { .. } | ServerMsg::ToDevice(_)))
        .await;
    assert!(
        matches!(until_pong, ServerMsg::Pong { .. }),
        "{until_pong:?}"
    );

    // To-device messages go only to devices that exist.
    let res = app
        .post(
            "/api/to_device",
            json!({"messages": [{"device": 999_999, "body": "x"}]}),
            Some(&alice.token),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_removed_device_is_gone_everywhere() {
    let app = spawn_app().await;
    let alice_token = app.register_ok("alice").await;
    let second = app.login("alice", PASSWORD).await;
    let second: serde_json::Value = second.json().await.unwrap();
    let second_token = second["token"].as_str().unwrap().to_owned();
    let bob_token = app.register_ok("bob").await;
    let alice = Dev::new(&app, "alice", alice_token).await;
    let mut laptop = Dev::new(&app, "alice", second_token.clone()).await;
    let _bob = Dev::new(&app, "bob", bob_token.clone()).await;
    let mine: Devices =
        serde_json::from_value(get(&app, "/api/devices", &alice.token).await).unwrap();
    assert_eq!(mine.devices.len(), 2);

    // Someone else's device cannot be removed (nor told apart from none).
    let res = app
        .delete(&format!("/api/devices/{}", alice.device().0), &bob_token)
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .delete(&format!("/api/devices/{}", laptop.device().0), &alice.token)
        .await;
    assert_eq!(res.status(), 204);
    let (code, _) = laptop.ws.expect_close().await;
    assert_eq!(code, 4001);
    assert_eq!(app.get("/api/me", Some(&second_token)).await.status(), 401);
    let mine: Devices =
        serde_json::from_value(get(&app, "/api/devices", &alice.token).await).unwrap();
    assert_eq!(mine.devices, vec![alice.m.device_keys()]);
    let room = encrypted_room(&app, &alice.token, "after", &["bob"]).await;
    let devices: Devices =
        serde_json::from_value(get(&app, &format!("/api/rooms/{room}/devices"), &bob_token).await)
            .unwrap();
    assert_eq!(
        devices.devices.len(),
        2,
        "alice's remaining device and bob's"
    );
}
