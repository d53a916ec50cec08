//! The chat screen's state and what keys and server events do to it. No
//! I/O here: keys produce [`Action`]s that the loop in `mod.rs` carries out,
//! so all of this is testable without a terminal or a server.

use crate::conn::{Event, Status};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use securechat_proto::ws::{RoomInfo, RoomKind};
use securechat_proto::{MessageId, RoomId, Seq, ServerMsg, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Something the loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        room: RoomId,
        body: String,
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
    Join(String),
    Leave(RoomId),
    Create {
        name: String,
        private: bool,
    },
    OpenDm(String),
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

/// One line of a room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub time: String,
    pub from: Option<String>,
    pub text: String,
    /// A message that is still there: its id and body, for `/edit` and
    /// `/delete`.
    pub msg: Option<(MessageId, String)>,
}

/// A room on screen.
#[derive(Debug, Clone)]
pub struct RoomView {
    pub info: RoomInfo,
    pub lines: BTreeMap<Seq, Line>,
    /// Where each message's line is, for edits and deletions.
    pub ids: BTreeMap<MessageId, Seq>,
    /// Whether the latest history page was fetched.
    pub history_loaded: bool,
}

impl RoomView {
    /// Adds a stored event's line (and applies edits and deletions).
    fn add(&mut self, ev: &ServerMsg) {
        match ev {
            ServerMsg::Edited(e) => {
                if let Some(line) = self.ids.get(&e.target).and_then(|s| self.lines.get_mut(s)) {
                    line.text = format!("{} (edited)", e.body);
                    if let Some((_, body)) = &mut line.msg {
                        body.clone_from(&e.body);
                    }
                }
            }
            ServerMsg::Deleted(d) => {
                if let Some(line) = self.ids.get(&d.target).and_then(|s| self.lines.get_mut(s)) {
                    line.text = "(deleted)".into();
                    line.msg = None;
                }
            }
            _ => {}
        }
        if let (Some((_, seq)), Some(line)) = (ev.stream_position(), line_of(ev)) {
            if let ServerMsg::Message(m) = ev {
                self.ids.insert(m.id, seq);
            }
            self.lines.entry(seq).or_insert(line);
        }
        if let Some((_, seq)) = ev.stream_position() {
            self.info.last_seq = self.info.last_seq.max(seq);
        }
    }

    /// `user`'s latest message here that is still there: its id and body.
    pub fn last_of(&self, user: &str) -> Option<(MessageId, String)> {
        self.lines
            .values()
            .rev()
            .filter(|l| l.from.as_deref() == Some(user))
            .find_map(|l| l.msg.clone())
    }
}

/// The whole screen's state.
#[derive(Debug)]
pub struct App {
    pub me: String,
    pub rooms: Vec<RoomView>,
    pub current: usize,
    pub online: BTreeSet<String>,
    pub input: String,
    pub status: Status,
    /// When the status's countdown ends (reconnect, rate limit).
    pub status_until: Option<Instant>,
    /// Lines scrolled up from the bottom.
    pub scroll: u16,
    /// Messages typed and not yet acked: (room, text).
    pub pending: Vec<(RoomId, String)>,
    pub notice: Option<String>,
    pub typing: BTreeMap<(RoomId, String), Instant>,
    pub quit: bool,
}

fn clock(ts: &Timestamp) -> String {
    ts.to_string()[11..16].to_owned()
}

/// `1.5 MiB`, `12 KiB`, `300 B`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The line an event shows as, if it shows at all.
pub fn line_of(ev: &ServerMsg) -> Option<Line> {
    let notice = |ts: &Timestamp, text: String| Line {
        time: clock(ts),
        from: None,
        text,
        msg: None,
    };
    Some(match ev {
        ServerMsg::Message(m) => Line {
            time: clock(&m.ts),
            from: Some(m.from.clone()),
            msg: (!m.deleted).then(|| (m.id, m.body.clone())),
            text: if m.deleted {
                "(deleted)".into()
            } else {
                let mut text = m.body.clone();
                if m.edited {
                    text.push_str(" (edited)");
                }
                if let Some(f) = &m.file {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(&format!(
                        "[file {}: {}, {}] (securechat download {})",
                        f.id,
                        f.name,
                        human_size(f.size),
                        f.id
                    ));
                }
                text
            },
        },
        ServerMsg::Member(e) => {
            let what = match e.action {
                securechat_proto::ws::MemberAction::Join => "joined".to_string(),
                securechat_proto::ws::MemberAction::Leave => "left".to_string(),
                securechat_proto::ws::MemberAction::Invite => format!("was invited by {}", e.by),
                securechat_proto::ws::MemberAction::Remove => format!("was removed by {}", e.by),
            };
            notice(&e.ts, format!("{} {what}", e.user))
        }
        ServerMsg::RoomUpdated(e) => {
            notice(&e.ts, format!("{} renamed the room #{}", e.by, e.name))
        }
        _ => return None,
    })
}

