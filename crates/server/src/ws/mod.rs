//! The `/ws` endpoint.
//!
//! - this file: the upgrade handler: `Origin` check (403), session check
//!   (401), the per-user and per-address socket caps (429), then the
//!   connection leaves its address's unauthenticated cap and gets the
//!   socket limits (small read buffer, frame cap);
//! - [`session`]: one connection's life: subscribe, welcome, read frames,
//!   `send`;
//! - `control`: the other frames (`sync`, `typing`) and the budgets'
//!   refusals;
//! - [`writer`]: the task that owns the sending half: welcome first, then
//!   queued frames with per-room cursors (no duplicates, gaps filled from
//!   the store), replay for `sync`, heartbeats, and close codes.

mod control;
pub mod session;
pub mod writer;

pub use session::close_for_error;

use crate::config::Config;
use crate::http::auth::session_from_headers;
use crate::http::csrf::origin_allowed;
use crate::http::error::ApiError;
use crate::hub::Close;
use crate::metrics;
use crate::peers::Slot;
use crate::sockets::Refused;
use crate::state::AppState;
use axum::Extension;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use securechat_proto::ErrorCode;
use securechat_proto::integrations::Scope;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// WebSocket read buffer. tungstenite's 128 KiB default is allocated per
/// connection; 4 KiB keeps idle connections cheap.
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written through a buffer of this size before a flush.
const WRITE_BUFFER: usize = 16 * 1024;
/// A peer that stops reading cannot make the server buffer more than this.
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// `Retry-After` when a socket cap is full (a client reconnecting on its
/// own should not hammer the server).
const RETRY_FULL_SECS: u64 = 10;

/// `GET /ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    slot: Option<Extension<Arc<Slot>>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // A browser may open `/ws` only from this server's own origin or a
    // configured one: no cross-site WebSocket hijacking. Requests without
    // `Origin` (non-browser clients) pass.
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin_allowed(origin.to_str().unwrap_or(""), &headers, &state)
    {
        return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
    }
    let session = match session_from_headers(&state, &headers).await {
        Ok(s) if !s.allows(Scope::Read) => {
            return ApiError::new(ErrorCode::Forbidden, "this API token lacks the read scope")
                .into_response();
        }
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) => {
            return ApiError::new(ErrorCode::BadRequest, "expected a WebSocket upgrade")
                .into_response();
        }
    };
    // Counted against the user's and the address's socket caps before the
    // upgrade is accepted; the slot lives as long as the connection.
    let socket_slot = match state.sockets.try_acquire(session.user.id, peer.ip()) {
        Ok(s) => s,
        Err(refused) => return refuse_socket(&state, refused),
    };
    // Authenticated: this connection no longer counts against its
    // address's cap on unauthenticated ones.
    if let Some(Extension(slot)) = slot {
        slot.release();
    }
    with_limits(ws, &state.config).on_upgrade(move |socket| async move {
        let _slot = socket_slot;
        session::serve(socket, state, session).await
    })
}

/// 429 `rate_limited` naming the full cap, counted in `/metrics`.
fn refuse_socket(state: &AppState, refused: Refused) -> Response {
    let (counter, message) = match refused {
        Refused::User(max) => (
            &state.metrics.sockets_refused_user_total,
            format!("this account has {max} connections open already; close one first"),
        ),
        Refused::Address(max) => (
            &state.metrics.sockets_refused_address_total,
            format!("this address has {max} connections open already; close one first"),
        ),
    };
    metrics::inc(counter);
    tracing::debug!(?refused, "socket cap reached");
    ApiError::slow_down(&message, Duration::from_secs(RETRY_FULL_SECS)).into_response()
}

/// The server's socket settings: a small read buffer, a bounded write
/// buffer, and the frame and message cap. The Autobahn echo endpoint
/// (`examples/autobahn_echo.rs`) uses the same.
pub fn with_limits(ws: WebSocketUpgrade, config: &Config) -> WebSocketUpgrade {
    let max = config.max_frame_bytes;
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
}

/// The close frame that says `close`.
pub fn close_message(close: &Close) -> Message {
    Message::Close(Some(CloseFrame {
        code: close.code,
        reason: Utf8Bytes::from_static(close.reason),
    }))
}
