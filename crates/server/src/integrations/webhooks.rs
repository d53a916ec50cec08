//! A room's webhooks. A webhook belongs to the member who made it (a
//! person or a bot): an incoming one posts as them, an outgoing one sends
//! what they may read, and either stops working when they leave the room
//! or are disabled. Encrypted conversations have none (the server cannot
//! read or write their messages).

use super::{PostError, normalize_name, post_text};
use crate::action::{ActionError, require_member, require_open};
use crate::auth::token::{hash_token, new_token};
use crate::state::AppState;
use crate::store::webhooks::{self, NewWebhook, WebhookRow};
use crate::store::{StoreError, e2e, rooms, users};
use securechat_proto::integrations::{CreateWebhook, WebhookCreated, WebhookInfo, WebhookKind};
use securechat_proto::ws::MessageEvent;
use securechat_proto::{RoomId, Timestamp, UserId};

/// Webhooks one room may have.
pub const MAX_PER_ROOM: u64 = 20;
/// Trigger words one outgoing webhook may have.
pub const MAX_TRIGGERS: usize = 10;
/// What an incoming webhook's secret starts with.
pub const HOOK_PREFIX: &str = "sch_";
/// What an outgoing webhook's signing key starts with.
pub const SECRET_PREFIX: &str = "whsec_";

pub fn info(row: &WebhookRow) -> WebhookInfo {
    WebhookInfo {
        id: row.id,
        room: row.room,
        kind: row.kind,
        name: row.name.clone(),
        owner: row.owner_name.clone(),
        url: row.url.clone(),
        triggers: row.triggers.clone(),
        created_at: Timestamp(row.created_at),
    }
}

