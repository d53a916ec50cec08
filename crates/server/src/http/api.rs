//! Account endpoints: register, login, logout, change password, me.

use super::auth::{Authed, cleared_cookie, session_cookie};
use super::error::ApiError;
use crate::accounts::{self, AccountError};
use crate::auth::password::Priority;
use crate::config::RegistrationMode;
use crate::hub::Close;
use crate::metrics;
use crate::peers::peer_of;
use crate::state::AppState;
use crate::store::sessions;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use securechat_proto::ErrorCode;
use securechat_proto::http::{
    AuthResponse, LoginRequest, PasswordChange, PasswordReset, PasswordResetDone, RegisterRequest,
};
use securechat_proto::validate::normalize_username;
use std::net::SocketAddr;
use std::time::Instant;

/// `Json<T>` whose rejections are [`ApiError`]s (`bad_request`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ErrorCode::TooLarge
                } else {
                    ErrorCode::BadRequest
                };
                Err(ApiError::new(code, rejection.body_text()))
            }
        }
    }
}

/// `Path<T>` whose rejections are `bad_request` [`ApiError`]s.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|r| ApiError::new(ErrorCode::BadRequest, r.body_text()))
    }
}

/// `Query<T>` whose rejections are `bad_request` [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|r| ApiError::new(ErrorCode::BadRequest, r.body_text()))
    }
}

/// A 200/201 answer with the session cookie set.
async fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: crate::store::users::UserRecord,
) -> Result<Response, ApiError> {
    let ttl = state.config.session_ttl();
    let (token, _) = accounts::create_session(&state.store, user.id, ttl).await?;
    metrics::inc(&state.metrics.logins_total);
    let cookie = session_cookie(&token, ttl);
    let body = AuthResponse {
        user: user.info(),
        token,
    };
    Ok((status, [(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /api/register`: the mode, then the address's registration budget,
/// then every cheap check, and only then an argon2id hash (queued behind
/// logins).
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let mode = accounts::registration_mode(&state.store, state.config.registration).await?;
    let invite = match mode {
        RegistrationMode::Open => None,
        RegistrationMode::Closed => {
            return Err(ApiError::new(
                ErrorCode::RegistrationClosed,
                "registration is closed; ask an administrator for an account",
            ));
        }
        RegistrationMode::Invite => match req.invite_code.as_deref() {
            Some(code) => Some(code),
            None => {
                return Err(ApiError::new(
                    ErrorCode::RegistrationClosed,
                    "registration needs an invite code",
                ));
            }
        },
    };
    if let Err(wait) = state
        .registrations
        .check(peer_of(peer.ip()), Instant::now())
    {
        metrics::inc(&state.metrics.registrations_throttled_total);
        return Err(ApiError::slow_down(
            "too many registrations from this address",
            wait,
        ));
    }
    let user = accounts::create_user(
        &state.store,
        &state.hasher,
        &req.username,
        req.password,
        None,
        invite,
        Priority::Background,
    )
    .await?;
    tracing::info!(user = %user.id, username = %user.username, admin = user.is_admin, "registered");
    signed_in(&state, StatusCode::CREATED, user).await
}

/// The throttle's name for an account: the name as given, normalized where
/// possible so that "Alice" and "alice" share a counter. Names no account
/// can have share one key (and are bounded in size).
fn throttle_key(username: &str) -> String {
    normalize_username(username).unwrap_or_else(|_| "\0invalid".to_owned())
}

/// `POST /api/login`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = peer.ip();
    // Counted as a failure before the password is checked.
    let attempt = match state
        .logins
        .begin(&throttle_key(&req.username), ip, Instant::now())
    {
        Ok(attempt) => attempt,
        Err(wait) => {
            metrics::inc(&state.metrics.logins_failed_total);
            metrics::inc(&state.metrics.logins_throttled_total);
            return Err(ApiError::rate_limited(wait));
        }
    };
    let user = accounts::find_user(&state.store, &req.username).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = state.hasher.verify(req.password, phc).await;
    match user {
        Some(user) if ok => {
            attempt.succeeded();
            if user.disabled {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this account is disabled",
                ));
            }
            tracing::info!(user = %user.id, "logged in");
            signed_in(&state, StatusCode::OK, user).await
        }
        _ => {
            metrics::inc(&state.metrics.logins_failed_total);
            tracing::info!(%ip, "failed login");
            Err(AccountError::WrongPassword.into())
        }
    }
}

/// `POST /api/logout`: ends this session and closes its sockets.
pub async fn logout(
    State(state): State<AppState>,
    Authed(session): Authed,
) -> Result<Response, ApiError> {
    let id = session.id;
    state
        .store
        .write(move |tx| sessions::delete(tx, id))
        .await?;
    state.hub.close_sessions(&[id], Close::SESSION_ENDED);
    tracing::info!(user = %session.user.id, "logged out");
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cleared_cookie())],
    )
        .into_response())
}

/// `POST /api/password`: needs the old password (throttled, and counted
/// before it is checked, like a login); ends every other session.
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Authed(session): Authed,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let attempt = match state
        .logins
        .begin(&session.user.username, peer.ip(), Instant::now())
    {
        Ok(attempt) => attempt,
        Err(wait) => {
            metrics::inc(&state.metrics.logins_throttled_total);
            return Err(ApiError::rate_limited(wait));
        }
    };
    let ok = state
        .hasher
        .verify(req.old_password, Some(session.user.password_hash.clone()))
        .await;
    if !ok {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the old password is wrong",
        ));
    }
    attempt.succeeded();
    let ended = accounts::set_password(
        &state.store,
        &state.hasher,
        session.user.id,
        req.new_password,
        Some(session.id),
    )
    .await?;
    state.hub.close_sessions(&ended, Close::SESSION_ENDED);
    tracing::info!(user = %session.user.id, ended = ended.len(), "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/password/reset`: a new password with a reset link's token
/// (no session needed). The link works once; every session of the user
/// ends, and they log in with the new password.
pub async fn reset_password(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PasswordReset>,
) -> Result<Json<PasswordResetDone>, ApiError> {
    let (user, ended) =
        accounts::reset_password(&state.store, &state.hasher, &req.token, req.new_password).await?;
    state.hub.close_sessions(&ended, Close::SESSION_ENDED);
    let username = state
        .store
        .read(move |c| crate::store::users::by_id(c, user))
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    tracing::info!(user = %user, ended = ended.len(), "password reset with a link");
    Ok(Json(PasswordResetDone { username }))
}
