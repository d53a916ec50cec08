//! The hub's side of several nodes: the [`Wire`] messages it hands to the
//! broker and applies from it, and who is online on the other nodes.
//!
//! Each node's hub delivers to its own connections at once and relays the
//! same frame; the other nodes apply it to theirs ([`Hub::receive`]). A
//! stored event relayed late or never is harmless: a connection's writer
//! fills any gap in a room's seqs from the database before it sends the
//! next event, and the broker's catch-up publishes what the database has
//! beyond what this hub has seen.
//!
//! Presence: a node tells the others when a user's first connection there
//! opens or its last one closes (with the user's rooms, so the others know
//! whom to tell), and every few seconds who is connected there at all. A
//! user is online while any node has them; a node silent for
//! [`NODE_TIMEOUT`] is taken as gone, its users as offline.

use super::{Close, ConnId, Hub, IdMap, IdSet, Inner, Outbound};
use crate::store::sessions::SessionId;
use axum::extract::ws::Utf8Bytes;
use securechat_proto::ws::RoomInfo;
use securechat_proto::{RoomId, Seq, ServerMsg, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A node not heard from for this long is gone.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(6);

/// What one node's hub tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Wire {
    /// A stored event of a room (`json` is its frame).
    Event {
        room: RoomId,
        seq: Seq,
        json: String,
    },
    /// A frame for every connection of one user.
    User { user: UserId, json: String },
    /// `user` is now in a room.
    Joined { user: UserId, info: RoomInfo },
    /// `user` is no longer in `room`.
    Left { user: UserId, room: RoomId },
    /// A frame for every connection.
    All { json: String },
    /// A frame for a room's members but `except` (typing).
    Room {
        room: RoomId,
        except: UserId,
        json: String,
    },
    /// Close these sessions' connections (`code` is a [`Close`] code).
    Close { sessions: Vec<i64>, code: u16 },
    /// To-device messages wait for these sessions' devices.
    ToDevice { sessions: Vec<i64> },
    /// `user`'s first connection on the sending node opened, or its last
    /// closed.
    Presence {
        user: UserId,
        name: String,
        online: bool,
        rooms: Vec<RoomId>,
    },
    /// Everyone connected to the sending node now.
    Alive { users: Vec<UserId> },
}

/// Who is online on the other nodes.
#[derive(Default)]
pub(super) struct Nodes {
    seen: HashMap<String, (Instant, IdSet<UserId>)>,
    /// The nodes each user is online on (never empty).
    online: IdMap<UserId, IdSet<u64>>,
    /// Node names as small numbers, for `online`.
    ids: HashMap<String, u64>,
}

impl Nodes {
    fn id(&mut self, node: &str) -> u64 {
        let next = self.ids.len() as u64;
        *self.ids.entry(node.to_owned()).or_insert(next)
    }

    pub(super) fn has(&self, user: UserId) -> bool {
        self.online.contains_key(&user)
    }

    pub(super) fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.online.keys().copied()
    }
}

fn close_of(code: u16) -> Close {
    [
        Close::SESSION_ENDED,
        Close::GOING_AWAY,
        Close::NORMAL,
        Close::INTERNAL,
    ]
    .into_iter()
    .find(|c| c.code == code)
    .unwrap_or(Close::SESSION_ENDED)
}

impl Hub {
    /// Applies what node `from` relayed to this node's connections.
    pub fn receive(&self, from: &str, wire: Wire) {
        match wire {
            Wire::Event { room, seq, json } => self.publish_here(room, seq, &json.into()),
            Wire::User { user, json } => {
                let json = Utf8Bytes::from(json);
                self.to_user(user, || Outbound::Frame(json.clone()));
            }
            Wire::Joined { user, info } => self.joined_here(user, &info),
            Wire::Left { user, room } => self.left_here(user, room),
            Wire::All { json } => self.broadcast_here(&json.into()),
            Wire::Room { room, except, json } => self.send_to_room_here(room, except, &json.into()),
            Wire::ToDevice { sessions } => {
                let sessions: Vec<SessionId> = sessions.into_iter().map(SessionId).collect();
                self.poke_devices_here(&sessions);
            }
            Wire::Close { sessions, code } => {
                let sessions: Vec<SessionId> = sessions.into_iter().map(SessionId).collect();
                self.close_sessions_here(&sessions, close_of(code));
            }
            Wire::Presence {
                user,
                name,
                online,
                rooms,
            } => {
                let mut inner = self.lock();
                inner.usernames.insert(user, name);
                for room in rooms {
                    inner.members.entry(room).or_default().insert(user);
                    inner.rooms_of.entry(user).or_default().insert(room);
                }
                self.seen(&mut inner, from);
                let node = inner.nodes.id(from);
                self.set_remote(&mut inner, from, node, user, online);
            }
            Wire::Alive { users } => {
                let mut inner = self.lock();
                let node = inner.nodes.id(from);
                let before = self.seen(&mut inner, from);
                let now: IdSet<UserId> = users.into_iter().collect();
                for gone in before.difference(&now).copied().collect::<Vec<_>>() {
                    self.set_remote(&mut inner, from, node, gone, false);
                }
                for came in now.difference(&before).copied().collect::<Vec<_>>() {
                    self.set_remote(&mut inner, from, node, came, true);
                }
            }
        }
    }

