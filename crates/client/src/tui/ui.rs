//! Drawing the chat screen from [`App`]. Fits 80×24: a 22-column sidebar
//! (rooms with unread and mention counts, DMs, people), the messages
//! (wrapped without losing a character, a "new messages" line where you
//! left off), the input line (scrolled sideways to its cursor), a status
//! line, and the help panel over the messages when open.
//!
//! Colours: the terminal's own foreground and background, plus a few of
//! its basic colours, which both dark and light themes keep readable;
//! each nick has a colour of its own, the same in every run. With
//! `NO_COLOR` set (<https://no-color.org>) only bold, dim and reverse are
//! used.

use super::app::App;
use super::rich::Look;
use super::wrap::{for_screen, width, wrap, wrap_line};
use crate::conn::Status;
use crate::format::truncate;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use securechat_proto::Seq;
use securechat_proto::validate::without_bidi_controls;
use securechat_proto::ws::RoomKind;
use std::sync::OnceLock;
use std::time::Instant;

/// Sidebar width, its border included.
const SIDEBAR: u16 = 22;
/// Continuation lines of a message are indented this much.
const INDENT: &str = "  ";

/// Whether colours are off (`NO_COLOR` set and not empty).
fn no_color() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()))
}

/// `style` with colour `c`, unless colours are off.
fn fg(style: Style, c: Color) -> Style {
    if no_color() { style } else { style.fg(c) }
}

/// Nick colours that read on dark and on light backgrounds.
const NICK_COLOURS: [Color; 6] = [
    Color::Red,
    Color::Green,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::LightRed,
];

/// A nick's colour: the same for the same name, in every run (FNV-1a).
pub fn nick_colour(nick: &str) -> Color {
    let hash = nick.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    NICK_COLOURS[hash as usize % NICK_COLOURS.len()]
}

fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

/// Draws everything.
pub fn draw(f: &mut Frame<'_>, app: &App) {
    let [main, input, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let [side, messages] =
        Layout::horizontal([Constraint::Length(SIDEBAR), Constraint::Min(20)]).areas(main);
    draw_sidebar(f, app, side);
    draw_messages(f, app, messages);
    if let Some(scroll) = app.help {
        draw_help(f, app, messages, scroll);
    }
    // The input line, scrolled sideways so the cursor is in view.
    let (shown, col) = app.input.view(input.width.saturating_sub(2) as usize);
    let prompt = Line::from(vec![
        Span::styled("> ", fg(Style::default(), Color::Cyan)),
        Span::raw(shown),
    ]);
    f.render_widget(Paragraph::new(prompt), input);
    f.set_cursor_position((input.x + 2 + col as u16, input.y));
    f.render_widget(Paragraph::new(status_line(app)), status);
}

fn draw_sidebar(f: &mut Frame<'_>, app: &App, area: Rect) {
    let mut lines = Vec::new();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let room_cols = area.width.saturating_sub(2) as usize;
    for (heading, dm) in [("Rooms", false), ("Direct", true)] {
        lines.push(Line::styled(heading, bold));
        for (i, r) in app
            .rooms
            .iter()
            .enumerate()
            .filter(|(_, r)| (r.info.kind == RoomKind::Dm) == dm)
        {
            let current = i == app.current;
            let marker = if current { ">" } else { " " };
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
            let counts = match (r.info.unread, r.mentions) {
                (0, _) => String::new(),
                _ if current => String::new(),
                (n, 0) => format!(" ({n})"),
                (n, m) => format!(" ({n} @{m})"),
            };
            let name = truncate(&name, room_cols.saturating_sub(counts.chars().count()));
            let style = if current {
                fg(bold, Color::Cyan).add_modifier(Modifier::REVERSED)
            } else if r.mentions > 0 {
                fg(bold, Color::Red)
            } else if r.info.unread > 0 {
                bold
            } else {
                Style::default()
            };
            lines.push(Line::styled(format!("{marker}{name}{counts}"), style));
        }
    }
    lines.push(Line::styled("Online", bold));
    for user in &app.online {
        lines.push(Line::from(vec![
            Span::raw(" ● "),
            Span::styled(
                truncate(user, room_cols.saturating_sub(2)),
                fg(Style::default(), nick_colour(user)),
            ),
        ]));
    }
    let block = Block::default().borders(Borders::RIGHT);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// The style of a look, on top of the line's `base`.
fn styled(base: Style, look: Look) -> Style {
    match look {
        Look::Plain => base,
        Look::Bold => base.add_modifier(Modifier::BOLD),
        Look::Italic => base.add_modifier(Modifier::ITALIC),
        Look::Strike => base.add_modifier(Modifier::CROSSED_OUT),
        Look::Code => fg(base, Color::Yellow),
        Look::Link => base.add_modifier(Modifier::UNDERLINED),
        Look::Mention => fg(base.add_modifier(Modifier::BOLD), Color::Cyan),
        Look::MentionMe => fg(
            base.add_modifier(Modifier::BOLD | Modifier::REVERSED),
            Color::Red,
        ),
        Look::Dim => base.add_modifier(Modifier::DIM),
    }
}

/// `piece` (which starts at byte `at` of `text`) as spans in its looks.
fn spans_of(piece: &str, at: usize, looks: &[(usize, Look)], base: Style) -> Vec<Span<'static>> {
    let lookup = |i: usize| {
        let k = looks.partition_point(|(start, _)| *start <= i);
        if k == 0 { Look::Plain } else { looks[k - 1].1 }
    };
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut look = lookup(at);
    for (i, c) in piece.char_indices() {
        let l = lookup(at + i);
        if l != look && !run.is_empty() {
            spans.push(Span::styled(
                for_screen(&std::mem::take(&mut run)),
                styled(base, look),
            ));
        }
        look = l;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(for_screen(&run), styled(base, look)));
    }
    spans
}

