//! Finding the caller's session: `Authorization: Bearer <token>` or the
//! `__Host-securechat_session` cookie. The token may be a login's or a
//! personal API token's; an API token is held to its scopes here, once for
//! every handler (see [`required_scope`]).

use super::error::ApiError;
use crate::accounts;
use crate::metrics;
use crate::state::AppState;
use crate::store::sessions::Session;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use securechat_proto::integrations::Scope;
use securechat_proto::{ErrorCode, SESSION_COOKIE};
use std::time::{Duration, Instant};

/// The token a request carries, if any.
pub fn token_from_headers(headers: &HeaderMap) -> Option<&str> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        return Some(token.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// The live session for a request, or 401.
pub async fn session_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Session, ApiError> {
    let token = token_from_headers(headers).ok_or_else(ApiError::unauthorized)?;
    accounts::session_for_token(&state.store, token)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// The scope an API token needs for a request, or why no token may make
/// it (a leaked token must not make more tokens or take the account).
pub fn required_scope(method: &Method, path: &str) -> Result<Scope, &'static str> {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/api/tokens") || under("/api/password") {
        return Err("an API token cannot manage tokens or passwords: log in to do this");
    }
    Ok(if under("/api/admin") {
        Scope::Admin
    } else if matches!(*method, Method::GET | Method::HEAD) {
        Scope::Read
    } else {
        Scope::Write
    })
}

/// The live session for a request, held to an API token's scopes: 401
/// without one, 403 `forbidden` naming the missing scope.
pub async fn session_for(state: &AppState, parts: &Parts) -> Result<Session, ApiError> {
    let session = session_from_headers(state, &parts.headers).await?;
    if session.is_token() {
        let scope = required_scope(&parts.method, parts.uri.path())
            .map_err(|why| ApiError::new(ErrorCode::Forbidden, why))?;
        if !session.allows(scope) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this API token lacks the {scope} scope"),
            ));
        }
    }
    Ok(session)
}

/// Extractor for handlers that need a logged-in user.
pub struct Authed(pub Session);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        session_for(state, parts).await.map(Authed)
    }
}

/// Extractor for handlers that change a room or an account: a logged-in
/// user ([`Authed`]) whose room-action budget has a token left; 429
/// `rate_limited` with `Retry-After` otherwise. Charged before the request
/// is looked at further, so refused and invalid actions cost too.
pub struct Acting(pub Session);

/// Charges one room action to `session`'s user.
pub fn charge_action(state: &AppState, session: &Session) -> Result<(), ApiError> {
    state
        .budgets
        .actions
        .check(session.user.id, Instant::now())
        .map_err(|wait| {
            metrics::inc(&state.metrics.actions_rate_limited_total);
            ApiError::slow_down("too many actions", wait)
        })
}

impl FromRequestParts<AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = session_for(state, parts).await?;
        charge_action(state, &session)?;
        Ok(Acting(session))
    }
}

/// Extractor for admin-only handlers: 401 without a session, 403 for
/// non-admins; a change (any method but `GET`) is charged like [`Acting`].
pub struct Admin(pub Session);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = session_for(state, parts).await?;
        if session.user.is_admin {
            if parts.method != Method::GET {
                charge_action(state, &session)?;
            }
            Ok(Admin(session))
        } else {
            Err(ApiError::new(ErrorCode::Forbidden, "administrators only"))
        }
    }
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, ttl: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        ttl.as_secs()
    ))
    .expect("tokens are base64url")
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0"
    ))
    .expect("static cookie")
}
