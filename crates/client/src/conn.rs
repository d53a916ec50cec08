//! The chat connection: one background task that connects over wss://,
//! resumes with `sync`, reconnects by itself with exponential backoff and
//! jitter, and delivers what happens as [`Event`]s.
//!
//! A live event that skips seqs (the server went live before this client's
//! `sync` arrived) is dropped and its room synced again, so events reach
//! the caller each once, in seq order, without a hole.
//!
//! Sends go through an outbox: a queue with one message in flight, each with
//! a `client_msg_id`. A message typed while offline waits in the outbox and
//! goes out after the next `synced`; one interrupted in flight is sent
//! again, and the server stores a repeated id once, so every message is
//! delivered exactly once and in typing order. A `rate_limited` answer
//! pauses the queue for `retry_after_ms`.
//!
//! With an end-to-end encryption device ([`crate::e2e`]), a send to an
//! encrypted room shares the room key and goes as ciphertext (shared again
//! and resent on `keys_outdated`), `to_device` messages are opened and
//! acked, and encrypted events are opened before they are reported. An
//! event whose key has not arrived waits (with everything after it, so
//! order holds) until the key comes or [`KEY_WAIT`] passes.

use crate::api::Server;
use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use securechat_proto::e2e::FileSecrets;
use securechat_proto::ws::{Ack, ErrorMsg, Welcome};
use securechat_proto::{ClientMsg, ErrorCode, FileId, MessageId, RoomId, Seq, ServerMsg};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_secs(20);
const DEAD_AFTER: Duration = Duration::from_secs(60);
/// How long an encrypted event waits for its key before it is shown as
/// undecryptable.
pub const KEY_WAIT: Duration = Duration::from_secs(5);
/// How long the HTTP calls behind one encrypted send or one received key
/// may take before they are tried again.
const CRYPTO_CALLS: Duration = Duration::from_secs(10);
/// Shares and resends of one message refused with `keys_outdated`.
const KEY_RETRIES: u32 = 3;

/// The connection's state, for a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting {
        retry_in: Duration,
    },
    RateLimited {
        wait: Duration,
    },
    /// The session ended (logout elsewhere, password change, disabled):
    /// the connection stops for good.
    SessionEnded,
}

/// What the connection reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Status(Status),
    /// On every (re)connect, before the replay.
    Welcome(Welcome),
    /// Anything else the server said (messages, room events, presence…),
    /// room events each once, in seq order per room.
    Server(ServerMsg),
    /// A send is stored.
    Acked(Ack),
    /// A send was refused (not for rate limits: those are retried).
    Failed(ErrorMsg),
    /// Something the user must see (a device's keys changed).
    Notice(String),
}

enum Cmd {
    Send(Outgoing),
    Read { room: RoomId, seq: Seq },
    Typing { room: RoomId },
}

/// Handle to a running connection. Dropping it stops the connection.
pub struct Connection {
    cmds: mpsc::UnboundedSender<Cmd>,
    pub events: mpsc::UnboundedReceiver<Event>,
    crypto: Option<crate::e2e::Shared>,
}

/// A new `client_msg_id`.
pub fn new_client_msg_id() -> String {
    let bytes: [u8; 16] = rand::random();
    securechat_proto::digest::hex(&bytes)
}

impl Connection {
    /// Starts connecting. `since` is where to resume each room (rooms not
    /// named start live from the server's `welcome`).
    pub fn spawn(
        server: Server,
        tls: Arc<ClientConfig>,
        token: String,
        since: BTreeMap<RoomId, Seq>,
    ) -> Connection {
        Self::spawn_with(server, tls, token, since, None)
    }

    /// Like [`spawn`](Self::spawn), with this login's encryption device.
    pub fn spawn_with(
        server: Server,
        tls: Arc<ClientConfig>,
        token: String,
        since: BTreeMap<RoomId, Seq>,
        crypto: Option<crate::e2e::Shared>,
    ) -> Connection {
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (tx, events) = mpsc::unbounded_channel();
        let task = Task {
            server,
            tls,
            token,
            cursors: since,
            outbox: VecDeque::new(),
            inflight: false,
            paused_until: None,
            events: tx,
            cmds: cmd_rx,
            crypto: crypto.clone(),
            encrypted: HashSet::new(),
            held: VecDeque::new(),
            held_since: None,
            key_retries: 0,
            resyncing: HashSet::new(),
        };
        tokio::spawn(task.run());
        Connection {
            cmds,
            events,
            crypto,
        }
    }

