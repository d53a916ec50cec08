//! Settings an admin changes while the server runs (key → text). A setting
//! that was never set is absent, and the configuration file's value holds.

use super::StoreError;
use super::sql::{Db, OptionalExtension, params};

/// The registration mode (`open`, `invite`, `closed`).
pub const REGISTRATION: &str = "registration";

pub fn get(conn: &Db<'_>, key: &str) -> Result<Option<String>, StoreError> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn set(conn: &Db<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}
