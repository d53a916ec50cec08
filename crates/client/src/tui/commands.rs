//! Slash commands of the chat screen, and `@name` completion.

use super::app::{Action, App};
use securechat_proto::collab::NotifyLevel;
use securechat_proto::{MessageId, RoomId};

impl App {
    pub(super) fn command(&mut self, cmd: &str, room: Option<RoomId>) -> Vec<Action> {
        if let Some(actions) = self.collab_command(cmd, room) {
            return actions;
        }
        if let Some(action) = self.change_last(cmd) {
            return action;
        }
        let mut parts = cmd.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("quit"), _) => {
                self.quit = true;
                vec![Action::Quit]
            }
            (Some("help"), _) => {
                self.found = None;
                self.help = Some(0);
                Vec::new()
            }
            (Some("search"), Some(_)) => {
                let query = cmd.trim_start_matches("search").trim().to_owned();
                vec![Action::Search(query)]
            }
            // A room of yours already: just go there.
            (Some("join"), Some(name)) => match self.room_named(name) {
                Some(i) => self.show(i),
                None => vec![Action::Join(name.trim_start_matches('#').to_owned())],
            },
            (Some("leave"), _) => room.map(Action::Leave).into_iter().collect(),
            (Some("create"), Some(name)) => vec![Action::Create {
                name: name.trim_start_matches('#').to_owned(),
                private: parts.next() == Some("private"),
            }],
            (Some("dm"), Some(user)) => {
                vec![Action::OpenDm(user.trim_start_matches('@').to_owned())]
            }
            (Some("invite"), Some(user)) if room.is_some() => vec![Action::Invite {
                room: room.expect("checked"),
                user: user.trim_start_matches('@').to_owned(),
            }],
            _ => self.usage(),
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
            return Some(self.usage());
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

    pub(super) fn usage(&mut self) -> Vec<Action> {
        self.notice = Some("not a command: /help lists them".into());
        Vec::new()
    }

    /// The message commands act on: the last one in the open thread, or
    /// in the room.
    fn target(&self) -> Option<(RoomId, MessageId, bool)> {
        let r = self.current_room()?;
        let m = match self.thread {
            Some((room, root)) if room == r.info.id => r
                .thread(root)
                .into_iter()
                .rev()
                .filter_map(|l| l.event.as_ref())
                .find(|m| !m.deleted)?,
            _ => r.last_message()?,
        };
        Some((r.info.id, m.id, m.pinned))
    }

    /// `/thread`, `/also`, `/follow`, `/unfollow`, `/react`, `/pin`,
    /// `/unpin`, `/notify`, `/mute`, `/unmute`, `/mentions`; `None` for
    /// other commands.
    fn collab_command(&mut self, cmd: &str, room: Option<RoomId>) -> Option<Vec<Action>> {
        let (verb, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let rest = rest.trim();
        let nothing = |app: &mut App| {
            app.notice = Some("no message here yet".into());
            Vec::new()
        };
        Some(match verb {
            "thread" => {
                let Some(r) = self.current_room() else {
                    return Some(nothing(self));
                };
                let Some(m) = r.last_message() else {
                    return Some(nothing(self));
                };
                let (room, root) = (r.info.id, m.thread.unwrap_or(m.id));
                self.thread = Some((room, root));
                self.scroll = 0;
                vec![Action::LoadThread { room, root }]
            }
            "mentions" => vec![Action::Mentions],
            "also" if !rest.is_empty() => match self.thread {
                Some((room, root)) => {
                    self.pending.push((room, rest.to_owned()));
                    vec![Action::Send {
                        room,
                        body: rest.to_owned(),
                        thread: Some((root, true)),
                    }]
                }
                None => {
                    self.notice = Some("open a thread first: /thread".into());
                    Vec::new()
                }
            },
            "follow" | "unfollow" => match self.thread {
                Some((room, root)) => vec![Action::Follow {
                    room,
                    root,
                    follow: verb == "follow",
                }],
                None => {
                    self.notice = Some("open a thread first: /thread".into());
                    Vec::new()
                }
            },
            "react" if !rest.is_empty() => {
                let Some((room, msg, _)) = self.target() else {
                    return Some(nothing(self));
                };
                let mine = self
                    .current_room()
                    .and_then(|r| r.ids.get(&msg).and_then(|s| r.lines.get(s)))
                    .and_then(|l| l.event.as_ref())
                    .is_some_and(|m| {
                        m.reactions
                            .iter()
                            .any(|x| x.emoji == rest && x.users.contains(&self.me))
                    });
                vec![Action::React {
                    room,
                    msg,
                    emoji: rest.to_owned(),
                    add: !mine,
                }]
            }
            "pin" | "unpin" => match self.target() {
                Some((room, msg, _)) => vec![Action::Pin {
                    room,
                    msg,
                    pinned: verb == "pin",
                }],
                None => nothing(self),
            },
            "notify" | "mute" | "unmute" => {
                let Some(r) = room.and_then(|id| self.current_room().filter(|r| r.info.id == id))
                else {
                    return Some(Vec::new());
                };
                let (mut level, mut muted) = (r.info.notify, r.info.muted);
                match (verb, NotifyLevel::parse(rest)) {
                    ("mute", _) => muted = true,
                    ("unmute", _) => muted = false,
                    (_, Some(l)) => level = l,
                    _ => {
                        self.notice = Some("/notify all, /notify mentions or /notify none".into());
                        return Some(Vec::new());
                    }
                }
                vec![Action::Notify {
                    room: r.info.id,
                    level,
                    muted,
                }]
            }
            _ => return None,
        })
    }

    /// Tab after `@na`: completes the name from the people seen here and
    /// online (then `room`, `here`). `false` when the cursor is not after
    /// an `@word`.
    pub(super) fn complete_mention(&mut self) -> bool {
        let before = &self.input.as_str()[..self.input.cursor()];
        let Some(at) = before.rfind('@') else {
            return false;
        };
        let typed = &before[at + 1..];
        let starts_word = before[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || "._-@".contains(c)));
        if !starts_word
            || typed.contains(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return false;
        }
        let typed = typed.to_ascii_lowercase();
        let mut names: Vec<String> = self
            .current_room()
            .map(|r| r.lines.values().filter_map(|l| l.from.clone()).collect())
            .unwrap_or_default();
        names.extend(self.online.iter().cloned());
        names.sort();
        names.dedup();
        names.retain(|n| *n != self.me);
        names.extend(["here".to_owned(), "room".to_owned()]);
        match names.iter().find(|n| n.starts_with(&typed)) {
            Some(name) => {
                let rest = name[typed.len()..].to_owned();
                for c in rest.chars().chain([' ']) {
                    self.input.insert(c);
                }
            }
            None => self.notice = Some(format!("nobody here called @{typed}…")),
        }
        true
    }
}
