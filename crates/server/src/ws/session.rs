//! One WebSocket connection: subscribe to the hub, send `welcome` (through
//! the writer), then read and answer frames until either side ends.

use super::control::FloodMeter;
use super::writer::{Heartbeat, Writer};
use crate::hub::{Close, Outbound};
use crate::metrics;
use crate::outbox::OutboxTx;
use crate::state::AppState;
use crate::store::events::Appended;
use crate::store::rooms;
use crate::store::sessions::Session;
use crate::store::users;
use crate::{chat, conversations};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::stream::FuturesOrdered;
use futures_util::{Stream, StreamExt};
use securechat_proto::integrations::Scope;
use securechat_proto::validate::{validate_body, validate_client_msg_id, validate_encrypted};
use securechat_proto::ws::{Ack, ErrorMsg, Limits, Welcome};
use securechat_proto::{
    ClientMsg, DeviceId, ErrorCode, PROTOCOL_VERSION, RoomId, ServerMsg, Timestamp,
};
use std::collections::HashMap;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the writer may take to say goodbye after the reader stopped.
const WRITER_GRACE: Duration = Duration::from_secs(5);
/// Sends one connection may have waiting for their commit. Pipelining
/// lets a busy client fill a group commit instead of waiting a commit per
/// message; beyond this the reader stops reading (TCP pushes back). It is
/// also kept to a quarter of the outbound queue, so that the echoes of a
/// client's own burst, which arrive together after one commit, cannot make
/// it a slow consumer.
const MAX_IN_FLIGHT: usize = 64;

/// Most users an encrypted message may name in the clear.
const MAX_CLEAR_MENTIONS: usize = 100;

/// The answer to one frame, possibly still waiting for a commit.
type Answer = Pin<Box<dyn Future<Output = ServerMsg> + Send>>;

/// Runs a connection to its end.
pub async fn serve(socket: WebSocket, state: AppState, session: Session) {
    let _alive = state.tasks.guard();
    let user = session.user.id;
    // Membership first, so the hub knows the user's rooms when it announces
    // them; subscribe; only then read the rooms' last seqs for `welcome`, so
    // every event after them reaches this connection live.
    let memberships = state.store.read(move |c| rooms::for_user(c, user)).await;
    let Ok(memberships) = memberships else {
        tracing::error!(user = %user, "cannot load rooms for a new connection");
        return;
    };
    for room in &memberships {
        state.hub.add_member(room.id, user);
    }
    let reg = state.hub.register(
        user,
        &session.user.username,
        session.id,
        state.config.outbound_queue,
    );
    let conn_id = reg.id;
    touch_last_seen(&state, user).await;
    let rooms = match state.store.read(move |c| rooms::for_user(c, user)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot load rooms for welcome");
            state.hub.unregister(conn_id);
            return;
        }
    };
    for room in &rooms {
        // What the welcome says is this node's view of the room so far.
        state.hub.mark_published(room.id, room.last_seq);
    }
    tracing::debug!(user = %user, conn = conn_id, "connected");
    let welcome = Welcome {
        protocol_version: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        user: session.user.info(),
        device: DeviceId(session.id.0),
        online: state.hub.online_peers(user),
        limits: Limits {
            max_message_bytes: state.config.max_message_bytes,
            max_frame_bytes: state.config.max_frame_bytes,
            rate_per_sec: state.config.rate_per_sec,
            burst: state.config.burst,
            ping_interval_ms: state.config.ping_interval_ms,
            retention_days: state.config.retention_days,
        },
        rooms,
    };
    let cursors = welcome.rooms.iter().map(|r| (r.id, r.last_seq)).collect();
    let welcome = Utf8Bytes::from(ServerMsg::Welcome(welcome).to_json());
    let heartbeat = Arc::new(Heartbeat::new());
    let (sink, stream) = socket.split();
    let writer = Writer {
        sink,
        rx: reg.rx,
        store: state.store.clone(),
        metrics: state.metrics.clone(),
        cursors,
        held: Some(Vec::new()),
        heartbeat: heartbeat.clone(),
        ping_interval: state.config.ping_interval(),
        idle_timeout: state.config.idle_timeout(),
        session_expires: Timestamp(session.expires_at),
        hold_limit: state.config.outbound_queue,
        device: DeviceId(session.id.0),
        to_device_after: 0,
    };
    let mut writer_task = tokio::spawn(writer.run(welcome, reg.kill, state.shutdown.clone()));

    let mut reader = Reader {
        state: &state,
        session: &session,
        tx: reg.tx,
        heartbeat,
        spoke: false,
        flood: FloodMeter::default(),
        typing: HashMap::new(),
        answers: FuturesOrdered::new(),
        in_flight_limit: (state.config.outbound_queue / 4).clamp(1, MAX_IN_FLIGHT),
    };
    let ended = tokio::select! {
        ended = reader.run(stream) => ended,
        _ = &mut writer_task => None,
    };
    if !writer_task.is_finished() {
        let close = ended.unwrap_or(Close::NORMAL);
        if reader.tx.try_send(Outbound::Close(close)).is_err() {
            writer_task.abort();
        }
        if tokio::time::timeout(WRITER_GRACE, &mut writer_task)
            .await
            .is_err()
        {
            writer_task.abort();
        }
    }
    if state.hub.unregister(conn_id) {
        touch_last_seen(&state, user).await;
    }
    tracing::debug!(user = %user, conn = conn_id, "disconnected");
}

