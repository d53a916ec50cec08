//! Chaos: real clients keep talking while the network and the server fail.
//!
//! The real server binary runs on a temp data dir. Between it and the
//! clients sits a loopback TCP proxy that a fault injector uses to cut
//! connections at random, and now and then the injector kills the server
//! with SIGKILL and starts it again on the same data. The clients are the
//! real client library (`securechat_client::conn::Connection`): numbered
//! messages through its outbox, retried with the same `client_msg_id`
//! after every cut, resumed with `sync`.
//!
//! At the end: every message sent was acked; every member of a room
//! received every event of that room exactly once, in seq order, with no
//! gap; and the SQLite file agrees (each sent message stored once, at the
//! seq its ack named, seqs contiguous).
//!
//! A bounded run (about a minute) is part of the suite. A long run:
//! `CHAOS_SECS=1800 cargo test --release -p securechat-server --test chaos -- --nocapture`
//! (also `CHAOS_USERS`, default 24, and `CHAOS_SEED`).
//!
//! Several nodes: with `CHAOS_NODES=3` and `SC_TEST_POSTGRES` (a
//! PostgreSQL URL that may create databases), that many server processes
//! share a new PostgreSQL database and a `nats-server` of the test's own;
//! the proxy sends each new connection to a live node, the injector kills
//! a random node (SIGKILL) and restarts it, and now and then restarts
//! NATS. The same checks hold, against the PostgreSQL database.
//!
//! Encrypted: with `CHAOS_E2E=1` the three rooms are end-to-end encrypted
//! private rooms and every client a device of its own
//! (`securechat_client::e2e`): keys are shared through the same cut links
//! and killed servers. Then also: every member opened every message to the
//! text that was sent (no "unable to decrypt"), and the database holds no
//! text of any of them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use securechat_client::api::{Api, Server};
use securechat_client::conn::{Connection, Event, wait_connected};
use securechat_client::trust::{Tls, Trust};
use securechat_proto::http::{CreateRoom, RegisterRequest};
use securechat_proto::ws::RoomKind;
use securechat_proto::{RoomId, Seq, ServerMsg};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep};

#[path = "common/services.rs"]
mod services;
use services::{Nats, new_database};

const BIN: &str = env!("CARGO_BIN_EXE_securechat-server");
const PASSWORD: &str = "correct horse battery";
const ROOMS: [&str; 3] = ["red", "green", "blue"];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server process; killed if the test fails half-way.
struct ServerProc(Child);

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server binary on `dir`, listening on `port`, with `extra` flags.
fn start_server(dir: &Path, port: u16, extra: &[String]) -> ServerProc {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("SECURECHAT_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--log", "error"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(ServerProc)
        .expect("server starts")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// What several nodes share: a new PostgreSQL database and a NATS server.
struct Shared {
    database: String,
    nats: Nats,
}

impl Shared {
    async fn start() -> Shared {
        let admin = std::env::var("SC_TEST_POSTGRES")
            .expect("CHAOS_NODES > 1 needs SC_TEST_POSTGRES (a PostgreSQL URL)");
        let database = tokio::task::spawn_blocking(move || new_database(&admin, "sc_chaos"))
            .await
            .unwrap();
        let nats = Nats::start().expect("nats-server runs (Debian's nats-server)");
        Shared { database, nats }
    }
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback TCP proxy whose links the fault injector can cut. With
/// several upstreams (nodes), each new connection goes to the next one
/// that accepts it, as a load balancer's health check would.
#[derive(Clone, Default)]
struct Proxy {
    links: Arc<Mutex<HashMap<u64, AbortHandle>>>,
    next: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstreams: Vec<u16>) -> (Proxy, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy::default();
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let id = p.next.fetch_add(1, Ordering::Relaxed);
                let links = p.links.clone();
                let upstreams = upstreams.clone();
                let task = tokio::spawn(async move {
                    for k in 0..upstreams.len() {
                        let node = upstreams[(id as usize + k) % upstreams.len()];
                        if let Ok(mut up) = TcpStream::connect(("127.0.0.1", node)).await {
                            let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                            break;
                        }
                    }
                    links.lock().unwrap().remove(&id);
                });
                p.links.lock().unwrap().insert(id, task.abort_handle());
            }
        });
        (proxy, port)
    }

    /// Cuts one random live link (both sockets closed); false if none.
    fn cut_one(&self, rng: &mut StdRng) -> bool {
        let mut links = self.links.lock().unwrap();
        if links.is_empty() {
            return false;
        }
        let key = *links.keys().nth(rng.random_range(0..links.len())).unwrap();
        links.remove(&key).unwrap().abort();
        true
    }
}

