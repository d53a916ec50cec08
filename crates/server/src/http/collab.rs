//! Collaboration endpoints: reactions, pins, threads, mentions and
//! notification settings. Thin: each calls [`crate::collab`].

use super::api::{ApiJson, ApiPath, ApiQuery};
use super::auth::{Acting, Authed};
use super::error::ApiError;
use crate::collab;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use securechat_proto::collab::{
    MentionsResponse, NotificationSettings, PinsResponse, ThreadRead, ThreadResponse, ThreadState,
    ThreadsResponse,
};
use securechat_proto::http::RoomResponse;
use securechat_proto::{MessageId, RoomId};
use serde::Deserialize;

type Answer<T> = Result<Json<T>, ApiError>;

/// `PUT /api/rooms/{id}/messages/{msg}/reactions/{emoji}`: 204.
pub async fn add_reaction(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg, emoji)): ApiPath<(RoomId, MessageId, String)>,
) -> Result<StatusCode, ApiError> {
    collab::react(&state, s.user.id, id, msg, emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/rooms/{id}/messages/{msg}/reactions/{emoji}`: 204.
pub async fn remove_reaction(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg, emoji)): ApiPath<(RoomId, MessageId, String)>,
) -> Result<StatusCode, ApiError> {
    collab::react(&state, s.user.id, id, msg, emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/rooms/{id}/messages/{msg}/pin`: 204.
pub async fn pin(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg)): ApiPath<(RoomId, MessageId)>,
) -> Result<StatusCode, ApiError> {
    collab::pin(&state, s.user.id, id, msg, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/rooms/{id}/messages/{msg}/pin`: 204.
pub async fn unpin(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg)): ApiPath<(RoomId, MessageId)>,
) -> Result<StatusCode, ApiError> {
    collab::pin(&state, s.user.id, id, msg, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/rooms/{id}/pins`.
pub async fn pins(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<RoomId>,
) -> Answer<PinsResponse> {
    Ok(Json(collab::pins(&state, s.user.id, id).await?))
}

/// `GET /api/rooms/{id}/threads/{root}`.
pub async fn thread(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath((id, root)): ApiPath<(RoomId, MessageId)>,
) -> Answer<ThreadResponse> {
    Ok(Json(collab::thread(&state, s.user.id, id, root).await?))
}

/// `PUT /api/rooms/{id}/threads/{root}/follow`.
pub async fn follow(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, root)): ApiPath<(RoomId, MessageId)>,
) -> Answer<ThreadState> {
    let st = collab::set_thread(&state, s.user.id, id, root, Some(true), None).await?;
    Ok(Json(st))
}

/// `DELETE /api/rooms/{id}/threads/{root}/follow`.
pub async fn unfollow(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, root)): ApiPath<(RoomId, MessageId)>,
) -> Answer<ThreadState> {
    let st = collab::set_thread(&state, s.user.id, id, root, Some(false), None).await?;
    Ok(Json(st))
}

/// `POST /api/rooms/{id}/threads/{root}/read` (a write: charged like
/// other room actions).
pub async fn thread_read(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, root)): ApiPath<(RoomId, MessageId)>,
    ApiJson(req): ApiJson<ThreadRead>,
) -> Answer<ThreadState> {
    let st = collab::set_thread(&state, s.user.id, id, root, None, Some(req.seq)).await?;
    Ok(Json(st))
}

/// `GET /api/threads`.
pub async fn threads(State(state): State<AppState>, Authed(s): Authed) -> Answer<ThreadsResponse> {
    Ok(Json(collab::followed(&state, s.user.id).await?))
}

/// Query of `GET /api/mentions`.
#[derive(Debug, Deserialize)]
pub struct MentionsPage {
    pub before: Option<MessageId>,
    pub limit: Option<usize>,
}

/// `GET /api/mentions?before=ID&limit=N`.
pub async fn mentions(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiQuery(page): ApiQuery<MentionsPage>,
) -> Answer<MentionsResponse> {
    let answer = collab::mentions(&state, s.user.id, page.before, page.limit).await?;
    Ok(Json(answer))
}

/// `PUT /api/rooms/{id}/notifications`: answers the room as the user sees it.
pub async fn notifications(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<NotificationSettings>,
) -> Answer<RoomResponse> {
    let room = collab::set_notifications(&state, s.user.id, id, req.level, req.muted).await?;
    Ok(Json(RoomResponse { room }))
}
