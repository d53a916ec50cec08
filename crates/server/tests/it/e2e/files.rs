//! Files in encrypted conversations: sealed by the sender's client,
//! uploaded as nameless ciphertext, carried by an encrypted message, opened
//! by members with the key inside it; what the server refuses on the way.

use super::{Dev, encrypted_room};
use crate::helpers::*;
use securechat_crypto::{decrypt_file, encrypt_file};
use securechat_proto::ErrorCode;
use securechat_proto::e2e::Encrypted;
use securechat_proto::ws::MessageEvent;
use serde_json::{Value, json};

/// `POST /api/rooms/{room}/files` with `query` and `body`.
async fn put(
    ep: &Endpoint,
    token: &str,
    room: impl std::fmt::Display,
    query: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    ep.http
        .post(ep.url(&format!("/api/rooms/{room}/files")))
        .query(query)
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A `send` frame of ciphertext that carries `file`.
fn carrying(room: impl serde::Serialize, cmid: &str, enc: &Encrypted, file: i64) -> Value {
    json!({"type": "send", "room": room, "client_msg_id": cmid, "encrypted": enc, "file": file})
}

#[tokio::test]
async fn an_encrypted_file_goes_up_sealed_and_opens_for_members_only() {
    let app = spawn_app().await;
    let mut devs = Vec::new();
    for n in ["alice", "bob", "eve"] {
        let token = app.register_ok(n).await;
        devs.push(Dev::new(&app, n, token).await);
    }
    let [mut alice, mut bob, eve]: [Dev; 3] = devs.try_into().ok().unwrap();
    let room = encrypted_room(&app, &alice.token, "legal", &["bob"]).await;
    let plain = b"CONTRACT-7731 the signed terms".repeat(500);

    // A name or a caption in the clear is refused: they belong inside.
    let named = put(
        &app,
        &alice.token,
        room,
        &[("name", "contract.pdf")],
        plain.clone(),
    )
    .await;
    assert_eq!(named.status(), 400);
    let captioned = put(
        &app,
        &alice.token,
        room,
        &[("caption", "terms")],
        plain.clone(),
    )
    .await;
    assert_eq!(captioned.status(), 400);

    // Sealed and uploaded: stored nameless, no message yet.
    let (sealed, secrets) = encrypt_file(&plain, "contract.pdf", "application/pdf").unwrap();
    let res = put(&app, &alice.token, room, &[], sealed.clone()).await;
    assert_eq!(res.status(), 201);
    let up: Value = res.json().await.unwrap();
    assert!(up.get("message").is_none(), "no message yet: {up}");
    let file = up["file"]["id"].as_i64().unwrap();
    assert_eq!(up["file"]["name"], "");
    assert_eq!(up["file"]["media_type"], "application/octet-stream");
    assert_eq!(up["file"]["image"], false);
    assert_eq!(
        up["file"]["sha256"], secrets.sha256,
        "stored by its ciphertext's hash"
    );
    let no_carrier = app
        .get(&format!("/api/files/{file}/message"), Some(&alice.token))
        .await;
    assert_eq!(no_carrier.status(), 404, "no message carries it yet");

    // A file in the clear cannot ride a send frame, nor can someone else's
    // file, nor one of another room.
    let text =
        json!({"type": "send", "room": room, "client_msg_id": "t", "body": "hi", "file": file});
    assert_eq!(
        alice.send_frame(text).await.unwrap_err(),
        ErrorCode::BadRequest
    );
    bob.share(&app, room).await;
    let bobs = bob
        .m
        .encrypt_with_file(room, "", Some(secrets.clone()))
        .unwrap();
    assert_eq!(
        bob.send_frame(carrying(room, "b1", &bobs, file))
            .await
            .unwrap_err(),
        ErrorCode::NotFound,
        "only its uploader attaches a file"
    );
    let other = encrypted_room(&app, &alice.token, "other", &["bob"]).await;
    alice.share(&app, other).await;
    let elsewhere = alice
        .m
        .encrypt_with_file(other, "", Some(secrets.clone()))
        .unwrap();
    assert_eq!(
        alice
            .send_frame(carrying(other, "o1", &elsewhere, file))
            .await
            .unwrap_err(),
        ErrorCode::NotFound,
        "a file stays in the room it was uploaded to"
    );

    // Alice's encrypted message carries it; once only.
    alice.share(&app, room).await;
    let enc = alice
        .m
        .encrypt_with_file(room, "the terms, signed", Some(secrets.clone()))
        .unwrap();
    let ack = alice
        .send_frame(carrying(room, "f1", &enc, file))
        .await
        .unwrap();
    let again = alice
        .m
        .encrypt_with_file(room, "again", Some(secrets.clone()))
        .unwrap();
    assert_eq!(
        alice
            .send_frame(carrying(room, "f2", &again, file))
            .await
            .unwrap_err(),
        ErrorCode::NotFound,
        "a file is carried by one message"
    );
    // A retry of the same send is the same message.
    let retry = alice
        .send_frame(carrying(room, "f1", &enc, file))
        .await
        .unwrap();
    assert_eq!(retry.id, ack.id);

    // Bob finds the message, opens it, downloads and opens the file.
    let (from, caption) = bob.next_message(&app, room).await;
    assert_eq!(
        (from.as_str(), caption.as_str()),
        ("alice", "the terms, signed")
    );
    let carrier: MessageEvent = {
        let v = app
            .get_json(&format!("/api/files/{file}/message"), &bob.token)
            .await;
        assert_eq!(v["type"], "message");
        serde_json::from_value(v).unwrap()
    };
    assert_eq!(carrier.id, ack.id);
    assert_eq!(carrier.file.as_ref().unwrap().id.0, file);
    let opened = bob
        .m
        .decrypt(room, "alice", carrier.encrypted.as_ref().unwrap())
        .unwrap();
    let got = opened.file.expect("the message holds the file's secrets");
    assert_eq!(got.name, "contract.pdf");
    let bytes = app
        .get(&format!("/api/files/{file}"), Some(&bob.token))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        bytes.as_ref(),
        sealed.as_slice(),
        "the server hands out ciphertext"
    );
    assert_eq!(decrypt_file(&bytes, &got).unwrap(), plain);

    // An outsider learns nothing: not the file, not its message.
    for path in [
        format!("/api/files/{file}"),
        format!("/api/files/{file}/message"),
    ] {
        assert_eq!(
            app.get(&path, Some(&eve.token)).await.status(),
            404,
            "{path}"
        );
    }
    // Deleted with its message.
    let del = app
        .http
        .delete(app.url(&format!("/api/rooms/{room}/messages/{}", ack.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert!(del.status().is_success());
    for path in [
        format!("/api/files/{file}"),
        format!("/api/files/{file}/message"),
    ] {
        assert_eq!(
            app.get(&path, Some(&bob.token)).await.status(),
            404,
            "{path}"
        );
    }
}

#[tokio::test]
async fn plain_rooms_still_name_their_files() {
    let app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let room = app.new_room(&token, "open", "public").await;
    let nameless = put(&app, &token, room, &[], b"x".to_vec()).await;
    assert_eq!(nameless.status(), 400, "a plain upload names its file");
    let ok = put(&app, &token, room, &[("name", "a.txt")], b"x".to_vec()).await;
    assert_eq!(ok.status(), 201);
    let up: Value = ok.json().await.unwrap();
    assert_eq!(up["message"]["type"], "message");
    let file = up["file"]["id"].as_i64().unwrap();
    let carrier = app
        .get_json(&format!("/api/files/{file}/message"), &token)
        .await;
    assert_eq!(carrier["id"], up["message"]["id"]);
}
