//! The writer task: the only code that sends on a connection.
//!
//! It sends `welcome` first, then drains the connection's queue, taking
//! everything queued at once, feeding every frame and flushing once per
//! batch. It keeps a cursor per room (the last seq this client has or was
//! told about in `welcome`):
//! a live event at or below the cursor is a duplicate and is skipped; one
//! beyond `cursor + 1` means a gap, filled from the store first.
//!
//! Room events are held back until the client's first frame (or
//! [`SYNC_GRACE`]): a reconnecting client sends `sync` first, and its
//! replay must come before anything newer, in order.

use crate::hub::{Close, IdMap, Outbound};
use crate::metrics::{self, Metrics};
use crate::outbox::OutboxRx;
use crate::store::e2e;
use crate::store::{Store, StoreError, events};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use securechat_proto::{DeviceId, RoomId, Seq, ServerMsg, Timestamp};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// How long room events wait for a client's first frame (normally `sync`).
pub const SYNC_GRACE: Duration = Duration::from_secs(1);
/// Events fetched per store read during a replay.
const REPLAY_PAGE: usize = 500;
/// To-device messages fetched per store read.
const TO_DEVICE_PAGE: usize = 200;
/// A peer that does not read gets this long to take the close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// When the peer was last heard from (any frame, pongs included).
pub struct Heartbeat {
    start: Instant,
    last_ms: AtomicU64,
}

impl Heartbeat {
    pub fn new() -> Self {
        Heartbeat {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Relaxed);
    }

    pub fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything the writer task owns.
pub struct Writer {
    pub sink: SplitSink<WebSocket, Message>,
    pub rx: OutboxRx<Outbound>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Last seq per room this client has.
    pub cursors: IdMap<RoomId, Seq>,
    /// Room events held until the client's first frame; `None` once live.
    pub held: Option<Vec<(RoomId, Seq, Utf8Bytes)>>,
    pub heartbeat: Arc<Heartbeat>,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub session_expires: Timestamp,
    /// Most events held before going live anyway.
    pub hold_limit: usize,
    /// This connection's device (its session), and the last to-device
    /// message sent on it.
    pub device: DeviceId,
    pub to_device_after: u64,
}

/// Why the writer stopped sending.
enum Stop {
    /// Send this close frame.
    Close(Close),
    /// The socket failed; nothing more can be sent.
    Broken,
}

impl From<axum::Error> for Stop {
    fn from(_: axum::Error) -> Self {
        Stop::Broken
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "replay from the store failed");
        Stop::Close(Close::INTERNAL)
    }
}

