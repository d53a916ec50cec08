//! What the several-node tests (`it/nodes.rs`, `it/scale.rs`) and the
//! chaos run share: a `nats-server` of the test's own, on a loopback port
//! it can stop and start, and a new database on the PostgreSQL that
//! `SC_TEST_POSTGRES` names.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `nats-server` on a loopback port, killed when dropped.
pub struct Nats {
    port: u16,
    child: Option<Child>,
}

impl Nats {
    /// Starts one, or `None` where `nats-server` is not installed.
    pub fn start() -> Option<Nats> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut nats = Nats { port, child: None };
        nats.resume().ok()?;
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port.
    pub fn resume(&mut self) -> std::io::Result<()> {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::other("nats-server did not start"))
    }

    /// Kills the server (its clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates a new, empty database on the PostgreSQL at `admin` (a URL whose
/// user may create databases) and returns its URL. Blocking.
pub fn new_database(admin: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    let mut client =
        postgres::Client::connect(admin, postgres::NoTls).expect("SC_TEST_POSTGRES answers");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    let config: postgres::Config = admin.parse().expect("a PostgreSQL URL");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{name}")
}
