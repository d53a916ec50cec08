//! Public TLS with ACME, against Debian's `pebble` (Let's Encrypt's test
//! CA) on loopback, with `pebble-challtestsrv` as its DNS (every name is
//! 127.0.0.1). The real server binary gets a certificate for `chat.test`
//! through HTTP-01 on its plain-HTTP port, serves it, keeps it across a
//! restart, and renews one that is about to end.

use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const PEBBLE: &str = "/usr/bin/pebble";
const CHALLTESTSRV: &str = "/usr/bin/pebble-challtestsrv";
const DOMAIN: &str = "chat.test";

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// pebble and its DNS, serving ACME at the returned directory URL; the
/// CA file its HTTPS is signed with; its management port.
struct Pebble {
    _dns: Killed,
    _ca: Killed,
    directory: String,
    tls_ca: std::path::PathBuf,
    management: u16,
}

fn start_pebble(dir: &Path, http_port: u16) -> Pebble {
    assert!(
        Path::new(PEBBLE).exists(),
        "pebble is missing: scripts/test.sh installs it (apt-get install pebble)"
    );
    // pebble's own HTTPS: a self-signed certificate for 127.0.0.1.
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("pebble.pem"), dir.join("pebble.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (dns_port, dns_mgmt, acme_port, management, tls_port) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let dns = Killed(
        Command::new(CHALLTESTSRV)
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv starts"),
    );
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme_port}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": cert_path, "privateKey": key_path,
        "httpPort": http_port, "tlsPort": tls_port,
        "ocspResponderURL": "", "externalAccountBindingRequired": false,
    }});
    let config_path = dir.join("pebble.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let ca = Killed(
        Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts"),
    );
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", acme_port)).is_err() {
        assert!(Instant::now() < until, "pebble did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Pebble {
        _dns: dns,
        _ca: ca,
        directory: format!("https://127.0.0.1:{acme_port}/dir"),
        tls_ca: cert_path,
        management,
    }
}

/// The root pebble issues certificates under (it makes a new one at
/// every start).
async fn pebble_root(p: &Pebble) -> CertificateDer<'static> {
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(
            rustls::ClientConfig::builder()
                .with_root_certificates({
                    let mut roots = rustls::RootCertStore::empty();
                    roots
                        .add(CertificateDer::from_pem_file(&p.tls_ca).unwrap())
                        .unwrap();
                    roots
                })
                .with_no_client_auth(),
        )
        .build()
        .unwrap();
    let pem = http
        .get(format!("https://127.0.0.1:{}/roots/0", p.management))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// The real server binary with ACME on, and the address it serves.
fn start_server(data: &Path, redirect: u16, p: &Pebble) -> (Killed, SocketAddr) {
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "acme_directory = {:?}\nacme_ca_file = {:?}\nacme_email = \"ops@chat.test\"\n",
            p.directory,
            p.tls_ca.display().to_string()
        ),
    )
    .unwrap();
    let mut child = crate::cli::server(data)
        .args(["--config"])
        .arg(&config)
        .args(["--bind", "127.0.0.1:0", "--acme-domain", DOMAIN])
        .args(["--redirect-http", &format!("127.0.0.1:{redirect}")])
        .args(["--log", "securechat_server=info"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    // The rest (more lines, the log) is read on, and shown with the test's.
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            println!("server: {line}");
        }
    });
    let port = first
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    (Killed(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The certificate `addr` serves for `DOMAIN`, if it chains to `root`.
async fn served_under(addr: SocketAddr, root: &CertificateDer<'static>) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.ok()?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(DOMAIN).unwrap(), tcp)
        .await
        .ok()?;
    let (_, conn) = tls.get_ref();
    Some(conn.peer_certificates()?.first()?.to_vec())
}

async fn wait_for_cert(addr: SocketAddr, root: &CertificateDer<'static>) -> Vec<u8> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(der) = served_under(addr, root).await {
            return der;
        }
        assert!(
            Instant::now() < until,
            "no certificate from pebble was served within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_certificate_from_an_acme_ca_is_obtained_served_kept_and_renewed() {
    securechat_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let redirect = free_port();
    let pebble = start_pebble(dir.path(), redirect);
    let root = pebble_root(&pebble).await;

    // First start: the built-in CA's certificate at once, then pebble's.
    let (server, addr) = start_server(&data, redirect, &pebble);
    let first = wait_for_cert(addr, &root).await;
    let (_, cert) = x509_parser::parse_x509_certificate(&first).unwrap();
    let names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, vec![format!("DNSName({DOMAIN})")]);
    // Kept in the data directory, the key private.
    let key = data.join("acme").join("key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(data.join("acme").join("account.json").exists());
    // The plain-HTTP port still redirects everything else.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{redirect}/x"))
        .header("host", DOMAIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    drop(server);

    // A restart serves the same certificate from the start.
    let (server, addr) = start_server(&data, redirect, &pebble);
    let again = served_under(addr, &root).await;
    assert_eq!(
        again.as_deref(),
        Some(&first[..]),
        "served at once, not re-ordered"
    );
    drop(server);

    // One about to end (a certificate valid for 2 more days) is renewed.
    let soon = {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![DOMAIN.into()]).unwrap();
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(60);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(2);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(data.join("acme").join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(data.join("acme").join("key.pem"), key.serialize_pem()).unwrap();
        cert.der().to_vec()
    };
    let (_server, addr) = start_server(&data, redirect, &pebble);
    let renewed = wait_for_cert(addr, &root).await;
    assert_ne!(renewed, first);
    assert_ne!(renewed, soon);
    let stored = std::fs::read(data.join("acme").join("cert.pem")).unwrap();
    let stored = CertificateDer::from_pem_slice(&stored).unwrap();
    assert_eq!(stored.to_vec(), renewed, "the renewed one is kept");
}
