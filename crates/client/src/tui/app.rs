//! The chat screen's state and what server events do to it. No I/O here:
//! events and keys ([`super::keys`]) produce [`Action`]s that the loop in
//! `mod.rs` carries out, so all of this is testable without a terminal or
//! a server.

use super::input::Input;
pub use super::room::{Line, RoomView, line_of, mentions};
use crate::conn::{Event, Status};
use securechat_proto::collab::NotifyLevel;
use securechat_proto::ws::{RoomInfo, RoomKind};
use securechat_proto::{MessageId, RoomId, Seq, ServerMsg};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Something the loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        room: RoomId,
        body: String,
        /// A reply in this message's thread (`true`: also in the room).
        thread: Option<(MessageId, bool)>,
    },
    /// Add (or remove) your reaction to a message.
    React {
        room: RoomId,
        msg: MessageId,
        emoji: String,
        add: bool,
    },
    Pin {
        room: RoomId,
        msg: MessageId,
        pinned: bool,
    },
    /// Follow (or unfollow) a thread.
    Follow {
        room: RoomId,
        root: MessageId,
        follow: bool,
    },
    /// Fetch a whole thread (its replies may be older than what is loaded).
    LoadThread {
        room: RoomId,
        root: MessageId,
    },
    /// Set this room's notification level and mute.
    Notify {
        room: RoomId,
        level: NotifyLevel,
        muted: bool,
    },
    LoadOlder {
        room: RoomId,
        before: Seq,
    },
    MarkRead {
        room: RoomId,
        seq: Seq,
    },
    Typing {
        room: RoomId,
    },
    /// Join a public room by name, then show it.
    Join(String),
    Leave(RoomId),
    /// Create a room, then show it.
    Create {
        name: String,
        private: bool,
    },
    /// Open the DM with a user, then show it.
    OpenDm(String),
    /// Search messages; the results open in the panel.
    Search(String),
    /// The messages that mention you, in the panel.
    Mentions,
    Invite {
        room: RoomId,
        user: String,
    },
    Edit {
        room: RoomId,
        msg: MessageId,
        body: String,
    },
    Delete {
        room: RoomId,
        msg: MessageId,
    },
    Quit,
}

/// The whole screen's state.
#[derive(Debug)]
pub struct App {
    pub me: String,
    pub rooms: Vec<RoomView>,
    pub current: usize,
    pub online: BTreeSet<String>,
    pub input: Input,
    pub status: Status,
    /// When the status's countdown ends (reconnect, rate limit).
    pub status_until: Option<Instant>,
    /// Lines scrolled up from the bottom.
    pub scroll: u16,
    /// Messages typed and not yet acked: (room, text).
    pub pending: Vec<(RoomId, String)>,
    pub notice: Option<String>,
    pub typing: BTreeMap<(RoomId, String), Instant>,
    /// Lines you sent, oldest first (Ctrl-↑/↓ brings them back).
    pub sent: Vec<String>,
    /// Where Ctrl-↑/↓ is in `sent`, while browsing it.
    pub sent_pos: Option<usize>,
    /// The panel over the messages is open, scrolled this many lines down:
    /// help, or search results when `found` holds them.
    pub help: Option<u16>,
    /// Search results shown in the panel: its title and lines.
    pub found: Option<(String, Vec<String>)>,
    /// The thread shown instead of the room (lines typed reply in it).
    pub thread: Option<(RoomId, MessageId)>,
    /// Ring the terminal bell (a mention arrived); the loop rings and clears it.
    pub bell: bool,
    pub quit: bool,
}

impl App {
    pub fn new(me: &str) -> App {
        App {
            me: me.to_owned(),
            rooms: Vec::new(),
            current: 0,
            online: BTreeSet::new(),
            input: Input::default(),
            status: Status::Connecting,
            status_until: None,
            scroll: 0,
            pending: Vec::new(),
            notice: None,
            typing: BTreeMap::new(),
            sent: Vec::new(),
            sent_pos: None,
            help: None,
            found: None,
            thread: None,
            bell: false,
            quit: false,
        }
    }

    /// Whether `room` is end-to-end encrypted.
    pub fn room_encrypted(&self, room: RoomId) -> bool {
        self.rooms
            .iter()
            .any(|r| r.info.id == room && r.info.encrypted)
    }

    pub fn current_room(&self) -> Option<&RoomView> {
        self.rooms.get(self.current)
    }

