//! `spawn_app()` and typed helpers: a real server on 127.0.0.1 port 0 with a
//! temp data dir and its own CA, real HTTPS (reqwest + rustls) and real wss
//! clients (tokio-tungstenite over tokio-rustls).

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use securechat_proto::ws::{Ack, RoomInfo, Welcome};
use securechat_proto::{RoomId, ServerMsg};
use securechat_server::{Config, Prepared, state::AppState};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// How long a test waits for any one expected frame.
pub const WAIT: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub config: Config,
    pub ca_der: CertificateDer<'static>,
    pub http: reqwest::Client,
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
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        database: test_database().await,
        ..Config::default()
    };
    tweak(&mut config);
    start(config, Some(dir)).await
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

async fn start(config: Config, dir: Option<TempDir>) -> TestApp {
    securechat_server::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let prepared = Prepared::new(config.clone()).expect("server prepares");
    let state = prepared.state.clone();
    let ca_der = trust_anchor(&state, &config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(securechat_server::serve(listener, prepared, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(&ca_der))
        .resolve("localhost", addr)
        .build()
        .unwrap();
    TestApp {
        addr,
        state,
        config,
        ca_der,
        http,
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
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

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

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn patch(&self, path: &str, body: Value, token: &str) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .json(&body)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, path: &str, body: Value, token: &str) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(&body)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// POSTs and returns the `room` of a `RoomResponse`, asserting `status`.
    pub async fn post_room(&self, path: &str, body: Value, token: &str, status: u16) -> RoomInfo {
        let res = self.post(path, body, Some(token)).await;
        assert_eq!(res.status().as_u16(), status, "POST {path}");
        let body: Value = res.json().await.unwrap();
        serde_json::from_value(body["room"].clone()).expect("a room")
    }

    /// Creates a room named `name` of `kind` ("public" or "private") as
    /// `token`'s user; returns its id.
    pub async fn new_room(&self, token: &str, name: &str, kind: &str) -> RoomId {
        self.post_room(
            "/api/rooms",
            json!({"name": name, "kind": kind}),
            token,
            201,
        )
        .await
        .id
    }

    /// The bodies of the latest page of `room`'s history, oldest first.
    pub async fn history_bodies(&self, room: RoomId, token: &str) -> Vec<String> {
        let history = self
            .get_json(&format!("/api/rooms/{room}/events"), token)
            .await;
        history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// GETs JSON, asserting 200.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, Some(token)).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/register",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Registers `username` and returns its session token.
    pub async fn register_ok(&self, username: &str) -> String {
        let res = self.register(username, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {username}");
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
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

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/login",
            json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Opens a wss:// connection with `token` and reads its `welcome`.
    pub async fn connect(&self, token: &str) -> (Client, Welcome) {
        let mut c = self.ws(token).await.expect("websocket connects");
        let welcome = c.welcome().await;
        (c, welcome)
    }

    /// Opens `/ws` with a bearer token.
    pub async fn ws(&self, token: &str) -> Result<Client, tungstenite::Error> {
        self.ws_with(&[("authorization", format!("Bearer {token}"))], None)
            .await
    }

    /// Opens `/ws` with the given headers; `recv_buffer` shrinks the
    /// client's TCP receive buffer (to make a slow consumer).
    pub async fn ws_with(
        &self,
        headers: &[(&str, String)],
        recv_buffer: Option<u32>,
    ) -> Result<Client, tungstenite::Error> {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        self.ws_on(socket, headers).await
    }

    /// Opens `/ws` with a bearer token from the local address `ip` (any
    /// 127.0.0.0/8 address works on Linux loopback).
    pub async fn ws_from(&self, token: &str, ip: IpAddr) -> Result<Client, tungstenite::Error> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
        self.ws_on(socket, &[("authorization", format!("Bearer {token}"))])
            .await
    }

    async fn ws_on(
        &self,
        socket: TcpSocket,
        headers: &[(&str, String)],
    ) -> Result<Client, tungstenite::Error> {
        let tcp = socket.connect(self.addr).await?;
        let connector = TlsConnector::from(Arc::new(client_tls(&self.ca_der)));
        let tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await?;
        let mut req = format!("wss://localhost:{}/ws", self.addr.port())
            .into_client_request()
            .unwrap();
        for (k, v) in headers {
            let name: tungstenite::http::HeaderName = k.parse().expect("header name");
            req.headers_mut()
                .insert(name, v.parse().expect("header value"));
        }
        let (stream, _) = tokio_tungstenite::client_async(req, tls).await?;
        Ok(Client { stream })
    }

    /// An HTTPS client (trusting this server) whose connections come from
    /// the local address `ip`.
    pub fn http_from(&self, ip: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_backend_preconfigured(client_tls(&self.ca_der))
            .resolve("localhost", self.addr)
            .local_address(ip)
            .build()
            .unwrap()
    }

    /// A TLS connection to the server on which nothing was sent yet.
    pub async fn raw_tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        TlsConnector::from(Arc::new(client_tls(&self.ca_der)))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake")
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
