//! The server under test: where it is, how to trust it, and the set-up
//! calls of its HTTPS API (accounts, rooms).

use anyhow::{Context, Result, bail};
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, pem::PemObject};
use securechat_proto::RoomId;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// What speaks at the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// SecureChat: accounts, rooms, JSON frames, acks.
    Securechat,
    /// A peer broadcast server (`bench/peers/` Node `ws`, Python
    /// `websockets`): no accounts; every text frame a client sends goes to
    /// every client, the sender included.
    Broadcast,
    /// A Socket.IO broadcast server (engine.io v4 over WebSocket): every
    /// `m` event goes to every client, the sender included.
    Socketio,
    /// An IRC server over WebSocket (one IRC line per text frame): every
    /// connection joins `#bench`; `echo-message` returns a sender's own
    /// messages, as the other peers do.
    Irc,
}

/// The IRC channel the load runs in.
pub const IRC_CHANNEL: &str = "#bench";

/// Where the server listens and the TLS setup that trusts it.
#[derive(Clone)]
pub struct Target {
    /// The first node: set-up calls go here.
    pub addr: SocketAddr,
    /// Every node of the installation (one, or several sharing a database
    /// and a broker): load connections take them in turn.
    pub nodes: Vec<SocketAddr>,
    /// The processes whose CPU counts as the server's: every node, and the
    /// database and broker when given (`--server-pid`, repeatable).
    pub server_pids: Vec<u32>,
    pub tls: Arc<ClientConfig>,
    pub proto: Proto,
    /// The server's process, when known: its CPU time and memory are read
    /// from /proc.
    pub server_pid: Option<u32>,
    http: reqwest::Client,
}

const PASSWORD: &str = "load generator password";

impl Target {
    /// `nodes` are `127.0.0.1:PORT` (load goes to loopback only); `ca` is
    /// the server's `tls/ca.pem` (one for all nodes).
    pub fn new(nodes: &[SocketAddr], ca: &Path, proto: Proto) -> Result<Target> {
        let Some(&addr) = nodes.first() else {
            bail!("no server address");
        };
        if let Some(far) = nodes.iter().find(|a| !a.ip().is_loopback()) {
            bail!("the load generator only targets loopback addresses, not {far}");
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).with_context(|| ca.display().to_string())? {
            roots.add(cert?)?;
        }
        let tls = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .resolve("localhost", addr)
            .build()?;
        Ok(Target {
            addr,
            nodes: nodes.to_vec(),
            server_pids: Vec::new(),
            tls: Arc::new(tls),
            proto,
            server_pid: None,
            http,
        })
    }

    /// The node the next load connection goes to (round robin).
    pub fn next_node(&self) -> SocketAddr {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        self.nodes[NEXT.fetch_add(1, Ordering::Relaxed) % self.nodes.len()]
    }

    /// The server's CPU from now on, summed over [`Target::server_pids`]
    /// (in cores); `None` when no process is known.
    pub fn server_cpu(&self) -> Option<ServerCpu> {
        (!self.server_pids.is_empty()).then(|| {
            ServerCpu(
                self.server_pids
                    .iter()
                    .map(|p| crate::procfs::CpuMeter::of(*p))
                    .collect(),
            )
        })
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Result<Value> {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Logs in an existing user; returns the session token.
    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let res = self
            .post(
                "/api/login",
                json!({"username": username, "password": password}),
                None,
            )
            .await?;
        Ok(res["token"].as_str().context("a token")?.to_owned())
    }

    /// `GET path` with `query`, as `token`'s user; the JSON answer.
    pub async fn get(&self, path: &str, query: &[(&str, &str)], token: &str) -> Result<Value> {
        let mut url = reqwest::Url::parse(&self.url(path))?;
        url.query_pairs_mut().extend_pairs(query);
        let res = self.http.get(url).bearer_auth(token).send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// Registers one fresh user and returns its name (its password is the
    /// generator's own, for [`Target::login_again`]).
    pub async fn user_named(&self) -> Result<String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "b{:x}l{}",
            std::time::UNIX_EPOCH.elapsed()?.as_nanos() as u64,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.post(
            "/api/register",
            json!({"username": name, "password": PASSWORD}),
            None,
        )
        .await?;
        Ok(name)
    }

    /// Logs in a user made by [`Target::user_named`]: `Ok(false)` when the
    /// server asked to slow down (429).
    pub async fn login_again(&self, username: &str) -> Result<bool> {
        let res = self
            .http
            .post(self.url("/api/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await?;
        match res.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::TOO_MANY_REQUESTS => Ok(false),
            s => bail!("POST /api/login: {s}"),
        }
    }

    /// Registers `n` fresh users (names unique to this run) and returns
    /// their session tokens.
    pub async fn users(&self, n: usize) -> Result<Vec<String>> {
        if self.proto != Proto::Securechat {
            return Ok(vec![String::new(); n]); // peers have no accounts
        }
        let run = std::process::id() ^ (std::time::UNIX_EPOCH.elapsed()?.as_millis() as u32);
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let body = json!({"username": format!("b{run:x}u{i}"), "password": PASSWORD});
            let res = self.post("/api/register", body, None).await?;
            let token = res["token"].as_str().context("a token")?;
            tokens.push(token.to_owned());
        }
        Ok(tokens)
    }

    /// A new public room created by `owner` and joined by `members`.
    pub async fn room(&self, owner: &str, members: &[String]) -> Result<RoomId> {
        if self.proto != Proto::Securechat {
            return Ok(RoomId(0)); // one room: the whole server, or #bench
        }
        let name = format!(
            "bench-{:x}",
            std::time::UNIX_EPOCH.elapsed()?.as_nanos() as u64
        );
        let res = self
            .post(
                "/api/rooms",
                json!({"name": name, "kind": "public"}),
                Some(owner),
            )
            .await?;
        let room = RoomId(res["room"]["id"].as_i64().context("a room id")?);
        for token in members.iter().filter(|t| t.as_str() != owner) {
            self.post(&format!("/api/rooms/{room}/join"), json!({}), Some(token))
                .await?;
        }
        Ok(room)
    }
}

impl Target {
    /// The frame that sends `body` to `room` as message `n` of `sender`.
    pub fn send_frame(&self, room: RoomId, sender: usize, n: u64, body: &str) -> String {
        match self.proto {
            Proto::Securechat => format!(
                r#"{{"type":"send","room":{room},"client_msg_id":"{sender}-{n}","body":"{body}"}}"#
            ),
            Proto::Broadcast => body.to_owned(),
            Proto::Socketio => format!(r#"42["m","{body}"]"#),
            Proto::Irc => format!("PRIVMSG {IRC_CHANNEL} :{body}"),
        }
    }

    /// Whether `frame`, received by `sender`, confirms one of its sends: an
    /// `ack`, or for a peer the echo of its own message.
    pub fn is_ack(&self, frame: &[u8], sender: usize) -> bool {
        match self.proto {
            Proto::Securechat => crate::ws::is_ack(frame),
            _ => crate::ws::delivery(frame).is_some_and(|d| d.sender == sender),
        }
    }
}

/// CPU meters of the server's processes.
pub struct ServerCpu(Vec<crate::procfs::CpuMeter>);

impl ServerCpu {
    /// Cores busy since the start, all processes together.
    pub fn load(&self) -> f64 {
        self.0.iter().map(|m| m.load()).sum()
    }
}
