//! What keys and slash commands do to the chat screen's state.

use super::app::{Action, App};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The help panel's text (`/help` or F1; ↑/↓ and PgUp/PgDn scroll it, Esc
/// closes it).
pub const HELP: &[&str] = &[
    "Keys",
    "  Enter            send the line",
    "  Alt-Enter        a new line within the message",
    "  ←/→ Home/End     move; Ctrl-A/Ctrl-E: start/end",
    "  Backspace/Delete delete a character",
    "  Ctrl-W           delete the word before the cursor",
    "  Ctrl-U / Ctrl-K  delete to the start / to the end",
    "  ↑ (empty line)   edit your last message here",
    "  Ctrl-↑/Ctrl-↓    lines you sent before",
    "  Tab/Shift-Tab    next/previous room (after @name: complete it)",
    "  Ctrl-N/Ctrl-P    the same (also Alt-↓/Alt-↑)",
    "  Alt-A            next room with mentions, then unread",
    "  PgUp/PgDn        scroll back (older history loads)",
    "  Esc              clear the line; close this panel",
    "  Ctrl-C           quit",
    "",
    "Commands",
    "  /join ROOM       join a public room, or go to yours",
    "  /create NAME [private]  make a room",
    "  /dm USER         talk to USER privately",
    "  /invite USER     add USER to this room",
    "  /leave           leave this room",
    "  /search QUERY    search your rooms: words, \"phrases\", prefix*,",
    "                   from:USER in:#ROOM before:/after:YYYY-MM-DD has:file",
    "  /edit TEXT       change your last message here",
    "  /delete          delete your last message here",
    "  /thread          open the thread of the last message (lines you",
    "                   type then reply in it; Esc goes back to the room)",
    "  /also TEXT       in a thread: reply and also send it to the room",
    "  /follow, /unfollow  in a thread: follow it or stop",
    "  /react EMOJI     react to the last message (again: take it back)",
    "  /pin, /unpin     pin or unpin the last message",
    "  /notify all|mentions|none   when this room rings the bell",
    "  /mute, /unmute   silence this room",
    "  /mentions        messages that mention you, in a panel",
    "  @na<Tab>         complete a name",
    "  /help            this panel",
    "  /quit            quit",
    "",
    "Files, from a shell:",
    "  securechat upload ROOM FILE",
    "  securechat download ID   (ID from [file ID: …])",
];

