//! Integration endpoints: API tokens, bots, posting a message over HTTPS,
//! a room's webhooks, and `POST /hooks/{secret}`.

use super::api::{ApiJson, ApiPath};
use super::auth::{Acting, Admin, Authed};
use super::error::ApiError;
use crate::integrations::webhooks::{self, HookError};
use crate::integrations::{self, PostError};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use securechat_proto::integrations::{
    BotCreated, CreateBot, CreateToken, CreateWebhook, IncomingPost, NewToken, SendMessage,
    TokensResponse, WebhookCreated, WebhooksResponse,
};
use securechat_proto::{ErrorCode, RoomId, ServerMsg};

impl From<PostError> for ApiError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::Invalid(v) => ApiError::new(v.code(), v.to_string()),
            PostError::SlowDown(wait) => ApiError::slow_down("too many messages", wait),
            PostError::Refused(e) => e.into(),
        }
    }
}

/// `GET /api/tokens`: your API tokens (never the tokens themselves).
pub async fn list_tokens(
    State(state): State<AppState>,
    Authed(s): Authed,
) -> Result<Json<TokensResponse>, ApiError> {
    let tokens = integrations::list_tokens(&state, s.user.id).await?;
    Ok(Json(TokensResponse { tokens }))
}

/// `POST /api/tokens`: a new API token, shown once.
pub async fn create_token(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let token = integrations::create_token(&state.store, &s.user, req).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `DELETE /api/tokens/{id}`: revokes it; its sockets close.
pub async fn revoke_token(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    integrations::revoke_token(&state, s.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/bots`: a bot account and its first token.
pub async fn create_bot(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateBot>,
) -> Result<(StatusCode, Json<BotCreated>), ApiError> {
    let bot =
        integrations::create_bot(&state.store, &req.username, req.display_name.as_deref()).await?;
    tracing::info!(bot = %bot.id, by = %admin.user.id, "bot made by an admin");
    Ok((StatusCode::CREATED, Json(bot)))
}

/// `POST /api/admin/bots/{username}/tokens`: another token for a bot.
pub async fn bot_token(
    State(state): State<AppState>,
    Admin(_): Admin,
    ApiPath(username): ApiPath<String>,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let bot = crate::accounts::find_user(&state.store, &username)
        .await?
        .filter(|u| u.is_bot)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such bot"))?;
    let token = integrations::create_token(&state.store, &bot, req).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `POST /api/rooms/{id}/messages`: sends a message; answers the stored
/// message, as a `message` frame, once it is durable.
pub async fn send(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(req): ApiJson<SendMessage>,
) -> Result<(StatusCode, Json<ServerMsg>), ApiError> {
    let m = integrations::post_text(
        &state,
        s.user.id,
        room,
        req.body,
        req.thread,
        req.client_msg_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ServerMsg::Message(m))))
}

/// `GET /api/rooms/{id}/webhooks`.
pub async fn list_webhooks(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(room): ApiPath<RoomId>,
) -> Result<Json<WebhooksResponse>, ApiError> {
    let webhooks = webhooks::list(&state, s.user.id, s.user.is_admin, room).await?;
    Ok(Json(WebhooksResponse { webhooks }))
}

/// `POST /api/rooms/{id}/webhooks`.
pub async fn create_webhook(
    State(state): State<AppState>,
    Acting(s): Acting,
    headers: HeaderMap,
    ApiPath(room): ApiPath<RoomId>,
    ApiJson(req): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookCreated>), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("https://{host}");
    let made = webhooks::create(&state, s.user.id, room, req, &base).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// `DELETE /api/rooms/{id}/webhooks/{hook}`.
pub async fn delete_webhook(
    State(state): State<AppState>,
    Acting(s): Acting,
    ApiPath((room, id)): ApiPath<(RoomId, i64)>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state, s.user.id, s.user.is_admin, room, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /hooks/{secret}`: `{"text": "…"}` posted to the webhook's room as
/// its owner. An unknown secret is 404, like any missing page.
pub async fn incoming(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
    ApiJson(req): ApiJson<IncomingPost>,
) -> Result<(StatusCode, Json<ServerMsg>), ApiError> {
    match webhooks::incoming(&state, &secret, req.text).await {
        Ok(m) => Ok((StatusCode::CREATED, Json(ServerMsg::Message(m)))),
        Err(HookError::Unknown) => Err(ApiError::new(ErrorCode::NotFound, "no such webhook")),
        Err(HookError::Post(e)) => Err(e.into()),
    }
}
