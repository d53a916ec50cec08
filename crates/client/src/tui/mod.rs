//! `securechat chat`: the full-screen client.
//!
//! - [`app`]: state and server events (no I/O, unit-tested);
//! - [`keys`]: keys and slash commands, and the help text;
//! - [`input`]: the input line's editing and sideways scrolling;
//! - [`wrap`]: breaking text into screen lines without losing a character;
//! - [`ui`]: drawing the state (tested with ratatui's `TestBackend`);
//! - this file: the loop that joins the terminal, the connection and the
//!   API, and restores the terminal on exit, Ctrl-C, SIGTERM and panic.
//!   When the session ends (logged out elsewhere, password changed,
//!   account disabled) it says so on the screen, then returns
//!   [`ClientError::SessionEnded`] (exit code 4).

pub mod app;
pub mod commands;
pub mod input;
pub mod keys;
pub mod rich;
pub mod room;
pub mod ui;
pub mod wrap;

use crate::ClientError;
use crate::api::Api;
use crate::conn::Connection;
use app::{Action, App};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use securechat_proto::ServerMsg;
use securechat_proto::http::CreateRoom;
use securechat_proto::ws::RoomKind;
use std::time::Duration;

/// How long the chat screen shows why the session ended before it exits.
const SHOW_SESSION_END: Duration = Duration::from_secs(3);

/// Runs the chat screen until the user quits.
pub async fn run(api: Api, mut conn: Connection, me: &str) -> Result<(), ClientError> {
    let mut terminal =
        ratatui::try_init().map_err(|e| ClientError::Usage(format!("terminal: {e}")))?;
    let result = event_loop(&mut terminal, &api, &mut conn, me).await;
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    api: &Api,
    conn: &mut Connection,
    me: &str,
) -> Result<(), ClientError> {
    let mut app = App::new(me);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| ClientError::Usage(e.to_string()))?;
    while !app.quit {
        terminal
            .draw(|f| ui::draw(f, &app))
            .map_err(|e| ClientError::Usage(format!("terminal: {e}")))?;
        if std::mem::take(&mut app.bell) {
            // A mention: the terminal's bell (BEL), as IRC clients ring it.
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07").and_then(|()| out.flush());
        }
        if app.session_ended() {
            // Leave the reason on the screen a moment (any key goes on).
            let _ = tokio::time::timeout(SHOW_SESSION_END, keys.next()).await;
            return Err(ClientError::SessionEnded);
        }
        let actions = tokio::select! {
            event = conn.events.recv() => match event {
                Some(e) => app.apply(e),
                None => break,
            },
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => app.key(k),
                Some(Ok(_)) => Vec::new(),
                _ => break,
            },
            _ = tick.tick() => Vec::new(),
            _ = term.recv() => break,
        };
        for action in actions {
            if let Err(e) = perform(action, &mut app, api, conn).await {
                app.notice = Some(e.to_string());
            }
        }
    }
    Ok(())
}

/// Shows a room the user just joined, created or opened, and does what
/// showing it asks (history, read mark), so the next line goes there.
async fn follow(
    app: &mut App,
    api: &Api,
    conn: &Connection,
    info: securechat_proto::ws::RoomInfo,
) -> Result<(), ClientError> {
    for action in app.focus(info) {
        match action {
            Action::MarkRead { room, seq } => conn.read(room, seq),
            Action::LoadOlder { room, before } => {
                let mut page = api.history(room, Some(before), 50).await?;
                conn.open_history(&mut page.events).await;
                app.add_history(room, &page.events);
            }
            _ => {}
        }
    }
    Ok(())
}