/// The screen lines of one message: `[time] nick: text`, wrapped to
/// `cols` with continuation lines indented, nothing lost, each run of the
/// text in its look.
fn message_lines(
    time: &str,
    from: Option<&str>,
    text: &str,
    looks: &[(usize, Look)],
    cols: usize,
    base: Style,
) -> Vec<Line<'static>> {
    let head = match from {
        Some(from) => format!("[{time}] {from}: "),
        None => format!("[{time}] * "),
    };
    let head_cols = width(&head);
    let rest = cols.saturating_sub(INDENT.len()).max(1);
    let first = cols.saturating_sub(head_cols).max(1);
    // Each piece with where it starts in `text` (as `wrap` cuts it: at
    // each newline, then by width).
    let mut pieces: Vec<(usize, String)> = Vec::new();
    let mut start = 0;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let mut at = start;
        for piece in wrap_line(line, first, rest) {
            let len = piece.len();
            pieces.push((at, piece));
            at += len;
        }
        start += raw.len() + 1;
    }
    let mut out = Vec::with_capacity(pieces.len());
    for (i, (at, piece)) in pieces.iter().enumerate() {
        let shown = without_bidi_controls(piece);
        // (Bidi controls taken out shift the looks: then the base look.)
        let looks = if shown.len() == piece.len() {
            looks
        } else {
            &[]
        };
        let spans = spans_of(&shown, *at, looks, base);
        let mut line: Vec<Span<'static>> = Vec::new();
        if i == 0 {
            line.push(Span::styled(format!("[{time}] "), dim()));
            match from {
                Some(nick) => {
                    line.push(Span::styled(
                        nick.to_owned(),
                        fg(
                            Style::default().add_modifier(Modifier::BOLD),
                            nick_colour(nick),
                        ),
                    ));
                    line.push(Span::styled(": ", base));
                }
                None => line.push(Span::styled("* ", base)),
            }
        } else {
            line.push(Span::styled(INDENT, base));
        }
        line.extend(spans);
        out.push(Line::from(line));
    }
    out
}

