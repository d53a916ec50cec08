//! File transfer: streamed uploads stored by SHA-256, member-only downloads
//! with Range, limits that leave nothing behind, safe serving, the sweep.

use crate::helpers::*;
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use securechat_proto::ServerMsg;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sha_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic bytes that do not compress to nothing.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    room: impl std::fmt::Display,
    name: &str,
    kind: &str,
    data: Vec<u8>,
) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/api/rooms/{room}/files")))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", kind)
        .body(data)
        .send()
        .await
        .unwrap()
}

/// Blobs on disk, temporary files included.
fn files_on_disk(dir: &Path) -> (usize, usize) {
    let root = dir.join("files");
    let count = |p: &Path| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    let tmp = count(&root.join("tmp"));
    let blobs = std::fs::read_dir(&root)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name() != "tmp" && e.path().is_dir())
                .map(|e| count(&e.path()))
                .sum()
        })
        .unwrap_or(0);
    (blobs, tmp)
}

#[tokio::test]
async fn upload_download_round_trip_dedupe_and_live_message() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let bob = app.register_ok("bob").await;
    let (mut b, w) = app.connect(&bob).await;
    let room = general(&w);
    let data = content(5 * 1024 * 1024 + 123, 7);
    let res = upload(
        &app,
        &alice,
        room,
        "../../report Q3.pdf",
        "application/pdf",
        data.clone(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let up: Value = res.json().await.unwrap();
    assert_eq!(
        up["file"]["name"], "report Q3.pdf",
        "path parts are dropped"
    );
    assert_eq!(up["file"]["size"], data.len());
    assert_eq!(up["file"]["sha256"], sha_hex(&data));
    let id = up["file"]["id"].as_i64().unwrap();
    // Bob is told at once, like any message, with the attachment.
    match b.next_non_presence().await {
        ServerMsg::Message(m) => {
            let f = m.file.expect("attachment");
            assert_eq!(
                (f.id.0, f.name.as_str(), f.size),
                (id, "report Q3.pdf", data.len() as u64)
            );
        }
        other => panic!("{other:?}"),
    }
    let res = app.get(&format!("/api/files/{id}"), Some(&bob)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let got = res.bytes().await.unwrap();
    assert_eq!(sha_hex(&got), sha_hex(&data), "same bytes back");

    // The same content again is stored once.
    let res = upload(
        &app,
        &bob,
        room,
        "copy.pdf",
        "application/pdf",
        data.clone(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(files_on_disk(&app.data_dir()), (1, 0));
    // And it replays on sync, with the attachment.
    let history = app
        .get_json(&format!("/api/rooms/{room}/events"), &bob)
        .await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["file"]["name"], "copy.pdf");
}

#[tokio::test]
async fn downloads_are_for_members_only_and_resume_with_range() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let carol = app.register_ok("carol").await;
    let private = app
        .post_room(
            "/api/rooms",
            json!({"name": "secret", "kind": "private"}),
            &alice,
            201,
        )
        .await;
    let data = content(300_000, 3);
    let up: Value = upload(
        &app,
        &alice,
        private.id,
        "plans.bin",
        "application/octet-stream",
        data.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = up["file"]["id"].as_i64().unwrap();
    let path = format!("/api/files/{id}");
    // Outsiders get the same 404 as for a file that does not exist.
    let outsider = app.get(&path, Some(&carol)).await;
    assert_eq!(outsider.status(), StatusCode::NOT_FOUND);
    let missing = app.get("/api/files/999999", Some(&carol)).await;
    assert_eq!(error_of(outsider).await, error_of(missing).await);
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = upload(&app, &carol, private.id, "x", "text/plain", b"no".to_vec()).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "outsiders cannot post files either, nor learn that the room exists"
    );

    // Resuming a broken download.
    let ranged = |range: &'static str| {
        app.http
            .get(app.url(&path))
            .bearer_auth(&alice)
            .header("range", range)
            .send()
    };
    let res = ranged("bytes=100000-").await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 100000-299999/300000");
    assert_eq!(&res.bytes().await.unwrap()[..], &data[100_000..]);
    let res = ranged("bytes=10-19").await.unwrap();
    assert_eq!(&res.bytes().await.unwrap()[..], &data[10..20]);
    let res = ranged("bytes=-5").await.unwrap();
    assert_eq!(&res.bytes().await.unwrap()[..], &data[data.len() - 5..]);
    let res = ranged("bytes=400000-").await.unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"], "bytes */300000");
}

#[tokio::test]
async fn oversize_and_interrupted_uploads_leave_nothing_behind() {
    let app = spawn_with(|c| c.max_upload_bytes = 1024 * 1024).await;
    let alice = app.register_ok("alice").await;
    let room = app.get_json("/api/rooms", &alice).await["rooms"][0]["id"]
        .as_i64()
        .unwrap();
    let res = upload(
        &app,
        &alice,
        room,
        "big.bin",
        "application/octet-stream",
        content(2 * 1024 * 1024, 1),
    )
    .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(res).await.0, "too_large");
    assert_eq!(files_on_disk(&app.data_dir()), (0, 0));

    // Chunked (no Content-Length), so the cut happens while streaming.
    let mut conn = app.raw_tls().await;
    let head = format!(
        "POST /api/rooms/{room}/files?name=chunked.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {alice}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..40 {
        let chunk = content(64 * 1024, 9);
        conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        conn.write_all(&chunk).await.unwrap();
        conn.write_all(b"\r\n").await.unwrap();
    }
    let mut answer = vec![0u8; 512];
    let n = conn.read(&mut answer).await.unwrap_or(0);
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    drop(conn);

    // A client that vanishes half-way through.
    let mut conn = app.raw_tls().await;
    let head = format!(
        "POST /api/rooms/{room}/files?name=half.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {alice}\r\nContent-Length: 900000\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&content(400_000, 2)).await.unwrap();
    conn.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(conn);
    let mut clean = false;
    for _ in 0..50 {
        if files_on_disk(&app.data_dir()) == (0, 0) {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(clean, "leftovers: {:?}", files_on_disk(&app.data_dir()));
    let history = app
        .get_json(&format!("/api/rooms/{room}/events"), &alice)
        .await;
    assert_eq!(
        history["events"].as_array().unwrap().len(),
        0,
        "no message for a failed upload"
    );
}

#[tokio::test]
async fn uploaded_html_and_svg_never_run_and_images_are_checked() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let room = app.get_json("/api/rooms", &alice).await["rooms"][0]["id"]
        .as_i64()
        .unwrap();
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec();
    let png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    for (name, kind, data, image) in [
        ("page.html", "text/html", html, false),
        ("icon.svg", "image/svg+xml", svg, false),
        ("dot.png", "image/png", png, true),
    ] {
        let up: Value = upload(&app, &alice, room, name, kind, data)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(up["file"]["image"], image, "{name}");
        let id = up["file"]["id"].as_i64().unwrap();
        let res = app
            .get(&format!("/api/files/{id}?inline=true"), Some(&alice))
            .await;
        let h = res.headers();
        let ct = h["content-type"].to_str().unwrap();
        let cd = h["content-disposition"].to_str().unwrap();
        if image {
            assert_eq!((ct, cd.starts_with("inline")), ("image/png", true));
        } else {
            assert_eq!(
                ct, "application/octet-stream",
                "{name} is never served as markup"
            );
            assert!(cd.starts_with("attachment"), "{name}");
        }
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn deleting_the_message_removes_the_file_and_the_sweep_frees_disk() {
    let app = spawn_with(|c| c.uploads_per_minute = 3).await;
    let alice = app.register_ok("alice").await;
    let room = app.get_json("/api/rooms", &alice).await["rooms"][0]["id"]
        .as_i64()
        .unwrap();
    let up = |name: &'static str, seed| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let v: Value = upload(
                app,
                &alice,
                room,
                name,
                "application/octet-stream",
                content(50_000, seed),
            )
            .await
            .json()
            .await
            .unwrap();
            (
                v["file"]["id"].as_i64().unwrap(),
                v["message"]["id"].as_i64().unwrap(),
            )
        }
    };
    let (one, one_msg) = up("one.bin", 1).await;
    let (_same, _) = up("same-bytes.bin", 1).await;
    let (two, two_msg) = up("two.bin", 2).await;
    let res = upload(
        &app,
        &alice,
        room,
        "four.bin",
        "application/octet-stream",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "per-user upload limit"
    );
    assert_eq!(files_on_disk(&app.data_dir()).0, 2);

    for msg in [one_msg, two_msg] {
        assert_eq!(
            app.delete(&format!("/api/rooms/{room}/messages/{msg}"), &alice)
                .await
                .status(),
            204
        );
    }
    for id in [one, two] {
        assert_eq!(
            app.get(&format!("/api/files/{id}"), Some(&alice))
                .await
                .status(),
            404
        );
    }
    let removed = app.state.blobs.sweep(&app.state.store).await.unwrap();
    assert_eq!(
        removed, 1,
        "two.bin's bytes go; one.bin's stay for same-bytes.bin"
    );
    assert_eq!(files_on_disk(&app.data_dir()).0, 1);
}

/// Resident memory (VmRSS) of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn memory_stays_flat_while_a_large_file_streams() {
    // The real binary in its own process, so its memory is measured alone.
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_securechat-server"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--bind", "127.0.0.1:0", "--log", "warn"])
        .env_remove("SECURECHAT_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut first)
        .await
        .unwrap();
    let port: u16 = first.trim().rsplit(':').next().unwrap().parse().unwrap();
    securechat_server::install_crypto_provider();
    let ca =
        rustls::pki_types::CertificateDer::from_pem_file(dir.path().join("tls/ca.pem")).unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(&ca))
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let reg: Value = http
        .post(format!("{base}/api/register"))
        .json(&json!({"username": "big", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reg["token"].as_str().unwrap().to_owned();
    let small = http
        .post(format!("{base}/api/rooms/1/files?name=warmup.bin"))
        .bearer_auth(&token)
        .body(content(100_000, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), StatusCode::CREATED);
    let before = rss_kib(pid);
    // Sample the server's memory all through the upload.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            max
        })
    };

    // 64 MiB, written as it is generated: the client holds 64 KiB at a time.
    let size: usize = 64 * 1024 * 1024;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut conn = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_tls(&ca)))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let head = format!(
        "POST /api/rooms/1/files?name=huge.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut hasher = Sha256::new();
    let chunk_len = 64 * 1024;
    for i in 0..size / chunk_len {
        let chunk = content(chunk_len, (i % 251) as u8);
        hasher.update(&chunk);
        conn.write_all(&chunk).await.unwrap();
    }
    conn.flush().await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let expected: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        answer.contains(&expected),
        "the server hashed the same bytes"
    );
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let max = sampler.await.unwrap();
    let growth = max.saturating_sub(before);
    eprintln!(
        "upload of 64 MiB: server RSS {before} KiB before, at most {max} KiB during (+{growth} KiB)"
    );
    assert!(
        growth < 16 * 1024,
        "server memory grew by {growth} KiB during a 64 MiB upload"
    );
    child.kill().await.ok();
}

#[tokio::test]
async fn a_retried_upload_is_stored_once() {
    let app = spawn_app().await;
    let alice = app.register_ok("alice").await;
    let send = || {
        app.http
            .post(app.url("/api/rooms/1/files"))
            .query(&[("name", "retry.txt"), ("client_msg_id", "upload-1")])
            .bearer_auth(&alice)
            .body("the same bytes")
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert_eq!(
        again["file"]["id"], first["file"]["id"],
        "the first file stands"
    );
    let rows = app.file_rows().await;
    assert_eq!(rows, 1, "no file row without a message");
    let history = app.get_json("/api/rooms/1/events", &alice).await;
    let files = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"]["name"] == "retry.txt")
        .count();
    assert_eq!(files, 1);
}
