//! The HTTPS side.
//!
//! - this file: the router and the headers every answer carries (HSTS,
//!   nosniff, no referrer, no framing, a locked-down CSP);
//! - [`error`]: [`error::ApiError`], the one JSON error shape;
//! - [`auth`]: session lookup from the cookie or a bearer token; the
//!   room-action budget;
//! - [`csrf`]: cross-site state-changing requests refused; whose origins
//!   are the server's own;
//! - [`api`]: register, login, logout, password; JSON/path/query
//!   extractors with JSON errors;
//! - [`users`]: the directory, user cards, your profile and picture;
//! - [`rooms`]: rooms, DMs, members, history, edits;
//! - [`collab`]: reactions, pins, threads, mentions, notification settings;
//! - [`search`]: message search;
//! - [`files`]: upload (streamed, size-limited) and download (Range);
//! - [`admin`]: users, roles, passwords, invites, settings, stats (admins
//!   only);
//! - [`integrations`]: API tokens, bots, posting over HTTPS, webhooks and
//!   `/hooks/{secret}`;
//! - [`ops`]: `/healthz`, `/metrics`, `/ca.pem`;
//! - [`web`]: the embedded browser app at `/`, `/app/…` and `/sw.js`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod collab;
pub mod csrf;
pub mod error;
pub mod files;
pub mod integrations;
pub mod keys;
pub mod ops;
pub mod rooms;
pub mod search;
pub mod users;
pub mod web;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use securechat_proto::ErrorCode;
use securechat_proto::validate::AVATAR_MAX_BYTES;

