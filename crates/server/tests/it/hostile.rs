//! Hostile input. Each test attacks a real server and then checks three
//! things: it is still up, it serves the next honest client at once, and
//! every message acknowledged before the attack is still in history.
//!
//! Brute-force logins, stolen sessions after logout, cross-site WebSockets,
//! floods, oversized and binary frames have their own tests in `auth`,
//! `ops` and `limits`.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt, stream};
use reqwest::StatusCode;
use securechat_proto::{ErrorCode, RoomId, ServerMsg};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Honest clients come from another loopback address than the attacker.
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// "At once", generous enough for a loaded 2-core CI machine.
const AT_ONCE: Duration = Duration::from_secs(5);

/// What existed before the attack: a user, their room, acked messages.
struct Before {
    token: String,
    room: RoomId,
    acked: Vec<String>,
}

/// Alice posts three messages and sees them acked.
async fn before_attack(app: &TestApp) -> Before {
    let token = app.register_ok("alice").await;
    let (mut c, w) = app.connect(&token).await;
    let room = general(&w);
    let mut acked = Vec::new();
    for i in 0..3 {
        let body = format!("before the attack {i}");
        c.send_text(room, &format!("b{i}"), &body).await;
        c.next_ack().await;
        acked.push(body);
    }
    Before { token, room, acked }
}

/// A new user registers from `from`, connects, posts and is acked within
/// [`AT_ONCE`]; then history holds everything acked before, plus this.
async fn honest_client_is_served(app: &TestApp, before: &Before, from: IpAddr, name: &str) {
    let started = Instant::now();
    let res = app
        .http_from(from)
        .post(app.url("/api/register"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), StatusCode::CREATED, "{name} registers");
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = app.ws_from(&token, from).await.expect("connects");
    c.welcome().await;
    let body = format!("{name} is served");
    c.send_text(before.room, "honest", &body).await;
    c.next_ack().await;
    assert!(
        started.elapsed() < AT_ONCE,
        "{name} waited {:?}",
        started.elapsed()
    );
    let bodies = app.history_bodies(before.room, &before.token).await;
    for b in before
        .acked
        .iter()
        .map(String::as_str)
        .chain([body.as_str()])
    {
        assert_eq!(
            bodies.iter().filter(|x| **x == b).count(),
            1,
            "{b:?} in {bodies:?}"
        );
    }
}

/// Reads until the peer closes; true if it did within `within`.
async fn closed_within(s: &mut (impl AsyncRead + Unpin), within: Duration) -> bool {
    let mut buf = [0u8; 512];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics", None).await.text().await.unwrap()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("securechat_{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn slowloris_handshakes_and_headers_are_cut_off() {
    let app = spawn_with(|c| c.handshake_timeout_ms = 1000).await;
    let before = before_attack(&app).await;
    // 30 sockets that say nothing, 30 that send half a TLS record header.
    let mut silent = Vec::new();
    for i in 0..60 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        }
        silent.push(s);
    }
    // 10 that finish TLS, then dribble request headers a byte at a time.
    let mut dribblers = Vec::new();
    for _ in 0..10 {
        let mut tls = app.raw_tls().await;
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        dribblers.push(tls);
    }
    let dribbling = tokio::spawn(async move {
        // A byte every 100 ms for 4 s: far past the 1 s deadline.
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for d in dribblers.iter_mut() {
                // Writes fail once the server has cut the connection.
                let _ = d.write_all(b"X").await;
                let _ = d.flush().await;
            }
        }
        // Whatever is still open must be closed by now: a read ends.
        for d in dribblers.iter_mut() {
            let ended = closed_within(d, Duration::from_secs(3)).await;
            assert!(ended, "a dribbling request was not cut off");
        }
    });
    // While all of that is pending, an honest client gets through.
    honest_client_is_served(&app, &before, LOCAL, "bob").await;
    for s in silent.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(5)).await,
            "a silent handshake was not cut off"
        );
    }
    dribbling.await.unwrap();
    let m = metrics(&app).await;
    assert!(metric(&m, "handshakes_failed_total") >= 60, "{m}");
    honest_client_is_served(&app, &before, LOCAL, "carol").await;
}

