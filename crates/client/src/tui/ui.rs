//! Drawing the chat screen from [`App`]. Fits 80×24: a 22-column sidebar
//! (rooms, DMs, people), the messages, the input line, a status line.

use super::app::App;
use crate::conn::Status;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use securechat_proto::validate::without_bidi_controls;
use securechat_proto::ws::RoomKind;
use std::time::Instant;

/// Draws everything.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let [main, input, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let [side, messages] =
        Layout::horizontal([Constraint::Length(22), Constraint::Min(20)]).areas(main);
    draw_sidebar(f, app, side);
    draw_messages(f, app, messages);
    let prompt = Line::from(vec![
        Span::styled("> ", Style::default().fg(Color::Cyan)),
        Span::raw(app.input.clone()),
    ]);
    f.render_widget(Paragraph::new(prompt), input);
    f.set_cursor_position((input.x + 2 + app.input.chars().count() as u16, input.y));
    f.render_widget(Paragraph::new(status_line(app)), status);
}

fn draw_sidebar(f: &mut Frame<'_>, app: &App, area: Rect) {
    let mut lines = Vec::new();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    for (heading, dm) in [("Rooms", false), ("Direct", true)] {
        lines.push(Line::styled(heading, bold));
        for (i, r) in app
            .rooms
            .iter()
            .enumerate()
            .filter(|(_, r)| (r.info.kind == RoomKind::Dm) == dm)
        {
            let marker = if i == app.current { ">" } else { " " };
            let name = if dm {
                let dot = if app.online.contains(&r.info.name) {
                    "●"
                } else {
                    "○"
                };
                format!("{dot} {}", r.info.name)
            } else {
                format!("#{}", r.info.name)
            };
            let unread = if r.info.unread > 0 && i != app.current {
                format!(" ({})", r.info.unread)
            } else {
                String::new()
            };
            let style = if i == app.current {
                bold.fg(Color::Cyan)
            } else {
                Style::default()
            };
            lines.push(Line::styled(format!("{marker}{name}{unread}"), style));
        }
    }
    lines.push(Line::styled("Online", bold));
    for user in &app.online {
        lines.push(Line::raw(format!(" ● {user}")));
    }
    let block = Block::default().borders(Borders::RIGHT);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// Breaks `text` into pieces of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split('\n') {
        let chars: Vec<char> = raw.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
        }
        for chunk in chars.chunks(width.max(1)) {
            out.push(chunk.iter().collect());
        }
    }
    out
}

fn draw_messages(f: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(room) = app.current_room() else {
        f.render_widget(Paragraph::new("no rooms"), area);
        return;
    };
    let title = match (&room.info.kind, &room.info.topic) {
        (RoomKind::Dm, _) => format!(" @{} ", room.info.name),
        (_, Some(topic)) => format!(" #{} — {} ", room.info.name, without_bidi_controls(topic)),
        _ => format!(" #{} ", room.info.name),
    };
    let block = Block::default().title(title).borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line<'_>> = Vec::new();
    for l in room.lines.values() {
        let head = match &l.from {
            Some(from) => format!("[{}] {from}: ", l.time),
            None => format!("[{}] * ", l.time),
        };
        let style = if l.from.is_none() {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        };
        // A terminal cannot isolate user text: bidi controls are dropped so
        // an override cannot flip the rest of the line.
        for (i, piece) in wrap(&format!("{head}{}", without_bidi_controls(&l.text)), width)
            .into_iter()
            .enumerate()
        {
            let piece = if i == 0 { piece } else { format!("  {piece}") };
            lines.push(Line::styled(piece, style));
        }
    }
    for (r, text) in &app.pending {
        if *r == room.info.id {
            let text = without_bidi_controls(text);
            for piece in wrap(&format!("[…] {}: {text}", app.me), width) {
                lines.push(Line::styled(piece, Style::default().fg(Color::DarkGray)));
            }
        }
    }
    let height = inner.height as usize;
    let bottom = lines.len().saturating_sub(app.scroll as usize);
    let top = bottom.saturating_sub(height);
    let visible: Vec<Line<'_>> = lines.drain(top..bottom).collect();
    f.render_widget(Paragraph::new(visible), inner);
}