    /// Opens the encrypted events of a history page in place (those whose
    /// key never reached this device say so).
    pub async fn open_history(&self, events: &mut [ServerMsg]) {
        let Some(crypto) = &self.crypto else { return };
        let mut c = crypto.lock().await;
        for ev in events {
            if !c.open_event(ev) {
                c.give_up(ev).await;
            }
        }
    }

    /// `body` encrypted for `room` by this login's device (for edits).
    pub async fn seal(
        &self,
        room: RoomId,
        body: &str,
    ) -> Result<securechat_proto::e2e::Encrypted, crate::ClientError> {
        match &self.crypto {
            Some(c) => c.lock().await.encrypt(room, body).await,
            None => Err(crate::ClientError::Crypto("this client has no keys".into())),
        }
    }

    /// Queues a message; returns its `client_msg_id`.
    pub fn send(&self, room: RoomId, body: impl Into<String>) -> String {
        self.reply(room, None, body)
    }

    /// Queues a message, in the thread of `thread` when given (and then also
    /// in the room when its flag is set); returns its `client_msg_id`.
    pub fn reply(
        &self,
        room: RoomId,
        thread: Option<(MessageId, bool)>,
        body: impl Into<String>,
    ) -> String {
        let id = new_client_msg_id();
        let _ = self.cmds.send(Cmd::Send(Outgoing {
            id: id.clone(),
            room,
            body: body.into(),
            thread,
            file: None,
        }));
        id
    }

    /// Queues the encrypted message that carries file `file`, uploaded to
    /// encrypted `room` as ciphertext (see [`crate::transfer::upload`]),
    /// with `caption`; returns its `client_msg_id`.
    pub fn send_file(
        &self,
        room: RoomId,
        file: FileId,
        secrets: FileSecrets,
        caption: impl Into<String>,
    ) -> String {
        let id = new_client_msg_id();
        let _ = self.cmds.send(Cmd::Send(Outgoing {
            id: id.clone(),
            room,
            body: caption.into(),
            thread: None,
            file: Some((file, secrets)),
        }));
        id
    }

    pub fn read(&self, room: RoomId, seq: Seq) {
        let _ = self.cmds.send(Cmd::Read { room, seq });
    }

    pub fn typing(&self, room: RoomId) {
        let _ = self.cmds.send(Cmd::Typing { room });
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Why one connection attempt ended.
enum End {
    /// Reconnect after a backoff.
    Retry,
    /// Stop for good.
    Stop,
}

/// A message waiting in the outbox.
#[derive(Clone)]
struct Outgoing {
    /// Its `client_msg_id`.
    id: String,
    room: RoomId,
    body: String,
    /// The thread it replies in, and whether it also goes to the room.
    thread: Option<(MessageId, bool)>,
    /// An encrypted file it carries, and how to open it.
    file: Option<(FileId, FileSecrets)>,
}

struct Task {
    server: Server,
    tls: Arc<ClientConfig>,
    token: String,
    /// Last seq seen per room.
    cursors: BTreeMap<RoomId, Seq>,
    outbox: VecDeque<Outgoing>,
    inflight: bool,
    paused_until: Option<Instant>,
    events: mpsc::UnboundedSender<Event>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    crypto: Option<crate::e2e::Shared>,
    /// Rooms whose messages go encrypted.
    encrypted: HashSet<RoomId>,
    /// Room events waiting for a key (and those after them).
    held: VecDeque<ServerMsg>,
    /// When the head of `held` started waiting.
    held_since: Option<Instant>,
    /// `keys_outdated` answers to the message in flight.
    key_retries: u32,
    /// Rooms whose missing events were asked for again.
    resyncing: HashSet<RoomId>,
}

impl Task {
    fn emit(&self, e: Event) -> bool {
        self.events.send(e).is_ok()
    }

    async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            self.emit(Event::Status(Status::Connecting));
            let end = match self.open().await {
                Ok(ws) => self.session(ws, &mut attempt).await,
                Err(End::Stop) => End::Stop,
                Err(end) => end,
            };
            self.inflight = false;
            if matches!(end, End::Stop) || self.events.is_closed() {
                return;
            }
            let base =
                MAX_BACKOFF.min(Duration::from_millis(500) * 2u32.saturating_pow(attempt.min(10)));
            let delay = base.mul_f64(0.5 + rand::random::<f64>() / 2.0);
            attempt += 1;
            if !self.emit(Event::Status(Status::Reconnecting { retry_in: delay })) {
                return;
            }
            // Keep taking sends into the outbox while waiting.
            let until = Instant::now() + delay;
            loop {
                tokio::select! {
                    _ = sleep_until(until) => break,
                    cmd = self.cmds.recv() => match cmd {
                        Some(cmd) => self.queue(cmd),
                        None => return,
                    },
                }
            }
        }
    }

