//! Operator endpoints, headers, Origin checks and graceful shutdown.

use crate::helpers::*;
use reqwest::StatusCode;
use securechat_proto::ServerMsg;
use serde_json::json;
use std::io::{Read, Write};

#[tokio::test]
async fn healthz_metrics_and_ca_pem() {
    let app = spawn_app().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), r#"{"status":"ok"}"#);

    let token = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&token).await;
    a.send_text(general(&w), "m", "counted").await;
    a.next().await;
    let _ = app.login("alice", "wrong password").await;
    let res = app.get("/metrics", None).await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for line in [
        "securechat_connections 1\n",
        "securechat_messages_total 1\n",
        "securechat_logins_failed_total 1\n",
        "securechat_rate_limited_total 0\n",
        "securechat_users_online 1\n",
        "# TYPE securechat_messages_total counter\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }

    let pem = app.get("/ca.pem", None).await.text().await.unwrap();
    let on_disk = std::fs::read_to_string(app.data_dir().join("tls/ca.pem")).unwrap();
    assert_eq!(pem, on_disk);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn every_https_answer_carries_hsts_and_safe_headers() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/nope"),
        ("GET", "/api/me"),
        ("POST", "/api/login"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert!(
            h["strict-transport-security"]
                .to_str()
                .unwrap()
                .contains("max-age="),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    let res = app.get("/nope", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(res).await.0, "not_found");
}

#[tokio::test]
async fn plain_http_gets_a_redirect_and_nothing_else() {
    let app = spawn_app().await;
    let addr = app.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        buf
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 308 "), "got {answer:?}");
    // No port in Host: the port it came in on.
    assert!(
        answer.contains(&format!(
            "\r\nLocation: https://localhost:{}/healthz\r\n",
            addr.port()
        )),
        "{answer:?}"
    );
    assert!(!answer.contains("status"), "no content: {answer:?}");
}

#[tokio::test]
async fn websocket_needs_a_session_and_a_same_origin() {
    let app = spawn_with(|c| c.allowed_origins = vec!["https://chat.example.com".into()]).await;
    let token = app.register_ok("alice").await;
    let bearer = ("authorization", format!("Bearer {token}"));

    let err = app.ws_with(&[], None).await.err().expect("no session");
    assert!(err.to_string().contains("401"), "{err}");

    let evil = ("origin", "https://evil.example".to_string());
    let err = app
        .ws_with(&[bearer.clone(), evil], None)
        .await
        .err()
        .expect("cross-site");
    assert!(err.to_string().contains("403"), "{err}");
    let null = ("origin", "null".to_string());
    assert!(app.ws_with(&[bearer.clone(), null], None).await.is_err());

    let own = ("origin", format!("https://localhost:{}", app.addr.port()));
    let mut c = app
        .ws_with(&[bearer.clone(), own], None)
        .await
        .expect("same origin");
    c.welcome().await;
    let configured = ("origin", "https://chat.example.com".to_string());
    let mut c = app
        .ws_with(&[bearer.clone(), configured], None)
        .await
        .expect("configured");
    c.welcome().await;

    // The cookie works for browsers.
    let cookie = ("cookie", format!("__Host-securechat_session={token}"));
    let mut c = app.ws_with(&[cookie], None).await.expect("cookie auth");
    c.welcome().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_keeps_acked_messages() {
    let mut app = spawn_app().await;
    let token = app.register_ok("alice").await;
    let (mut a, w) = app.connect(&token).await;
    a.send_text(general(&w), "last", "before shutdown").await;
    a.next_ack().await;
    let stopping = tokio::spawn(async move {
        app.stop().await;
        app
    });
    assert_eq!(a.expect_close().await.0, 1001);
    let app = stopping.await.unwrap();
    let app = app.restart().await;
    let (_, w) = app.connect(&token).await;
    assert_eq!(w.rooms[0].last_seq, 1);
    let _ = json!({});
}

#[tokio::test]
async fn storage_failures_answer_internal_without_details() {
    let app = spawn_app().await;
    let token = app.register_ok("olga").await;
    let (mut a, w) = app.connect(&token).await;
    // Stop the store's writer: every write fails from now on.
    let store = app.state.store.clone();
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
    a.send_text(general(&w), "lost", "cannot be stored").await;
    match a.next().await {
        ServerMsg::Error(e) => {
            assert_eq!(e.code, securechat_proto::ErrorCode::Internal);
            assert_eq!(e.client_msg_id.as_deref(), Some("lost"));
            assert!(
                !e.message.to_lowercase().contains("sqlite"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    let res = app.register("pavel", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        error_of(res).await,
        ("internal".into(), "internal error".into())
    );
}

#[tokio::test]
async fn the_web_app_is_served_with_a_strict_csp_and_nothing_else() {
    let app = spawn_app().await;
    let res = app.get("/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    // WebAssembly may compile (end-to-end encryption); scripts may not
    // be made from strings.
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/app/js/main.js">"#));
    assert!(!html.contains("<script>"), "no inline script");

    let js = app.get("/app/js/main.js", None).await;
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let css = app.get("/app/app.css", None).await;
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // Nothing outside web/ is reachable, however the path is spelled.
    for path in [
        "/app/../Cargo.toml",
        "/app/%2e%2e/Cargo.toml",
        "/app/..%2fCargo.toml",
        "/app/nope.js",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("[package]"), "{path}");
    }
}