fn draw_messages(f: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(room) = app.current_room() else {
        f.render_widget(Paragraph::new("no rooms"), area);
        return;
    };
    let thread = app
        .thread
        .filter(|(r, _)| *r == room.info.id)
        .map(|(_, root)| root);
    let title = match (thread, &room.info.kind, &room.info.topic) {
        (Some(_), RoomKind::Dm, _) => format!(" thread with @{} — Esc: back ", room.info.name),
        (Some(_), _, _) => format!(" thread in #{} — Esc: back ", room.info.name),
        (None, RoomKind::Dm, _) => format!(" @{} ", room.info.name),
        (None, _, Some(topic)) => {
            format!(" #{} — {} ", room.info.name, without_bidi_controls(topic))
        }
        _ => format!(" #{} ", room.info.name),
    };
    // Encrypted conversations say so in their title.
    let title = if room.info.encrypted {
        format!("{}· end-to-end encrypted ", title)
    } else {
        title
    };
    let block = Block::default()
        .title(truncate(&title, area.width as usize))
        .borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let cols = inner.width as usize;
    let mut lines: Vec<Line<'_>> = Vec::new();
    let shown: Vec<(Option<&Seq>, &super::room::Line)> = match thread {
        Some(root) => room.thread(root).into_iter().map(|l| (None, l)).collect(),
        None => room.room_lines().map(|(s, l)| (Some(s), l)).collect(),
    };
    for (seq, l) in shown {
        let base = if l.from.is_none() {
            dim()
        } else if l.mention {
            fg(Style::default().add_modifier(Modifier::BOLD), Color::Red)
        } else {
            Style::default()
        };
        lines.extend(message_lines(
            &l.time,
            l.from.as_deref(),
            &l.text,
            &l.looks,
            cols,
            base,
        ));
        if seq.is_some() && room.new_after == seq.copied() && room.lines.keys().next_back() != seq {
            let label = " new messages ";
            let side = cols.saturating_sub(label.len()) / 2;
            lines.push(Line::styled(
                format!("{}{label}{}", "─".repeat(side), "─".repeat(side)),
                fg(Style::default(), Color::Red),
            ));
        }
    }
    for (r, text) in &app.pending {
        if *r == room.info.id {
            lines.extend(message_lines("…", Some(&app.me), text, &[], cols, dim()));
        }
    }
    let height = inner.height as usize;
    let bottom = lines.len().saturating_sub(app.scroll as usize);
    let top = bottom.saturating_sub(height);
    let visible: Vec<Line<'_>> = lines.drain(top..bottom).collect();
    f.render_widget(Paragraph::new(visible), inner);
}

/// The panel (help, or search results), over the messages, scrolled
/// `scroll` lines down.
fn draw_help(f: &mut Frame<'_>, app: &App, area: Rect, scroll: u16) {
    f.render_widget(Clear, area);
    let title = app.found.as_ref().map_or("Help", |(t, _)| t.as_str());
    let block = Block::default()
        .title(format!(" {title} — ↑/↓ PgUp/PgDn scroll, Esc closes "))
        .borders(Borders::ALL);
    let inner = block.inner(area);
    let cols = inner.width as usize;
    let lines: Vec<Line<'_>> = app
        .panel_lines()
        .into_iter()
        .flat_map(|l| wrap(l, cols, cols))
        .skip(scroll as usize)
        .map(Line::raw)
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
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
        "Tab: next room  Alt-A: unread  /help  Ctrl-C: quit".into()
    };
    let badge = if no_color() {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().fg(Color::Black).bg(color)
    };
    Line::from(vec![
        Span::styled(format!(" {text} "), badge),
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
            ..Default::default()
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
                is_bot: false,
            },
            device: Default::default(),
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
                retention_days: None,
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
                ..Default::default()
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
        app.input.set("typing a reply");
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
            ..Default::default()
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
