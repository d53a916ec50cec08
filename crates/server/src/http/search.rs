//! `GET /api/search?q=QUERY[&order=newest|best][&limit=N][&offset=N]`:
//! messages in the caller's rooms, found by the FTS5 index.

use super::api::ApiQuery;
use super::auth::Authed;
use super::error::ApiError;
use crate::search;
use crate::state::AppState;
use crate::store::search::{Order, search as find};
use axum::Json;
use axum::extract::State;
use securechat_proto::http::{SearchHit, SearchResponse};
use securechat_proto::ws::RoomKind;
use securechat_proto::{ErrorCode, Timestamp};
use serde::Deserialize;
use std::time::Instant;

/// Results per page unless asked otherwise, and at most.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
/// How deep paging goes.
const MAX_OFFSET: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    pub q: String,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: Option<usize>,
}

fn kind(name: &str) -> RoomKind {
    match name {
        "public" => RoomKind::Public,
        "dm" => RoomKind::Dm,
        _ => RoomKind::Private,
    }
}

pub async fn search(
    State(state): State<AppState>,
    Authed(session): Authed,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let user = session.user.id;
    if let Err(wait) = state.budgets.searches.check(user, Instant::now()) {
        return Err(ApiError::slow_down("too many searches", wait));
    }
    let bad = |m: String| ApiError::new(ErrorCode::BadRequest, m);
    let query = search::parse(&p.q).map_err(|e| bad(e.to_string()))?;
    let order = match p.order.as_deref() {
        None | Some("newest") => Order::Newest,
        Some("best") => Order::Best,
        Some(other) => return Err(bad(format!("order is newest or best, not {other:?}"))),
    };
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = p.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(bad(format!(
            "offset may be at most {MAX_OFFSET}; narrow the search"
        )));
    }
    // Everything stored before the search is in the index.
    state.store.catch_up_search().await?;
    let (hits, more) = state
        .store
        .read(move |c| find(c, user, &query, order, limit, offset))
        .await?;
    let results = hits
        .into_iter()
        .map(|h| SearchHit {
            id: h.id,
            room: h.room,
            room_kind: kind(&h.room_kind),
            room_name: h.room_name,
            seq: h.seq as securechat_proto::Seq,
            ts: Timestamp(h.ts),
            from: h.from,
            snippet: h.snippet,
            file: h.file,
        })
        .collect();
    Ok(Json(SearchResponse { results, more }))
}