impl Writer {
    /// Runs until the connection closes. `kill` (from the hub) and
    /// `shutdown` interrupt it even while a send is blocked on a peer that
    /// does not read.
    pub async fn run(
        mut self,
        welcome: Utf8Bytes,
        kill: oneshot::Receiver<Close>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let killed = async {
            match kill.await {
                Ok(close) => close,
                // Unregistered without a reason: the session is ending.
                Err(_) => std::future::pending().await,
            }
        };
        let stopping = async { drop(shutdown.wait_for(|s| *s).await) };
        let stop = tokio::select! {
            biased;
            close = killed => Stop::Close(close),
            _ = stopping => Stop::Close(Close::GOING_AWAY),
            stop = async {
                match self.sink.send(Message::Text(welcome)).await {
                    Ok(()) => self.serve().await,
                    Err(_) => Stop::Broken,
                }
            } => stop,
        };
        if let Stop::Close(close) = stop {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                let _ = self.sink.send(super::close_message(&close)).await;
                let _ = self.sink.close().await;
            })
            .await;
        }
    }

    async fn serve(&mut self) -> Stop {
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + self.ping_interval,
            self.ping_interval,
        );
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let hold_deadline = tokio::time::sleep(SYNC_GRACE);
        tokio::pin!(hold_deadline);
        let mut batch = VecDeque::new();
        // Whatever waited for this device while it was away goes first.
        if let Err(stop) = self.send_to_device_messages().await {
            return stop;
        }
        loop {
            tokio::select! {
                biased;
                _ = ping.tick() => {
                    if let Err(stop) = self.heartbeat_tick().await {
                        return stop;
                    }
                    continue;
                }
                _ = &mut hold_deadline, if self.held.is_some() => {
                    if let Err(stop) = self.go_live().await {
                        return stop;
                    }
                    if self.sink.flush().await.is_err() {
                        return Stop::Broken;
                    }
                    continue;
                }
                more = self.rx.recv_all(&mut batch) => if !more {
                    return Stop::Close(Close::NORMAL);
                },
            }
            while let Some(item) = batch.pop_front() {
                if let Err(stop) = self.handle(item).await {
                    return stop;
                }
            }
            if self.sink.flush().await.is_err() {
                return Stop::Broken;
            }
        }
    }

    /// Pings, or closes a peer that has been silent too long or whose
    /// session expired.
    async fn heartbeat_tick(&mut self) -> Result<(), Stop> {
        if self.heartbeat.silent_for() >= self.idle_timeout {
            metrics::inc(&self.metrics.idle_disconnects_total);
            return Err(Stop::Close(Close::IDLE));
        }
        if Timestamp::now() >= self.session_expires {
            return Err(Stop::Close(Close::SESSION_ENDED));
        }
        self.sink.send(Message::Ping(Default::default())).await?;
        // A poke from another node may have been lost on the way (the
        // broker is at most once): look again now and then.
        self.send_to_device_messages().await?;
        Ok(())
    }

    /// Feeds one queued item (no flush).
    async fn handle(&mut self, item: Outbound) -> Result<(), Stop> {
        match item {
            Outbound::Event { room, seq, json } => match &mut self.held {
                Some(held) => {
                    held.push((room, seq, json));
                    if held.len() >= self.hold_limit {
                        self.go_live().await?;
                    }
                }
                None => self.live(room, seq, json).await?,
            },
            Outbound::Frame(json) => self.sink.feed(Message::Text(json)).await?,
            Outbound::Joined { room, from, json } => {
                // The stream starts at the event that added the user: none
                // of what happened while they were away is "missed".
                self.cursors.insert(room, from - 1);
                self.sink.feed(Message::Text(json)).await?;
            }
            Outbound::Left { room, json } => {
                self.cursors.remove(&room);
                self.sink.feed(Message::Text(json)).await?;
            }
            Outbound::Sync(since) => self.sync(since).await?,
            Outbound::Release => self.go_live().await?,
            Outbound::ToDevice => self.send_to_device_messages().await?,
            Outbound::Close(close) => return Err(Stop::Close(close)),
        }
        Ok(())
    }

    /// Sends a live event unless the client has it; fills a gap first.
    async fn live(&mut self, room: RoomId, seq: Seq, json: Utf8Bytes) -> Result<(), Stop> {
        let cursor = self
            .cursors
            .entry(room)
            .or_insert_with(|| seq.saturating_sub(1));
        if seq <= *cursor {
            return Ok(());
        }
        if seq == *cursor + 1 {
            // The common case: one map lookup per delivery.
            *cursor = seq;
        } else {
            let after = *cursor;
            self.replay(room, after, seq - 1).await?;
            self.cursors.insert(room, seq);
        }
        self.sink.feed(Message::Text(json)).await?;
        Ok(())
    }

    /// Replays what the client lacks, says `synced`, and goes live.
    async fn sync(&mut self, since: BTreeMap<RoomId, Seq>) -> Result<(), Stop> {
        for (room, after) in since {
            if let Some(&upto) = self.cursors.get(&room) {
                self.replay(room, after, upto).await?;
            }
        }
        self.sink
            .feed(Message::Text(ServerMsg::Synced.to_json().into()))
            .await?;
        self.go_live().await
    }

    /// Sends the events held so far and stops holding.
    async fn go_live(&mut self) -> Result<(), Stop> {
        if let Some(held) = self.held.take() {
            for (room, seq, json) in held {
                self.live(room, seq, json).await?;
            }
        }
        Ok(())
    }

    /// Sends the to-device messages this connection has not sent yet (the
    /// client acks them; unacked ones come again on its next connection).
    async fn send_to_device_messages(&mut self) -> Result<(), Stop> {
        loop {
            let (device, after) = (self.device, self.to_device_after);
            let page = self
                .store
                .read(move |c| e2e::pending(c, device, after, TO_DEVICE_PAGE))
                .await?;
            let Some(last) = page.last() else { break };
            self.to_device_after = last.id;
            let full = page.len() == TO_DEVICE_PAGE;
            for ev in page {
                let json = ServerMsg::ToDevice(ev).to_json();
                self.sink.feed(Message::Text(json.into())).await?;
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Sends stored events of `room` with seq in `(after, upto]`.
    async fn replay(&mut self, room: RoomId, mut after: Seq, upto: Seq) -> Result<(), Stop> {
        while after < upto {
            let page = self
                .store
                .read(move |c| events::range(c, room, after, upto, REPLAY_PAGE))
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for event in page {
                let json = event.msg.to_json();
                self.sink.feed(Message::Text(json.into())).await?;
            }
        }
        let cursor = self.cursors.entry(room).or_insert(0);
        *cursor = (*cursor).max(upto);
        Ok(())
    }
}
