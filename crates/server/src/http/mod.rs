//! The HTTPS side.
//!
//! - this file: the router and the headers every answer carries (HSTS,
//!   nosniff, no referrer, no framing, a locked-down CSP);
//! - [`error`]: [`error::ApiError`], the one JSON error shape;
//! - [`auth`]: session lookup from the cookie or a bearer token;
//! - [`api`]: register, login, logout, password, me; JSON/path/query
//!   extractors with JSON errors;
//! - [`rooms`]: rooms, DMs, members, history, edits, the directory;
//! - [`files`]: upload (streamed, size-limited) and download (Range);
//! - [`admin`]: users, disabling, invites, stats (admins only);
//! - [`ops`]: `/healthz`, `/metrics`, `/ca.pem`;
//! - [`web`]: the embedded browser app at `/` and `/app/…`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod error;
pub mod files;
pub mod ops;
pub mod rooms;
pub mod web;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use securechat_proto::ErrorCode;

/// Largest JSON body the API accepts.
const MAX_BODY: usize = 16 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/register", post(api::register))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/password", post(api::change_password))
        .route("/api/me", get(api::me))
        .route("/api/users", get(rooms::directory))
        .route("/api/rooms", get(rooms::list).post(rooms::create))
        .route("/api/rooms/{id}", patch(rooms::update))
        .route("/api/rooms/{id}/join", post(rooms::join))
        .route("/api/rooms/{id}/leave", post(rooms::leave))
        .route("/api/rooms/{id}/invite", post(rooms::invite))
        .route("/api/rooms/{id}/members", get(rooms::members))
        .route(
            "/api/rooms/{id}/members/{username}",
            delete(rooms::remove_member),
        )
        .route("/api/rooms/{id}/events", get(rooms::history))
        .route(
            "/api/rooms/{id}/messages/{msg}",
            patch(rooms::edit).delete(rooms::delete),
        )
        .route(
            "/api/rooms/{id}/files",
            post(files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/files/{id}", get(files::download))
        .route("/api/dms", post(rooms::open_dm))
        .route("/api/admin/users", get(admin::list_users))
        .route("/api/admin/users/{username}/disable", post(admin::disable))
        .route("/api/admin/users/{username}/enable", post(admin::enable))
        .route("/api/admin/invites", post(admin::create_invite))
        .route("/api/admin/stats", get(admin::stats))
        .route("/ws", get(crate::ws::upgrade))
        .route("/", get(web::index))
        .route("/app/{*path}", get(web::file))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/ca.pem", get(ops::ca_pem))
        .fallback(|| async { error::ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
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