    pub(super) fn room_mut(&mut self, id: RoomId) -> Option<&mut RoomView> {
        self.rooms.iter_mut().find(|r| r.info.id == id)
    }

    /// Rooms first, then DMs, each by name; keeps the current room current.
    fn sort(&mut self) {
        let current = self.current_room().map(|r| r.info.id);
        self.rooms
            .sort_by_key(|r| (r.info.kind == RoomKind::Dm, r.info.name.clone()));
        if let Some(id) = current {
            self.current = self.rooms.iter().position(|r| r.info.id == id).unwrap_or(0);
        }
    }

    fn add_room(&mut self, info: RoomInfo) {
        match self.room_mut(info.id) {
            Some(r) => r.info = info,
            None => self.rooms.push(RoomView::new(info)),
        }
        self.sort();
    }

    /// Whether the session is over (the loop then says so and exits 4).
    pub fn session_ended(&self) -> bool {
        self.status == Status::SessionEnded
    }

    /// Applies a connection event; may ask for actions (mark read).
    pub fn apply(&mut self, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Status(s) => {
                self.status_until = match &s {
                    Status::Reconnecting { retry_in } => Some(Instant::now() + *retry_in),
                    Status::RateLimited { wait } => Some(Instant::now() + *wait),
                    _ => None,
                };
                if s == Status::SessionEnded {
                    self.notice = Some(
                        "session ended (logged out elsewhere, password changed, or account disabled): log in again"
                            .into(),
                    );
                }
                self.status = s;
            }
            Event::Welcome(w) => {
                self.online = w.online.into_iter().collect();
                let known: Vec<RoomId> = w.rooms.iter().map(|r| r.id).collect();
                self.rooms.retain(|r| known.contains(&r.info.id));
                for info in w.rooms {
                    self.add_room(info);
                }
                if let Some(i) = self
                    .rooms
                    .iter()
                    .position(|r| r.info.name == securechat_proto::GENERAL_ROOM)
                    && (self.current_room().is_none() || self.current >= self.rooms.len())
                {
                    self.current = i;
                }
                if let Some(r) = self.rooms.get_mut(self.current) {
                    r.open();
                }
                actions.extend(self.needs_history());
            }
            Event::Acked(ack) => {
                if let Some(i) = self.pending.iter().position(|(r, _)| *r == ack.room) {
                    self.pending.remove(i);
                }
            }
            Event::Failed(e) => {
                if !self.pending.is_empty() {
                    self.pending.remove(0);
                }
                self.notice = Some(format!("not sent: {}", e.message));
            }
            Event::Server(msg) => actions.extend(self.on_server(msg)),
            Event::Notice(n) => self.notice = Some(n),
        }
        actions
    }

    fn on_server(&mut self, msg: ServerMsg) -> Vec<Action> {
        // Removed by the room's retention policy: nothing to show.
        if matches!(&msg, ServerMsg::Message(m) if m.expired) {
            return Vec::new();
        }
        let current = self.current_room().map(|r| r.info.id);
        match &msg {
            ServerMsg::Presence { user, online } => {
                if *online {
                    self.online.insert(user.clone());
                } else {
                    self.online.remove(user);
                }
            }
            ServerMsg::RoomAdded { room } => self.add_room(room.clone()),
            ServerMsg::RoomRemoved { room } => {
                self.rooms.retain(|r| r.info.id != *room);
                if !self.rooms.iter().any(|r| Some(r.info.id) == current) {
                    // The open room is gone: land in general.
                    self.current = self
                        .rooms
                        .iter()
                        .position(|r| r.info.name == securechat_proto::GENERAL_ROOM)
                        .unwrap_or(0);
                } else {
                    self.sort();
                }
            }
            ServerMsg::Typing { room, user } => {
                self.typing.insert(
                    (*room, user.clone()),
                    Instant::now() + Duration::from_secs(4),
                );
            }
            ServerMsg::Notifications { room, level, muted } => {
                if let Some(r) = self.room_mut(*room) {
                    r.info.notify = *level;
                    r.info.muted = *muted;
                }
            }
            ServerMsg::Read { room, seq } => {
                if let Some(r) = self.room_mut(*room) {
                    r.info.read_seq = *seq;
                    if *seq >= r.info.last_seq {
                        r.info.unread = 0;
                        r.mentions = 0;
                    }
                }
            }
            _ => {}
        }
        let mut actions = Vec::new();
        if let Some((room, seq)) = msg.stream_position() {
            let me = self.me.clone();
            if let ServerMsg::Message(m) = &msg {
                // Whoever sent a message has stopped typing.
                self.typing.remove(&(room, m.from.clone()));
            }
            let from_other = matches!(&msg, ServerMsg::Message(m) if m.from != me);
            let mut ring = false;
            if let Some(r) = self.room_mut(room) {
                let fresh = !r.lines.contains_key(&seq);
                r.add(&msg, &me, true);
                let line = r.lines.get(&seq);
                let mention = fresh && from_other && line.is_some_and(|l| l.mention);
                let in_room = line.is_some_and(|l| !l.thread_only);
                // The bell follows the room's notification level.
                ring = mention && !r.info.muted && r.info.notify != NotifyLevel::None;
                if Some(room) == current {
                    actions.push(Action::MarkRead { room, seq });
                } else if fresh && from_other {
                    if in_room {
                        r.info.unread += 1;
                    }
                    if mention {
                        r.mentions += 1;
                    }
                }
            }
            self.bell |= ring;
        }
        actions
    }

    /// Loads history for the current room the first time it is shown.
    fn needs_history(&mut self) -> Option<Action> {
        let r = self.rooms.get_mut(self.current)?;
        if r.history_loaded {
            return None;
        }
        r.history_loaded = true;
        let before = r
            .lines
            .keys()
            .next()
            .copied()
            .unwrap_or(r.info.last_seq + 1);
        Some(Action::LoadOlder {
            room: r.info.id,
            before,
        })
    }

    /// Older lines from the history API.
    pub fn add_history(&mut self, room: RoomId, events: &[ServerMsg]) {
        let me = self.me.clone();
        if let Some(r) = self.room_mut(room) {
            for ev in events {
                r.add(ev, &me, false);
            }
        }
    }

    /// Shows the room at `index`: history, read mark, "new messages" line.
    pub(super) fn show(&mut self, index: usize) -> Vec<Action> {
        if index >= self.rooms.len() {
            return Vec::new();
        }
        self.current = index;
        self.scroll = 0;
        let mut actions: Vec<Action> = self.needs_history().into_iter().collect();
        if let Some(r) = self.rooms.get_mut(self.current) {
            r.open();
            actions.push(Action::MarkRead {
                room: r.info.id,
                seq: r.info.last_seq,
            });
        }
        actions
    }

    /// Moves `by` rooms along the list.
    pub(super) fn switch(&mut self, by: isize) -> Vec<Action> {
        if self.rooms.is_empty() {
            return Vec::new();
        }
        let n = self.rooms.len() as isize;
        self.show(((self.current as isize + by).rem_euclid(n)) as usize)
    }

    /// Alt-A: the next room with mentions, else with unread messages.
    pub(super) fn jump_unread(&mut self) -> Vec<Action> {
        let n = self.rooms.len();
        let after = |i: usize| (i + n - self.current) % n;
        let best = (0..n)
            .filter(|&i| i != self.current && self.rooms[i].info.unread > 0)
            .min_by_key(|&i| (self.rooms[i].mentions == 0, after(i)));
        match best {
            Some(i) => self.show(i),
            None => {
                self.notice = Some("no unread messages elsewhere".into());
                Vec::new()
            }
        }
    }

    /// A room the user just joined, created or opened: it is added (if the
    /// server's `room_added` has not come yet) and shown, so the next line
    /// typed goes there.
    pub fn focus(&mut self, info: RoomInfo) -> Vec<Action> {
        let id = info.id;
        if self.room_mut(id).is_none() {
            self.add_room(info);
        }
        match self.rooms.iter().position(|r| r.info.id == id) {
            Some(i) => self.show(i),
            None => Vec::new(),
        }
    }

    /// The index of the room called `name` (`#dev`, `@bob`, `dev`).
    pub(super) fn room_named(&self, name: &str) -> Option<usize> {
        let name = name.trim_start_matches(['#', '@']).to_ascii_lowercase();
        self.rooms.iter().position(|r| r.info.name == name)
    }

    /// Who is typing in the current room now.
    pub fn typing_now(&self) -> Vec<String> {
        let now = Instant::now();
        let Some(room) = self.current_room().map(|r| r.info.id) else {
            return Vec::new();
        };
        self.typing
            .iter()
            .filter(|((r, _), until)| *r == room && **until > now)
            .map(|((_, u), _)| u.clone())
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use securechat_proto::Timestamp;
    use securechat_proto::ws::{Deleted, Edited, MessageEvent};

    pub fn info(id: i64, name: &str, kind: RoomKind) -> RoomInfo {
        RoomInfo {
            id: RoomId(id),
            kind,
            name: name.into(),
            topic: None,
            last_seq: 0,
            unread: 0,
            read_seq: 0,
            ..Default::default()
        }
    }

    pub fn msg(room: i64, seq: u64, from: &str, body: &str) -> Event {
        Event::Server(ServerMsg::Message(MessageEvent {
            id: MessageId(seq as i64 * 10 + room),
            room: RoomId(room),
            seq,
            ts: Timestamp(0),
            from: from.into(),
            body: body.into(),
            edited: false,
            deleted: false,
            file: None,
            ..Default::default()
        }))
    }

    pub fn with_rooms() -> App {
        let mut app = App::new("alice");
        for (id, name, kind) in [
            (1, "general", RoomKind::Public),
            (2, "dev", RoomKind::Public),
            (3, "bob", RoomKind::Dm),
        ] {
            app.apply(Event::Server(ServerMsg::RoomAdded {
                room: info(id, name, kind),
            }));
        }
        app.current = app
            .rooms
            .iter()
            .position(|r| r.info.name == "general")
            .unwrap();
        app
    }

    #[test]
    fn edits_and_deletions_change_the_original_line() {
        let mut app = with_rooms();
        app.apply(msg(1, 1, "bob", "typo"));
        app.apply(Event::Server(ServerMsg::Edited(Edited {
            id: MessageId(99),
            room: RoomId(1),
            seq: 2,
            ts: Timestamp(0),
            target: MessageId(11),
            body: "fixed".into(),
            encrypted: None,
            by: "bob".into(),
        })));
        let general = app.rooms.iter().find(|r| r.info.id == RoomId(1)).unwrap();
        assert_eq!(general.lines[&1].text, "fixed (edited)");
        assert_eq!(
            general.lines.len(),
            1,
            "an edit is shown once, on its message"
        );
        app.apply(Event::Server(ServerMsg::Deleted(Deleted {
            id: MessageId(100),
            room: RoomId(1),
            seq: 3,
            ts: Timestamp(0),
            target: MessageId(11),
            by: "bob".into(),
        })));
        let general = app.rooms.iter().find(|r| r.info.id == RoomId(1)).unwrap();
        assert_eq!(general.lines[&1].text, "(deleted)");
    }

    #[test]
    fn a_joined_created_or_opened_room_becomes_the_current_one() {
        let mut app = with_rooms();
        let actions = app.focus(info(7, "carol", RoomKind::Dm));
        assert_eq!(app.current_room().unwrap().info.name, "carol");
        assert!(actions.contains(&Action::MarkRead {
            room: RoomId(7),
            seq: 0
        }));
        // The server's room_added after it changes nothing.
        app.apply(Event::Server(ServerMsg::RoomAdded {
            room: info(7, "carol", RoomKind::Dm),
        }));
        assert_eq!(app.current_room().unwrap().info.id, RoomId(7));
        // Leaving the open room lands in general.
        app.apply(Event::Server(ServerMsg::RoomRemoved { room: RoomId(7) }));
        assert_eq!(app.current_room().unwrap().info.name, "general");
    }

    #[test]
    fn mentions_count_and_alt_a_goes_there_first() {
        let mut app = with_rooms();
        app.apply(msg(3, 1, "bob", "psst"));
        app.apply(msg(2, 1, "bob", "ping @alice, look"));
        app.apply(msg(2, 2, "bob", "@alicex is someone else"));
        let dev = &app.rooms[app.room_named("dev").unwrap()];
        assert_eq!((dev.info.unread, dev.mentions), (2, 1));
        assert!(mentions("hi @alice.", "alice"));
        assert!(!mentions("hi @alice_b", "alice"));
        app.jump_unread();
        assert_eq!(app.current_room().unwrap().info.name, "dev");
        assert_eq!(app.current_room().unwrap().new_after, Some(0));
        app.jump_unread();
        assert_eq!(app.current_room().unwrap().info.name, "bob");
        app.jump_unread();
        assert!(app.notice.as_deref().unwrap().contains("no unread"));
    }
}