fn status_line(app: &App) -> Line<'static> {
    let left = |until: Option<Instant>| {
        until.map_or(0, |u| {
            u.saturating_duration_since(Instant::now()).as_secs() + 1
        })
    };
    let (text, color) = match &app.status {
        Status::Connected => (format!("connected as {}", app.me), Color::Green),
        Status::Connecting => ("connecting…".into(), Color::Yellow),
        Status::Reconnecting { .. } => (
            format!("reconnecting in {}s", left(app.status_until)),
            Color::Yellow,
        ),
        Status::RateLimited { .. } => (
            format!("rate limited: sending in {}s", left(app.status_until)),
            Color::Yellow,
        ),
        Status::SessionEnded => ("session ended".into(), Color::Red),
    };
    let typing = app.typing_now();
    let extra = if let Some(n) = &app.notice {
        n.clone()
    } else if !typing.is_empty() {
        format!("{} typing…", typing.join(", "))
    } else {
        "Tab: next room  PgUp: history  /help  Ctrl-C: quit".into()
    };
    Line::from(vec![
        Span::styled(
            format!(" {text} "),
            Style::default().fg(Color::Black).bg(color),
        ),
        Span::raw(format!(" {extra}")),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::app::App;
    use super::draw;
    use crate::conn::{Event, Status};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use securechat_proto::ws::{Limits, MessageEvent, RoomInfo, RoomKind, UserInfo, Welcome};
    use securechat_proto::{MessageId, RoomId, ServerMsg, Timestamp, UserId};
    use std::time::Duration;

    fn room(id: i64, kind: RoomKind, name: &str, last_seq: u64, unread: u64) -> RoomInfo {
        RoomInfo {
            id: RoomId(id),
            kind,
            name: name.into(),
            topic: None,
            last_seq,
            unread,
            read_seq: 0,
        }
    }

    fn app() -> App {
        let mut app = App::new("alice");
        app.apply(Event::Welcome(Welcome {
            protocol_version: 1,
            server_version: "test".into(),
            user: UserInfo {
                id: UserId(1),
                username: "alice".into(),
                is_admin: false,
            },
            rooms: vec![
                room(1, RoomKind::Public, "general", 2, 0),
                room(2, RoomKind::Private, "dev", 5, 3),
                room(3, RoomKind::Dm, "bob", 1, 1),
            ],
            online: vec!["alice".into(), "bob".into()],
            limits: Limits {
                max_message_bytes: 16384,
                max_frame_bytes: 65536,
                rate_per_sec: 5.0,
                burst: 10,
                ping_interval_ms: 20000,
            },
        }));
        app.apply(Event::Status(Status::Connected));
        for (seq, from, body) in [
            (1, "bob", "hello alice"),
            (2, "alice", "hi bob, what's up?"),
        ] {
            app.apply(Event::Server(ServerMsg::Message(MessageEvent {
                id: MessageId(seq),
                room: RoomId(1),
                seq: seq as u64,
                ts: Timestamp(1_795_455_808_000),
                from: from.into(),
                body: body.into(),
                edited: false,
                deleted: false,
                file: None,
            })));
        }
        app
    }

    fn screen(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| draw(f, app)).unwrap();
        let buf = terminal.backend().buffer().clone();
        (0..24)
            .map(|y| {
                (0..80)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn renders_rooms_unread_people_messages_and_status_in_80x24() {
        let mut app = app();
        app.input = "typing a reply".into();
        let s = screen(&app);
        assert!(s.contains(">#general"), "{s}");
        assert!(s.contains(" #dev (3)"), "unread count: {s}");
        assert!(s.contains("● bob (1)"), "DM with presence and unread: {s}");
        assert!(s.contains("[17:43] bob: hello alice"), "{s}");
        assert!(s.contains("[17:43] alice: hi bob, what's up?"), "{s}");
        assert!(s.contains("> typing a reply"), "{s}");
        assert!(s.contains("connected as alice"), "{s}");
        assert_eq!(s.lines().count(), 24);
    }

    #[test]
    fn status_line_counts_down_reconnects_and_rate_limits() {
        let mut app = app();
        app.apply(Event::Status(Status::Reconnecting {
            retry_in: Duration::from_millis(4500),
        }));
        assert!(screen(&app).contains("reconnecting in 5s"));
        app.apply(Event::Status(Status::RateLimited {
            wait: Duration::from_millis(1200),
        }));
        assert!(screen(&app).contains("rate limited: sending in 2s"));
    }

    #[test]
    fn long_messages_wrap_and_pending_ones_show() {
        let mut app = app();
        let long = "word ".repeat(40);
        app.apply(Event::Server(ServerMsg::Message(MessageEvent {
            id: MessageId(3),
            room: RoomId(1),
            seq: 3,
            ts: Timestamp(1_795_455_808_000),
            from: "bob".into(),
            body: long,
            edited: false,
            deleted: false,
            file: None,
        })));
        app.pending.push((RoomId(1), "on its way".into()));
        let s = screen(&app);
        assert!(s.contains("[…] alice: on its way"), "{s}");
        assert!(
            s.lines().filter(|l| l.contains("word word")).count() >= 3,
            "{s}"
        );
    }
}