/// Largest JSON body the API accepts.
const MAX_BODY: usize = 16 * 1024;
/// A key upload: device keys and up to 100 signed one-time keys.
const KEYS_MAX_BODY: usize = 128 * 1024;
/// A batch of to-device messages (a room key for a large room).
const TO_DEVICE_MAX_BODY: usize = 4 * 1024 * 1024;
/// Largest request head (request line, headers, their line ends): a larger
/// one is refused with 431. hyper's read buffer is a little larger (see
/// `server.rs`), so this, not the buffer, is the exact limit.
pub const MAX_HEAD: usize = 64 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/register", post(api::register))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/password", post(api::change_password))
        .route("/api/password/reset", post(api::reset_password))
        .route("/api/me", get(users::me).patch(users::update_me))
        .route("/api/me/export", get(users::export))
        .route(
            "/api/me/avatar",
            put(users::put_avatar)
                .delete(users::delete_avatar)
                .layer(DefaultBodyLimit::max(AVATAR_MAX_BYTES)),
        )
        .route("/api/search", get(search::search))
        .route("/api/users", get(users::directory))
        .route("/api/users/{username}", get(users::card))
        .route("/api/users/{username}/avatar", get(users::avatar))
        .route("/api/rooms", get(rooms::list).post(rooms::create))
        .route(
            "/api/rooms/{id}",
            patch(rooms::update).delete(rooms::delete_room),
        )
        .route("/api/rooms/{id}/archive", post(rooms::archive))
        .route(
            "/api/rooms/{id}/retention",
            get(rooms::retention).put(rooms::set_retention),
        )
        .route("/api/rooms/{id}/join", post(rooms::join))
        .route("/api/rooms/{id}/leave", post(rooms::leave))
        .route("/api/rooms/{id}/invite", post(rooms::invite))
        .route("/api/rooms/{id}/members", get(rooms::members))
        .route(
            "/api/rooms/{id}/members/{username}",
            delete(rooms::remove_member),
        )
        .route("/api/rooms/{id}/events", get(rooms::history))
        .route("/api/rooms/{id}/messages", post(integrations::send))
        .route(
            "/api/rooms/{id}/webhooks",
            get(integrations::list_webhooks).post(integrations::create_webhook),
        )
        .route(
            "/api/rooms/{id}/webhooks/{hook}",
            delete(integrations::delete_webhook),
        )
        .route(
            "/api/tokens",
            get(integrations::list_tokens).post(integrations::create_token),
        )
        .route("/api/tokens/{id}", delete(integrations::revoke_token))
        .route("/hooks/{secret}", post(integrations::incoming))
        .route(
            "/api/rooms/{id}/messages/{msg}",
            patch(rooms::edit).delete(rooms::delete),
        )
        .route(
            "/api/rooms/{id}/messages/{msg}/reactions/{emoji}",
            put(collab::add_reaction).delete(collab::remove_reaction),
        )
        .route(
            "/api/rooms/{id}/messages/{msg}/pin",
            put(collab::pin).delete(collab::unpin),
        )
        .route("/api/rooms/{id}/pins", get(collab::pins))
        .route("/api/rooms/{id}/threads/{root}", get(collab::thread))
        .route(
            "/api/rooms/{id}/threads/{root}/follow",
            put(collab::follow).delete(collab::unfollow),
        )
        .route(
            "/api/rooms/{id}/threads/{root}/read",
            post(collab::thread_read),
        )
        .route("/api/threads", get(collab::threads))
        .route("/api/mentions", get(collab::mentions))
        .route("/api/rooms/{id}/notifications", put(collab::notifications))
        .route(
            "/api/rooms/{id}/files",
            post(files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/files/{id}", get(files::download))
        .route("/api/files/{id}/message", get(files::message))
        .route("/api/dms", post(rooms::open_dm))
        .route(
            "/api/keys",
            post(keys::upload).layer(DefaultBodyLimit::max(KEYS_MAX_BODY)),
        )
        .route("/api/keys/query", post(keys::query))
        .route(
            "/api/keys/backup",
            get(keys::backup)
                .put(keys::add_to_backup)
                .delete(keys::delete_backup)
                .layer(DefaultBodyLimit::max(TO_DEVICE_MAX_BODY)),
        )
        .route("/api/keys/backup/info", put(keys::new_backup))
        .route("/api/keys/claim", post(keys::claim))
        .route("/api/keys/report", post(keys::report))
        .route(
            "/api/to_device",
            post(keys::to_device).layer(DefaultBodyLimit::max(TO_DEVICE_MAX_BODY)),
        )
        .route("/api/to_device/pending", get(keys::pending))
        .route("/api/to_device/ack", post(keys::ack))
        .route("/api/devices", get(keys::mine))
        .route("/api/devices/{id}", delete(keys::remove))
        .route("/api/rooms/{id}/devices", get(keys::room_devices))
        .route(
            "/api/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/api/admin/users/{username}/password",
            post(admin::set_password),
        )
        .route("/api/admin/users/{username}/role", post(admin::set_role))
        .route(
            "/api/admin/users/{username}/reset-link",
            post(admin::reset_link),
        )
        .route("/api/admin/users/{username}/disable", post(admin::disable))
        .route("/api/admin/users/{username}/enable", post(admin::enable))
        .route(
            "/api/admin/invites",
            get(admin::list_invites).post(admin::create_invite),
        )
        .route("/api/admin/invites/{id}", delete(admin::revoke_invite))
        .route(
            "/api/admin/settings",
            get(admin::settings).patch(admin::update_settings),
        )
        .route("/api/admin/stats", get(admin::stats))
        .route("/api/admin/bots", post(integrations::create_bot))
        .route(
            "/api/admin/bots/{username}/tokens",
            post(integrations::bot_token),
        )
        .route("/ws", get(crate::ws::upgrade))
        .route("/", get(web::index))
        .route("/sw.js", get(web::service_worker))
        .route("/app/{*path}", get(web::file))
        .route("/favicon.ico", get(web::favicon))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/ca.pem", get(ops::ca_pem))
        .fallback(|| async { error::ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::same_origin_only,
        ))
        .layer(axum::middleware::from_fn(head_limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// The size of a request's head as it came on the wire (HTTP/1.1):
/// `METHOD TARGET HTTP/1.1`, each `Name: value`, each line with its CRLF,
/// and the empty line.
fn head_size(req: &Request) -> usize {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    line + headers + 2
}

/// Refuses a request whose head is over [`MAX_HEAD`] with 431 and no body.
async fn head_limit(req: Request, next: Next) -> Response {
    if head_size(&req) > MAX_HEAD {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            [(header::CONNECTION, "close")],
        )
            .into_response();
    }
    next.run(req).await
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=63072000; includeSubDomains",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    set(h, header::CACHE_CONTROL, "no-store");
    res
}
