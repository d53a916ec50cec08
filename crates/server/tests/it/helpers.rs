//! `spawn_app()` and typed helpers: a real server on 127.0.0.1 port 0 with a
//! temp data dir and its own CA, real HTTPS (reqwest + rustls) and real wss
//! clients (tokio-tungstenite over tokio-rustls).

pub use crate::endpoint::Endpoint;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use securechat_proto::ws::{Ack, Welcome};
use securechat_proto::{RoomId, ServerMsg};
use securechat_server::{Config, Prepared, state::AppState};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// How long a test waits for any one expected frame.
pub const WAIT: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    /// How clients reach it (`app.addr`, `app.http`, `app.post(…)`, …).
    pub ep: Endpoint,
    pub state: AppState,
    pub config: Config,
    pub dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A server with the default config (and a temp data dir).
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// A server whose config `tweak` may change first.
pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (config, dir) = test_config(tweak).await;
    start(config, Some(dir)).await
}

/// The default config on a temp data dir and the suite's backend, changed
/// by `tweak`.
async fn test_config(tweak: impl FnOnce(&mut Config)) -> (Config, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        database: test_database().await,
        ..Config::default()
    };
    tweak(&mut config);
    (config, dir)
}

/// The backend the suite runs on: with `SC_TEST_POSTGRES` set to
/// a PostgreSQL URL that may create databases, each app gets a new empty
/// database there; without it, SQLite in the app's data dir.
pub async fn test_database() -> Option<String> {
    let admin = std::env::var("SC_TEST_POSTGRES").ok()?;
    let url = tokio::task::spawn_blocking(move || crate::services::new_database(&admin, "sc_test"))
        .await
        .unwrap();
    Some(url)
}

/// A server that also serves plain HTTP for a reverse proxy (`plain_bind`)
/// on a loopback port; returns that port's address too.
pub async fn spawn_with_plain(tweak: impl FnOnce(&mut Config)) -> (TestApp, std::net::SocketAddr) {
    let (config, dir) = test_config(tweak).await;
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = plain.local_addr().unwrap();
    (start_with(config, Some(dir), Some(plain)).await, addr)
}

async fn start(config: Config, dir: Option<TempDir>) -> TestApp {
    start_with(config, dir, None).await
}

async fn start_with(
    config: Config,
    dir: Option<TempDir>,
    plain: Option<tokio::net::TcpListener>,
) -> TestApp {
    securechat_server::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let mut prepared = Prepared::new(config.clone()).expect("server prepares");
    if let Some(plain) = plain {
        prepared = prepared.with_plain_listener(plain);
    }
    let state = prepared.state.clone();
    let ca_der = trust_anchor(&state, &config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(securechat_server::serve(listener, prepared, async {
        let _ = stopped.await;
    }));
    TestApp {
        ep: Endpoint::new(addr, ca_der),
        state,
        config,
        dir,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The certificate clients should trust: the built-in CA, or the
/// configured certificate itself.
fn trust_anchor(state: &AppState, config: &Config) -> CertificateDer<'static> {
    match state.tls.ca_pem() {
        Some(pem) => CertificateDer::from_pem_slice(pem.as_bytes()).unwrap(),
        None => CertificateDer::from_pem_file(config.tls_cert.as_ref().unwrap()).unwrap(),
    }
}

/// A rustls client config trusting only `ca`.
pub fn client_tls(ca: &CertificateDer<'static>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

impl TestApp {
    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// The server binary for an operator command on this app's data dir
    /// and database.
    pub fn cli(&self) -> std::process::Command {
        let mut cmd = crate::cli::server(&self.data_dir());
        if let Some(url) = &self.config.database {
            cmd.arg("--database").arg(url);
        }
        cmd
    }

    /// Stops the server (as SIGTERM would) and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops in time")
                .unwrap();
        }
    }

    /// Stops this server and starts a new one on the same data directory.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Like [`restart`](Self::restart), with the config changed first.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        let mut config = self.config.clone();
        tweak(&mut config);
        start(config, self.dir.take()).await
    }

    /// How many file rows the database holds.
    pub async fn file_rows(&self) -> i64 {
        self.state
            .store
            .read(|c| c.query_row("SELECT COUNT(*) FROM files", (), |r| r.get::<i64>(0)))
            .await
            .unwrap()
    }

    /// The stored user named `username`.
    pub async fn user(&self, username: &str) -> securechat_server::store::users::UserRecord {
        securechat_server::accounts::find_user(&self.state.store, username)
            .await
            .unwrap()
            .expect("user exists")
    }
}

