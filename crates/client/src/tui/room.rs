//! A room on the chat screen: its lines (one per event that shows), kept
//! up to date by edits, deletions, reactions, pins and thread replies.

use super::rich::{self, Look, Rich};
use crate::format;
use securechat_proto::ws::{MessageEvent, RoomInfo};
use securechat_proto::{MessageId, Seq, ServerMsg, Timestamp};
use std::collections::BTreeMap;

/// One line of a room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub time: String,
    pub from: Option<String>,
    /// What shows (formatted; see [`rich`]).
    pub text: String,
    /// How runs of `text` look.
    pub looks: Vec<(usize, Look)>,
    /// A message that is still there: its id and body, for `/edit` and
    /// `/delete`.
    pub msg: Option<(MessageId, String)>,
    /// Whether it names you (`@me`, `@room`).
    pub mention: bool,
    /// A message as it is now (reactions, pins and thread replies change it).
    pub event: Option<MessageEvent>,
    /// A thread reply not sent to the room: shown in its thread only.
    pub thread_only: bool,
}

impl Line {
    fn set(&mut self, r: Rich) {
        self.text = r.text;
        self.looks = r.looks;
    }

    /// Draws the message again after it changed.
    fn redo(&mut self, me: &str) {
        if let Some(m) = &self.event {
            let r = rich::message(m, me);
            self.msg = (!m.deleted).then(|| (m.id, m.body.clone()));
            self.set(r);
        }
    }
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
    /// Unread messages that mention you.
    pub mentions: u64,
    /// The "new messages" line goes after this seq: where you had read up
    /// to when you last came to the room with something unread.
    pub new_after: Option<Seq>,
}

/// Whether `text` mentions `me` as `@me` (a whole word).
pub fn mentions(text: &str, me: &str) -> bool {
    let name_char = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(&format!("@{me}")).any(|(i, m)| {
        let mut after = text[i + m.len()..].chars();
        match after.next() {
            None => true,
            Some(c) if name_char(c) => false,
            // "@alice." ends a sentence; "@alice.b" is another name.
            Some('.' | '-') => !after.next().is_some_and(name_char),
            Some(_) => true,
        }
    })
}

/// Whether message `m` mentions `me`: the server says so, or the text does.
fn mentions_me(m: &MessageEvent, me: &str) -> bool {
    m.from != me
        && !m.deleted
        && (m.mentions.iter().any(|u| u == me) || m.mentions_room || mentions(&m.body, me))
}

/// The line an event shows as, if it shows at all.
pub fn line_of(ev: &ServerMsg, me: &str) -> Option<Line> {
    if let ServerMsg::Message(m) = ev {
        let mut line = Line {
            time: clock(&m.ts),
            from: Some(m.from.clone()),
            text: String::new(),
            looks: Vec::new(),
            msg: None,
            mention: mentions_me(m, me),
            event: Some(m.clone()),
            thread_only: m.thread.is_some() && !m.also_room,
        };
        line.redo(me);
        return Some(line);
    }
    let said = format::said(ev)?;
    Some(Line {
        time: clock(&said.ts),
        mention: false,
        from: said.from,
        looks: vec![(0, Look::Dim)],
        text: said.text,
        msg: None,
        event: None,
        thread_only: false,
    })
}

pub fn clock(ts: &Timestamp) -> String {
    ts.to_string()[11..16].to_owned()
}

impl RoomView {
    pub fn new(info: RoomInfo) -> RoomView {
        RoomView {
            mentions: info.mentions,
            info,
            lines: BTreeMap::new(),
            ids: BTreeMap::new(),
            history_loaded: false,
            new_after: None,
        }
    }

    fn line_mut(&mut self, id: MessageId) -> Option<&mut Line> {
        self.ids.get(&id).and_then(|s| self.lines.get_mut(s))
    }

    /// Changes the message `id` (if it is here) and draws it again.
    fn change(&mut self, id: MessageId, me: &str, f: impl FnOnce(&mut MessageEvent)) {
        if let Some(line) = self.line_mut(id)
            && let Some(m) = &mut line.event
        {
            f(m);
            line.redo(me);
        }
    }

