//! Admin endpoints: users, disabling, invite codes, stats.

use super::api::{ApiJson, ApiPath};
use super::auth::Admin;
use super::error::ApiError;
use crate::accounts::{self, INVITE_TTL};
use crate::auth::password::Priority;
use crate::config::RegistrationMode;
use crate::hub::Close;
use crate::state::AppState;
use crate::store::{StoreError, events, invites, profiles, rooms, users};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use securechat_proto::http::{
    AdminUser, AdminUsersResponse, CreateUser, InviteInfo, InviteResponse, InvitesResponse,
    ResetLink, ServerSettings, SetPassword, SetRole, StatsResponse,
};
use securechat_proto::{ErrorCode, Timestamp};
use std::sync::atomic::Ordering::Relaxed;

/// `GET /api/admin/users`.
pub async fn list_users(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<AdminUsersResponse>, ApiError> {
    let list = state.store.read(profiles::everyone).await?;
    let online = state.hub.online_users();
    let users = list
        .into_iter()
        .map(|(u, profile)| AdminUser {
            online: online.contains(&u.id),
            display_name: profile.display_name,
            id: u.id,
            username: u.username,
            is_admin: u.is_admin,
            is_bot: u.is_bot,
            disabled: u.disabled,
            last_seen: u.last_seen.map(Timestamp),
        })
        .collect();
    Ok(Json(AdminUsersResponse { users }))
}

/// The user called `username`, or 404.
async fn user_named(
    state: &AppState,
    username: &str,
) -> Result<crate::store::users::UserRecord, ApiError> {
    accounts::find_user(&state.store, username)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such user"))
}

/// 409 `conflict` for a bot: it has no password and is never an admin.
fn refuse_bot(user: &crate::store::users::UserRecord, why: &'static str) -> Result<(), ApiError> {
    if user.is_bot {
        Err(ApiError::new(ErrorCode::Conflict, why))
    } else {
        Ok(())
    }
}

/// `POST /api/admin/users`: an account made by an admin (in `general`
/// like every other), whatever the registration mode.
pub async fn create_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<AdminUser>), ApiError> {
    let user = accounts::create_user(
        &state.store,
        &state.hasher,
        &req.username,
        req.password,
        Some(req.is_admin),
        None,
        Priority::Interactive,
    )
    .await?;
    tracing::info!(user = %user.id, by = %admin.user.id, admin = user.is_admin, "account made by an admin");
    Ok((
        StatusCode::CREATED,
        Json(AdminUser {
            id: user.id,
            username: user.username,
            display_name: None,
            is_admin: user.is_admin,
            is_bot: false,
            disabled: false,
            online: false,
            last_seen: None,
        }),
    ))
}

/// `POST /api/admin/users/{username}/password`: sets a new password and
/// ends every session of the user (their sockets close at once).
pub async fn set_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(username): ApiPath<String>,
    ApiJson(req): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    let user = user_named(&state, &username).await?;
    refuse_bot(&user, "a bot has no password: make it a new token instead")?;
    let ended =
        accounts::set_password(&state.store, &state.hasher, user.id, req.new_password, None)
            .await?;
    state.hub.close_sessions(&ended, Close::SESSION_ENDED);
    tracing::info!(user = %user.id, by = %admin.user.id, sessions = ended.len(), "password set by an admin");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/users/{username}/reset-link`: a one-time link (24 h)
/// for the user to choose a new password; their earlier links stop
/// working. Built on the host the admin reached the server by.
pub async fn reset_link(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: axum::http::HeaderMap,
    ApiPath(username): ApiPath<String>,
) -> Result<(StatusCode, Json<ResetLink>), ApiError> {
    let user = user_named(&state, &username).await?;
    refuse_bot(&user, "a bot has no password: make it a new token instead")?;
    let (token, expires_at) =
        accounts::create_reset_link(&state.store, user.id, Some(admin.user.id)).await?;
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    tracing::info!(user = %user.id, by = %admin.user.id, "password reset link made by an admin");
    Ok((
        StatusCode::CREATED,
        Json(ResetLink {
            link: format!("https://{host}/#reset={token}"),
            token,
            expires_at,
        }),
    ))
}

/// `POST /api/admin/users/{username}/role` with `{"is_admin": bool}`: the
/// last enabled admin cannot be demoted (409).
pub async fn set_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(username): ApiPath<String>,
    ApiJson(req): ApiJson<SetRole>,
) -> Result<StatusCode, ApiError> {
    let user = user_named(&state, &username).await?;
    if req.is_admin {
        refuse_bot(&user, "a bot cannot be an admin")?;
    }
    accounts::set_admin(&state.store, user.id, req.is_admin).await?;
    tracing::info!(user = %user.id, by = %admin.user.id, is_admin = req.is_admin, "role changed by an admin");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_disabled(
    state: &AppState,
    username: &str,
    disabled: bool,
) -> Result<StatusCode, ApiError> {
    let user = user_named(state, username).await?;
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
    Admin(admin): Admin,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    let (id, code) = accounts::create_invite(&state.store, Some(admin.user.id)).await?;
    let expires = Timestamp(Timestamp::now().0 + INVITE_TTL.as_millis() as i64);
    Ok((
        StatusCode::CREATED,
        Json(InviteResponse {
            id,
            invite_code: code,
            expires,
        }),
    ))
}

/// How many invites the list shows.
const INVITES_LISTED: u32 = 200;

/// `GET /api/admin/invites`: the newest 200, newest first, without codes.
pub async fn list_invites(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<InvitesResponse>, ApiError> {
    let rows = state
        .store
        .read(|c| invites::list(c, INVITES_LISTED))
        .await?;
    let now = Timestamp::now().0;
    let invites = rows
        .into_iter()
        .map(|r| InviteInfo {
            id: r.id,
            created: Timestamp(r.created_at),
            expires: Timestamp(r.expires_at),
            state: r.state(now).to_owned(),
            created_by: r.created_by,
            used_by: r.used_by,
        })
        .collect();
    Ok(Json(InvitesResponse { invites }))
}

/// `DELETE /api/admin/invites/{id}`: the code stops working; 404 if there
/// is no such invite or it was used.
pub async fn revoke_invite(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .write(move |tx| invites::revoke(tx, id, Timestamp::now().0))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "no such unused invite"),
            e => e.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/settings`.
pub async fn settings(
    State(state): State<AppState>,
    Admin(_): Admin,
) -> Result<Json<ServerSettings>, ApiError> {
    let mode = accounts::registration_mode(&state.store, state.config.registration).await?;
    Ok(Json(ServerSettings {
        registration: mode.as_str().to_owned(),
    }))
}

/// `PATCH /api/admin/settings`: takes effect at once and is kept.
pub async fn update_settings(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<ServerSettings>,
) -> Result<Json<ServerSettings>, ApiError> {
    let mode = RegistrationMode::parse(&req.registration).ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "registration must be open, invite or closed",
        )
    })?;
    accounts::set_registration_mode(&state.store, mode).await?;
    tracing::info!(by = %admin.user.id, registration = mode.as_str(), "registration mode changed");
    Ok(Json(ServerSettings {
        registration: mode.as_str().to_owned(),
    }))
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