#[tokio::test]
async fn thousands_of_idle_sockets_from_one_address_are_capped() {
    const FLOOD: usize = 5_000;
    let app = spawn_app().await;
    let cap = app.config.max_pending_per_ip;
    let before = before_attack(&app).await;
    // Alice stays connected from the attacked address throughout: an
    // authenticated WebSocket does not count against the cap.
    let (mut alice, _) = app.connect(&before.token).await;
    // The test's own HTTPS client keeps a connection alive: it counts.
    let held = app.state.peers.open(LOCAL);
    assert!(held <= 1, "{held}");

    let addr = app.addr;
    let mut flood: Vec<TcpStream> = stream::iter(0..FLOOD)
        .map(|_| async move { TcpStream::connect(addr).await.expect("connect") })
        .buffer_unordered(100)
        .collect()
        .await;
    // The server closes every connection over the cap at once.
    let mut refused = 0;
    let checks = flood
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_secs(3)));
    for closed in futures_util::future::join_all(checks).await {
        refused += usize::from(closed);
    }
    assert_eq!(
        refused,
        FLOOD - (cap - held),
        "all over the cap were closed"
    );
    assert_eq!(app.state.peers.open(LOCAL), cap);
    let m = metrics(&app).await;
    assert_eq!(
        metric(&m, "connections_refused_total"),
        (FLOOD - (cap - held)) as u64
    );

    // Another address is served at once, and alice hears it.
    honest_client_is_served(&app, &before, OTHER, "bob").await;
    match alice
        .next_where(|m| matches!(m, ServerMsg::Message(_)))
        .await
    {
        ServerMsg::Message(m) => assert_eq!(m.body, "bob is served"),
        _ => unreachable!(),
    }
    // Once the attacker lets go, the address is welcome again.
    drop(flood);
    tokio::time::timeout(AT_ONCE, async {
        while app.state.peers.open(LOCAL) > held {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server lets go of the attacker's connections");
    honest_client_is_served(&app, &before, LOCAL, "carol").await;
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431() {
    let app = spawn_app().await;
    let before = before_attack(&app).await;
    for request in [
        format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
            "a".repeat(200 * 1024)
        ),
        format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
            (0..500)
                .map(|i| format!("X-H{i}: v\r\n"))
                .collect::<String>()
        ),
    ] {
        let mut tls = app.raw_tls().await;
        // The server may answer and close before everything is written.
        let _ = tls.write_all(request.as_bytes()).await;
        let status = status_line(&mut tls).await;
        assert!(
            status.starts_with("HTTP/1.1 431"),
            "expected 431, got {status:?}"
        );
    }
    honest_client_is_served(&app, &before, LOCAL, "bob").await;
}

#[tokio::test]
async fn huge_and_deeply_nested_json_is_refused_cleanly() {
    let app = spawn_app().await;
    let before = before_attack(&app).await;
    // HTTP: a body far over the API's limit, then one nested too deep.
    let huge = format!(r#"{{"username":"{}","password":"x"}}"#, "a".repeat(4 << 20));
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let res = app
        .http
        .post(app.url("/api/rooms"))
        .bearer_auth(&before.token)
        .header("content-type", "application/json")
        .body(nested.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (code, _) = error_of(res).await;
    assert_eq!(code, "bad_request");

    // WebSocket: nested JSON inside the frame limit is answered with an
    // error and the connection stays usable.
    let (mut c, _) = app.connect(&before.token).await;
    for frame in [
        nested.clone(),
        format!(
            r#"{{"type":"send","room":{},"client_msg_id":"n","body":"x"}}"#,
            nested
        ),
        format!(r#"{{"type":"send","x":{}"#, "{\"a\":".repeat(8000)),
    ] {
        c.stream
            .send(tokio_tungstenite::tungstenite::Message::text(frame))
            .await
            .unwrap();
        match c.next_non_presence().await {
            ServerMsg::Error(e) => assert_eq!(e.code, ErrorCode::BadRequest),
            other => panic!("{other:?}"),
        }
    }
    c.send_text(before.room, "after", "still here").await;
    c.next_ack().await;
    honest_client_is_served(&app, &before, LOCAL, "bob").await;
}

/// A client-to-server WebSocket frame, masked as the protocol requires.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x5a, 0x13, 0xc7, 0x2e];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

const TEXT: u8 = 0x1;
const CONT: u8 = 0x0;
const PING: u8 = 0x9;

/// Writes raw bytes under an open WebSocket.
async fn write_raw(c: &mut Client, bytes: &[u8]) {
    let tls = c.stream.get_mut();
    // The server may close before reading everything.
    let _ = tls.write_all(bytes).await;
    let _ = tls.flush().await;
}

#[tokio::test]
async fn fragmented_frame_abuse_closes_only_the_abuser() {
    // The well-behaved connection sends after every abuse: no rate limit.
    let app = spawn_with(|c| c.burst = 1000).await;
    let before = before_attack(&app).await;
    let send = |id: &str| {
        json!({"type": "send", "room": before.room, "client_msg_id": id, "body": "in pieces"})
            .to_string()
    };

    // Honest fragmentation, with a ping between the pieces, is fine.
    let (mut c, _) = app.connect(&before.token).await;
    let msg = send("frag");
    let (a, rest) = msg.as_bytes().split_at(10);
    let (b, z) = rest.split_at(10);
    let mut bytes = frame(false, TEXT, a);
    bytes.extend(frame(false, CONT, b));
    bytes.extend(frame(true, PING, b"hi"));
    bytes.extend(frame(true, CONT, z));
    write_raw(&mut c, &bytes).await;
    assert_eq!(c.next_ack().await.client_msg_id, "frag");

    let max = app.config.max_frame_bytes;
    let abuses: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a message of 1-byte fragments over the size limit",
            {
                let mut v = frame(false, TEXT, b"[");
                for _ in 0..max + 10 {
                    v.extend(frame(false, CONT, b" "));
                }
                v
            },
            1009,
        ),
        (
            "a continuation with nothing to continue",
            frame(true, CONT, b"{}"),
            1002,
        ),
        (
            "a new message while one is still open",
            [frame(false, TEXT, b"{"), frame(true, TEXT, b"{}")].concat(),
            1002,
        ),
        ("a fragmented ping", frame(false, PING, b"x"), 1002),
        (
            "a ping with a 126-byte payload",
            frame(true, PING, &[b'p'; 126]),
            1002,
        ),
        ("a reserved opcode", frame(true, 0x3, b"?"), 1002),
        (
            "a reserved bit",
            {
                let mut f = frame(true, TEXT, b"{}");
                f[0] |= 0x40;
                f
            },
            1002,
        ),
        ("an unmasked frame", vec![0x81, 0x02, b'{', b'}'], 1002),
        (
            "invalid UTF-8 in a text frame",
            frame(true, TEXT, b"{\"type\":\"ping\",\"x\":\"\xff\xfe\"}"),
            1007,
        ),
        (
            "invalid UTF-8 split across fragments",
            [
                frame(false, TEXT, b"\"\xe2\x82"),
                frame(true, CONT, b"\xff\""),
            ]
            .concat(),
            1007,
        ),
    ];
    for (i, (what, bytes, code)) in abuses.into_iter().enumerate() {
        let (mut m, _) = app.connect(&before.token).await;
        write_raw(&mut m, &bytes).await;
        match m.next_close_or_end().await {
            Some((got, _)) => assert_eq!(got, code, "{what}"),
            None => panic!("{what}: the connection ended without a close frame"),
        }
        // The well-behaved connection of the same user is untouched.
        c.send_text(before.room, &format!("after-{i}"), "still here")
            .await;
        c.next_ack().await;
    }
    let m = metrics(&app).await;
    assert!(metric(&m, "bad_frames_total") >= 10, "{m}");
    honest_client_is_served(&app, &before, LOCAL, "bob").await;
}

#[tokio::test]
async fn injection_shaped_strings_are_stored_and_shown_verbatim() {
    // Many rooms are made here: the action budget is not what is tested.
    let app = spawn_with(|c| c.action_burst = 1000).await;
    let before = before_attack(&app).await;
    let nasty = [
        "'; DROP TABLE users; --",
        "\" OR \"1\"=\"1",
        "1; DELETE FROM events WHERE 1=1",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(document.cookie)>",
        "{{7*7}} ${7*7} %s %n",
        "Robert'); DROP TABLE rooms;--",
    ];
    // Usernames and room names have a strict alphabet: refused, clearly.
    for s in nasty {
        let res = app.register(s, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{s}");
        let res = app
            .post(
                "/api/rooms",
                json!({"name": s, "kind": "public"}),
                Some(&before.token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{s}");
    }
    // Free text is stored and returned byte for byte: bodies, edits,
    // topics, file names, client_msg_ids.
    let (mut c, _) = app.connect(&before.token).await;
    let room = app
        .post_room(
            "/api/rooms",
            json!({"name": "ops", "kind": "public"}),
            &before.token,
            201,
        )
        .await;
    for (i, s) in nasty.iter().enumerate() {
        let id: String = s.chars().filter(|c| c.is_ascii_graphic()).collect();
        c.send_text(room.id, &id, s).await;
        let ack = c.next_ack().await;
        assert_eq!(ack.client_msg_id, id);
        let res = app
            .patch(
                &format!("/api/rooms/{}/messages/{}", room.id, ack.id),
                json!({"body": format!("{s} (edited)")}),
                &before.token,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{s}");
        let res = app
            .patch(
                &format!("/api/rooms/{}", room.id),
                json!({"topic": s}),
                &before.token,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{s}");
        let rooms = app.get_json("/api/rooms", &before.token).await;
        let topic = rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "ops")
            .unwrap()["topic"]
            .clone();
        assert_eq!(topic, *s);
        let res = app
            .http
            .post(app.url(&format!("/api/rooms/{}/files", room.id)))
            .query(&[("name", format!("{s}.txt"))])
            .bearer_auth(&before.token)
            .header("content-type", "text/plain")
            .body(format!("file {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{s}");
        let posted: Value = res.json().await.unwrap();
        let name = posted["file"]["name"].as_str().unwrap();
        assert_eq!(
            name,
            securechat_proto::validate::sanitize_file_name(&format!("{s}.txt"))
        );
        assert!(!name.contains('/') && !name.starts_with('.'));
    }
    let bodies = app.history_bodies(room.id, &before.token).await;
    for s in nasty {
        assert!(bodies.contains(&format!("{s} (edited)")), "{s}: {bodies:?}");
    }
    // Path tricks in file names never name a place on disk: the name is
    // only a label, the bytes are stored by their hash.
    for (i, trick) in [
        "../../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/shadow",
        "....//....//x",
        "%2e%2e%2f%2e%2e%2fx",
        "nul\u{0}byte",
        ".htaccess",
        "..",
    ]
    .iter()
    .enumerate()
    {
        let res = app
            .http
            .post(app.url(&format!("/api/rooms/{}/files", room.id)))
            .query(&[("name", trick)])
            .bearer_auth(&before.token)
            .body(format!("trick {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{trick}");
        let up: Value = res.json().await.unwrap();
        let name = up["file"]["name"].as_str().unwrap();
        assert!(
            !name.is_empty() && !name.contains(['/', '\\', '\0']) && !name.starts_with('.'),
            "{trick} became {name:?}"
        );
        let res = app
            .get(
                &format!("/api/files/{}", up["file"]["id"]),
                Some(&before.token),
            )
            .await;
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert_eq!(res.text().await.unwrap(), format!("trick {i}"));
    }
    let stray: Vec<_> = walk(&app.data_dir())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            p.starts_with(app.data_dir().join("files"))
                && !(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    assert!(stray.is_empty(), "files not named by their hash: {stray:?}");
    // The tables those strings name are all still there.
    let res = app.login("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    honest_client_is_served(&app, &before, LOCAL, "bob").await;
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
