//! Key backup through the server: a new device of the same user, given
//! the passphrase, reads the history sent before it existed; the server
//! holds only sealed keys, each user their own.

use super::{Dev, encrypted_room, get};
use crate::helpers::*;
use securechat_crypto::RecoveryKey;
use securechat_proto::e2e::{Encrypted, KeyBackup};
use serde_json::json;

#[tokio::test]
async fn a_new_device_reads_old_history_with_the_passphrase() {
    let app = spawn_app().await;
    let alice_token = app.register_ok("alice").await;
    let bob_token = app.register_ok("bob").await;
    let mut alice = Dev::new(&app, "alice", alice_token).await;
    let mut bob = Dev::new(&app, "bob", bob_token).await;
    let room = encrypted_room(&app, &alice.token, "history", &["bob"]).await;
    let texts = ["first of the old history", "second of the old history"];
    for (i, t) in texts.iter().enumerate() {
        alice.send(&app, room, &format!("h{i}"), t).await;
        assert_eq!(bob.next_message(&app, room).await.1, *t);
    }

    // No backup yet: keys cannot be added.
    let res = app
        .put("/api/keys/backup", json!({"keys": []}), &bob.token)
        .await;
    assert_eq!(res.status(), 409);
    // Bob sets a passphrase; his device seals what it holds.
    let salt = RecoveryKey::new_salt().unwrap();
    let key = RecoveryKey::from_passphrase("bob's long passphrase", &salt).unwrap();
    let res = app
        .put(
            "/api/keys/backup/info",
            json!(key.info(Some(salt)).unwrap()),
            &bob.token,
        )
        .await;
    assert_eq!(res.status(), 204);
    let entries = bob.m.backup_entries(&key, &Default::default()).unwrap();
    let added = app
        .put("/api/keys/backup", json!({"keys": entries}), &bob.token)
        .await;
    assert_eq!(
        added.json::<serde_json::Value>().await.unwrap(),
        json!({"added": 1})
    );
    let again = app
        .put("/api/keys/backup", json!({"keys": entries}), &bob.token)
        .await;
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap(),
        json!({"added": 0})
    );
    // Alice sees her own (empty) backup, never bob's.
    let hers: KeyBackup =
        serde_json::from_value(get(&app, "/api/keys/backup", &alice.token).await).unwrap();
    assert_eq!(hers, KeyBackup::default());

    // Bob's new laptop: a new login is a new device, with none of the keys.
    let login: serde_json::Value = app.login("bob", PASSWORD).await.json().await.unwrap();
    let mut laptop = Dev::new(&app, "bob", login["token"].as_str().unwrap().into()).await;
    assert_ne!(laptop.device(), bob.device());
    let history = app
        .get_json(&format!("/api/rooms/{room}/events"), &laptop.token)
        .await;
    let sealed: Vec<Encrypted> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| serde_json::from_value(e["encrypted"].clone()).unwrap())
        .collect();
    assert_eq!(sealed.len(), 2);
    assert!(laptop.m.decrypt(room, "alice", &sealed[0]).is_err());
    let backup: KeyBackup =
        serde_json::from_value(get(&app, "/api/keys/backup", &laptop.token).await).unwrap();
    let info = backup.info.clone().unwrap();
    let wrong = RecoveryKey::from_passphrase("not it", info.salt.as_deref().unwrap()).unwrap();
    assert!(laptop.m.restore(&wrong, &info, &backup.keys).is_err());
    let right =
        RecoveryKey::from_passphrase("bob's long passphrase", info.salt.as_deref().unwrap())
            .unwrap();
    assert_eq!(laptop.m.restore(&right, &info, &backup.keys).unwrap(), 1);
    for (enc, text) in sealed.iter().zip(texts) {
        assert_eq!(laptop.m.decrypt(room, "alice", enc).unwrap().body, text);
    }
    // And from now on alice's client shares with the laptop too.
    alice.send(&app, room, "h2", "welcome, new laptop").await;
    assert_eq!(
        laptop.next_message(&app, room).await.1,
        "welcome, new laptop"
    );

    // A new recovery key drops the old backup.
    let fresh = RecoveryKey::generate().unwrap();
    app.put(
        "/api/keys/backup/info",
        json!(fresh.info(None).unwrap()),
        &bob.token,
    )
    .await;
    let now: KeyBackup =
        serde_json::from_value(get(&app, "/api/keys/backup", &bob.token).await).unwrap();
    assert!(now.keys.is_empty() && now.info.unwrap().salt.is_none());
    assert_eq!(
        app.delete("/api/keys/backup", &bob.token).await.status(),
        204
    );
    let gone: KeyBackup =
        serde_json::from_value(get(&app, "/api/keys/backup", &bob.token).await).unwrap();
    assert_eq!(gone, KeyBackup::default());
}
