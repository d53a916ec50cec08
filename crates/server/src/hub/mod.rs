//! The in-process hub: who is connected, who is in which room, and fan-out.
//!
//! Every connection has a bounded queue ([`crate::outbox`]) of [`Outbound`]
//! items drained by its writer task. Fan-out serializes an event once and
//! queues the same bytes (a reference-counted `Utf8Bytes`) to every member
//! connection with `try_send`: a connection whose queue is full is a slow
//! consumer and is closed (1013) instead of slowing everyone down; it
//! resumes with `sync`.
//!
//! One `std::sync::Mutex` guards the maps; it is never held across an
//! `.await`.
//!
//! With several nodes ([`remote`]), whatever the hub delivers is also
//! handed to the [`crate::broker`] as a [`Wire`] message, which every
//! other node's hub applies to its own connections; presence then counts
//! a user online while any node has a connection of theirs.

mod remote;
pub use remote::Wire;

use crate::metrics::Metrics;
use crate::outbox::{OutboxRx, OutboxTx, SendError, outbox};
use crate::store::sessions::SessionId;
use axum::extract::ws::Utf8Bytes;
use securechat_proto::ws::RoomInfo;
use securechat_proto::{RoomId, Seq, ServerMsg, UserId};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Identifies one WebSocket connection.
pub type ConnId = u64;

/// A map keyed by the server's own integer ids (connections, users,
/// rooms). Fan-out looks keys up several times per delivery, and SipHash
/// was 4% of the server's time there; these keys are assigned by the
/// server, not chosen by clients, so a fast hasher is safe.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A set of server-assigned ids; see [`IdMap`].
pub type IdSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// Why the server closes a connection: a WebSocket close code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

impl Close {
    pub const NORMAL: Close = Close {
        code: 1000,
        reason: "bye",
    };
    pub const GOING_AWAY: Close = Close {
        code: 1001,
        reason: "server shutting down",
    };
    pub const IDLE: Close = Close {
        code: 1001,
        reason: "no heartbeat",
    };
    pub const PROTOCOL: Close = Close {
        code: 1002,
        reason: "protocol error",
    };
    pub const BINARY: Close = Close {
        code: 1003,
        reason: "binary frames are not supported",
    };
    pub const BAD_DATA: Close = Close {
        code: 1007,
        reason: "text frame is not valid UTF-8",
    };
    pub const FLOODING: Close = Close {
        code: 1008,
        reason: "too many rate-limited sends",
    };
    pub const TOO_BIG: Close = Close {
        code: 1009,
        reason: "frame too large",
    };
    pub const INTERNAL: Close = Close {
        code: 1011,
        reason: "internal error",
    };
    pub const SLOW_CONSUMER: Close = Close {
        code: 1013,
        reason: "slow consumer: reconnect and sync",
    };
    pub const SESSION_ENDED: Close = Close {
        code: 4001,
        reason: "session ended: log in again",
    };
}

/// An item in a connection's outbound queue.
#[derive(Debug)]
pub enum Outbound {
    /// A stored room event; the writer uses `room`/`seq` to skip what the
    /// client has and to fill gaps.
    Event {
        room: RoomId,
        seq: Seq,
        json: Utf8Bytes,
    },
    /// Any other frame (ack, error, pong, presence).
    Frame(Utf8Bytes),
    /// The user joined `room` (`json` is its `room_added`); its stream
    /// starts for this connection at `from` (the event that added them).
    Joined {
        room: RoomId,
        from: Seq,
        json: Utf8Bytes,
    },
    /// The user left `room` (`json` is its `room_removed`).
    Left { room: RoomId, json: Utf8Bytes },
    /// Replay events after these seqs, then send `synced` and go live.
    Sync(BTreeMap<RoomId, Seq>),
    /// Go live without a replay (the client did not start with `sync`).
    Release,
    /// New to-device messages wait for this connection's device: read
    /// them from the store.
    ToDevice,
    /// Close the connection.
    Close(Close),
}

struct Conn {
    user: UserId,
    session: SessionId,
    tx: OutboxTx<Outbound>,
    kill: Option<oneshot::Sender<Close>>,
}

