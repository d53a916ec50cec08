//! Login sessions and API tokens. Only a SHA-256 hash of each token is
//! stored. An API token is a session with a name and scopes (a login has
//! neither), so ending sessions, disabling a user and closing their
//! sockets treat both alike.

use super::StoreError;
use super::sql::{Db, OptionalExtension, params};
use super::users::{self, UserRecord};
use securechat_proto::UserId;
use securechat_proto::integrations::Scope;

/// A session row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub i64);

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub user: UserRecord,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
    /// An API token's scopes; `None` for a login.
    pub scopes: Option<Vec<Scope>>,
    /// An API token's last use (ms), to record it at most once a minute.
    pub last_used_at: Option<i64>,
}

impl Session {
    /// Whether this session may act with `scope` (a login may do all).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }

    /// Whether this is an API token rather than a login.
    pub fn is_token(&self) -> bool {
        self.scopes.is_some()
    }
}

/// An API token's expiry when it has none.
pub const NEVER: i64 = i64::MAX;

/// Scopes as stored: their names, space-separated.
fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split(' ').filter_map(Scope::parse).collect()
}

pub fn insert(
    conn: &Db<'_>,
    user: UserId,
    token_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<SessionId, StoreError> {
    conn.insert(
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![user.0, token_hash, now, expires_at],
    )?
    .map(SessionId)
    .ok_or(StoreError::NotFound)
}

/// The session with this token hash, if it exists, has not expired, and its
/// user is not disabled.
pub fn lookup(conn: &Db<'_>, token_hash: &[u8], now: i64) -> Result<Option<Session>, StoreError> {
    conn.query_row(
        "SELECT s.id, s.expires_at, s.scopes, s.last_used_at,
                    u.id, u.username, u.password_hash, u.is_admin, u.disabled, u.last_seen, u.is_bot
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
        params![token_hash, now],
        |r| {
            Ok(Session {
                id: SessionId(r.get(0)?),
                expires_at: r.get(1)?,
                scopes: r.get::<Option<String>>(2)?.as_deref().map(parse_scopes),
                last_used_at: r.get(3)?,
                user: users::from_row_at(r, 4)?,
            })
        },
    )
    .optional()
}

pub fn delete(conn: &Db<'_>, id: SessionId) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE id = ?1", [id.0])?;
    Ok(())
}

/// Deletes every session of `user` except `keep`, returning their ids.
pub fn delete_for_user(
    conn: &Db<'_>,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<Vec<SessionId>, StoreError> {
    let keep = keep.map(|s| s.0).unwrap_or(-1);
    let mut stmt =
        conn.prepare("DELETE FROM sessions WHERE user_id = ?1 AND id != ?2 RETURNING id")?;
    let ids = stmt.query_map(params![user.0, keep], |r| Ok(SessionId(r.get(0)?)))?;
    Ok(ids)
}

/// Which of `ids` are still valid (exist, not expired, user enabled).
pub fn still_valid(
    conn: &Db<'_>,
    ids: &[SessionId],
    now: i64,
) -> Result<Vec<SessionId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
    )?;
    let mut valid = Vec::with_capacity(ids.len());
    for id in ids {
        if stmt.exists(params![id.0, now])? {
            valid.push(*id);
        }
    }
    Ok(valid)
}

/// Removes expired sessions.
pub fn purge_expired(conn: &Db<'_>, now: i64) -> Result<usize, StoreError> {
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])
}

/// An API token as listed.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: SessionId,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    /// [`NEVER`] if it does not expire.
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// Stores a new API token (by hash) for `user`.
pub fn insert_token(
    conn: &Db<'_>,
    user: UserId,
    token_hash: &[u8],
    name: &str,
    scopes: &[Scope],
    now: i64,
    expires_at: i64,
) -> Result<SessionId, StoreError> {
    conn.insert(
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, name, scopes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user.0,
            token_hash,
            now,
            expires_at,
            name,
            scopes_text(scopes)
        ],
    )?
    .map(SessionId)
    .ok_or(StoreError::NotFound)
}

/// `user`'s unexpired API tokens, newest first.
pub fn tokens(conn: &Db<'_>, user: UserId, now: i64) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, scopes, created_at, expires_at, last_used_at FROM sessions
         WHERE user_id = ?1 AND name IS NOT NULL AND expires_at > ?2 ORDER BY id DESC",
    )?;
    stmt.query_map(params![user.0, now], |r| {
        Ok(TokenRow {
            id: SessionId(r.get(0)?),
            name: r.get(1)?,
            scopes: parse_scopes(&r.get::<String>(2)?),
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            last_used_at: r.get(5)?,
        })
    })
}

/// How many unexpired API tokens `user` has.
pub fn count_tokens(conn: &Db<'_>, user: UserId, now: i64) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM sessions WHERE user_id = ?1 AND name IS NOT NULL AND expires_at > ?2",
        params![user.0, now],
        |r| r.get(0),
    )
}

/// Revokes `user`'s API token `id`; false if they have no such token.
pub fn delete_token(conn: &Db<'_>, user: UserId, id: SessionId) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2 AND name IS NOT NULL",
        params![id.0, user.0],
    )? == 1)
}

/// Records that an API token was used now.
pub fn touch_token(conn: &Db<'_>, id: SessionId, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET last_used_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(())
}