async fn perform(
    action: Action,
    app: &mut App,
    api: &Api,
    conn: &Connection,
) -> Result<(), ClientError> {
    match action {
        Action::Send { room, body, thread } => {
            conn.reply(room, thread, body);
        }
        Action::React {
            room,
            msg,
            emoji,
            add,
        } => api.react(room, msg, &emoji, add).await?,
        Action::Pin { room, msg, pinned } => {
            api.pin(room, msg, pinned).await?;
            app.notice = Some(if pinned { "pinned" } else { "unpinned" }.into());
        }
        Action::Follow { room, root, follow } => {
            api.follow(room, root, follow).await?;
            app.notice = Some(
                if follow {
                    "following the thread"
                } else {
                    "not following the thread"
                }
                .into(),
            );
        }
        Action::LoadThread { room, root } => {
            let t = api.thread(room, root).await?;
            let mut events = vec![t.root];
            events.extend(t.replies);
            conn.open_history(&mut events).await;
            app.add_history(room, &events);
        }
        Action::Notify { room, level, muted } => {
            api.notify(room, level, muted).await?;
            app.notice = Some(format!(
                "notifications: {}{}",
                level.as_str(),
                if muted { ", muted" } else { "" }
            ));
        }
        Action::MarkRead { room, seq } => conn.read(room, seq),
        Action::Typing { room } => conn.typing(room),
        Action::LoadOlder { room, before } => {
            let mut page = api.history(room, Some(before), 50).await?;
            conn.open_history(&mut page.events).await;
            app.add_history(room, &page.events);
        }
        Action::Join(name) => {
            let info = api.join_by_name(&name).await?;
            follow(app, api, conn, info).await?;
        }
        Action::Leave(room) => api.leave(room).await?,
        Action::Create { name, private } => {
            let kind = if private {
                RoomKind::Private
            } else {
                RoomKind::Public
            };
            let info = api
                .create_room(&CreateRoom {
                    name: Some(name),
                    kind,
                    topic: None,
                    members: Vec::new(),
                    encrypted: false,
                })
                .await?;
            follow(app, api, conn, info).await?;
        }
        Action::OpenDm(user) => {
            let info = api.open_dm(&user).await?;
            follow(app, api, conn, info).await?;
        }
        Action::Search(query) => {
            let found = api.search(&query, false, 50).await?;
            let mut lines: Vec<String> = found
                .results
                .iter()
                .map(|hit| crate::format::hit_line(hit, false))
                .collect();
            if lines.is_empty() {
                lines.push(format!("nothing found for {query}"));
            } else if found.more {
                lines.push("… more: narrow the search, or `securechat search --limit 100`".into());
            }
            app.found = Some((format!("Search: {query}"), lines));
            app.help = Some(0);
        }
        Action::Mentions => {
            let found = api.mentions(50).await?;
            let rooms: std::collections::HashMap<_, _> = app
                .rooms
                .iter()
                .map(|r| (r.info.id, r.info.name.clone()))
                .collect();
            let mut lines: Vec<String> = found
                .events
                .iter()
                .filter_map(|ev| match ev {
                    ServerMsg::Message(m) => {
                        // The body as the chat screen reads it, on one line.
                        let text = rich::Rich::body(&m.body, &app.me).text.replace('\n', " ⏎ ");
                        let name = rooms.get(&m.room).map_or("?", String::as_str);
                        let time = crate::format::time_of_day(&m.ts);
                        Some(format!("#{name} [{time}] {}: {text}", m.from))
                    }
                    _ => None,
                })
                .collect();
            if lines.is_empty() {
                lines.push("nobody has mentioned you yet".into());
            }
            app.found = Some(("Mentions".into(), lines));
            app.help = Some(0);
        }
        Action::Invite { room, user } => {
            api.invite(room, &user).await?;
            app.notice = Some(format!("invited {user}"));
        }
        Action::Edit { room, msg, body } => {
            if app.room_encrypted(room) {
                let sealed = conn.seal(room, &body).await?;
                api.edit_sealed(room, msg, sealed).await?
            } else {
                api.edit_message(room, msg, &body).await?
            }
        }
        Action::Delete { room, msg } => api.delete_message(room, msg).await?,
        Action::Quit => app.quit = true,
    }
    Ok(())
}
