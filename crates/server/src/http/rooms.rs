//! Conversation endpoints: rooms, DMs, members, history, edits. Thin: each calls [`crate::conversations`].

use super::api::{ApiJson, ApiPath, ApiQuery};
use super::auth::{Acting, Authed};
use super::error::ApiError;
use crate::conversations;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use securechat_proto::http::{
    ArchiveRequest, CreateRoom, EditRequest, HistoryResponse, MembersResponse, RoomResponse,
    RoomsResponse, UpdateRoom, UsernameRequest,
};
use securechat_proto::retention::{Retention, SetRetention};
use securechat_proto::{DeviceId, MessageId, RoomId, Seq, ServerMsg};
use serde::Deserialize;

type Answer<T> = Result<Json<T>, ApiError>;

fn room(info: securechat_proto::ws::RoomInfo) -> Json<RoomResponse> {
    Json(RoomResponse { room: info })
}

/// `GET /api/rooms`.
pub async fn list(State(state): State<AppState>, Authed(s): Authed) -> Answer<RoomsResponse> {
    Ok(Json(conversations::list(&state, s.user.id).await?))
}

/// `POST /api/rooms`.
pub async fn create(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiJson(req): ApiJson<CreateRoom>,
) -> Result<(StatusCode, Json<RoomResponse>), ApiError> {
    let info = conversations::create_room(&state, s.user.id, req).await?;
    Ok((StatusCode::CREATED, room(info)))
}

/// `PATCH /api/rooms/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<UpdateRoom>,
) -> Answer<RoomResponse> {
    Ok(room(conversations::update(&state, s.user, id, req).await?))
}

/// `DELETE /api/rooms/{id}`: the room and everything in it, by its
/// creator or an admin.
pub async fn delete_room(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    let members = conversations::delete_room(&state, s.user.clone(), id).await?;
    tracing::info!(room = %id, by = %s.user.id, members, "room deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/archive` with `{"archived": bool}`.
pub async fn archive(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<ArchiveRequest>,
) -> Answer<RoomResponse> {
    Ok(room(
        conversations::set_archived(&state, s.user, id, req.archived).await?,
    ))
}

/// `POST /api/rooms/{id}/join`.
pub async fn join(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
) -> Answer<RoomResponse> {
    Ok(room(conversations::join(&state, s.user.id, id).await?))
}

/// `POST /api/rooms/{id}/leave`.
pub async fn leave(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    conversations::leave(&state, s.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/invite`.
pub async fn invite(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<UsernameRequest>,
) -> Answer<RoomResponse> {
    Ok(room(
        conversations::invite(&state, s.user.id, id, req.username).await?,
    ))
}

/// `GET /api/rooms/{id}/members`.
pub async fn members(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<RoomId>,
) -> Answer<MembersResponse> {
    let members = conversations::members(&state, s.user.id, id).await?;
    Ok(Json(MembersResponse { members }))
}

/// `DELETE /api/rooms/{id}/members/{username}`.
pub async fn remove_member(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, username)): ApiPath<(RoomId, String)>,
) -> Result<StatusCode, ApiError> {
    conversations::remove_member(&state, s.user, id, username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/rooms/{id}/events`.
#[derive(Debug, Deserialize)]
pub struct Page {
    pub before: Option<Seq>,
    pub limit: Option<usize>,
}

/// `GET /api/rooms/{id}/events?before=SEQ&limit=N`.
pub async fn history(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(page): ApiQuery<Page>,
) -> Answer<HistoryResponse> {
    let history = conversations::history(&state, s.user.id, id, page.before, page.limit).await?;
    Ok(Json(history))
}

/// `PATCH /api/rooms/{id}/messages/{msg}`: answers the message as it is now.
pub async fn edit(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg)): ApiPath<(RoomId, MessageId)>,
    ApiJson(req): ApiJson<EditRequest>,
) -> Answer<ServerMsg> {
    Ok(Json(
        conversations::edit(&state, s.user.id, DeviceId(s.id.0), id, msg, req).await?,
    ))
}

/// `DELETE /api/rooms/{id}/messages/{msg}`.
pub async fn delete(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((id, msg)): ApiPath<(RoomId, MessageId)>,
) -> Result<StatusCode, ApiError> {
    conversations::delete(&state, s.user, id, msg).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/dms`.
pub async fn open_dm(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiJson(req): ApiJson<UsernameRequest>,
) -> Answer<RoomResponse> {
    Ok(room(
        conversations::open_dm(&state, s.user.id, req.username, req.encrypted).await?,
    ))
}

/// `GET /api/rooms/{id}/retention`: how long the room keeps messages.
pub async fn retention(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<Retention>, ApiError> {
    Ok(Json(crate::retention::get(&state, s.user.id, id).await?))
}

/// `PUT /api/rooms/{id}/retention`: the room's own policy (its creator or
/// an admin).
pub async fn set_retention(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(req): ApiJson<SetRetention>,
) -> Result<Json<Retention>, ApiError> {
    let view = crate::retention::set(&state, s.user, id, req.days).await?;
    Ok(Json(view))
}