impl App {
    /// What a key does.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if let Some(scroll) = self.help {
            return self.help_key(key, scroll);
        }
        if !matches!(key.code, KeyCode::Up | KeyCode::Down) || !ctrl {
            self.sent_pos = None;
        }
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('q') if ctrl => {
                self.quit = true;
                return vec![Action::Quit];
            }
            KeyCode::Tab if self.complete_mention() => {}
            KeyCode::Tab => return self.switch(1),
            KeyCode::BackTab => return self.switch(-1),
            KeyCode::Down if alt => return self.switch(1),
            KeyCode::Up if alt => return self.switch(-1),
            KeyCode::Char('n') if ctrl => return self.switch(1),
            KeyCode::Char('p') if ctrl => return self.switch(-1),
            KeyCode::Char('a') if alt => return self.jump_unread(),
            KeyCode::F(1) => self.help = Some(0),
            KeyCode::PageUp => {
                self.scroll = self.scroll.saturating_add(10);
                let r = self.current_room();
                return match r.and_then(|r| r.lines.keys().next().copied().map(|s| (r.info.id, s)))
                {
                    Some((room, oldest)) if oldest > 1 => vec![Action::LoadOlder {
                        room,
                        before: oldest,
                    }],
                    _ => Vec::new(),
                };
            }
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Up if ctrl => self.recall(-1),
            KeyCode::Down if ctrl => self.recall(1),
            // Up on an empty line recalls your last message here to edit.
            KeyCode::Up if self.input.is_empty() => {
                match self.current_room().and_then(|r| r.last_of(&self.me)) {
                    Some((_, body)) => self.input.set(format!("/edit {body}")),
                    None => self.notice = Some("nothing of yours to edit here".into()),
                }
            }
            KeyCode::Esc if self.input.is_empty() && self.thread.is_some() => {
                self.thread = None;
                self.scroll = 0;
            }
            KeyCode::Esc => {
                self.input.clear();
                self.notice = None;
            }
            KeyCode::Enter if alt => self.input.insert('\n'),
            KeyCode::Enter => return self.submit(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('w') if ctrl => self.input.delete_word(),
            KeyCode::Char('u') if ctrl => self.input.delete_to_start(),
            KeyCode::Char('k') if ctrl => self.input.delete_to_end(),
            KeyCode::Char(c) if !ctrl && !alt => {
                self.input.insert(c);
                if let Some(r) = self.current_room()
                    && !self.input.as_str().starts_with('/')
                {
                    return vec![Action::Typing { room: r.info.id }];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The panel's lines: search results, or the help.
    pub fn panel_lines(&self) -> Vec<&str> {
        match &self.found {
            Some((_, lines)) => lines.iter().map(String::as_str).collect(),
            None => HELP.to_vec(),
        }
    }

    /// Keys while the panel (help or search results) is open.
    fn help_key(&mut self, key: KeyEvent, scroll: u16) -> Vec<Action> {
        let max = self.panel_lines().len() as u16;
        self.help = match key.code {
            KeyCode::Down => Some((scroll + 1).min(max)),
            KeyCode::Up => Some(scroll.saturating_sub(1)),
            KeyCode::PageDown => Some((scroll + 10).min(max)),
            KeyCode::PageUp => Some(scroll.saturating_sub(10)),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.quit = true;
                return vec![Action::Quit];
            }
            _ => None,
        };
        if self.help.is_none() {
            self.found = None;
        }
        Vec::new()
    }

    /// Ctrl-↑ (`by` = -1) and Ctrl-↓: walks the lines sent before.
    fn recall(&mut self, by: isize) {
        if self.sent.is_empty() {
            return;
        }
        let last = self.sent.len() - 1;
        let pos = match (self.sent_pos, by) {
            (None, -1) => Some(last),
            (None, _) => None,
            (Some(0), -1) => Some(0),
            (Some(p), -1) => Some(p - 1),
            (Some(p), _) if p >= last => None,
            (Some(p), _) => Some(p + 1),
        };
        self.sent_pos = pos;
        match pos {
            Some(p) => self.input.set(self.sent[p].clone()),
            None => self.input.clear(),
        }
    }

    fn submit(&mut self) -> Vec<Action> {
        let text = self.input.take();
        let text = text.trim_end().to_owned();
        if text.trim().is_empty() {
            return Vec::new();
        }
        if self.sent.last() != Some(&text) {
            self.sent.push(text.clone());
        }
        let room = self.current_room().map(|r| r.info.id);
        if let Some(cmd) = text.strip_prefix('/') {
            return self.command(cmd, room);
        }
        // In a thread, lines are replies to it.
        let (room, thread) = match self.thread {
            Some((r, root)) => (Some(r), Some((root, false))),
            None => (room, None),
        };
        match room {
            Some(room) => {
                self.scroll = 0;
                self.pending.push((room, text.clone()));
                vec![Action::Send {
                    room,
                    body: text,
                    thread,
                }]
            }
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::tests::{msg, with_rooms};
    use super::*;
    use crate::conn::Event;
    use securechat_proto::ws::{Deleted, Edited};
    use securechat_proto::{MessageId, RoomId, ServerMsg, Timestamp};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn with(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    /// Types `line` and presses Enter.
    fn enter(app: &mut App, line: &str) -> Vec<Action> {
        app.input.set(line);
        app.key(key(KeyCode::Enter))
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
                body: "hi".into(),
                thread: None,
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
    fn editing_keys_and_alt_enter() {
        let mut app = with_rooms();
        for c in "one two".chars() {
            app.key(key(KeyCode::Char(c)));
        }
        app.key(with(KeyCode::Char('w'), KeyModifiers::CONTROL));
        app.key(with(KeyCode::Enter, KeyModifiers::ALT));
        for c in "three".chars() {
            app.key(key(KeyCode::Char(c)));
        }
        app.key(with(KeyCode::Char('a'), KeyModifiers::CONTROL));
        app.key(key(KeyCode::Delete));
        app.key(key(KeyCode::Char('O')));
        app.key(key(KeyCode::End));
        app.key(key(KeyCode::Left));
        app.key(key(KeyCode::Backspace));
        assert_eq!(app.input.as_str(), "One \nthre");
        let actions = app.key(key(KeyCode::Enter));
        assert_eq!(
            actions,
            vec![Action::Send {
                room: RoomId(1),
                body: "One \nthre".into(),
                thread: None,
            }]
        );
        app.input.set("x");
        app.key(with(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert!(app.input.is_empty());
    }

    #[test]
    fn ctrl_up_and_down_walk_what_was_sent() {
        let mut app = with_rooms();
        enter(&mut app, "first");
        enter(&mut app, "/join dev");
        let up = with(KeyCode::Up, KeyModifiers::CONTROL);
        let down = with(KeyCode::Down, KeyModifiers::CONTROL);
        app.key(up);
        assert_eq!(app.input.as_str(), "/join dev");
        app.key(up);
        assert_eq!(app.input.as_str(), "first");
        app.key(up);
        assert_eq!(app.input.as_str(), "first", "stops at the oldest");
        app.key(down);
        assert_eq!(app.input.as_str(), "/join dev");
        app.key(down);
        assert!(app.input.is_empty());
    }

    #[test]
    fn unread_counts_and_room_switching() {
        let mut app = with_rooms();
        app.apply(msg(2, 1, "bob", "in dev"));
        app.apply(msg(2, 2, "alice", "mine"));
        let dev = app.rooms.iter().find(|r| r.info.name == "dev").unwrap();
        assert_eq!(dev.info.unread, 1, "own messages are not unread");
        let order: Vec<&str> = app.rooms.iter().map(|r| r.info.name.as_str()).collect();
        assert_eq!(order, ["dev", "general", "bob"]);
        let actions = app.key(key(KeyCode::BackTab));
        assert_eq!(app.current_room().unwrap().info.name, "dev");
        assert!(actions.contains(&Action::MarkRead {
            room: RoomId(2),
            seq: 2
        }));
        assert_eq!(app.current_room().unwrap().info.unread, 0);
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
    fn edit_and_delete_your_latest_message() {
        let mut app = with_rooms();
        assert!(enter(&mut app, "/edit anything").is_empty());
        assert!(app.notice.as_deref().unwrap().contains("nothing of yours"));
        app.apply(msg(1, 1, "alice", "first"));
        app.apply(msg(1, 2, "alice", "teh second"));
        app.apply(msg(1, 3, "bob", "not alice's"));
        app.key(key(KeyCode::Up));
        assert_eq!(app.input.as_str(), "/edit teh second");
        app.input.set("/edit the  second");
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            vec![Action::Edit {
                room: RoomId(1),
                msg: MessageId(21),
                body: "the  second".into()
            }]
        );
        assert!(enter(&mut app, "/edit teh second").is_empty(), "no change");
        assert!(enter(&mut app, "/edit").is_empty(), "no text: a hint");
        assert!(app.notice.as_deref().unwrap().contains("/help"));
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
        assert_eq!(app.input.as_str(), "/edit first");
        app.input.clear();
        app.apply(Event::Server(ServerMsg::Edited(Edited {
            id: MessageId(101),
            room: RoomId(1),
            seq: 5,
            ts: Timestamp(0),
            target: MessageId(11),
            body: "first, fixed".into(),
            encrypted: None,
            by: "alice".into(),
        })));
        app.key(key(KeyCode::Up));
        assert_eq!(app.input.as_str(), "/edit first, fixed");
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
    fn slash_commands_and_the_help_panel() {
        let mut app = with_rooms();
        assert_eq!(
            enter(&mut app, "/join ops"),
            vec![Action::Join("ops".into())]
        );
        // A room you are in already is simply shown.
        enter(&mut app, "/join #dev");
        assert_eq!(app.current_room().unwrap().info.name, "dev");
        enter(&mut app, "/join general");
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
        assert!(app.notice.as_deref().unwrap().contains("/help"));
        enter(&mut app, "/help");
        assert_eq!(app.help, Some(0));
        app.key(key(KeyCode::PageDown));
        assert_eq!(app.help, Some(10));
        app.key(key(KeyCode::Esc));
        assert_eq!(app.help, None);
        assert_eq!(enter(&mut app, "/quit"), vec![Action::Quit]);
        assert!(app.quit);
        let mut app = with_rooms();
        let ctrl_c = with(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key(ctrl_c), vec![Action::Quit]);
    }
}
