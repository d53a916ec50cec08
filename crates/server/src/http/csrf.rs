//! Cross-site request refusal (CSRF), and the one rule for which browser
//! origins are the server's own, shared with `/ws`.
//!
//! `SameSite=Strict` keeps the session cookie off requests from other
//! *sites*, but another port or a sibling subdomain of the same site is the
//! same site. So every state-changing request (any method but `GET`,
//! `HEAD`, `OPTIONS`) that could carry the cookie must also come from the
//! server's own origin: its `Origin` header, or without one its
//! `Sec-Fetch-Site`, must say so. Requests with `Authorization: Bearer`
//! (scripts, the terminal client) pass: a page cannot make a browser add
//! that header to another origin's request without a CORS preflight, which
//! this server never grants.

use super::error::ApiError;
use crate::metrics;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use securechat_proto::ErrorCode;

/// Whether a browser `origin` is this server's own (the one in the
/// request's `Host` header) or a configured one.
pub fn origin_allowed(origin: &str, headers: &HeaderMap, state: &AppState) -> bool {
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("https://{host}"));
    own.is_some_and(|own| own.eq_ignore_ascii_case(origin))
        || state
            .config
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
}

/// Whether a state-changing request may have been forged by another site.
fn cross_site(headers: &HeaderMap, state: &AppState) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if bearer {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        return !origin_allowed(origin.to_str().unwrap_or(""), headers, state);
    }
    // Without `Origin`: browsers that send fetch metadata say where the
    // request came from; "none" is the user's own navigation. Non-browser
    // clients send neither header and pass.
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        None | Some(b"same-origin") | Some(b"none") => false,
        Some(_) => true,
    }
}

/// Middleware: refuses cross-site state-changing requests with 403
/// `forbidden` before any handler runs.
pub async fn same_origin_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // An incoming webhook's secret is in its path, never in a cookie.
    let hook = req.uri().path().starts_with("/hooks/");
    if !safe && !hook && cross_site(req.headers(), &state) {
        metrics::inc(&state.metrics.cross_site_refused_total);
        tracing::info!(method = %req.method(), path = %req.uri().path(), "cross-site request refused");
        return ApiError::new(
            ErrorCode::Forbidden,
            "cross-site request refused: this request must come from the SecureChat app itself",
        )
        .into_response();
    }
    next.run(req).await
}
