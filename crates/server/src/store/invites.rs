//! Invite codes: stored only as a SHA-256 hash, single use, with an expiry;
//! an admin can list and revoke them.

use super::StoreError;
use super::sql::{Db, params};
use securechat_proto::UserId;

/// Stores an invite code (by hash) valid until `expires_at`; returns its id.
pub fn insert(
    conn: &Db<'_>,
    code_hash: &[u8],
    created_by: Option<UserId>,
    now: i64,
    expires_at: i64,
) -> Result<i64, StoreError> {
    conn.insert_returning(
        "INSERT INTO invites (code_hash, created_at, expires_at, created_by)
         VALUES (?1, ?2, ?3, ?4)",
        "rowid",
        params![code_hash, now, expires_at, created_by.map(|u| u.0)],
    )?
    .ok_or(StoreError::NotFound)
}

/// Whether an unused, unrevoked, unexpired invite with this hash exists.
pub fn valid(conn: &Db<'_>, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM invites
             WHERE code_hash = ?1 AND used_by IS NULL AND revoked_at IS NULL
               AND expires_at > ?2)",
    )?
    .query_row(params![code_hash, now], |r| r.get(0))
}

/// Marks a valid invite as used by `user`; false if there is no such
/// invite (unknown, used, revoked or expired).
pub fn use_up(conn: &Db<'_>, code_hash: &[u8], user: UserId, now: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE invites SET used_by = ?2
         WHERE code_hash = ?1 AND used_by IS NULL AND revoked_at IS NULL AND expires_at > ?3",
        params![code_hash, user.0, now],
    )?;
    Ok(n == 1)
}

/// An invite as listed to an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub created_by: Option<String>,
    pub used_by: Option<String>,
}

impl InviteRow {
    /// `unused`, `used`, `expired` or `revoked`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.used_by.is_some() {
            "used"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "unused"
        }
    }
}

/// The newest `limit` invites, newest first.
pub fn list(conn: &Db<'_>, limit: u32) -> Result<Vec<InviteRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT i.rowid, i.created_at, i.expires_at, i.revoked_at, c.username, u.username
         FROM invites i
         LEFT JOIN users c ON c.id = i.created_by
         LEFT JOIN users u ON u.id = i.used_by
         ORDER BY i.rowid DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(InviteRow {
            id: r.get(0)?,
            created_at: r.get(1)?,
            expires_at: r.get(2)?,
            revoked_at: r.get(3)?,
            created_by: r.get(4)?,
            used_by: r.get(5)?,
        })
    })?;
    Ok(rows)
}

/// Revokes an unused invite. `NotFound` if there is no such invite or it
/// was already used; revoking twice is fine.
pub fn revoke(conn: &Db<'_>, id: i64, now: i64) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE invites SET revoked_at = COALESCE(revoked_at, ?2)
         WHERE rowid = ?1 AND used_by IS NULL",
        params![id, now],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}
