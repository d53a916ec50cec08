//! TLS: versions, the CA's name constraints, leaf renewal, configured
//! certificates.

use crate::helpers::*;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio_rustls::TlsConnector;

/// Handshakes with `app` using only `version`; returns the leaf it served.
async fn handshake(
    app: &TestApp,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<CertificateDer<'static>, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(app.ca_der.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_protocol_versions(&[version])
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.addr).await?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    Ok(tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned())
}

#[tokio::test]
async fn tls_12_and_13_both_work_and_verify_against_the_ca() {
    let app = spawn_app().await;
    handshake(&app, &rustls::version::TLS13).await.unwrap();
    handshake(&app, &rustls::version::TLS12).await.unwrap();
}

#[tokio::test]
async fn tls_below_12_is_refused() {
    let app = spawn_app().await;
    // openssl ships with the base system; ask it for TLS 1.1.
    let out = tokio::process::Command::new("openssl")
        .args(["s_client", "-connect", &app.addr.to_string(), "-tls1_1"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl runs");
    assert!(!out.status.success(), "TLS 1.1 handshake must fail");
}

#[tokio::test]
async fn the_leaf_is_renewed_without_changing_the_pin() {
    let app = spawn_app().await;
    let pin = app.state.tls.pin_fingerprint();
    let before = handshake(&app, &rustls::version::TLS13).await.unwrap();
    let not_after = app.state.tls.leaf_not_after();
    assert!(not_after <= OffsetDateTime::now_utc() + Duration::days(366));
    let tls = &app.state.tls;
    assert!(
        !tls.renew_if_due(&app.config, OffsetDateTime::now_utc())
            .unwrap()
    );
    let later = OffsetDateTime::now_utc() + Duration::days(61);
    assert!(tls.renew_if_due(&app.config, later).unwrap());
    assert!(tls.leaf_not_after() >= not_after);
    let after = handshake(&app, &rustls::version::TLS13).await.unwrap();
    assert_ne!(before, after, "a new leaf is served");
    assert_eq!(
        tls.pin_fingerprint(),
        pin,
        "clients pin the CA, which stays"
    );
    let on_disk = CertificateDer::from_pem_file(app.data_dir().join("tls/cert.pem")).unwrap();
    assert_eq!(on_disk, after, "cert.pem holds the new leaf");
}

#[tokio::test]
async fn hostnames_outside_the_ca_are_refused_with_advice() {
    let app = spawn_app().await;
    let mut config = app.config.clone();
    config.hostnames = vec!["chat.example.com".into()];
    let err = securechat_server::tls::Tls::load(&config)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("chat.example.com"), "{err}");
    assert!(err.to_string().contains("remove ca.pem"), "{err}");
}

#[tokio::test]
async fn a_configured_certificate_is_served_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let app = spawn_with(|c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;
    let served = handshake(&app, &rustls::version::TLS13).await.unwrap();
    assert_eq!(served, *cert.der());
    assert_eq!(
        app.state.tls.pin_fingerprint(),
        securechat_server::tls::fingerprint(cert.der())
    );
    assert_eq!(app.get("/ca.pem", None).await.status(), 404);
    assert!(!app.data_dir().join("tls").exists(), "no CA is made");
}

/// Sends `head` over plain TCP to `addr` and returns the whole answer.
async fn plain_http(addr: std::net::SocketAddr, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut out))
        .await
        .expect("answered and closed")
        .unwrap();
    out
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_sent_to_https() {
    let app = spawn_app().await;
    let port = app.addr.port();
    let out = plain_http(
        app.addr,
        &format!(
            "GET /some/page?x=1 HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: test\r\n\r\n"
        ),
    )
    .await;
    assert!(
        out.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "\r\nLocation: https://localhost:{port}/some/page?x=1\r\n"
        )),
        "{out}"
    );
    // Without a usable Host: told what to do, sent nowhere.
    let out = plain_http(app.addr, "GET / HTTP/1.0\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("HTTPS only"), "{out}");
    assert!(!out.contains("Location"), "{out}");
    // HTTPS on the same port is unchanged.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[test]
fn a_redirect_port_sends_every_request_to_https() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::cli::server(dir.path())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--redirect-http",
            "127.0.0.1:0",
            "--log",
            "warn",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut https_port = None;
    let mut plain = None;
    for line in lines.by_ref().take(6) {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("SecureChat is listening on https://127.0.0.1:") {
            https_port = Some(url.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.strip_prefix("Plain HTTP on http://") {
            plain = Some(rest.split(' ').next().unwrap().to_owned());
            break;
        }
    }
    let (https_port, plain) = (
        https_port.expect("https port"),
        plain.expect("redirect port"),
    );
    let mut tcp = std::net::TcpStream::connect(&plain).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    tcp.write_all(b"GET /admin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    assert!(
        out.contains(&format!(
            "\r\nLocation: https://127.0.0.1:{https_port}/admin\r\n"
        )),
        "{out}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