/// Trigger words: lower-cased, 1–32 characters, no spaces, at most
/// [`MAX_TRIGGERS`].
fn normalize_triggers(triggers: &[String]) -> Result<Vec<String>, ActionError> {
    if triggers.len() > MAX_TRIGGERS {
        return Err(ActionError::BadRequest("at most 10 trigger words"));
    }
    let mut out: Vec<String> = Vec::with_capacity(triggers.len());
    for t in triggers {
        let t = t.trim().to_lowercase();
        if t.is_empty()
            || t.chars().count() > 32
            || t.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ActionError::BadRequest(
                "a trigger word has 1 to 32 characters and no spaces",
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Makes a webhook in `room` owned by `owner`, a member. `base` is the
/// server's public URL (`https://host:port`) for an incoming one's URL.
pub async fn create(
    state: &AppState,
    owner: UserId,
    room: RoomId,
    req: CreateWebhook,
    base: &str,
) -> Result<WebhookCreated, ActionError> {
    let name = normalize_name(&req.name)?;
    let (url, triggers) = match req.kind {
        WebhookKind::Incoming => {
            if req.url.is_some() || !req.triggers.is_empty() {
                return Err(ActionError::BadRequest(
                    "an incoming webhook has no url and no triggers",
                ));
            }
            (None, Vec::new())
        }
        WebhookKind::Outgoing => {
            let url = req
                .url
                .as_deref()
                .ok_or(ActionError::BadRequest("an outgoing webhook needs a url"))?;
            let checked = state
                .webhooks
                .guard()
                .check(url)
                .await
                .map_err(|e| ActionError::Conflict(format!("webhook URL refused: {e}")))?;
            (
                Some(checked.to_string()),
                normalize_triggers(&req.triggers)?,
            )
        }
    };
    let token = format!("{HOOK_PREFIX}{}", new_token());
    let secret = format!("{SECRET_PREFIX}{}", new_token());
    let hash = hash_token(&token);
    let row = {
        let (url, secret, triggers) = (url.clone(), secret.clone(), triggers.clone());
        let kind = req.kind;
        state
            .store
            .write(move |tx| {
                if let Err(e) = require_member(rooms::access(tx, room, owner)?) {
                    return Ok(Err(e));
                }
                if let Err(e) = require_open(tx, room) {
                    return Ok(Err(e));
                }
                if e2e::room_encrypted(tx, room)? {
                    return Ok(Err(ActionError::BadRequest(
                        "an end-to-end encrypted conversation has no webhooks: the server \
                         cannot read or write its messages",
                    )));
                }
                if webhooks::count(tx, room)? >= MAX_PER_ROOM {
                    return Ok(Err(ActionError::Conflict(format!(
                        "this room has {MAX_PER_ROOM} webhooks already: delete one first"
                    ))));
                }
                let new = match kind {
                    WebhookKind::Incoming => NewWebhook::Incoming { token_hash: &hash },
                    WebhookKind::Outgoing => NewWebhook::Outgoing {
                        url: url.as_deref().unwrap_or_default(),
                        secret: &secret,
                        triggers: &triggers,
                    },
                };
                let id = webhooks::insert(tx, room, owner, &name, &new, Timestamp::now().0)?;
                Ok::<_, StoreError>(Ok(webhooks::get(tx, room, id)?.ok_or(StoreError::NotFound)?))
            })
            .await??
    };
    tracing::info!(room = %room, user = %owner, webhook = row.id, kind = ?row.kind, "webhook made");
    let outgoing = row.kind == WebhookKind::Outgoing;
    if outgoing {
        state.webhooks.reload(state).await;
    }
    Ok(WebhookCreated {
        info: info(&row),
        hook_url: (!outgoing).then(|| format!("{base}/hooks/{token}")),
        secret: outgoing.then_some(secret),
    })
}

/// `room`'s webhooks, for a member. An outgoing one's URL may hold its
/// receiver's own secret: only its owner and admins see more of it than
/// its origin.
pub async fn list(
    state: &AppState,
    user: UserId,
    is_admin: bool,
    room: RoomId,
) -> Result<Vec<WebhookInfo>, ActionError> {
    let rows = state
        .store
        .read(move |c| {
            if let Err(e) = require_member(rooms::access(c, room, user)?) {
                return Ok(Err(e));
            }
            Ok::<_, StoreError>(Ok(webhooks::in_room(c, room)?))
        })
        .await??;
    Ok(rows
        .iter()
        .map(|row| {
            let mut shown = info(row);
            if !(is_admin || row.owner == user) {
                shown.url = shown.url.as_deref().map(origin_only);
            }
            shown
        })
        .collect())
}

/// `https://host:port/…` for a URL (its path and query left out).
fn origin_only(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => "…".into(),
    }
}

/// Deletes webhook `id` of `room`: its owner, the room's creator or an
/// admin may.
pub async fn delete(
    state: &AppState,
    user: UserId,
    is_admin: bool,
    room: RoomId,
    id: i64,
) -> Result<(), ActionError> {
    let kind = state
        .store
        .write(move |tx| {
            if !is_admin && let Err(e) = require_member(rooms::access(tx, room, user)?) {
                return Ok(Err(e));
            }
            let Some(row) = webhooks::get(tx, room, id)? else {
                return Ok(Err(ActionError::NotFound("no such webhook")));
            };
            let creator = rooms::by_id(tx, room)?.and_then(|r| r.created_by) == Some(user);
            if !(is_admin || creator || row.owner == user) {
                return Ok(Err(ActionError::Forbidden(
                    "only its owner, the room's creator or an admin can delete a webhook",
                )));
            }
            webhooks::delete(tx, room, id)?;
            Ok::<_, StoreError>(Ok(row.kind))
        })
        .await??;
    if kind == WebhookKind::Outgoing {
        state.webhooks.reload(state).await;
    }
    tracing::info!(room = %room, user = %user, webhook = id, "webhook deleted");
    Ok(())
}

/// Why an incoming webhook's post was not taken.
#[derive(Debug)]
pub enum HookError {
    /// No working webhook has this secret (unknown, deleted, or its owner
    /// is disabled): answered exactly like an unknown one.
    Unknown,
    Post(PostError),
}

/// Posts `text` through the incoming webhook whose secret is `token`, as
/// its owner.
pub async fn incoming(
    state: &AppState,
    token: &str,
    text: String,
) -> Result<MessageEvent, HookError> {
    let hash = hash_token(token);
    let found = state
        .store
        .read(move |c| {
            let Some(row) = webhooks::by_token(c, &hash)? else {
                return Ok(None);
            };
            let owner = users::by_id(c, row.owner)?;
            Ok::<_, StoreError>(owner.filter(|u| !u.disabled).map(|_| row))
        })
        .await
        .map_err(|e| HookError::Post(PostError::Refused(e.into())))?;
    let row = found.ok_or(HookError::Unknown)?;
    let posted = post_text(state, row.owner, row.room, text, None, None)
        .await
        .map_err(HookError::Post)?;
    crate::metrics::inc(&state.metrics.webhook_posts_total);
    tracing::info!(room = %row.room, webhook = row.id, "incoming webhook posted");
    Ok(posted)
}