    fn queue(&mut self, cmd: Cmd) {
        if let Cmd::Send(out) = cmd {
            self.outbox.push_back(out);
        }
    }

    async fn open(&self) -> Result<Socket, End> {
        let host = self.server.host.clone();
        let tcp = TcpStream::connect((host.as_str(), self.server.port))
            .await
            .map_err(|_| End::Retry)?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(host).map_err(|_| End::Stop)?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|_| End::Retry)?;
        let url = format!("{}/ws", self.server.url()).replacen("https://", "wss://", 1);
        let mut req = url.into_client_request().map_err(|_| End::Stop)?;
        let auth = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| End::Stop)?;
        req.headers_mut().insert("authorization", auth);
        match tokio_tungstenite::client_async(req, tls).await {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::Error::Http(res)) if res.status() == 401 => {
                self.emit(Event::Status(Status::SessionEnded));
                Err(End::Stop)
            }
            Err(_) => Err(End::Retry),
        }
    }

    async fn send(ws: &mut Socket, msg: &ClientMsg) -> Result<(), End> {
        let text = serde_json::to_string(msg).expect("client frames serialize");
        ws.send(Message::text(text)).await.map_err(|_| End::Retry)
    }

    /// Sends the head of the outbox if nothing is in flight and we may.
    async fn pump(&mut self, ws: &mut Socket, live: bool) -> Result<(), End> {
        if !live || self.inflight {
            return Ok(());
        }
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return Ok(());
            }
            self.paused_until = None;
        }
        if let Some(Outgoing {
            id,
            room,
            body,
            thread,
            file,
        }) = self.outbox.front().cloned()
        {
            let (file, secrets) = file.unzip();
            let (body, encrypted, mentions) = if self.encrypted.contains(&room) || file.is_some() {
                match self.seal(room, &body, secrets).await {
                    Ok(enc) => (String::new(), Some(enc), mentioned(&body)),
                    Err(
                        crate::ClientError::Unreachable(_)
                        | crate::ClientError::Server {
                            code: ErrorCode::Internal | ErrorCode::RateLimited,
                            ..
                        },
                    ) => {
                        // Sharing the key failed on the way: try again soon.
                        self.paused_until = Some(Instant::now() + Duration::from_secs(1));
                        return Ok(());
                    }
                    Err(e) => {
                        self.outbox.pop_front();
                        self.emit(Event::Failed(ErrorMsg {
                            client_msg_id: Some(id),
                            ..ErrorMsg::new(ErrorCode::BadRequest, e.to_string())
                        }));
                        return Box::pin(self.pump(ws, live)).await;
                    }
                }
            } else {
                (body, None, Vec::new())
            };
            Self::send(
                ws,
                &ClientMsg::Send {
                    room,
                    client_msg_id: id,
                    body,
                    encrypted,
                    file,
                    mentions,
                    thread: thread.map(|(t, _)| t),
                    also_room: thread.is_some_and(|(_, also)| also),
                },
            )
            .await?;
            self.inflight = true;
        }
        Ok(())
    }

    /// `body` encrypted for `room` by this login's device.
    async fn seal(
        &mut self,
        room: RoomId,
        body: &str,
        file: Option<FileSecrets>,
    ) -> Result<securechat_proto::e2e::Encrypted, crate::ClientError> {
        let Some(crypto) = &self.crypto else {
            return Err(crate::ClientError::Crypto(
                "this conversation is end-to-end encrypted, and this client has no keys".into(),
            ));
        };
        let mut c = crypto.lock().await;
        let enc = tokio::time::timeout(CRYPTO_CALLS, c.encrypt_with_file(room, body, file))
            .await
            .unwrap_or_else(|_| {
                Err(crate::ClientError::Unreachable(
                    "the key share timed out".into(),
                ))
            });
        let notices = std::mem::take(&mut c.warnings);
        drop(c);
        for n in notices {
            self.emit(Event::Notice(n));
        }
        enc
    }

    /// Opens a to-device message, acks it, and lets held events go that
    /// now have their key.
    async fn open_to_device(
        &mut self,
        ws: &mut Socket,
        ev: securechat_proto::e2e::ToDeviceEvent,
    ) -> Result<(), End> {
        if let Some(crypto) = &self.crypto {
            let mut c = crypto.lock().await;
            let received = tokio::time::timeout(CRYPTO_CALLS, c.receive(&ev))
                .await
                .unwrap_or_else(|_| Err(crate::ClientError::Unreachable("timed out".into())));
            match received {
                Ok(()) => {}
                Err(crate::ClientError::Crypto(e)) => {
                    c.warnings
                        .push(format!("a key from {} could not be opened: {e}", ev.from));
                }
                // The server could not be asked about the sender: not
                // acked, so it comes again on the next connection.
                Err(_) => return Err(End::Retry),
            }
            let notices = std::mem::take(&mut c.warnings);
            drop(c);
            for n in notices {
                self.emit(Event::Notice(n));
            }
        }
        Self::send(ws, &ClientMsg::ToDeviceAck { upto: ev.id }).await?;
        self.release(false).await;
        Ok(())
    }

    /// Reports a room event, opened, unless it (or one before it) waits
    /// for a key.
    async fn deliver(&mut self, mut msg: ServerMsg) {
        let Some(crypto) = &self.crypto else {
            self.emit(Event::Server(msg));
            return;
        };
        if self.held.is_empty() && crypto.lock().await.open_event(&mut msg) {
            self.emit(Event::Server(msg));
            return;
        }
        if self.held.is_empty() {
            self.held_since = Some(Instant::now());
        }
        self.held.push_back(msg);
    }

    /// Reports held events whose keys are here now, in order; with
    /// `give_up`, the head is shown as undecryptable first.
    async fn release(&mut self, give_up: bool) {
        let Some(crypto) = self.crypto.clone() else {
            return;
        };
        let mut c = crypto.lock().await;
        if give_up && let Some(mut head) = self.held.pop_front() {
            c.give_up(&mut head).await;
            self.emit(Event::Server(head));
        }
        while let Some(head) = self.held.front_mut() {
            if !c.open_event(head) {
                break;
            }
            let head = self.held.pop_front().expect("a head");
            self.emit(Event::Server(head));
        }
        self.held_since = (!self.held.is_empty()).then(Instant::now);
    }

    async fn session(&mut self, mut ws: Socket, attempt: &mut u32) -> End {
        match self.talk(&mut ws, attempt).await {
            Ok(()) => End::Stop,
            Err(end) => end,
        }
    }

    async fn talk(&mut self, ws: &mut Socket, attempt: &mut u32) -> Result<(), End> {
        let mut live = false;
        let mut last_heard = Instant::now();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            let pause = self.paused_until;
            let held_since = self.held_since;
            tokio::select! {
                frame = ws.next() => {
                    last_heard = Instant::now();
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(close))) => {
                            if close.is_some_and(|c| u16::from(c.code) == 4001) {
                                self.emit(Event::Status(Status::SessionEnded));
                                return Err(End::Stop);
                            }
                            return Err(End::Retry);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => return Err(End::Retry),
                    };
                    let Ok(msg) = serde_json::from_str::<ServerMsg>(text.as_str()) else { continue };
                    self.on_frame(ws, msg, &mut live, attempt).await?;
                }
                cmd = self.cmds.recv() => match cmd {
                    None => {
                        let _ = ws.close(None).await;
                        return Ok(());
                    }
                    Some(Cmd::Read { room, seq }) if live => Self::send(ws, &ClientMsg::Read { room, seq }).await?,
                    Some(Cmd::Typing { room }) if live => Self::send(ws, &ClientMsg::Typing { room }).await?,
                    Some(cmd) => {
                        self.queue(cmd);
                        self.pump(ws, live).await?;
                    }
                },
                _ = async { sleep_until(pause.unwrap_or_else(Instant::now)).await }, if pause.is_some() => {
                    self.pump(ws, live).await?;
                }
                _ = async { sleep_until(held_since.unwrap_or_else(Instant::now) + KEY_WAIT).await }, if held_since.is_some() => {
                    self.release(true).await;
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > DEAD_AFTER {
                        return Err(End::Retry);
                    }
                    Self::send(ws, &ClientMsg::Ping { nonce: "hb".into() }).await?;
                }
            }
        }
    }

    async fn on_frame(
        &mut self,
        ws: &mut Socket,
        msg: ServerMsg,
        live: &mut bool,
        attempt: &mut u32,
    ) -> Result<(), End> {
        match msg {
            ServerMsg::Welcome(w) => {
                self.resyncing.clear();
                for room in &w.rooms {
                    self.cursors.entry(room.id).or_insert(room.last_seq);
                }
                self.encrypted = w
                    .rooms
                    .iter()
                    .filter(|r| r.encrypted)
                    .map(|r| r.id)
                    .collect();
                let known: Vec<RoomId> = w.rooms.iter().map(|r| r.id).collect();
                self.cursors.retain(|id, _| known.contains(id));
                let since = self.cursors.clone();
                self.emit(Event::Welcome(w));
                Self::send(ws, &ClientMsg::Sync { since }).await?;
            }
            ServerMsg::Synced => {
                self.resyncing.clear();
                *live = true;
                *attempt = 0;
                self.inflight = false;
                self.emit(Event::Status(Status::Connected));
                self.pump(ws, *live).await?;
            }
            ServerMsg::Ack(ack) => {
                if self
                    .outbox
                    .front()
                    .is_some_and(|out| out.id == ack.client_msg_id)
                {
                    self.outbox.pop_front();
                    self.inflight = false;
                    self.key_retries = 0;
                }
                self.emit(Event::Acked(ack));
                self.pump(ws, *live).await?;
            }
            ServerMsg::Error(err) if err.client_msg_id.is_some() => {
                let id = err.client_msg_id.clone();
                let head = self.outbox.front().map(|out| out.id.clone());
                if head == id {
                    self.inflight = false;
                    if err.code == ErrorCode::RateLimited {
                        let wait = Duration::from_millis(err.retry_after_ms.unwrap_or(1000));
                        self.paused_until = Some(Instant::now() + wait);
                        self.emit(Event::Status(Status::RateLimited { wait }));
                        return Ok(());
                    }
                    if err.code == ErrorCode::KeysOutdated && self.key_retries < KEY_RETRIES {
                        // Someone joined or left as we sent: share again.
                        self.key_retries += 1;
                        return self.pump(ws, *live).await;
                    }
                    self.key_retries = 0;
                    self.outbox.pop_front();
                }
                self.emit(Event::Failed(err));
                self.pump(ws, *live).await?;
            }
            ServerMsg::RoomAdded { room } => {
                self.cursors
                    .insert(room.id, room.last_seq.saturating_sub(1));
                if room.encrypted {
                    self.encrypted.insert(room.id);
                }
                self.emit(Event::Server(ServerMsg::RoomAdded { room }));
            }
            ServerMsg::ToDevice(ev) => self.open_to_device(ws, ev).await?,
            ServerMsg::RoomRemoved { room } => {
                self.cursors.remove(&room);
                self.emit(Event::Server(ServerMsg::RoomRemoved { room }));
            }
            other => {
                if let Some((room, seq)) = other.stream_position() {
                    let cursor = self.cursors.entry(room).or_insert(0);
                    if seq <= *cursor {
                        return Ok(());
                    }
                    if seq > *cursor + 1 {
                        // Events went live before our `sync` was read (a
                        // busy client answers `welcome` late): ask for what
                        // lies between, once; the replay brings this event
                        // too, in order.
                        if self.resyncing.insert(room) {
                            let since = BTreeMap::from([(room, *cursor)]);
                            Self::send(ws, &ClientMsg::Sync { since }).await?;
                        }
                        return Ok(());
                    }
                    *cursor = seq;
                    self.deliver(other).await;
                    return Ok(());
                }
                self.emit(Event::Server(other));
            }
        }
        Ok(())
    }
}

/// Waits for `events` to report that the connection is live.
pub async fn wait_connected(
    events: &mut mpsc::UnboundedReceiver<Event>,
    within: Duration,
) -> Option<Vec<Event>> {
    let mut seen = Vec::new();
    let deadline = sleep(within);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return None,
            e = events.recv() => match e {
                Some(Event::Status(Status::Connected)) => return Some(seen),
                Some(Event::Status(Status::SessionEnded)) | None => return None,
                Some(e) => seen.push(e),
            }
        }
    }
}

/// The users an encrypted message names (`@name`), told to the server in
/// the clear so it can notify them.
fn mentioned(body: &str) -> Vec<String> {
    let mut names: Vec<String> = body
        .split(|c: char| c.is_whitespace())
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| {
            w.trim_end_matches(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            })
            .to_ascii_lowercase()
        })
        .filter(|n| !n.is_empty() && n.len() <= 32)
        .collect();
    names.sort();
    names.dedup();
    names.truncate(100);
    names
}