    /// Adds a stored event's line and applies what it changes. `live`:
    /// it just happened (history pages already count reactions, pins and
    /// replies on their messages, so only live events change those).
    pub fn add(&mut self, ev: &ServerMsg, me: &str, live: bool) {
        match ev {
            ServerMsg::Edited(e) => self.change(e.target, me, |m| {
                m.body.clone_from(&e.body);
                m.edited = true;
            }),
            ServerMsg::Deleted(d) => {
                let mut root = None;
                self.change(d.target, me, |m| {
                    m.deleted = true;
                    m.body.clear();
                    root = m.thread;
                });
                if let Some(root) = root.filter(|_| live) {
                    self.change(root, me, |m| {
                        if let Some(t) = &mut m.replies {
                            t.count = t.count.saturating_sub(1);
                        }
                    });
                }
            }
            ServerMsg::Reaction(x) if live => self.change(x.target, me, |m| {
                let at = m.reactions.iter().position(|r| r.emoji == x.emoji);
                match (at, x.add) {
                    (Some(i), true) => {
                        if !m.reactions[i].users.contains(&x.by) {
                            m.reactions[i].users.push(x.by.clone());
                        }
                    }
                    (None, true) => m.reactions.push(securechat_proto::collab::ReactionCount {
                        emoji: x.emoji.clone(),
                        users: vec![x.by.clone()],
                    }),
                    (Some(i), false) => {
                        m.reactions[i].users.retain(|u| *u != x.by);
                        if m.reactions[i].users.is_empty() {
                            m.reactions.remove(i);
                        }
                    }
                    (None, false) => {}
                }
            }),
            ServerMsg::Pin(p) if live => self.change(p.target, me, |m| m.pinned = p.pinned),
            ServerMsg::Message(m)
                if live && m.thread.is_some() && !self.lines.contains_key(&m.seq) =>
            {
                let (from, ts) = (m.from.clone(), m.ts);
                self.change(m.thread.expect("checked"), me, |root| {
                    let t = root
                        .replies
                        .get_or_insert(securechat_proto::collab::ThreadSummary {
                            count: 0,
                            last_ts: ts,
                            users: Vec::new(),
                        });
                    t.count += 1;
                    t.last_ts = ts;
                    t.users.retain(|u| *u != from);
                    t.users.insert(0, from);
                    t.users.truncate(securechat_proto::collab::SUMMARY_USERS);
                });
            }
            _ => {}
        }
        if let (Some((_, seq)), Some(line)) = (ev.stream_position(), line_of(ev, me)) {
            if let ServerMsg::Message(m) = ev {
                self.ids.insert(m.id, seq);
            }
            self.lines.entry(seq).or_insert(line);
        }
        if let Some((_, seq)) = ev.stream_position() {
            self.info.last_seq = self.info.last_seq.max(seq);
        }
    }

    /// The lines that show in the room (not thread-only replies).
    pub fn room_lines(&self) -> impl DoubleEndedIterator<Item = (&Seq, &Line)> {
        self.lines.iter().filter(|(_, l)| !l.thread_only)
    }

    /// `user`'s latest message here that is still there: its id and body.
    pub fn last_of(&self, user: &str) -> Option<(MessageId, String)> {
        self.room_lines()
            .rev()
            .filter(|(_, l)| l.from.as_deref() == Some(user))
            .find_map(|(_, l)| l.msg.clone())
    }

    /// The latest message here that is still there.
    pub fn last_message(&self) -> Option<&MessageEvent> {
        self.room_lines()
            .rev()
            .filter_map(|(_, l)| l.event.as_ref())
            .find(|m| !m.deleted)
    }

    /// The thread of `root`: the root's line, then its replies in order.
    pub fn thread(&self, root: MessageId) -> Vec<&Line> {
        let root_line = self.ids.get(&root).and_then(|s| self.lines.get(s));
        root_line
            .into_iter()
            .chain(
                self.lines
                    .values()
                    .filter(|l| l.event.as_ref().is_some_and(|m| m.thread == Some(root))),
            )
            .collect()
    }

    /// Marks everything read (after noting where the new part began).
    pub fn open(&mut self) {
        self.new_after = (self.info.unread > 0).then_some(self.info.read_seq);
        self.info.unread = 0;
        self.mentions = 0;
    }
}