impl App {
    pub fn new(me: &str) -> App {
        App {
            me: me.to_owned(),
            rooms: Vec::new(),
            current: 0,
            online: BTreeSet::new(),
            input: String::new(),
            status: Status::Connecting,
            status_until: None,
            scroll: 0,
            pending: Vec::new(),
            notice: None,
            typing: BTreeMap::new(),
            quit: false,
        }
    }

    pub fn current_room(&self) -> Option<&RoomView> {
        self.rooms.get(self.current)
    }

    fn room_mut(&mut self, id: RoomId) -> Option<&mut RoomView> {
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
            None => self.rooms.push(RoomView {
                info,
                lines: BTreeMap::new(),
                ids: BTreeMap::new(),
                history_loaded: false,
            }),
        }
        self.sort();
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
                    self.notice = Some("session ended: log in again (securechat login)".into());
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
        }
        actions
    }

    fn on_server(&mut self, msg: ServerMsg) -> Vec<Action> {
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
                self.current = self.current.min(self.rooms.len().saturating_sub(1));
            }
            ServerMsg::Typing { room, user } => {
                self.typing.insert(
                    (*room, user.clone()),
                    Instant::now() + Duration::from_secs(4),
                );
            }
            ServerMsg::Read { room, seq } => {
                if let Some(r) = self.room_mut(*room) {
                    r.info.read_seq = *seq;
                    if *seq >= r.info.last_seq {
                        r.info.unread = 0;
                    }
                }
            }
            _ => {}
        }
        let mut actions = Vec::new();
        if let Some((room, seq)) = msg.stream_position() {
            let me = self.me.clone();
            let from_other = matches!(&msg, ServerMsg::Message(m) if m.from != me);
            if let Some(r) = self.room_mut(room) {
                r.add(&msg);
                if Some(room) == current {
                    actions.push(Action::MarkRead { room, seq });
                } else if from_other {
                    r.info.unread += 1;
                }
            }
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
        if let Some(r) = self.room_mut(room) {
            for ev in events {
                r.add(ev);
            }
        }
    }

    fn switch(&mut self, by: isize) -> Vec<Action> {
        if self.rooms.is_empty() {
            return Vec::new();
        }
        let n = self.rooms.len() as isize;
        self.current = ((self.current as isize + by).rem_euclid(n)) as usize;
        self.scroll = 0;
        let mut actions: Vec<Action> = self.needs_history().into_iter().collect();
        if let Some(r) = self.rooms.get_mut(self.current) {
            r.info.unread = 0;
            actions.push(Action::MarkRead {
                room: r.info.id,
                seq: r.info.last_seq,
            });
        }
        actions
    }

    /// What a key does.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('q') if ctrl => {
                self.quit = true;
                vec![Action::Quit]
            }
            KeyCode::Tab => self.switch(1),
            KeyCode::BackTab => self.switch(-1),
            KeyCode::Down if key.modifiers.contains(KeyModifiers::ALT) => self.switch(1),
            KeyCode::Up if key.modifiers.contains(KeyModifiers::ALT) => self.switch(-1),
            KeyCode::Char('n') if ctrl => self.switch(1),
            KeyCode::Char('p') if ctrl => self.switch(-1),
            KeyCode::PageUp => {
                self.scroll = self.scroll.saturating_add(10);
                let r = self.current_room();
                match r.and_then(|r| r.lines.keys().next().copied().map(|s| (r.info.id, s))) {
                    Some((room, oldest)) if oldest > 1 => vec![Action::LoadOlder {
                        room,
                        before: oldest,
                    }],
                    _ => Vec::new(),
                }
            }
            // Up on an empty line recalls your last message here to edit.
            KeyCode::Up if self.input.is_empty() => {
                match self.current_room().and_then(|r| r.last_of(&self.me)) {
                    Some((_, body)) => self.input = format!("/edit {body}"),
                    None => self.notice = Some("nothing of yours to edit here".into()),
                }
                Vec::new()
            }
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(10);
                Vec::new()
            }
            KeyCode::Esc => {
                self.input.clear();
                self.notice = None;
                Vec::new()
            }
            KeyCode::Backspace => {
                self.input.pop();
                Vec::new()
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Char(c) if !ctrl => {
                self.input.push(c);
                match self.current_room() {
                    Some(r) if !self.input.starts_with('/') => {
                        vec![Action::Typing { room: r.info.id }]
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    fn submit(&mut self) -> Vec<Action> {
        let text = std::mem::take(&mut self.input);
        let text = text.trim_end().to_owned();
        if text.trim().is_empty() {
            return Vec::new();
        }
        let room = self.current_room().map(|r| r.info.id);
        if let Some(cmd) = text.strip_prefix('/') {
            if let Some(action) = self.change_last(cmd) {
                return action;
            }
            let mut parts = cmd.split_whitespace();
            let arg = |p: Option<&str>| p.map(str::to_owned);
            return match (parts.next(), parts.next()) {
                (Some("quit"), _) => {
                    self.quit = true;
                    vec![Action::Quit]
                }
                (Some("join"), Some(name)) => vec![Action::Join(name.to_owned())],
                (Some("leave"), _) => room.map(Action::Leave).into_iter().collect(),
                (Some("create"), Some(name)) => vec![Action::Create {
                    name: name.to_owned(),
                    private: parts.next() == Some("private"),
                }],
                (Some("dm"), Some(user)) => {
                    vec![Action::OpenDm(user.trim_start_matches('@').to_owned())]
                }
                (Some("invite"), user) => match (room, arg(user)) {
                    (Some(room), Some(user)) => vec![Action::Invite { room, user }],
                    _ => self.help(),
                },
                _ => self.help(),
            };
        }
        match room {
            Some(room) => {
                self.scroll = 0;
                self.pending.push((room, text.clone()));
                vec![Action::Send { room, body: text }]
            }
            None => Vec::new(),
        }
    }

    /// `/edit TEXT` and `/delete`: change your latest message in the
    /// current room. `None` when `cmd` is neither.
    fn change_last(&mut self, cmd: &str) -> Option<Vec<Action>> {
        let (verb, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let body = rest.trim();
        if !matches!(verb, "edit" | "delete") {
            return None;
        }
        if verb == "edit" && body.is_empty() {
            return Some(self.help());
        }
        let last = self
            .current_room()
            .and_then(|r| Some((r.info.id, r.last_of(&self.me)?)));
        let Some((room, (msg, old))) = last else {
            self.notice = Some(format!("nothing of yours to {verb} here"));
            return Some(Vec::new());
        };
        Some(match verb {
            "edit" if body == old => Vec::new(),
            "edit" => vec![Action::Edit {
                room,
                msg,
                body: body.to_owned(),
            }],
            _ => vec![Action::Delete { room, msg }],
        })
    }

    fn help(&mut self) -> Vec<Action> {
        self.notice = Some(
            "/join ROOM /leave /create NAME [private] /dm USER /invite USER /edit /delete /quit"
                .into(),
        );
        Vec::new()
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
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use securechat_proto::ws::{Deleted, Edited, MessageEvent};

    fn info(id: i64, name: &str, kind: RoomKind) -> RoomInfo {
        RoomInfo {
            id: RoomId(id),
            kind,
            name: name.into(),
            topic: None,
            last_seq: 0,
            unread: 0,
            read_seq: 0,
        }
    }

    fn msg(room: i64, seq: u64, from: &str, body: &str) -> Event {
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
        }))
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// Types `line` and presses Enter.
    fn enter(app: &mut App, line: &str) -> Vec<Action> {
        app.input = line.into();
        app.key(key(KeyCode::Enter))
    }

    fn with_rooms() -> App {
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
    fn typing_and_enter_sends_to_the_current_room() {
        let mut app = with_rooms();
        for c in "hi".chars() {
            app.key(key(KeyCode::Char(c)));
        }
        let actions = app.key(key(KeyCode::Enter));
        assert_eq!(
            actions,
            vec![Action::Send {
                room: RoomId(1),
                body: "hi".into()
            }]
        );
        assert!(app.input.is_empty());
        assert_eq!(app.pending, vec![(RoomId(1), "hi".into())]);
        assert!(
            app.key(key(KeyCode::Enter)).is_empty(),
            "empty lines are not sent"
        );
    }

    #[test]
    fn unread_counts_and_room_switching() {
        let mut app = with_rooms();
        app.apply(msg(2, 1, "bob", "in dev"));
        app.apply(msg(2, 2, "alice", "mine"));
        let dev = app.rooms.iter().find(|r| r.info.name == "dev").unwrap();
        assert_eq!(dev.info.unread, 1, "own messages are not unread");
        // Tab moves to dev (rooms sort by kind then name: dev, general, @bob).
        let order: Vec<&str> = app.rooms.iter().map(|r| r.info.name.as_str()).collect();
        assert_eq!(order, ["dev", "general", "bob"]);
        let actions = app.key(key(KeyCode::BackTab));
        assert_eq!(app.current_room().unwrap().info.name, "dev");
        assert!(actions.contains(&Action::MarkRead {
            room: RoomId(2),
            seq: 2
        }));
        assert_eq!(app.current_room().unwrap().info.unread, 0);
        // A message in the open room is marked read at once.
        let actions = app.apply(msg(2, 3, "bob", "again"));
        assert_eq!(
            actions,
            vec![Action::MarkRead {
                room: RoomId(2),
                seq: 3
            }]
        );
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
            by: "bob".into(),
        })));
        let general = app.rooms.iter().find(|r| r.info.id == RoomId(1)).unwrap();
        assert_eq!(general.lines[&1].text, "fixed (edited)");
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
    fn edit_and_delete_your_latest_message() {
        let mut app = with_rooms();
        assert!(enter(&mut app, "/edit anything").is_empty());
        assert!(app.notice.as_deref().unwrap().contains("nothing of yours"));
        app.apply(msg(1, 1, "alice", "first"));
        app.apply(msg(1, 2, "alice", "teh second"));
        app.apply(msg(1, 3, "bob", "not alice's"));
        // Up on an empty line recalls the latest of hers to edit.
        app.key(key(KeyCode::Up));
        assert_eq!(app.input, "/edit teh second");
        app.input = "/edit the  second".into();
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            vec![Action::Edit {
                room: RoomId(1),
                msg: MessageId(21),
                body: "the  second".into()
            }]
        );
        assert!(enter(&mut app, "/edit teh second").is_empty(), "no change");
        assert!(enter(&mut app, "/edit").is_empty(), "no text: help");
        assert!(app.notice.as_deref().unwrap().contains("/edit"));
        // Deleted, it is no longer hers to change: the one before is.
        assert_eq!(
            enter(&mut app, "/delete"),
            vec![Action::Delete {
                room: RoomId(1),
                msg: MessageId(21)
            }]
        );
        app.apply(Event::Server(ServerMsg::Deleted(Deleted {
            id: MessageId(100),
            room: RoomId(1),
            seq: 4,
            ts: Timestamp(0),
            target: MessageId(21),
            by: "alice".into(),
        })));
        app.key(key(KeyCode::Up));
        assert_eq!(app.input, "/edit first");
        app.input.clear();
        // An edit that came back from the server is what Up recalls.
        app.apply(Event::Server(ServerMsg::Edited(Edited {
            id: MessageId(101),
            room: RoomId(1),
            seq: 5,
            ts: Timestamp(0),
            target: MessageId(11),
            body: "first, fixed".into(),
            by: "alice".into(),
        })));
        app.key(key(KeyCode::Up));
        assert_eq!(app.input, "/edit first, fixed");
        // Another room: nothing of hers there.
        app.input.clear();
        app.key(key(KeyCode::Tab));
        assert!(enter(&mut app, "/delete").is_empty());
        assert!(
            app.notice
                .as_deref()
                .unwrap()
                .contains("nothing of yours to delete")
        );
    }

    #[test]
    fn slash_commands() {
        let mut app = with_rooms();
        assert_eq!(
            enter(&mut app, "/join ops"),
            vec![Action::Join("ops".into())]
        );
        assert_eq!(
            enter(&mut app, "/dm @bob"),
            vec![Action::OpenDm("bob".into())]
        );
        assert_eq!(
            enter(&mut app, "/create core private"),
            vec![Action::Create {
                name: "core".into(),
                private: true
            }]
        );
        assert_eq!(
            enter(&mut app, "/invite carol"),
            vec![Action::Invite {
                room: RoomId(1),
                user: "carol".into()
            }]
        );
        assert_eq!(enter(&mut app, "/leave"), vec![Action::Leave(RoomId(1))]);
        assert!(enter(&mut app, "/nonsense").is_empty());
        assert!(app.notice.as_deref().unwrap().contains("/join"));
        assert_eq!(enter(&mut app, "/quit"), vec![Action::Quit]);
        assert!(app.quit);
        let mut app = with_rooms();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key(ctrl_c), vec![Action::Quit]);
    }
}
