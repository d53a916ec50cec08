//! Integrations: personal API tokens, bot accounts, posting over HTTPS, and
//! webhooks.
//!
//! - this file: tokens (scoped, revocable, hashed at rest: a token is a
//!   session with a name and scopes, see `store::sessions`), bots, and
//!   [`post_text`], the one way a message arrives without a WebSocket;
//! - [`webhooks`]: a room's webhooks: made, listed, deleted; an incoming
//!   one's post;
//! - [`outgoing`]: the dispatcher: which messages go to which outgoing
//!   webhook, signed deliveries, retries with backoff, replies; it never
//!   holds up a room;
//! - [`target`]: where an outgoing webhook may POST (public addresses over
//!   https, and only what `webhook_allow` lists besides).

pub mod outgoing;
pub mod target;
pub mod webhooks;

use crate::action::ActionError;
use crate::auth::token::{hash_token, new_token};
use crate::chat::{self, Post, Posted};
use crate::metrics;
use crate::state::AppState;
use crate::store::events::Appended;
use crate::store::sessions::{self, NEVER, SessionId, TokenRow};
use crate::store::users::{self, UserRecord};
use crate::store::{Store, StoreError, profiles};
use securechat_proto::integrations::{BotCreated, CreateToken, NewToken, Scope, TokenInfo};
use securechat_proto::validate::{self, ValidationError, validate_body};
use securechat_proto::ws::MessageEvent;
use securechat_proto::{MessageId, RoomId, Timestamp, UserId};
use std::time::{Duration, Instant};

/// API tokens one user may have at once.
pub const MAX_TOKENS: u64 = 50;
/// How long a token may be made to last, at most.
pub const MAX_TOKEN_DAYS: u32 = 3650;
/// What every API token starts with (so secret scanners can spot one).
pub const TOKEN_PREFIX: &str = "sct_";

/// A name for a token or a webhook: 1–64 characters, no control
/// characters, trimmed.
pub fn normalize_name(name: &str) -> Result<String, ActionError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ActionError::BadRequest("a name has 1 to 64 characters"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || validate::is_bidi_control(c))
    {
        return Err(ActionError::BadRequest("a name has no control characters"));
    }
    Ok(name.to_owned())
}

/// Makes an API token for `user` (shown once; stored as its SHA-256).
/// Only an admin's token may have the `admin` scope.
pub async fn create_token(
    store: &Store,
    user: &UserRecord,
    req: CreateToken,
) -> Result<NewToken, ActionError> {
    let name = normalize_name(&req.name)?;
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(ActionError::BadRequest(
            "give a token at least one scope: read, write or admin",
        ));
    }
    if scopes.contains(&Scope::Admin) && !user.is_admin {
        return Err(ActionError::Forbidden(
            "only an administrator's token may have the admin scope",
        ));
    }
    let days = match req.expires_days {
        Some(d) if d == 0 || d > MAX_TOKEN_DAYS => {
            return Err(ActionError::BadRequest(
                "expires_days is between 1 and 3650",
            ));
        }
        d => d,
    };
    let token = format!("{TOKEN_PREFIX}{}", new_token());
    let hash = hash_token(&token);
    let (id, now) = (user.id, Timestamp::now().0);
    let expires_at = days.map_or(NEVER, |d| now + i64::from(d) * 86_400_000);
    let stored = scopes.clone();
    let (sid, name) = store
        .write(move |tx| {
            if sessions::count_tokens(tx, id, now)? >= MAX_TOKENS {
                return Ok(Err(ActionError::Conflict(format!(
                    "you have {MAX_TOKENS} API tokens already: revoke one first"
                ))));
            }
            let sid = sessions::insert_token(tx, id, &hash, &name, &stored, now, expires_at)?;
            Ok::<_, StoreError>(Ok((sid, name)))
        })
        .await??;
    tracing::info!(user = %user.id, token = sid.0, "API token made");
    Ok(NewToken {
        token,
        info: TokenInfo {
            id: sid.0,
            name,
            scopes,
            created_at: Timestamp(now),
            expires_at: (expires_at != NEVER).then_some(Timestamp(expires_at)),
            last_used_at: None,
        },
    })
}

