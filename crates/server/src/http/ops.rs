//! Operator endpoints: health, metrics, and the CA certificate.

use super::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use securechat_proto::ErrorCode;

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .store
        .read(|c| Ok::<_, StoreError>(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    ))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// `GET /ca.pem`: the built-in CA, for browsers and clients to trust.
pub async fn ca_pem(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let pem = state
        .tls
        .ca_pem()
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "this server uses a configured certificate",
            )
        })?
        .to_owned();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"securechat-ca.pem\"",
            ),
        ],
        pem,
    ))
}
