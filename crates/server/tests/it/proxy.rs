//! Behind a real reverse proxy: Debian's `haproxy` in front of the server's
//! plain-HTTP listener (`plain_bind`), on its own loopback address
//! (127.0.0.3) so it is told apart from the clients (127.0.0.2 and
//! 127.0.0.4). The login throttle sees each client's own address, a
//! client's forged `X-Forwarded-For` is not believed, and the WebSocket
//! works through the proxy.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

const HAPROXY: &str = "/usr/sbin/haproxy";
const PROXY_IP: &str = "127.0.0.3";

/// A haproxy on 127.0.0.3 in front of `backend`, killed when dropped.
struct Haproxy {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    fn start(backend: SocketAddr) -> Option<Haproxy> {
        if !std::path::Path::new(HAPROXY).exists() {
            assert!(
                std::env::var("CI").is_err(),
                "haproxy is missing: scripts/test.sh installs it"
            );
            eprintln!("skipped: {HAPROXY} is not installed (scripts/test.sh installs it)");
            return None;
        }
        let port = std::net::TcpListener::bind((PROXY_IP, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  maxconn 256\n\
                 defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  \
                 timeout server 30s\n  timeout tunnel 60s\n\
                 frontend chat\n  bind {PROXY_IP}:{port}\n  option forwardfor\n  \
                 default_backend securechat\n\
                 backend securechat\n  source {PROXY_IP}\n  server s1 {backend}\n"
            ),
        )
        .unwrap();
        let mut child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts");
        let addr: SocketAddr = format!("{PROXY_IP}:{port}").parse().unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Some(Haproxy {
                    child,
                    addr,
                    _dir: dir,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("haproxy did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-HTTP client whose connections leave from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login(
    client: &reqwest::Client,
    url: &str,
    password: &str,
    forged: Option<&str>,
) -> reqwest::Response {
    let mut req = client
        .post(url)
        .json(&json!({"username": "alice", "password": password}));
    if let Some(ip) = forged {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn behind_haproxy_each_client_is_throttled_by_its_own_address() {
    let (app, plain) = spawn_with_plain(|c| {
        c.trusted_proxies = vec![PROXY_IP.into()];
        c.login_attempts_per_ip = 3;
        c.login_attempts_per_account = 1000;
        c.login_account_slowdown_after = 1000;
    })
    .await;
    let Some(proxy) = Haproxy::start(plain) else {
        return;
    };
    app.register_ok("alice").await;
    let login_url = proxy.url("/api/login");

    // Client A guesses wrong through the proxy, forging another address
    // each time: it is throttled all the same.
    let a = client_from("127.0.0.2");
    let mut throttled = false;
    for i in 0..10 {
        let res = login(
            &a,
            &login_url,
            "wrong password",
            Some(&format!("198.51.100.{i}")),
        )
        .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "client A's guesses are throttled");

    // Client B, through the same proxy, logs in at once: the server told
    // them apart (without trusted_proxies both would be 127.0.0.3).
    let b = client_from("127.0.0.4");
    let res = login(&b, &login_url, PASSWORD, None).await;
    assert_eq!(res.status(), StatusCode::OK, "client B is not throttled");
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Directly (not through the proxy), A cannot claim to be someone else.
    let direct = app.http_from("127.0.0.2".parse().unwrap());
    let res = direct
        .post(app.url("/api/login"))
        .header("x-forwarded-for", "127.0.0.4")
        .json(&json!({"username": "alice", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "still A");

    // The WebSocket through the proxy: welcome, send, ack.
    let mut req = format!("ws://{}/ws", proxy.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.bind("127.0.0.4:0".parse().unwrap()).unwrap();
    let tcp = tcp.connect(proxy.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let next = async |ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>| loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str::<Value>(&t).unwrap();
        }
    };
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    let room = welcome["rooms"][0]["id"].clone();
    ws.send(Message::text(
        json!({"type": "send", "room": room, "client_msg_id": "via-proxy", "body": "through haproxy"})
            .to_string(),
    ))
    .await
    .unwrap();
    loop {
        let frame = next(&mut ws).await;
        if frame["type"] == "ack" {
            assert_eq!(frame["client_msg_id"], "via-proxy");
            break;
        }
        assert_ne!(frame["type"], "error", "{frame}");
    }
    let bodies = app
        .history_bodies(securechat_proto::RoomId(room.as_i64().unwrap()), &token)
        .await;
    assert!(bodies.iter().any(|b| b == "through haproxy"), "{bodies:?}");
}

#[test]
fn plain_http_outside_loopback_or_without_a_trusted_proxy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec![
                "--plain-bind",
                "0.0.0.0:8080",
                "--trusted-proxy",
                "10.0.0.1",
            ],
            "loopback",
        ),
        (vec!["--plain-bind", "127.0.0.1:8080"], "trusted_proxies"),
        (vec!["--trusted-proxy", "proxy.local"], "not an address"),
    ] {
        let out = crate::cli::server(dir.path())
            .args(&args)
            .args(["config", "check"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
