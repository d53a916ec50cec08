//! File endpoints: upload into a room (streamed, size-limited, stored by
//! SHA-256, posted as a message; in an end-to-end encrypted room stored as
//! the client's ciphertext, nameless, for its encrypted message to carry)
//! and download (members only, Range, served so that no uploaded HTML or
//! SVG can ever run in the app's origin).

use super::api::{ApiPath, ApiQuery};
use super::auth::Authed;
use super::error::ApiError;
use crate::action::{ActionError, require_member};
use crate::files::UploadError;
use crate::state::AppState;
use crate::store::events::{self, Appended};
use crate::store::{StoreError, files, rooms};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use securechat_proto::http::UploadResponse;
use securechat_proto::range::{RangeError, byte_range};
use securechat_proto::validate::{sanitize_file_name, validate_body, validate_client_msg_id};
use securechat_proto::{ErrorCode, FileId, RoomId, ServerMsg, Timestamp};
use serde::Deserialize;
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Query of an upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// Required, except in an encrypted room, where it is refused.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

/// A declared media type, kept only if it looks like one.
fn clean_media_type(headers: &HeaderMap) -> String {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = raw.len() <= 100
        && raw
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+.-".contains(&b));
    if ok {
        raw
    } else {
        "application/octet-stream".into()
    }
}

/// `POST /api/rooms/{id}/files?name=NAME[&caption=TEXT][&client_msg_id=ID]`
/// with the file as the raw body; in an encrypted room
/// `POST /api/rooms/{id}/files` with the encrypted file as the body.
pub async fn upload(
    State(state): State<AppState>,
    Authed(session): Authed,
    ApiPath(room): ApiPath<RoomId>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let user = session.user.id;
    let limit = state.config.max_upload_bytes;
    let caption = q.caption.unwrap_or_default();
    if !caption.is_empty() {
        validate_body(&caption, state.config.max_message_bytes).map_err(ActionError::from)?;
    }
    let client_msg_id = q
        .client_msg_id
        .unwrap_or_else(crate::auth::token::new_token);
    validate_client_msg_id(&client_msg_id).map_err(ActionError::from)?;
    // Outsiders learn nothing, not even that the room exists: the same
    // answers as for every other room action.
    let encrypted = state
        .store
        .read(move |c| -> Result<bool, ActionError> {
            require_member(rooms::access(c, room, user)?)?;
            Ok(crate::store::e2e::room_encrypted(c, room)?)
        })
        .await?;
    // An encrypted room's file is the client's ciphertext: its name, type
    // and caption belong in the encrypted message that carries it.
    if encrypted && (q.name.is_some() || !caption.is_empty()) {
        return Err(ActionError::BadRequest(
            "in an end-to-end encrypted conversation a file goes up with no name and no caption: they belong in its encrypted message",
        )
        .into());
    }
    let name = match q.name {
        _ if encrypted => String::new(),
        Some(name) => sanitize_file_name(&name),
        None => return Err(ActionError::BadRequest("name the file: ?name=…").into()),
    };
    // The slot is taken before a byte of the body is read, so uploads
    // started together cannot pass the budget.
    if let Err(wait) = state.budgets.uploads.check(user, std::time::Instant::now()) {
        crate::metrics::inc(&state.metrics.uploads_rate_limited_total);
        return Err(ApiError::slow_down("too many uploads", wait));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let stored = state
        .blobs
        .store(body.into_data_stream(), limit)
        .await
        .map_err(|e| match e {
            UploadError::TooLarge { limit } => too_large(limit),
            UploadError::Interrupted => {
                ApiError::new(ErrorCode::BadRequest, "the upload broke off")
            }
            UploadError::Io(e) => {
                tracing::error!(error = %e, "storing an upload failed");
                ApiError::internal()
            }
        })?;
    let (media_type, image) = match stored.image {
        _ if encrypted => ("application/octet-stream".to_owned(), false),
        Some(image) => (image.to_owned(), true),
        None => (clean_media_type(&headers), false),
    };
    let hub = state.hub.clone();
    let metrics = state.metrics.clone();
    let webhooks = state.webhooks.clone();
    let (file, posted) = state
        .store
        .write_then(
            move |tx| {
                require_member(rooms::access(tx, room, user)?)?;
                crate::action::require_open(tx, room)?;
                let now = Timestamp::now();
                let file = files::insert(
                    tx,
                    &stored.sha256,
                    stored.size,
                    &name,
                    &media_type,
                    image,
                    room,
                    user,
                    now.0,
                )?;
                if encrypted {
                    return Ok((file, None));
                }
                let post = crate::chat::Post {
                    client_msg_id,
                    body: caption,
                    file: Some(file.id),
                    ..Default::default()
                };
                let posted = crate::chat::store(tx, user, room, &post)??;
                // A retry of an upload already stored: its first file stands,
                // and this row would belong to no message.
                let file = match &posted.appended {
                    Appended::Duplicate(first) => {
                        files::delete(tx, file.id)?;
                        first.file.clone().unwrap_or(file)
                    }
                    Appended::New(_) => file,
                };
                Ok::<_, ActionError>((file, Some(posted)))
            },
            move |(_, posted)| {
                if let Some(posted) = posted {
                    crate::chat::announce(&hub, &metrics, &webhooks, posted);
                }
            },
        )
        .await?;
    let message = posted.map(|p| {
        let (Appended::New(m) | Appended::Duplicate(m)) = p.appended;
        m
    });
    tracing::info!(user = %user, room = %room, size = file.size, encrypted, "file uploaded");
    Ok((StatusCode::CREATED, Json(UploadResponse { file, message })))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("files are limited to {limit} bytes"),
    )
}