impl std::ops::Deref for TestApp {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.ep
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A test's WebSocket client.
pub struct Client {
    pub stream: Ws,
}

impl Client {
    pub async fn send_json(&mut self, v: Value) {
        self.stream
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    pub async fn send_text(&mut self, room: RoomId, client_msg_id: &str, body: &str) {
        self.send_json(
            json!({"type": "send", "room": room, "client_msg_id": client_msg_id, "body": body}),
        )
        .await;
    }

    /// The next frame of any kind (pings are answered by tungstenite).
    pub async fn next_raw(&mut self) -> Option<Result<Message, tungstenite::Error>> {
        tokio::time::timeout(WAIT, self.stream.next())
            .await
            .expect("a frame within the wait")
    }

    /// The next JSON frame, parsed.
    pub async fn next(&mut self) -> ServerMsg {
        loop {
            match self.next_raw().await {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str()).expect("server frame parses");
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads frames until one satisfies `pred` (skipping the others).
    pub async fn next_where(&mut self, pred: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        loop {
            let msg = self.next().await;
            if pred(&msg) {
                return msg;
            }
        }
    }

    /// The next frame that is not a presence notice.
    pub async fn next_non_presence(&mut self) -> ServerMsg {
        loop {
            match self.next().await {
                ServerMsg::Presence { .. } => continue,
                other => return other,
            }
        }
    }

    /// Reads until the ack of a send, skipping events; an error fails.
    pub async fn next_ack(&mut self) -> Ack {
        loop {
            match self.next().await {
                ServerMsg::Ack(ack) => return ack,
                ServerMsg::Error(e) => panic!("expected an ack, got {e:?}"),
                _ => continue,
            }
        }
    }

    pub async fn welcome(&mut self) -> Welcome {
        match self.next().await {
            ServerMsg::Welcome(w) => w,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Reads until the server closes; returns its close code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.next_raw().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => {
                    return (u16::from(CloseCode::Status), String::new());
                }
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Like [`expect_close`](Self::expect_close), but an abrupt end of the
    /// connection (`None`) is also accepted.
    pub async fn next_close_or_end(&mut self) -> Option<(u16, String)> {
        loop {
            match self.next_raw().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Some((u16::from(frame.code), frame.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Asserts that no text frame (other than presence) arrives for `d`.
    pub async fn expect_quiet(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let msg: ServerMsg = serde_json::from_str(t.as_str()).unwrap();
                    if !matches!(msg, ServerMsg::Presence { .. }) {
                        panic!("expected silence, got {msg:?}");
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!("connection ended: {other:?}"),
            }
        }
    }
}

/// The status line of the answer the server writes on `conn` before it
/// closes it (empty if none came within [`WAIT`]).
pub async fn status_line(conn: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, conn.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// A presence notice.
pub fn presence(user: &str, online: bool) -> ServerMsg {
    ServerMsg::Presence {
        user: user.into(),
        online,
    }
}

/// The `general` room from a welcome.
pub fn general(w: &Welcome) -> RoomId {
    w.rooms
        .iter()
        .find(|r| r.name == "general")
        .expect("every user is in general")
        .id
}

/// The JSON body of an error answer: (code, message).
pub async fn error_of(res: reqwest::Response) -> (String, String) {
    let body: Value = res.json().await.expect("JSON error body");
    (
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}