/// What one client saw.
#[derive(Default)]
struct Log {
    /// client_msg_id → (room, body) of every message it sent.
    sent: BTreeMap<String, (RoomId, String)>,
    /// client_msg_id → (room, seq) from acks; a repeated ack must agree.
    acked: BTreeMap<String, (RoomId, Seq)>,
    /// Room events received, in arrival order: seq and message body.
    received: BTreeMap<RoomId, Vec<(Seq, Option<String>)>>,
    /// Where each room stood at the first welcome.
    start: BTreeMap<RoomId, Seq>,
    failures: Vec<String>,
    welcomes: u64,
    last_status: Option<securechat_client::conn::Status>,
}

impl Log {
    fn record(&mut self, event: Event) {
        match event {
            Event::Welcome(w) => {
                self.welcomes += 1;
                if self.welcomes == 1 {
                    self.start = w.rooms.iter().map(|r| (r.id, r.last_seq)).collect();
                }
            }
            Event::Acked(ack) => {
                let at = (ack.room, ack.seq);
                if let Some(prev) = self.acked.insert(ack.client_msg_id.clone(), at)
                    && prev != at
                {
                    self.failures.push(format!(
                        "{} acked at {prev:?} then {at:?}",
                        ack.client_msg_id
                    ));
                }
            }
            Event::Failed(e) => self.failures.push(format!("send failed: {e:?}")),
            Event::Server(msg) => {
                if let Some((room, seq)) = msg.stream_position() {
                    let body = match msg {
                        ServerMsg::Message(m) => Some(m.body),
                        _ => None,
                    };
                    self.received.entry(room).or_default().push((seq, body));
                }
            }
            Event::Status(s) => self.last_status = Some(s),
            Event::Notice(n) => eprintln!("notice: {n}"),
        }
    }

    fn last_seq(&self, room: RoomId) -> Seq {
        self.received
            .get(&room)
            .and_then(|v| v.last())
            .map_or(self.start.get(&room).copied().unwrap_or(0), |(s, _)| *s)
    }
}

struct Client {
    name: String,
    rooms: Vec<RoomId>,
    log: Arc<Mutex<Log>>,
}