/// A stored token as listed.
pub fn token_info(row: TokenRow) -> TokenInfo {
    TokenInfo {
        id: row.id.0,
        name: row.name,
        scopes: row.scopes,
        created_at: Timestamp(row.created_at),
        expires_at: (row.expires_at != NEVER).then_some(Timestamp(row.expires_at)),
        last_used_at: row.last_used_at.map(Timestamp),
    }
}

/// `user`'s API tokens, newest first.
pub async fn list_tokens(state: &AppState, user: UserId) -> Result<Vec<TokenInfo>, StoreError> {
    let now = Timestamp::now().0;
    let rows = state
        .store
        .read(move |c| sessions::tokens(c, user, now))
        .await?;
    Ok(rows.into_iter().map(token_info).collect())
}

/// Revokes `user`'s token `id` and closes the sockets it opened.
pub async fn revoke_token(state: &AppState, user: UserId, id: i64) -> Result<(), ActionError> {
    let sid = SessionId(id);
    let gone = state
        .store
        .write(move |tx| sessions::delete_token(tx, user, sid))
        .await?;
    if !gone {
        return Err(ActionError::NotFound("no such API token"));
    }
    state
        .hub
        .close_sessions(&[sid], crate::hub::Close::SESSION_ENDED);
    tracing::info!(user = %user, token = id, "API token revoked");
    Ok(())
}

/// Makes a bot account (no password, never an admin, in `general` like
/// everyone) and its first token (read and write).
pub async fn create_bot(
    store: &Store,
    username: &str,
    display_name: Option<&str>,
) -> Result<BotCreated, ActionError> {
    let username = validate::normalize_username(username)?;
    let display = display_name
        .map(validate::normalize_display_name)
        .transpose()?;
    let bot = store
        .write(move |tx| {
            let now = Timestamp::now().0;
            let bot = users::insert_bot(tx, &username, now)?;
            if let Some(d) = &display {
                profiles::update(tx, bot.id, Some(d), None)?;
            }
            Ok(bot)
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ActionError::Conflict("that username is taken".into()),
            e => e.into(),
        })?;
    let token = create_token(
        store,
        &bot,
        CreateToken {
            name: "bot".into(),
            scopes: vec![Scope::Read, Scope::Write],
            expires_days: None,
        },
    )
    .await?;
    tracing::info!(user = %bot.id, "bot account made");
    Ok(BotCreated {
        id: bot.id,
        username: bot.username,
        token,
    })
}

/// Why [`post_text`] did not post.
#[derive(Debug)]
pub enum PostError {
    Invalid(ValidationError),
    /// Over the sender's message budget: try again after this long.
    SlowDown(Duration),
    Refused(ActionError),
}

impl From<ActionError> for PostError {
    fn from(e: ActionError) -> Self {
        PostError::Refused(e)
    }
}

/// Posts `body` from `user` to `room` (in `thread`, if given) as a `send`
/// frame would, under the same message budget, and returns the message
/// once it is durable. A retry with the same `client_msg_id` returns the
/// message stored the first time.
pub async fn post_text(
    state: &AppState,
    user: UserId,
    room: RoomId,
    body: String,
    thread: Option<MessageId>,
    client_msg_id: Option<String>,
) -> Result<MessageEvent, PostError> {
    validate_body(&body, state.config.max_message_bytes).map_err(PostError::Invalid)?;
    let client_msg_id = match client_msg_id {
        Some(id) => {
            validate::validate_client_msg_id(&id).map_err(PostError::Invalid)?;
            id
        }
        None => new_token(),
    };
    if let Err(wait) = state.budgets.messages.check(user, Instant::now()) {
        metrics::inc(&state.metrics.rate_limited_total);
        return Err(PostError::SlowDown(wait));
    }
    let post = Post {
        client_msg_id,
        body,
        thread,
        ..Post::default()
    };
    let durable = chat::post(state, user, room, post).await?;
    let Posted {
        appended: Appended::New(m) | Appended::Duplicate(m),
        ..
    } = durable.await?;
    Ok(m)
}
