//! `securechat chat`: the full-screen client.
//!
//! - [`app`]: state, keys and server events (no I/O, unit-tested);
//! - [`ui`]: drawing the state (tested with ratatui's `TestBackend`);
//! - this file: the loop that joins the terminal, the connection and the
//!   API, and restores the terminal on exit, Ctrl-C, SIGTERM and panic.

pub mod app;
pub mod ui;

use crate::ClientError;
use crate::api::Api;
use crate::conn::Connection;
use app::{Action, App};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use securechat_proto::http::CreateRoom;
use securechat_proto::ws::RoomKind;
use std::time::Duration;

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

async fn perform(
    action: Action,
    app: &mut App,
    api: &Api,
    conn: &Connection,
) -> Result<(), ClientError> {
    match action {
        Action::Send { room, body } => {
            conn.send(room, body);
        }
        Action::MarkRead { room, seq } => conn.read(room, seq),
        Action::Typing { room } => conn.typing(room),
        Action::LoadOlder { room, before } => {
            let page = api.history(room, Some(before), 50).await?;
            app.add_history(room, &page.events);
        }
        Action::Join(name) => {
            api.join_by_name(&name).await?;
        }
        Action::Leave(room) => api.leave(room).await?,
        Action::Create { name, private } => {
            let kind = if private {
                RoomKind::Private
            } else {
                RoomKind::Public
            };
            api.create_room(&CreateRoom {
                name: Some(name),
                kind,
                topic: None,
                members: Vec::new(),
            })
            .await?;
        }
        Action::OpenDm(user) => {
            api.open_dm(&user).await?;
        }
        Action::Invite { room, user } => {
            api.invite(room, &user).await?;
            app.notice = Some(format!("invited {user}"));
        }
        Action::Edit { room, msg, body } => api.edit_message(room, msg, &body).await?,
        Action::Delete { room, msg } => api.delete_message(room, msg).await?,
        Action::Quit => app.quit = true,
    }
    Ok(())
}
