//! Profiles: display name, status text and a small picture (kept in the
//! database, not with the files, so that every node of an installation can
//! serve it and a backup of the database holds it).

use super::StoreError;
use super::sql::{Db, OptionalExtension, Row, params};
use super::users::{self, UserRecord};
use securechat_proto::UserId;
use securechat_proto::http::Profile;
use std::collections::HashMap;

/// A user's profile as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileRow {
    pub display_name: Option<String>,
    pub status: Option<String>,
    /// `Some(version)` when the user has a picture; the version changes
    /// with every new picture, so its URL can be cached.
    pub avatar: Option<i64>,
}

impl ProfileRow {
    /// The profile as the API shows it, for the user called `username`.
    pub fn view(&self, username: &str) -> Profile {
        Profile {
            display_name: self.display_name.clone(),
            status: self.status.clone(),
            avatar: self
                .avatar
                .map(|v| format!("/api/users/{username}/avatar?v={v}")),
        }
    }
}

const COLUMNS: &str = "display_name, status_text,
    CASE WHEN avatar_type IS NULL THEN NULL ELSE avatar_version END";

fn from_row(r: &Row<'_>, at: usize) -> Result<ProfileRow, StoreError> {
    Ok(ProfileRow {
        display_name: r.get(at)?,
        status: r.get(at + 1)?,
        avatar: r.get(at + 2)?,
    })
}

/// One user's profile (`NotFound` if there is no such user).
pub fn get(conn: &Db<'_>, user: UserId) -> Result<ProfileRow, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [user.0],
        |r| from_row(r, 0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Every user's profile.
fn all(conn: &Db<'_>) -> Result<HashMap<UserId, ProfileRow>, StoreError> {
    let sql = format!("SELECT id, {COLUMNS} FROM users");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map((), |r| Ok((UserId(r.get(0)?), from_row(r, 1)?)))?;
    Ok(rows.into_iter().collect())
}

/// Every user (by name) with their profile.
pub fn everyone(conn: &Db<'_>) -> Result<Vec<(UserRecord, ProfileRow)>, StoreError> {
    let mut profiles = all(conn)?;
    Ok(users::list(conn)?
        .into_iter()
        .map(|u| {
            let p = profiles.remove(&u.id).unwrap_or_default();
            (u, p)
        })
        .collect())
}

/// Sets what is `Some` (an empty string clears it).
pub fn update(
    conn: &Db<'_>,
    user: UserId,
    display_name: Option<&str>,
    status: Option<&str>,
) -> Result<(), StoreError> {
    let blank = |v: Option<&str>| v.map(|s| (!s.is_empty()).then(|| s.to_owned()));
    if let Some(v) = blank(display_name) {
        conn.execute(
            "UPDATE users SET display_name = ?2 WHERE id = ?1",
            params![user.0, v],
        )?;
    }
    if let Some(v) = blank(status) {
        conn.execute(
            "UPDATE users SET status_text = ?2 WHERE id = ?1",
            params![user.0, v],
        )?;
    }
    Ok(())
}

/// Sets (`Some((bytes, media type))`) or removes the picture; either way
/// its version moves on.
pub fn set_avatar(
    conn: &Db<'_>,
    user: UserId,
    picture: Option<(&[u8], &str)>,
) -> Result<(), StoreError> {
    let (bytes, media_type) = picture.unzip();
    conn.execute(
        "UPDATE users SET avatar = ?2, avatar_type = ?3, avatar_version = avatar_version + 1
         WHERE id = ?1",
        params![user.0, bytes, media_type],
    )?;
    Ok(())
}

/// The picture of the (enabled) user called `username`: bytes and media type.
pub fn avatar(conn: &Db<'_>, username: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    conn.query_row(
        "SELECT avatar, avatar_type FROM users
             WHERE username = ?1 AND disabled = 0 AND avatar_type IS NOT NULL",
        [username],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}
