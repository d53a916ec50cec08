//! Password reset links: an admin makes one for a user; it is stored as a
//! SHA-256 hash, works once, expires, and a newer one replaces it.

use super::StoreError;
use super::sql::{Db, OptionalExtension, params};
use securechat_proto::UserId;

/// Stores a new link (by hash) for `user`, valid until `expires_at`; the
/// user's earlier unused links stop working.
pub fn insert(
    conn: &Db<'_>,
    token_hash: &[u8],
    user: UserId,
    created_by: Option<UserId>,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM password_resets WHERE user_id = ?1 AND used_at IS NULL",
        params![user.0],
    )?;
    conn.execute(
        "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, user.0, created_by.map(|u| u.0), now, expires_at],
    )?;
    Ok(())
}

/// The user a working (unused, unexpired) link is for.
pub fn valid(conn: &Db<'_>, token_hash: &[u8], now: i64) -> Result<Option<UserId>, StoreError> {
    conn.prepare_cached(
        "SELECT user_id FROM password_resets
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
    )?
    .query_row(params![token_hash, now], |r| r.get::<i64>(0))
    .optional()
    .map(|id| id.map(UserId))
}

/// Uses a working link up and returns its user; `None` if it does not
/// work (unknown, used, replaced or expired). Of two uses at once, one
/// wins: the update is conditional on the link being unused.
pub fn use_up(conn: &Db<'_>, token_hash: &[u8], now: i64) -> Result<Option<UserId>, StoreError> {
    let Some(user) = valid(conn, token_hash, now)? else {
        return Ok(None);
    };
    let n = conn.execute(
        "UPDATE password_resets SET used_at = ?2
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![token_hash, now],
    )?;
    Ok((n == 1).then_some(user))
}
