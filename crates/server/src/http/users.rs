//! People: the directory, a user's card, your own profile (display name,
//! status, picture) and profile pictures.

use super::api::{ApiJson, ApiPath};
use super::auth::{Acting, Authed};
use super::error::ApiError;
use crate::accounts;
use crate::files::sniff_image;
use crate::state::AppState;
use crate::store::profiles::{self, ProfileRow};
use crate::store::sessions::Session;
use crate::store::users::UserRecord;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use securechat_proto::http::{DirectoryEntry, MeResponse, ProfileUpdate, UsersResponse};
use securechat_proto::validate::{AVATAR_MAX_BYTES, normalize_display_name, normalize_status};
use securechat_proto::{ErrorCode, ServerMsg, Timestamp};

type Answer<T> = Result<Json<T>, ApiError>;

/// A user as the directory shows them.
fn entry(user: &UserRecord, profile: &ProfileRow, online: bool) -> DirectoryEntry {
    DirectoryEntry {
        username: user.username.clone(),
        is_admin: user.is_admin,
        is_bot: user.is_bot,
        online,
        last_seen: if online {
            Some(Timestamp::now())
        } else {
            user.last_seen.map(Timestamp)
        },
        profile: profile.view(&user.username),
    }
}

/// `GET /api/users`: every enabled user, by name.
pub async fn directory(State(state): State<AppState>, Authed(_): Authed) -> Answer<UsersResponse> {
    let list = state.store.read(profiles::everyone).await?;
    let online = state.hub.online_users();
    let users = list
        .iter()
        .filter(|(u, _)| !u.disabled)
        .map(|(u, profile)| entry(u, profile, online.contains(&u.id)))
        .collect();
    Ok(Json(UsersResponse { users }))
}

/// The directory entry of the enabled user called `username`, or 404.
async fn card_of(state: &AppState, username: &str) -> Result<DirectoryEntry, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such user");
    let user = accounts::find_user(&state.store, username)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(not_found)?;
    let id = user.id;
    let profile = state.store.read(move |c| profiles::get(c, id)).await?;
    let online = state.hub.online_users().contains(&user.id);
    Ok(entry(&user, &profile, online))
}

/// `GET /api/users/{username}`: one user's card.
pub async fn card(
    State(state): State<AppState>,
    Authed(_): Authed,
    ApiPath(username): ApiPath<String>,
) -> Answer<DirectoryEntry> {
    Ok(Json(card_of(&state, &username).await?))
}

/// `GET /api/me`: who you are and your profile.
pub async fn me(State(state): State<AppState>, Authed(session): Authed) -> Answer<MeResponse> {
    let id = session.user.id;
    let profile = state.store.read(move |c| profiles::get(c, id)).await?;
    Ok(Json(MeResponse {
        user: session.user.info(),
        device: securechat_proto::DeviceId(session.id.0),
        profile: profile.view(&session.user.username),
    }))
}

/// After a change to `session`'s profile: tells everyone connected, and
/// answers like `GET /api/me`.
async fn changed(state: AppState, session: Session) -> Answer<MeResponse> {
    let user = card_of(&state, &session.user.username).await?;
    state.hub.broadcast(&ServerMsg::Profile { user });
    me(State(state), Authed(session)).await
}

/// `PATCH /api/me`: sets the display name and/or status (`""` clears);
/// answers like `GET /api/me`.
pub async fn update_me(
    State(state): State<AppState>,
    Acting(session): Acting,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Answer<MeResponse> {
    let invalid =
        |e: securechat_proto::validate::ValidationError| ApiError::new(e.code(), e.to_string());
    let display_name = req
        .display_name
        .as_deref()
        .map(normalize_display_name)
        .transpose()
        .map_err(invalid)?;
    let status = req
        .status
        .as_deref()
        .map(normalize_status)
        .transpose()
        .map_err(invalid)?;
    let id = session.user.id;
    state
        .store
        .write(move |tx| profiles::update(tx, id, display_name.as_deref(), status.as_deref()))
        .await?;
    changed(state, session).await
}

/// `PUT /api/me/avatar` with a PNG, JPEG, GIF or WebP image (at most
/// 256 KiB) as the body; the type is read from the bytes, never trusted
/// from the request.
pub async fn put_avatar(
    State(state): State<AppState>,
    Acting(session): Acting,
    body: Result<Bytes, BytesRejection>,
) -> Answer<MeResponse> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::TooLarge,
                format!(
                    "a profile picture may be at most {} KiB",
                    AVATAR_MAX_BYTES / 1024
                ),
            )
        } else {
            ApiError::new(ErrorCode::BadRequest, r.body_text())
        }
    })?;
    let Some(media_type) = sniff_image(&body) else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "a profile picture must be a PNG, JPEG, GIF or WebP image",
        ));
    };
    let id = session.user.id;
    state
        .store
        .write(move |tx| profiles::set_avatar(tx, id, Some((&body, media_type))))
        .await?;
    changed(state, session).await
}

/// `DELETE /api/me/avatar`.
pub async fn delete_avatar(
    State(state): State<AppState>,
    Acting(session): Acting,
) -> Answer<MeResponse> {
    let id = session.user.id;
    state
        .store
        .write(move |tx| profiles::set_avatar(tx, id, None))
        .await?;
    changed(state, session).await
}

/// `GET /api/users/{username}/avatar`: the picture, with its checked image
/// type, never anything a browser would run.
pub async fn avatar(
    State(state): State<AppState>,
    Authed(_): Authed,
    ApiPath(username): ApiPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no picture");
    let name =
        securechat_proto::validate::normalize_username(&username).map_err(|_| not_found())?;
    let (bytes, media_type) = state
        .store
        .read(move |c| profiles::avatar(c, &name))
        .await?
        .ok_or_else(not_found)?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // The URL carries the picture's version, so it may be kept.
    super::files::sandboxed(h, "private, max-age=86400");
    Ok(res)
}

/// `GET /api/me/export`: your own messages (with their rooms) and the
/// files they carry, as a zip (see `crate::export`). A room action
/// (budget): it reads everything you wrote.
pub async fn export(
    State(state): State<AppState>,
    Authed(session): Authed,
) -> Result<Response, ApiError> {
    super::auth::charge_action(&state, &session)?;
    let mut sink = crate::export::ZipSink::new(std::io::Cursor::new(Vec::new()));
    let failed = |e: crate::export::ExportError| {
        tracing::error!(user = %session.user.id, error = %e, "export failed");
        ApiError::new(ErrorCode::Internal, "the export failed")
    };
    crate::export::export(&state.store, &state.blobs, Some(&session.user), &mut sink)
        .await
        .map_err(failed)?;
    let zip = sink.finish().map_err(failed)?.into_inner();
    tracing::info!(user = %session.user.id, bytes = zip.len(), "data exported");
    let name = format!(
        "attachment; filename=\"securechat-{}-{}.zip\"",
        session.user.username,
        Timestamp::now().0 / 1000
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&name).expect("usernames are header-safe"),
            ),
        ],
        zip,
    )
        .into_response())
}
