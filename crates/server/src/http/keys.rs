//! End-to-end encryption endpoints: device keys, one-time keys, to-device
//! messages, devices. Thin: each calls [`crate::e2e`].

use super::api::{ApiJson, ApiPath};
use super::auth::Authed;
use super::error::ApiError;
use crate::e2e;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use securechat_proto::e2e::{
    BackupInfo, Devices, KeyBackup, KeysClaim, KeysClaimed, KeysQuery, KeysUpload, KeysUploaded,
    ToDeviceSend,
};
use securechat_proto::{DeviceId, RoomId};

type Answer<T> = Result<Json<T>, ApiError>;

/// `POST /api/keys`.
pub async fn upload(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiJson(req): ApiJson<KeysUpload>,
) -> Answer<KeysUploaded> {
    Ok(Json(e2e::upload(&state, &s, req).await?))
}

/// `POST /api/keys/query`.
pub async fn query(
    State(state): State<AppState>,
    Authed(_): Authed,
    ApiJson(req): ApiJson<KeysQuery>,
) -> Answer<Devices> {
    Ok(Json(e2e::query(&state, req.users).await?))
}

/// `POST /api/keys/claim`.
pub async fn claim(
    State(state): State<AppState>,
    Authed(_): Authed,
    ApiJson(req): ApiJson<KeysClaim>,
) -> Answer<KeysClaimed> {
    Ok(Json(e2e::claim(&state, req.devices).await?))
}

/// `POST /api/to_device`.
pub async fn to_device(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiJson(req): ApiJson<ToDeviceSend>,
) -> Answer<serde_json::Value> {
    let sent = e2e::send(&state, &s, req.messages).await?;
    Ok(Json(serde_json::json!({ "sent": sent })))
}

/// `GET /api/devices`.
pub async fn mine(State(state): State<AppState>, Authed(s): Authed) -> Answer<Devices> {
    Ok(Json(e2e::mine(&state, &s).await?))
}

/// `DELETE /api/devices/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<DeviceId>,
) -> Result<StatusCode, ApiError> {
    e2e::remove(&state, &s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/rooms/{id}/devices`.
pub async fn room_devices(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiPath(id): ApiPath<RoomId>,
) -> Answer<Devices> {
    Ok(Json(e2e::room_devices(&state, &s, id).await?))
}

/// `GET /api/keys/backup`.
pub async fn backup(State(state): State<AppState>, Authed(s): Authed) -> Answer<KeyBackup> {
    Ok(Json(e2e::backup(&state, &s).await?))
}

/// `PUT /api/keys/backup`.
pub async fn add_to_backup(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiJson(req): ApiJson<KeyBackup>,
) -> Answer<serde_json::Value> {
    let added = e2e::add_to_backup(&state, &s, req.keys).await?;
    Ok(Json(serde_json::json!({ "added": added })))
}

/// `DELETE /api/keys/backup`.
pub async fn delete_backup(
    State(state): State<AppState>,
    Authed(s): Authed,
) -> Result<StatusCode, ApiError> {
    e2e::reset_backup(&state, &s, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/keys/backup/info`.
pub async fn new_backup(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiJson(info): ApiJson<BackupInfo>,
) -> Result<StatusCode, ApiError> {
    e2e::reset_backup(&state, &s, Some(info)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/keys/report`: `{"undecryptable": N}`.
pub async fn report(
    State(state): State<AppState>,
    Authed(_): Authed,
    ApiJson(req): ApiJson<securechat_proto::e2e::Report>,
) -> Result<StatusCode, ApiError> {
    e2e::report_undecryptable(&state, req.undecryptable)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
pub struct After {
    #[serde(default)]
    after: u64,
}

/// `GET /api/to_device?after=N`.
pub async fn pending(
    State(state): State<AppState>,
    Authed(s): Authed,
    axum::extract::Query(q): axum::extract::Query<After>,
) -> Answer<serde_json::Value> {
    let messages = e2e::pending(&state, &s, q.after).await?;
    Ok(Json(serde_json::json!({ "messages": messages })))
}

/// `POST /api/to_device/ack`: `{"upto": N}`.
pub async fn ack(
    State(state): State<AppState>,
    Authed(s): Authed,
    ApiJson(req): ApiJson<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let upto = req["upto"]
        .as_u64()
        .ok_or_else(|| ApiError::new(securechat_proto::ErrorCode::BadRequest, "upto: a number"))?;
    e2e::ack(&state, &s, upto).await?;
    Ok(StatusCode::NO_CONTENT)
}
