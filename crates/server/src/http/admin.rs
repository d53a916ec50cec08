//! Admin endpoints: users, disabling, invite codes, stats.

use super::api::ApiPath;
use super::auth::Admin;
use super::error::ApiError;
use crate::accounts::{self, INVITE_TTL};
use crate::hub::Close;
use crate::state::AppState;
use crate::store::{StoreError, events, rooms, users};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use securechat_proto::http::{AdminUser, AdminUsersResponse, InviteResponse, StatsResponse};
use securechat_proto::{ErrorCode, Timestamp};
use std::sync::atomic::Ordering::Relaxed;

/// `GET /api/admin/users`.
pub async fn list_users(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<AdminUsersResponse>, ApiError> {
    let list = state.store.read(users::list).await?;
    let online = state.hub.online_users();
    let users = list
        .into_iter()
        .map(|u| AdminUser {
            online: online.contains(&u.id),
            id: u.id,
            username: u.username,
            is_admin: u.is_admin,
            disabled: u.disabled,
            last_seen: u.last_seen.map(Timestamp),
        })
        .collect();
    Ok(Json(AdminUsersResponse { users }))
}

async fn set_disabled(
    state: &AppState,
    username: &str,
    disabled: bool,
) -> Result<StatusCode, ApiError> {
    let user = accounts::find_user(&state.store, username)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such user"))?;
    let ended = accounts::set_disabled(&state.store, user.id, disabled).await?;
    state.hub.close_sessions(&ended, Close::SESSION_ENDED);
    tracing::info!(user = %user.id, disabled, sessions = ended.len(), "account state changed by an admin");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/users/{username}/disable`: logins refused, sessions
/// ended and their sockets closed at once.
pub async fn disable(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(username): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if securechat_proto::validate::normalize_username(&username)
        .ok()
        .as_deref()
        == Some(admin.user.username.as_str())
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "you cannot disable yourself",
        ));
    }
    set_disabled(&state, &username, true).await
}

/// `POST /api/admin/users/{username}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(username): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    set_disabled(&state, &username, false).await
}

/// `POST /api/admin/invites`: a single-use registration code.
pub async fn create_invite(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    let code = accounts::create_invite(&state.store).await?;
    let expires = Timestamp(Timestamp::now().0 + INVITE_TTL.as_millis() as i64);
    Ok((
        StatusCode::CREATED,
        Json(InviteResponse {
            invite_code: code,
            expires,
        }),
    ))
}

/// Counts from the database, shared with the `stats` CLI command.
pub async fn stored_counts(
    store: &crate::store::Store,
) -> Result<(u64, u64, u64, u64), StoreError> {
    store
        .read(|c| {
            let (users, disabled) = users::counts(c)?;
            Ok::<_, StoreError>((
                users,
                disabled,
                rooms::count(c)?,
                events::count_messages(c)?,
            ))
        })
        .await
}

/// `GET /api/admin/stats`.
pub async fn stats(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<StatsResponse>, ApiError> {
    let (users, disabled_users, rooms, messages) = stored_counts(&state.store).await?;
    let m = &state.metrics;
    Ok(Json(StatsResponse {
        users,
        disabled_users,
        rooms,
        messages,
        users_online: m.users_online.load(Relaxed).max(0) as u64,
        connections: m.connections.load(Relaxed).max(0) as u64,
        uptime_secs: state.started.elapsed().as_secs(),
    }))
}