/// Sends a numbered message every 100–400 ms to one of its rooms until
/// `until`, and records every event until `stop` fires.
async fn run_client(
    conn: Connection,
    client: Arc<Client>,
    until: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
    seed: u64,
) {
    let mut conn = conn;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0u64;
    let mut next = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next), if next < until => {
                let room = client.rooms[(n as usize) % client.rooms.len()];
                let body = format!("{} #{n}", client.name);
                let id = conn.send(room, body.clone());
                client.log.lock().unwrap().sent.insert(id, (room, body));
                n += 1;
                next = Instant::now() + Duration::from_millis(rng.random_range(100..400));
            }
            e = conn.events.recv() => match e {
                Some(e) => client.log.lock().unwrap().record(e),
                None => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Polls `done` every 100 ms until it holds; `Err` after `within`.
async fn eventually(
    within: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), ()> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            eprintln!("timed out waiting until {what}");
            return Err(());
        }
        sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_doubled_when_connections_and_the_server_die() {
    securechat_client::install_crypto_provider();
    let secs = env_or("CHAOS_SECS", 40u64);
    let users = env_or("CHAOS_USERS", 24usize);
    let seed = env_or("CHAOS_SEED", rand::random::<u64>());
    println!("chaos: seed {seed} (CHAOS_SEED={seed} reuses its random choices)");
    let mut rng = StdRng::seed_from_u64(seed);

    let nodes = env_or("CHAOS_NODES", 1usize).max(1);
    let mut shared = if nodes > 1 {
        Some(Shared::start().await)
    } else {
        None
    };
    let extras: Vec<Vec<String>> = (0..nodes)
        .map(|i| match &shared {
            Some(s) => vec![
                "--database".into(),
                s.database.clone(),
                "--broker".into(),
                s.nats.url(),
                "--node-id".into(),
                format!("node{i}"),
            ],
            None => Vec::new(),
        })
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..nodes).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
    let mut servers = Vec::new();
    for i in 0..nodes {
        if i > 0 {
            // One TLS identity for all nodes, as behind a load balancer.
            copy_dir(&dirs[0].path().join("tls"), &dirs[i].path().join("tls"));
        }
        servers.push(start_server(dirs[i].path(), ports[i], &extras[i]));
        wait_listening(ports[i]).await;
    }
    let (dir, port) = (&dirs[0], ports[0]);
    let ca = rustls::pki_types::CertificateDer::from_pem_file(dir.path().join("tls/ca.pem"));
    use rustls::pki_types::pem::PemObject;
    let tls = Tls::new(Trust::CaFile(vec![ca.unwrap()])).unwrap();

    // Set-up, straight to the server: users, and three rooms each user is
    // in two of (plus general).
    let direct = Server::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    let mut tokens = Vec::new();
    for u in 0..users {
        let req = RegisterRequest {
            username: format!("user{u}"),
            password: PASSWORD.into(),
            invite_code: None,
        };
        let api = Api::new(&direct, &tls, None).unwrap();
        tokens.push(api.register(&req).await.unwrap().token);
    }
    let owner = Api::new(&direct, &tls, Some(tokens[0].clone())).unwrap();
    let e2e = env_or("CHAOS_E2E", 0u8) == 1;
    let mut rooms = Vec::new();
    for (i, name) in ROOMS.iter().enumerate() {
        // Encrypted rooms are private: their members come with them.
        let members = (1..users)
            .filter(|u| e2e && (u % 3 == i || (u + 1) % 3 == i))
            .map(|u| format!("user{u}"))
            .collect();
        let req = CreateRoom {
            name: Some((*name).into()),
            kind: if e2e {
                RoomKind::Private
            } else {
                RoomKind::Public
            },
            topic: None,
            members,
            encrypted: e2e,
        };
        rooms.push(owner.create_room(&req).await.unwrap().id);
    }
    if !e2e {
        for (u, token) in tokens.iter().enumerate().skip(1) {
            let api = Api::new(&direct, &tls, Some(token.clone())).unwrap();
            for r in [u % 3, (u + 1) % 3] {
                api.join(rooms[r]).await.unwrap();
            }
        }
    }

    // Everyone connects through the proxy before anyone speaks.
    let (proxy, proxy_port) = Proxy::start(ports.clone()).await;
    let via_proxy = Server::parse(&format!("https://127.0.0.1:{proxy_port}")).unwrap();
    let mut conns = Vec::new();
    let mut clients = Vec::new();
    let mut homes = Vec::new();
    for (u, token) in tokens.iter().enumerate() {
        // Each client's device reaches the server through the proxy too.
        let crypto = if e2e {
            let home = tempfile::tempdir().unwrap();
            let store = securechat_client::store::Store::new(Some(home.path().to_owned())).unwrap();
            let api = Api::new(&via_proxy, &tls, Some(token.clone())).unwrap();
            let device = securechat_client::e2e::Crypto::open(&store, api, &format!("user{u}"))
                .await
                .expect("a device");
            homes.push(home);
            Some(Arc::new(tokio::sync::Mutex::new(device)))
        } else {
            None
        };
        let mut conn = Connection::spawn_with(
            via_proxy.clone(),
            tls.config.clone(),
            token.clone(),
            BTreeMap::new(),
            crypto,
        );
        let seen = wait_connected(&mut conn.events, Duration::from_secs(30))
            .await
            .expect("client connects");
        let mut log = Log::default();
        for e in seen {
            log.record(e);
        }
        let client = Arc::new(Client {
            name: format!("user{u}"),
            rooms: log.start.keys().copied().collect(),
            log: Arc::new(Mutex::new(log)),
        });
        assert_eq!(client.rooms.len(), if u == 0 { 4 } else { 3 });
        conns.push(conn);
        clients.push(client);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(&clients)
        .enumerate()
        .map(|(i, (conn, c))| {
            tokio::spawn(run_client(
                conn,
                c.clone(),
                until,
                stopped.clone(),
                seed.wrapping_add(i as u64),
            ))
        })
        .collect();

    // Faults: cut one or two random links every 50–300 ms; every 5–9 s,
    // SIGKILL a server (one of the nodes) and start it again 0.1–1 s
    // later; with several nodes, every 8–12 s restart NATS too.
    let (mut cuts, mut kills, mut broker_restarts) = (0u64, 0u64, 0u64);
    let mut next_kill = Instant::now() + Duration::from_millis(rng.random_range(5000..9000));
    let mut next_broker = Instant::now() + Duration::from_millis(rng.random_range(8000..12000));
    while Instant::now() < until {
        sleep(Duration::from_millis(rng.random_range(50..300))).await;
        for _ in 0..rng.random_range(1..=2) {
            cuts += u64::from(proxy.cut_one(&mut rng));
        }
        if Instant::now() >= next_kill {
            let i = rng.random_range(0..nodes);
            servers[i].0.kill().unwrap();
            servers[i].0.wait().unwrap();
            kills += 1;
            sleep(Duration::from_millis(rng.random_range(100..1000))).await;
            servers[i] = start_server(dirs[i].path(), ports[i], &extras[i]);
            wait_listening(ports[i]).await;
            next_kill = Instant::now() + Duration::from_millis(rng.random_range(5000..9000));
        }
        if let Some(s) = shared.as_mut()
            && Instant::now() >= next_broker
        {
            s.nats.stop();
            sleep(Duration::from_millis(rng.random_range(100..800))).await;
            s.nats.resume().expect("nats-server starts again");
            broker_restarts += 1;
            next_broker = Instant::now() + Duration::from_millis(rng.random_range(8000..12000));
        }
    }

    // Calm: every send is acked, then everyone catches up to the end.
    let unacked = || -> usize {
        clients
            .iter()
            .map(|c| {
                let log = c.log.lock().unwrap();
                log.sent
                    .keys()
                    .filter(|id| !log.acked.contains_key(*id))
                    .count()
            })
            .sum()
    };
    eventually(Duration::from_secs(120), "every send is acked", || {
        unacked() == 0
    })
    .await
    .unwrap_or_else(|()| {
        for c in &clients {
            let log = c.log.lock().unwrap();
            let left: Vec<_> = log
                .sent
                .iter()
                .filter(|(id, _)| !log.acked.contains_key(*id))
                .map(|(_, (r, b))| (r, b.clone()))
                .take(3)
                .collect();
            eprintln!(
                "{}: {} unacked, {} welcomes, e.g. {left:?}; last status {:?}; failures {:?}",
                c.name,
                log.sent.len() - log.acked.len(),
                log.welcomes,
                log.last_status,
                log.failures.iter().take(3).collect::<Vec<_>>()
            );
        }
        panic!("{} messages were never acked", unacked())
    });
    let all_rooms = owner.rooms().await.unwrap().rooms;
    let target: BTreeMap<RoomId, Seq> = all_rooms.iter().map(|r| (r.id, r.last_seq)).collect();
    eventually(Duration::from_secs(60), "every member caught up", || {
        clients.iter().all(|c| {
            let log = c.log.lock().unwrap();
            c.rooms.iter().all(|r| log.last_seq(*r) >= target[r])
        })
    })
    .await
    .expect("members catch up");
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    for server in &mut servers {
        let status = Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(server.0.wait().unwrap().success(), "clean stop");
    }

    // The database: (room, seq) → (client_msg_id, body).
    type Row = (Option<String>, Option<String>);
    let mut stored: BTreeMap<RoomId, Vec<(Seq, Row)>> = BTreeMap::new();
    const STORED: &str =
        "SELECT room_id, seq, client_msg_id, body FROM events ORDER BY room_id, seq";
    let rows: Vec<(RoomId, Seq, Row)> = match &shared {
        Some(s) => {
            let url = s.database.clone();
            tokio::task::spawn_blocking(move || {
                let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                db.query(STORED, &[])
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            RoomId(r.get(0)),
                            r.get::<_, i64>(1) as Seq,
                            (r.get(2), r.get(3)),
                        )
                    })
                    .collect()
            })
            .await
            .unwrap()
        }
        None => {
            let db = rusqlite::Connection::open_with_flags(
                dir.path().join("securechat.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let mut stmt = db.prepare(STORED).unwrap();
            stmt.query_map([], |r| {
                Ok((
                    RoomId(r.get(0)?),
                    r.get::<_, i64>(1)? as Seq,
                    (r.get(2)?, r.get(3)?),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        }
    };
    for (room, seq, rest) in rows {
        stored.entry(room).or_default().push((seq, rest));
    }
    for (room, events) in &stored {
        let seqs: Vec<Seq> = events.iter().map(|(s, _)| *s).collect();
        let want: Vec<Seq> = (1..=seqs.len() as Seq).collect();
        assert_eq!(seqs, want, "room {room:?}: stored seqs are contiguous");
    }
    let at = |room: RoomId, seq: Seq| -> &Row {
        &stored[&room]
            .get(seq as usize - 1)
            .expect("stored at that seq")
            .1
    };

    let (mut sent, mut delivered, mut reconnects) = (0usize, 0usize, 0u64);
    let mut stored_ids = BTreeSet::new();
    // What was sent at each place, for the encrypted run (where the
    // database holds no text to compare with).
    let mut texts: HashMap<(RoomId, Seq), String> = HashMap::new();
    for c in &clients {
        let log = c.log.lock().unwrap();
        for (id, (room, body)) in &log.sent {
            texts.insert((*room, log.acked[id].1), body.clone());
        }
    }
    for c in &clients {
        let log = c.log.lock().unwrap();
        assert!(log.failures.is_empty(), "{}: {:?}", c.name, log.failures);
        reconnects += log.welcomes - 1;
        sent += log.sent.len();
        // Every message sent was acked, and stored once, where the ack said.
        for (id, (room, body)) in &log.sent {
            let (acked_room, seq) = log.acked[id];
            assert_eq!(acked_room, *room);
            // (general is not encrypted)
            let sealed = e2e && rooms.contains(room);
            let stored_body = if sealed { String::new() } else { body.clone() };
            assert_eq!(
                at(*room, seq),
                &(Some(id.clone()), Some(stored_body)),
                "{id} at {seq}"
            );
            assert!(stored_ids.insert(id.clone()), "{id} acked twice");
        }
        // Every member got every event of its rooms once, in order.
        for room in &c.rooms {
            let got = log.received.get(room).map(Vec::as_slice).unwrap_or(&[]);
            let seqs: Vec<Seq> = got.iter().map(|(s, _)| *s).collect();
            let want: Vec<Seq> = (log.start[room] + 1..=target[room]).collect();
            assert_eq!(seqs, want, "{} in room {room:?}", c.name);
            for (seq, body) in got {
                if let Some(body) = body {
                    if e2e && rooms.contains(room) {
                        // Opened to exactly what its sender wrote.
                        assert_eq!(
                            texts.get(&(*room, *seq)),
                            Some(body),
                            "{} seq {seq}",
                            c.name
                        );
                    } else {
                        assert_eq!(
                            at(*room, *seq).1.as_ref(),
                            Some(body),
                            "{} seq {seq}",
                            c.name
                        );
                    }
                }
            }
            delivered += got.len();
        }
    }
    // Nothing was stored that no one sent.
    let stored_messages = stored
        .values()
        .flatten()
        .filter(|(_, (id, _))| id.is_some())
        .count();
    assert_eq!(stored_messages, sent, "stored messages = messages sent");
    assert!(sent > 0 && kills > 0 && cuts > 0);
    if nodes > 1 {
        assert!(broker_restarts > 0 || secs < 12, "NATS was restarted");
    }
    println!(
        "chaos: {users} clients, {} rooms{}, {nodes} node(s), {secs} s of faults: {cuts} \
         connections cut, {kills} server kills (SIGKILL), {broker_restarts} NATS restarts, \
         {reconnects} reconnects; {sent} messages sent, {sent} acked, {delivered} room events \
         delivered; lost 0, duplicated 0{}",
        target.len(),
        if e2e { " (end-to-end encrypted)" } else { "" },
        if e2e { ", undecryptable 0" } else { "" }
    );
}