#[derive(Default)]
struct Inner {
    conns: IdMap<ConnId, Conn>,
    by_user: IdMap<UserId, Vec<ConnId>>,
    usernames: IdMap<UserId, String>,
    members: IdMap<RoomId, IdSet<UserId>>,
    rooms_of: IdMap<UserId, IdSet<RoomId>>,
    /// Other nodes: who is online there (see [`remote`]).
    nodes: remote::Nodes,
    /// The newest seq published here per room (the broker's catch-up
    /// compares it with the database; kept with several nodes only).
    published: IdMap<RoomId, Seq>,
}

/// The hub. Share it as `Arc<Hub>`.
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
    /// To the other nodes, through the broker; `None` on a single node.
    relay: Option<mpsc::UnboundedSender<Wire>>,
}

/// A registered connection's end of the hub.
pub struct Registration {
    pub id: ConnId,
    pub rx: OutboxRx<Outbound>,
    pub tx: OutboxTx<Outbound>,
    pub kill: oneshot::Receiver<Close>,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Hub {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
            metrics,
            relay: None,
        }
    }

    /// A hub of one of several nodes: what it delivers also goes to `relay`
    /// (the broker), and it receives the others' with [`Hub::receive`].
    pub fn with_relay(metrics: Arc<Metrics>, relay: mpsc::UnboundedSender<Wire>) -> Self {
        Hub {
            relay: Some(relay),
            ..Hub::new(metrics)
        }
    }

    /// Hands `make()` to the other nodes, if there are any.
    fn relay(&self, make: impl FnOnce() -> Wire) {
        if let Some(relay) = &self.relay {
            let _ = relay.send(make());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `user` is in `room`.
    pub fn add_member(&self, room: RoomId, user: UserId) {
        let mut inner = self.lock();
        inner.members.entry(room).or_default().insert(user);
        inner.rooms_of.entry(user).or_default().insert(room);
    }

    /// Records that `user` left `room`.
    pub fn remove_member(&self, room: RoomId, user: UserId) {
        let mut inner = self.lock();
        if let Some(m) = inner.members.get_mut(&room) {
            m.remove(&user);
        }
        if let Some(r) = inner.rooms_of.get_mut(&user) {
            r.remove(&room);
        }
    }

    /// Whether `user` is (known to be) in `room`.
    pub fn is_member(&self, room: RoomId, user: UserId) -> bool {
        self.lock()
            .members
            .get(&room)
            .is_some_and(|m| m.contains(&user))
    }

    /// Users with at least one connection, on any node.
    pub fn online_users(&self) -> HashSet<UserId> {
        let inner = self.lock();
        inner
            .by_user
            .keys()
            .copied()
            .chain(inner.nodes.users())
            .collect()
    }

    /// Queues a frame to every connection of `user`.
    pub fn send_to_user(&self, user: UserId, msg: &ServerMsg) {
        let json = Utf8Bytes::from(msg.to_json());
        self.to_user(user, || Outbound::Frame(json.clone()));
        self.relay(|| Wire::User {
            user,
            json: json.to_string(),
        });
    }

    /// Adds `user` to the room of `info` and tells their connections
    /// (`room_added`), whose streams for it start at the event that added
    /// them (`info.last_seq`; none for a new DM).
    pub fn joined(&self, user: UserId, info: &RoomInfo) {
        self.joined_here(user, info);
        self.relay(|| Wire::Joined {
            user,
            info: info.clone(),
        });
    }

    fn joined_here(&self, user: UserId, info: &RoomInfo) {
        self.add_member(info.id, user);
        // Events from the one that added the user on are theirs.
        self.mark_published(info.id, info.last_seq.saturating_sub(1));
        let json = Utf8Bytes::from(ServerMsg::RoomAdded { room: info.clone() }.to_json());
        let from = info.last_seq.max(1);
        self.to_user(user, || Outbound::Joined {
            room: info.id,
            from,
            json: json.clone(),
        });
    }

    /// Removes `user` from `room` and tells their connections.
    pub fn left(&self, user: UserId, room: RoomId) {
        self.left_here(user, room);
        self.relay(|| Wire::Left { user, room });
    }

    fn left_here(&self, user: UserId, room: RoomId) {
        self.remove_member(room, user);
        let json = Utf8Bytes::from(ServerMsg::RoomRemoved { room }.to_json());
        self.to_user(user, || Outbound::Left {
            room,
            json: json.clone(),
        });
    }

    fn to_user(&self, user: UserId, make: impl Fn() -> Outbound) {
        let mut inner = self.lock();
        let targets: Vec<ConnId> = inner.by_user.get(&user).cloned().unwrap_or_default();
        self.deliver(&mut inner, &targets, make);
    }

    /// Tells the connections of these sessions (devices) that to-device
    /// messages wait for them.
    pub fn poke_devices(&self, sessions: &[SessionId]) {
        self.poke_devices_here(sessions);
        self.relay(|| Wire::ToDevice {
            sessions: sessions.iter().map(|s| s.0).collect(),
        });
    }

    pub(super) fn poke_devices_here(&self, sessions: &[SessionId]) {
        let mut inner = self.lock();
        let targets: Vec<ConnId> = inner
            .conns
            .iter()
            .filter(|(_, c)| sessions.contains(&c.session))
            .map(|(id, _)| *id)
            .collect();
        self.deliver(&mut inner, &targets, || Outbound::ToDevice);
    }

    /// Queues an ephemeral frame to every connection (the user directory is
    /// everyone's, so a profile change is news to all).
    pub fn broadcast(&self, msg: &ServerMsg) {
        let json = Utf8Bytes::from(msg.to_json());
        self.broadcast_here(&json);
        self.relay(|| Wire::All {
            json: json.to_string(),
        });
    }

    fn broadcast_here(&self, json: &Utf8Bytes) {
        let mut inner = self.lock();
        let targets: Vec<ConnId> = inner.conns.keys().copied().collect();
        self.deliver(&mut inner, &targets, || Outbound::Frame(json.clone()));
    }

    /// Queues an ephemeral frame to every member of `room` but `except`.
    pub fn send_to_room(&self, room: RoomId, except: UserId, msg: &ServerMsg) {
        let json = Utf8Bytes::from(msg.to_json());
        self.send_to_room_here(room, except, &json);
        self.relay(|| Wire::Room {
            room,
            except,
            json: json.to_string(),
        });
    }

    fn send_to_room_here(&self, room: RoomId, except: UserId, json: &Utf8Bytes) {
        let mut inner = self.lock();
        let targets = room_conns(&inner, room, Some(except));
        self.deliver(&mut inner, &targets, || Outbound::Frame(json.clone()));
    }

    /// Subscribes a new connection. If it is the user's first, everyone
    /// sharing a room with them is told they are online.
    pub fn register(
        &self,
        user: UserId,
        username: &str,
        session: SessionId,
        queue: usize,
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Relaxed);
        let (tx, rx) = outbox(queue);
        let (kill_tx, kill) = oneshot::channel();
        let mut inner = self.lock();
        inner.conns.insert(
            id,
            Conn {
                user,
                session,
                tx: tx.clone(),
                kill: Some(kill_tx),
            },
        );
        inner.usernames.insert(user, username.to_owned());
        let conns = inner.by_user.entry(user).or_default();
        conns.push(id);
        let first = conns.len() == 1;
        self.metrics.connections.fetch_add(1, Relaxed);
        self.metrics.connections_total.fetch_add(1, Relaxed);
        if first {
            self.metrics.users_online.fetch_add(1, Relaxed);
            self.local_presence(&mut inner, user, true);
        }
        Registration { id, rx, tx, kill }
    }

    /// Removes a connection (idempotent). Returns true if that took its user
    /// offline; peers have then been told.
    pub fn unregister(&self, id: ConnId) -> bool {
        let mut inner = self.lock();
        self.remove(&mut inner, id, None)
    }

    /// Usernames of online users who share a room with `user` (and `user`).
    pub fn online_peers(&self, user: UserId) -> Vec<String> {
        let inner = self.lock();
        let mut names: Vec<String> = peers(&inner, user)
            .into_iter()
            .chain([user])
            .filter(|u| inner.by_user.contains_key(u) || inner.nodes.has(*u))
            .filter_map(|u| inner.usernames.get(&u).cloned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        names.sort();
        names
    }

    /// Queues a stored event to every connection of every member of `room`.
    pub fn publish(&self, room: RoomId, seq: Seq, msg: &ServerMsg) {
        let json = Utf8Bytes::from(msg.to_json());
        self.publish_here(room, seq, &json);
        self.relay(|| Wire::Event {
            room,
            seq,
            json: json.to_string(),
        });
    }

    /// Queues an event to this node's connections only.
    pub(crate) fn publish_here(&self, room: RoomId, seq: Seq, json: &Utf8Bytes) {
        let mut inner = self.lock();
        if self.relay.is_some() {
            note_published(&mut inner, room, seq);
        }
        let targets = room_conns(&inner, room, None);
        self.deliver(&mut inner, &targets, || Outbound::Event {
            room,
            seq,
            json: json.clone(),
        });
    }

    /// The sessions that have connections open.
    pub fn sessions(&self) -> Vec<SessionId> {
        let inner = self.lock();
        let mut ids: Vec<SessionId> = inner.conns.values().map(|c| c.session).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Closes every connection of the given sessions.
    pub fn close_sessions(&self, sessions: &[SessionId], why: Close) {
        self.close_sessions_here(sessions, why.clone());
        self.relay(|| Wire::Close {
            sessions: sessions.iter().map(|s| s.0).collect(),
            code: why.code,
        });
    }

    fn close_sessions_here(&self, sessions: &[SessionId], why: Close) {
        let mut inner = self.lock();
        let ids: Vec<ConnId> = inner
            .conns
            .iter()
            .filter(|(_, c)| sessions.contains(&c.session))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.remove(&mut inner, id, Some(why.clone()));
        }
    }

    /// Closes every connection (server shutdown).
    pub fn close_all(&self, why: Close) {
        let mut inner = self.lock();
        let ids: Vec<ConnId> = inner.conns.keys().copied().collect();
        for id in ids {
            self.remove(&mut inner, id, Some(why.clone()));
        }
    }

    /// Queues `make()` to each of `targets`; closes the ones whose queue is
    /// full.
    fn deliver(&self, inner: &mut Inner, targets: &[ConnId], make: impl Fn() -> Outbound) {
        let mut slow = Vec::new();
        let mut delivered = 0;
        for id in targets {
            let Some(conn) = inner.conns.get(id) else {
                continue;
            };
            match conn.tx.try_send(make()) {
                Ok(()) => delivered += 1,
                Err(SendError::Full(_)) => slow.push(*id),
                Err(SendError::Closed(_)) => {}
            }
        }
        self.metrics.deliveries_total.fetch_add(delivered, Relaxed);
        for id in slow {
            self.metrics
                .slow_consumer_disconnects_total
                .fetch_add(1, Relaxed);
            self.remove(inner, id, Some(Close::SLOW_CONSUMER));
        }
    }

    fn remove(&self, inner: &mut Inner, id: ConnId, why: Option<Close>) -> bool {
        let Some(mut conn) = inner.conns.remove(&id) else {
            return false;
        };
        self.metrics.connections.fetch_sub(1, Relaxed);
        if let (Some(why), Some(kill)) = (why, conn.kill.take()) {
            let _ = kill.send(why);
        }
        let user = conn.user;
        let now_offline = match inner.by_user.get_mut(&user) {
            Some(list) => {
                list.retain(|c| *c != id);
                list.is_empty()
            }
            None => false,
        };
        if now_offline {
            inner.by_user.remove(&user);
            self.metrics.users_online.fetch_sub(1, Relaxed);
            self.local_presence(inner, user, false);
        }
        now_offline
    }
}

/// Records that this node has `room` up to `seq` (only the broker's
/// catch-up reads it, so a single node keeps none).
fn note_published(inner: &mut Inner, room: RoomId, seq: Seq) {
    let newest = inner.published.entry(room).or_default();
    *newest = (*newest).max(seq);
}

/// The connections of `room`'s members, but `except`'s.
fn room_conns(inner: &Inner, room: RoomId, except: Option<UserId>) -> Vec<ConnId> {
    inner
        .members
        .get(&room)
        .into_iter()
        .flatten()
        .filter(|u| Some(**u) != except)
        .filter_map(|u| inner.by_user.get(u))
        .flatten()
        .copied()
        .collect()
}

/// Users sharing at least one room with `user`.
fn peers(inner: &Inner, user: UserId) -> HashSet<UserId> {
    inner
        .rooms_of
        .get(&user)
        .into_iter()
        .flatten()
        .filter_map(|r| inner.members.get(r))
        .flatten()
        .copied()
        .collect()
}
