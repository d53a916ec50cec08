//! Uploaded files' metadata. The bytes live on disk under their SHA-256
//! (see `crate::files`); a row says who posted which name in which room.

use super::StoreError;
use super::sql::{Db, OptionalExtension, params};
use securechat_proto::ws::FileInfo;
use securechat_proto::{FileId, MessageId, RoomId, UserId};
use std::collections::HashSet;

/// A file row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub info: FileInfo,
    pub room: RoomId,
    pub removed: bool,
}

/// Records an uploaded file.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Db<'_>,
    sha256: &str,
    size: u64,
    name: &str,
    media_type: &str,
    image: bool,
    room: RoomId,
    uploader: UserId,
    now: i64,
) -> Result<FileInfo, StoreError> {
    let id = conn
        .insert(
            "INSERT INTO files (sha256, size, name, media_type, image, room_id, uploader_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![sha256, size, name, media_type, image, room.0, uploader.0, now],
        )?
        .ok_or(StoreError::NotFound)?;
    Ok(FileInfo {
        id: FileId(id),
        name: name.to_owned(),
        size,
        media_type: media_type.to_owned(),
        sha256: sha256.to_owned(),
        image,
    })
}

pub fn by_id(conn: &Db<'_>, id: FileId) -> Result<Option<FileRow>, StoreError> {
    conn
        .prepare_cached(
            "SELECT id, name, size, media_type, sha256, image, room_id, removed FROM files WHERE id = ?1",
        )?
        .query_row([id.0], |r| {
            Ok(FileRow {
                info: FileInfo {
                    id: FileId(r.get(0)?),
                    name: r.get(1)?,
                    size: r.get(2)?,
                    media_type: r.get(3)?,
                    sha256: r.get(4)?,
                    image: r.get(5)?,
                },
                room: RoomId(r.get(6)?),
                removed: r.get(7)?,
            })
        })
        .optional()
}

/// Forgets a file row no message uses (a retried upload's second copy).
pub fn delete(conn: &Db<'_>, id: FileId) -> Result<(), StoreError> {
    conn.execute("DELETE FROM files WHERE id = ?1", params![id.0])?;
    Ok(())
}

/// Hashes still needed on disk (a file not removed uses them).
pub fn live_hashes(conn: &Db<'_>) -> Result<HashSet<String>, StoreError> {
    let rows: Vec<String> = conn.query_map(
        "SELECT DISTINCT sha256 FROM files WHERE removed = 0",
        (),
        |r| r.get(0),
    )?;
    Ok(rows.into_iter().collect())
}

/// Whether `user` may attach file `id` to an encrypted message in `room`:
/// they uploaded it there, it is not removed, and no message carries it yet.
pub fn attachable(
    conn: &Db<'_>,
    id: FileId,
    user: UserId,
    room: RoomId,
) -> Result<bool, StoreError> {
    conn.exists(
        "SELECT 1 FROM files f WHERE f.id = ?1 AND f.uploader_id = ?2 AND f.room_id = ?3
           AND f.removed = 0
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.file_id = f.id)",
        params![id.0, user.0, room.0],
    )
}

/// Forgets files uploaded before `before` that no message
/// ever carried (an encrypted upload whose message never came); returns
/// how many. Their bytes go at the next blob sweep. `before` is in
/// milliseconds, as `created_at`.
pub fn forget_unattached(conn: &Db<'_>, before: i64) -> Result<usize, StoreError> {
    conn.execute(
        "DELETE FROM files WHERE created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.file_id = files.id)",
        params![before],
    )
}

/// The message that carries file `id`, if one does.
pub fn carrier(conn: &Db<'_>, id: FileId) -> Result<Option<MessageId>, StoreError> {
    conn.query_opt(
        "SELECT id FROM events WHERE file_id = ?1 LIMIT 1",
        params![id.0],
        |r| Ok(MessageId(r.get(0)?)),
    )
}
