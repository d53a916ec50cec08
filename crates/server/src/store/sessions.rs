//! Login sessions. Only a SHA-256 hash of each token is stored.

use super::StoreError;
use super::sql::{Db, OptionalExtension, params};
use super::users::UserRecord;
use securechat_proto::UserId;

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
    conn
        .query_row(
            "SELECT s.id, s.expires_at, u.id, u.username, u.password_hash, u.is_admin, u.disabled, u.last_seen
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
            params![token_hash, now],
            |r| {
                Ok(Session {
                    id: SessionId(r.get(0)?),
                    expires_at: r.get(1)?,
                    user: UserRecord {
                        id: UserId(r.get(2)?),
                        username: r.get(3)?,
                        password_hash: r.get(4)?,
                        is_admin: r.get(5)?,
                        disabled: r.get(6)?,
                        last_seen: r.get(7)?,
                    },
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