/// Query of a download.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// Show a checked image inline (for previews) instead of as an attachment.
    #[serde(default)]
    pub inline: bool,
}

/// `filename*=` value (RFC 5987) and a plain ASCII fallback.
fn disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// Headers of user-uploaded bytes (files, profile pictures): a policy
/// under which nothing in them can run, and how long they may be kept.
pub fn sandboxed(h: &mut HeaderMap, cache: &'static str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox; frame-ancestors 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

/// The byte range asked for, within `len`: `Ok(None)` for all of it.
fn range(headers: &HeaderMap, len: u64) -> Result<Option<(u64, u64)>, RangeError> {
    match headers.get(header::RANGE) {
        None => Ok(None),
        Some(raw) => byte_range(raw.to_str().map_err(|_| RangeError)?, len),
    }
}

/// `GET /api/files/{id}/message`: the `message` frame that carries the
/// file (an encrypted file's name and key are in it): 404 as for the
/// download, and when no message carries it yet.
pub async fn message(
    State(state): State<AppState>,
    Authed(session): Authed,
    ApiPath(id): ApiPath<FileId>,
) -> Result<Json<ServerMsg>, ApiError> {
    let user = session.user.id;
    state
        .store
        .read(move |c| {
            let Some(row) = files::by_id(c, id)? else {
                return Ok::<_, StoreError>(None);
            };
            if row.removed || rooms::access(c, row.room, user)? != rooms::Access::Member {
                return Ok(None);
            }
            let Some(carrier) = files::carrier(c, id)? else {
                return Ok(None);
            };
            Ok(events::by_id(c, carrier)?.map(|s| s.msg))
        })
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file"))
}

/// `GET /api/files/{id}[?inline=true]`: 404 for anyone not in the room it
/// was posted in, and for removed files.
pub async fn download(
    State(state): State<AppState>,
    Authed(session): Authed,
    ApiPath(id): ApiPath<FileId>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = session.user.id;
    let row = state
        .store
        .read(move |c| {
            let Some(row) = files::by_id(c, id)? else {
                return Ok::<_, StoreError>(None);
            };
            let member = rooms::access(c, row.room, user)? == rooms::Access::Member;
            Ok((member && !row.removed).then_some(row))
        })
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file"))?;
    let path = state.blobs.path(&row.info.sha256);
    let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(error = %e, file = %id, "file bytes missing");
        ApiError::new(ErrorCode::NotFound, "no such file")
    })?;
    let len = file
        .metadata()
        .await
        .map_err(|_| ApiError::internal())?
        .len();
    let (status, start, end) = match range(&headers, len) {
        Ok(None) => (StatusCode::OK, 0, len.saturating_sub(1)),
        Ok(Some((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Err(RangeError) => {
            let mut res = (StatusCode::RANGE_NOT_SATISFIABLE, "").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|_| ApiError::internal())?;
    let chunks = stream::unfold((file, count), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; left.min(64 * 1024) as usize];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(buf)),
                    (file, left - n as u64),
                ))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    });
    let mut res = Response::new(Body::from_stream(chunks));
    *res.status_mut() = status;
    let h = res.headers_mut();
    let inline = q.inline && row.info.image;
    let content_type = if inline {
        row.info.media_type.as_str()
    } else {
        "application/octet-stream"
    };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        disposition(if inline { "inline" } else { "attachment" }, &row.info.name),
    );
    sandboxed(h, "private, max-age=3600");
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row.info.sha256)) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(res)
}