async fn touch_last_seen(state: &AppState, user: securechat_proto::UserId) {
    let now = Timestamp::now().0;
    if let Err(e) = state
        .store
        .write(move |tx| users::touch_last_seen(tx, user, now))
        .await
    {
        tracing::warn!(error = %e, "cannot record last_seen");
    }
}

pub(super) struct Reader<'a> {
    pub(super) state: &'a AppState,
    pub(super) session: &'a Session,
    tx: OutboxTx<Outbound>,
    heartbeat: Arc<Heartbeat>,
    /// Whether the client has sent a frame yet.
    spoke: bool,
    pub(super) flood: FloodMeter,
    /// When this connection last relayed typing, per room.
    pub(super) typing: HashMap<RoomId, Instant>,
    /// Answers to sends, in the order the sends arrived. Every other frame
    /// is handled after these are out, so answers keep the frames' order.
    answers: FuturesOrdered<Answer>,
    /// Most entries in `answers`.
    in_flight_limit: usize,
}

impl Reader<'_> {
    /// Reads until the peer goes away (`None`) or the connection must be
    /// closed for a reason (`Some`).
    async fn run<S>(&mut self, mut stream: S) -> Option<Close>
    where
        S: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        loop {
            let frame = tokio::select! {
                biased;
                Some(answer) = self.answers.next(), if !self.answers.is_empty() => {
                    self.frame(&answer).await;
                    continue;
                }
                frame = stream.next(), if self.answers.len() < self.in_flight_limit => frame,
            };
            let frame = frame?;
            self.heartbeat.touch();
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    let close = close_for_error(e);
                    if close.is_some() {
                        metrics::inc(&self.state.metrics.bad_frames_total);
                    }
                    return close;
                }
            };
            match frame {
                Message::Text(text) => {
                    if let Some(close) = self.on_text(text.as_str()).await {
                        return Some(close);
                    }
                }
                Message::Binary(_) => {
                    metrics::inc(&self.state.metrics.bad_frames_total);
                    return Some(Close::BINARY);
                }
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    }

    /// Sends the answers of every send still in flight, in order.
    async fn drain(&mut self) {
        while let Some(answer) = self.answers.next().await {
            self.frame(&answer).await;
        }
    }

    async fn on_text(&mut self, text: &str) -> Option<Close> {
        let msg = serde_json::from_str::<ClientMsg>(text);
        if !matches!(msg, Ok(ClientMsg::Send { .. })) {
            self.drain().await;
        }
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                metrics::inc(&self.state.metrics.bad_frames_total);
                self.error(ErrorMsg::new(
                    ErrorCode::BadRequest,
                    format!("malformed frame: {e}"),
                ))
                .await;
                return None;
            }
        };
        if matches!(msg, ClientMsg::Send { .. } | ClientMsg::Typing { .. })
            && !self.session.allows(Scope::Write)
        {
            let client_msg_id = match &msg {
                ClientMsg::Send { client_msg_id, .. } => Some(client_msg_id.clone()),
                _ => None,
            };
            let refused = ErrorMsg {
                client_msg_id,
                ..ErrorMsg::new(ErrorCode::Forbidden, "this API token lacks the write scope")
            };
            self.error(refused).await;
            return None;
        }
        if !self.spoke {
            self.spoke = true;
            if !matches!(msg, ClientMsg::Sync { .. }) {
                self.queue(Outbound::Release).await;
            }
        }
        match msg {
            ClientMsg::Send {
                room,
                client_msg_id,
                body,
                encrypted,
                file,
                mentions,
                thread,
                also_room,
            } => {
                let post = chat::Post {
                    client_msg_id,
                    body,
                    thread,
                    also_room,
                    file,
                    encrypted,
                    device: Some(DeviceId(self.session.id.0)),
                    mentions,
                };
                return self.on_send(room, post).await;
            }
            ClientMsg::Sync { since } => self.on_sync(since).await,
            ClientMsg::Ping { nonce } => {
                self.frame(&ServerMsg::Pong { nonce }).await;
            }
            ClientMsg::Read { room, seq } => {
                if let Err(wait) = self.charge_mark() {
                    return self.over_budget(wait, None);
                }
                let user = self.session.user.id;
                if let Err(e) = conversations::mark_read(self.state, user, room, seq).await {
                    self.error(e.error_msg()).await;
                }
            }
            ClientMsg::Typing { room } => return self.on_typing(room).await,
            ClientMsg::ToDeviceAck { upto } => {
                let device = DeviceId(self.session.id.0);
                let acked = self
                    .state
                    .store
                    .write(move |tx| crate::store::e2e::ack(tx, device, upto))
                    .await;
                if let Err(e) = acked {
                    tracing::warn!(error = %e, "cannot forget acked to-device messages");
                }
            }
        }
        None
    }

    async fn on_send(&mut self, room: RoomId, post: chat::Post) -> Option<Close> {
        let state = self.state;
        let client_msg_id = post.client_msg_id.clone();
        if let Err(e) = validate_client_msg_id(&client_msg_id) {
            metrics::inc(&state.metrics.bad_frames_total);
            self.answer(ErrorMsg::new(e.code(), e.to_string()));
            return None;
        }
        let refusal = |code, message: String| ErrorMsg {
            client_msg_id: Some(client_msg_id.clone()),
            ..ErrorMsg::new(code, message)
        };
        let checked = match &post.encrypted {
            None if post.file.is_some() => {
                self.answer(refusal(
                    ErrorCode::BadRequest,
                    "a file in the clear is sent by upload, not in a send frame".into(),
                ));
                return None;
            }
            None => validate_body(&post.body, state.config.max_message_bytes),
            Some(_) if post.mentions.len() > MAX_CLEAR_MENTIONS => {
                self.answer(refusal(
                    ErrorCode::BadRequest,
                    format!("at most {MAX_CLEAR_MENTIONS} mentions"),
                ));
                return None;
            }
            Some(enc) => validate_encrypted(enc, state.config.max_message_bytes),
        };
        if let Err(e) = checked {
            metrics::inc(&state.metrics.bad_frames_total);
            self.answer(refusal(e.code(), e.to_string()));
            return None;
        }
        if let Err(wait) = state
            .budgets
            .messages
            .check(self.session.user.id, Instant::now())
        {
            metrics::inc(&state.metrics.rate_limited_total);
            return self.over_budget(wait, Some(client_msg_id));
        }
        let user = self.session.user.id;
        let durable = match chat::post(state, user, room, post).await {
            Ok(durable) => durable,
            Err(e) => {
                self.answer(refusal(e.code(), e.public_message()));
                return None;
            }
        };
        self.answers.push_back(Box::pin(async move {
            match durable.await {
                Ok(chat::Posted {
                    appended: Appended::New(e) | Appended::Duplicate(e),
                    ..
                }) => ServerMsg::Ack(Ack {
                    client_msg_id,
                    id: e.id,
                    room: e.room,
                    seq: e.seq,
                    ts: e.ts,
                }),
                Err(e) => ServerMsg::Error(ErrorMsg {
                    client_msg_id: Some(client_msg_id),
                    ..e.error_msg()
                }),
            }
        }));
        None
    }

    /// Queues an answer behind the sends still in flight.
    pub(super) fn answer(&mut self, err: ErrorMsg) {
        self.answers
            .push_back(Box::pin(ready(ServerMsg::Error(err))));
    }

    pub(super) async fn frame(&mut self, msg: &ServerMsg) {
        self.queue(Outbound::Frame(Utf8Bytes::from(msg.to_json())))
            .await;
    }

    pub(super) async fn error(&mut self, err: ErrorMsg) {
        self.frame(&ServerMsg::Error(err)).await;
    }

    /// Queues to the writer; if the writer is gone the connection is ending
    /// anyway.
    pub(super) async fn queue(&mut self, item: Outbound) {
        let _ = self.tx.send(item).await;
    }
}

/// The close code for a read error (`None` when the peer simply vanished).
pub fn close_for_error(e: axum::Error) -> Option<Close> {
    match e.into_inner().downcast::<tungstenite::Error>() {
        Ok(err) => match *err {
            tungstenite::Error::Capacity(_) => Some(Close::TOO_BIG),
            tungstenite::Error::Protocol(_) => Some(Close::PROTOCOL),
            tungstenite::Error::Utf8(_) => Some(Close::BAD_DATA),
            _ => None,
        },
        Err(_) => None,
    }
}
