//! Operator endpoints: health, metrics, and the CA certificate.

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use securechat_proto::ErrorCode;
use std::net::{IpAddr, SocketAddr};

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .store
        .read(|c| c.query_row("SELECT 1", (), |r| r.get::<i64>(0)))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    ))
}

/// `GET /metrics`: Prometheus text format, for loopback clients, or any
/// client with `Authorization: Bearer <metrics_token>` when that is set;
/// 403 `forbidden` for everyone else.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = metrics_allowed(peer.ip(), &headers, state.config.metrics_token.as_deref());
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "metrics are served to loopback clients or with the metrics token",
        ));
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}

/// Whether a client at `ip` sending `headers` may read `/metrics`: from
/// loopback always; from elsewhere only with `Authorization: Bearer TOKEN`
/// when `token` is configured.
pub fn metrics_allowed(ip: IpAddr, headers: &HeaderMap, token: Option<&str>) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    loopback
        || token.is_some_and(|want| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|got| same_secret(got.trim(), want))
        })
}

/// Compares two secrets by their SHA-256 digests, so how long the
/// comparison takes says nothing about how much of a guess was right.
fn same_secret(got: &str, want: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(got.as_bytes()) == Sha256::digest(want.as_bytes())
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