    /// Notes that `node` spoke now; the users it had online.
    fn seen(&self, inner: &mut Inner, node: &str) -> IdSet<UserId> {
        let entry = inner
            .nodes
            .seen
            .entry(node.to_owned())
            .or_insert_with(|| (Instant::now(), IdSet::default()));
        entry.0 = Instant::now();
        entry.1.clone()
    }

    /// Records that `user` is (or is no longer) online on `node`, and tells
    /// this node's peers of theirs if that changes whether they are online
    /// anywhere.
    fn set_remote(
        &self,
        inner: &mut Inner,
        node_name: &str,
        node: u64,
        user: UserId,
        online: bool,
    ) {
        let was = inner.by_user.contains_key(&user) || inner.nodes.has(user);
        if let Some((_, users)) = inner.nodes.seen.get_mut(node_name) {
            if online {
                users.insert(user);
            } else {
                users.remove(&user);
            }
        }
        if online {
            inner.nodes.online.entry(user).or_default().insert(node);
        } else if let Some(set) = inner.nodes.online.get_mut(&user) {
            set.remove(&node);
            if set.is_empty() {
                inner.nodes.online.remove(&user);
            }
        }
        let is = inner.by_user.contains_key(&user) || inner.nodes.has(user);
        if was != is {
            self.announce_here(inner, user, is);
        }
    }

    /// Forgets nodes not heard from for [`NODE_TIMEOUT`]: their users go
    /// offline unless another node has them.
    pub fn expire_nodes(&self) {
        let mut inner = self.lock();
        let stale: Vec<String> = inner
            .nodes
            .seen
            .iter()
            .filter(|(_, (at, _))| at.elapsed() > NODE_TIMEOUT)
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            tracing::warn!(node = %name, "a node went silent; its users are offline");
            let node = inner.nodes.id(&name);
            let users: Vec<UserId> = inner
                .nodes
                .seen
                .get(&name)
                .map(|(_, u)| u.iter().copied().collect())
                .unwrap_or_default();
            for user in users {
                self.set_remote(&mut inner, &name, node, user, false);
            }
            inner.nodes.seen.remove(&name);
        }
    }

    /// Users connected to this node (for [`Wire::Alive`]).
    pub fn local_users(&self) -> Vec<UserId> {
        self.lock().by_user.keys().copied().collect()
    }

    /// Rooms with a member connected here, and the newest seq published
    /// (or synced) here for each, if any.
    pub fn local_rooms(&self) -> Vec<(RoomId, Option<Seq>)> {
        let inner = self.lock();
        let mut rooms: IdSet<RoomId> = IdSet::default();
        for user in inner.by_user.keys() {
            if let Some(r) = inner.rooms_of.get(user) {
                rooms.extend(r.iter().copied());
            }
        }
        rooms
            .into_iter()
            .map(|r| (r, inner.published.get(&r).copied()))
            .collect()
    }

    /// Notes that this node has seen `room` up to `seq` without publishing
    /// (a room first looked at: its connections synced from the database).
    pub fn mark_published(&self, room: RoomId, seq: Seq) {
        if self.relay.is_some() {
            super::note_published(&mut self.lock(), room, seq);
        }
    }

    /// A user's first connection here opened, or their last closed: tell
    /// this node's peers (unless another node has them) and the others.
    pub(super) fn local_presence(&self, inner: &mut Inner, user: UserId, online: bool) {
        if !inner.nodes.has(user) {
            self.announce_here(inner, user, online);
        }
        if self.relay.is_some() {
            let name = inner.usernames.get(&user).cloned().unwrap_or_default();
            let rooms = inner
                .rooms_of
                .get(&user)
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default();
            self.relay(|| Wire::Presence {
                user,
                name,
                online,
                rooms,
            });
        }
    }

    /// Tells everyone here who shares a room with `user` (but not `user`)
    /// that they came online or went offline.
    fn announce_here(&self, inner: &mut Inner, user: UserId, online: bool) {
        let Some(name) = inner.usernames.get(&user).cloned() else {
            return;
        };
        let json = Utf8Bytes::from(ServerMsg::Presence { user: name, online }.to_json());
        let targets: Vec<ConnId> = super::peers(inner, user)
            .iter()
            .filter(|u| **u != user)
            .filter_map(|u| inner.by_user.get(u))
            .flatten()
            .copied()
            .collect();
        self.deliver(inner, &targets, || Outbound::Frame(json.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_messages_round_trip_as_json() {
        let wires = [
            Wire::Event {
                room: RoomId(3),
                seq: 9,
                json: r#"{"type":"message"}"#.into(),
            },
            Wire::Close {
                sessions: vec![1, 2],
                code: 4001,
            },
            Wire::ToDevice { sessions: vec![3] },
            Wire::Presence {
                user: UserId(5),
                name: "ann".into(),
                online: true,
                rooms: vec![RoomId(1)],
            },
            Wire::Alive {
                users: vec![UserId(5)],
            },
        ];
        for w in wires {
            let text = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<Wire>(&text).unwrap(), w, "{text}");
        }
    }
}
