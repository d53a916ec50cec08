//! A WebSocket echo endpoint for the Autobahn conformance cases
//! (`scripts/autobahn.sh`), test-only.
//!
//! It is the server's own WebSocket stack (axum's upgrade over hyper, on
//! tungstenite) with the server's own socket settings
//! ([`securechat_server::ws::with_limits`]) and close codes
//! ([`securechat_server::ws::close_for_error`]). It echoes text and binary
//! messages, where `/ws` would parse text as JSON and refuse binary. Plain
//! TCP instead of TLS: the framing under test is the same either way.
//!
//! ```text
//! cargo run --example autobahn_echo -- 127.0.0.1:9001
//! ```

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use futures_util::SinkExt;
use securechat_server::Config;
use securechat_server::ws::{close_for_error, close_message, with_limits};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let config = Config::default();
    let app = Router::new().route(
        "/",
        get(move |ws: WebSocketUpgrade| async move { with_limits(ws, &config).on_upgrade(echo) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("echo listening on ws://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn echo(mut socket: WebSocket) {
    while let Some(frame) = socket.recv().await {
        let reply = match frame {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => m,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            // tungstenite has queued the answering close frame: send it.
            Ok(Message::Close(_)) => break,
            Err(e) => match close_for_error(e) {
                Some(close) => close_message(&close),
                None => return,
            },
        };
        let closing = matches!(reply, Message::Close(_));
        if socket.send(reply).await.is_err() {
            return;
        }
        if closing {
            break;
        }
    }
    // Finish the closing handshake (bounded), as the chat writer does.
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close()).await;
}
