//! Accounts: names, password hashes, the admin and disabled flags.

use super::StoreError;
use super::sql::{Db, OptionalExtension, Row, params};
use securechat_proto::UserId;
use securechat_proto::ws::UserInfo;

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    /// Milliseconds since the epoch; `None` if never connected.
    pub last_seen: Option<i64>,
    /// A bot account: no password, signs in with API tokens.
    pub is_bot: bool,
}

impl UserRecord {
    /// The public view of this user.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            id: self.id,
            username: self.username.clone(),
            is_admin: self.is_admin,
            is_bot: self.is_bot,
        }
    }
}

/// The columns [`from_row`] reads, in its order.
pub const COLUMNS: &str = "id, username, password_hash, is_admin, disabled, last_seen, is_bot";

fn from_row(r: &Row<'_>) -> Result<UserRecord, StoreError> {
    from_row_at(r, 0)
}

/// A user from [`COLUMNS`] starting at column `at` of `r`.
pub fn from_row_at(r: &Row<'_>, at: usize) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: UserId(r.get(at)?),
        username: r.get(at + 1)?,
        password_hash: r.get(at + 2)?,
        is_admin: r.get(at + 3)?,
        disabled: r.get(at + 4)?,
        last_seen: r.get(at + 5)?,
        is_bot: r.get(at + 6)?,
    })
}

/// Creates a user and puts them in `general`. The first user is an admin
/// unless `admin` says otherwise. Fails with `Conflict` if the name is taken.
pub fn insert(
    conn: &Db<'_>,
    username: &str,
    password_hash: &str,
    admin: Option<bool>,
    now: i64,
) -> Result<UserRecord, StoreError> {
    let first: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", (), |r| r.get(0))?;
    let is_admin = admin.unwrap_or(first);
    let id = conn
        .insert(
            "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![username, password_hash, is_admin, now],
        )?
        .map(UserId)
        .ok_or(StoreError::NotFound)?;
    // Into general, with the read mark at its newest event.
    conn.execute(
        "INSERT INTO members (room_id, user_id, joined_at, read_seq)
         SELECT id, ?1, ?2, last_seq FROM rooms WHERE kind = 'public' AND name = 'general'",
        params![id.0, now],
    )?;
    by_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// Creates a bot account (no password, not an admin) and puts it in
/// `general`.
pub fn insert_bot(conn: &Db<'_>, username: &str, now: i64) -> Result<UserRecord, StoreError> {
    let user = insert(conn, username, BOT_PASSWORD, Some(false), now)?;
    conn.execute("UPDATE users SET is_bot = 1 WHERE id = ?1", [user.id.0])?;
    by_id(conn, user.id)?.ok_or(StoreError::NotFound)
}

/// A bot's password hash: not a hash, so no password matches it.
pub const BOT_PASSWORD: &str = "!bot";

pub fn by_name(conn: &Db<'_>, username: &str) -> Result<Option<UserRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
        [username],
        from_row,
    )
    .optional()
}

pub fn by_id(conn: &Db<'_>, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()
}

/// Every user, by name.
pub fn list(conn: &Db<'_>) -> Result<Vec<UserRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY username");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map((), from_row)?;
    Ok(rows)
}

pub fn set_password(conn: &Db<'_>, id: UserId, hash: &str) -> Result<(), StoreError> {
    expect_one(conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id.0, hash],
    )?)
}

pub fn set_admin(conn: &Db<'_>, id: UserId, is_admin: bool) -> Result<(), StoreError> {
    expect_one(conn.execute(
        "UPDATE users SET is_admin = ?2 WHERE id = ?1",
        params![id.0, is_admin],
    )?)
}

/// How many enabled admins there are.
pub fn count_admins(conn: &Db<'_>) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0",
        (),
        |r| r.get(0),
    )
}

pub fn set_disabled(conn: &Db<'_>, id: UserId, disabled: bool) -> Result<(), StoreError> {
    expect_one(conn.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![id.0, disabled],
    )?)
}

pub fn touch_last_seen(conn: &Db<'_>, id: UserId, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET last_seen = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(())
}

fn expect_one(changed: usize) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// (all users, disabled users).
pub fn counts(conn: &Db<'_>) -> Result<(u64, u64), StoreError> {
    conn.query_row(
        "SELECT COUNT(*), CAST(COALESCE(SUM(disabled), 0) AS BIGINT) FROM users",
        (),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
