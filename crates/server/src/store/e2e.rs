//! End-to-end encryption's server side: devices and their public keys,
//! one-time keys handed out once, to-device messages queued per device,
//! and the room key shares that let a send be checked for completeness.
//! Everything here is public keys or ciphertext the server cannot read.

use super::StoreError;
use super::sessions::SessionId;
use super::sql::{Db, params};
use securechat_proto::e2e::{
    BackupEntry, BackupInfo, ClaimedKey, DeviceKeys, KeyBackup, OneTimeKey, ToDeviceEvent,
};
use securechat_proto::{DeviceId, RoomId, UserId};

/// Most unclaimed one-time keys the server keeps per device.
pub const MAX_ONE_TIME_KEYS: u64 = 100;

const DEVICE_COLUMNS: &str = "u.username, d.id, d.curve25519, d.ed25519, d.signature";

fn device_row(r: &super::Row<'_>) -> Result<DeviceKeys, StoreError> {
    Ok(DeviceKeys {
        user: r.get(0)?,
        device: DeviceId(r.get(1)?),
        curve25519: r.get(2)?,
        ed25519: r.get(3)?,
        signature: r.get(4)?,
    })
}

/// Why a key upload was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadRefused {
    /// One-time keys before the device's own keys.
    NoDevice,
    /// Other keys than the device already published.
    KeysChanged,
}

/// This session's published device keys, if any.
pub fn device(db: &Db<'_>, id: DeviceId) -> Result<Option<DeviceKeys>, StoreError> {
    db.query_opt(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1"),
        [id.0],
        device_row,
    )
}

/// Publishes a session's device keys (the same ones again are fine) and
/// one-time keys (beyond [`MAX_ONE_TIME_KEYS`] unclaimed ones are
/// dropped); a fallback key replaces the previous one. Returns how many
/// one-time keys wait unclaimed.
pub fn upload(
    db: &Db<'_>,
    session: SessionId,
    user: UserId,
    keys: Option<&DeviceKeys>,
    one_time: &[OneTimeKey],
    fallback: Option<&OneTimeKey>,
    now: i64,
) -> Result<Result<u64, UploadRefused>, StoreError> {
    let id = DeviceId(session.0);
    let existing = device(db, id)?;
    match (keys, &existing) {
        (None, None) => return Ok(Err(UploadRefused::NoDevice)),
        (Some(k), Some(e))
            if k.curve25519 != e.curve25519
                || k.ed25519 != e.ed25519
                || k.signature != e.signature =>
        {
            return Ok(Err(UploadRefused::KeysChanged));
        }
        (Some(k), None) => {
            db.execute(
                "INSERT INTO devices (id, user_id, curve25519, ed25519, signature, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id.0,
                    user.0,
                    k.curve25519.as_str(),
                    k.ed25519.as_str(),
                    k.signature.as_str(),
                    now
                ],
            )?;
        }
        _ => {}
    }
    let mut stored = count_one_time_keys(db, id)?;
    for k in one_time {
        if stored >= MAX_ONE_TIME_KEYS {
            break;
        }
        stored += db.execute(
            "INSERT INTO one_time_keys (device_id, fallback, key_id, key, signature)
             VALUES (?1, 0, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![
                id.0,
                k.key_id.as_str(),
                k.key.as_str(),
                k.signature.as_str()
            ],
        )? as u64;
    }
    if let Some(k) = fallback {
        db.execute(
            "DELETE FROM one_time_keys WHERE device_id = ?1 AND fallback = 1",
            [id.0],
        )?;
        db.execute(
            "INSERT INTO one_time_keys (device_id, fallback, key_id, key, signature)
             VALUES (?1, 1, ?2, ?3, ?4)",
            params![
                id.0,
                k.key_id.as_str(),
                k.key.as_str(),
                k.signature.as_str()
            ],
        )?;
    }
    Ok(Ok(stored))
}

pub fn count_one_time_keys(db: &Db<'_>, device: DeviceId) -> Result<u64, StoreError> {
    db.query_row(
        "SELECT COUNT(*) FROM one_time_keys WHERE device_id = ?1 AND fallback = 0",
        [device.0],
        |r| r.get(0),
    )
}

/// The devices of these users.
pub fn devices_of(db: &Db<'_>, users: &[UserId]) -> Result<Vec<DeviceKeys>, StoreError> {
    let mut out = Vec::new();
    for u in users {
        out.extend(db.query_map(
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.user_id = ?1 ORDER BY d.id"
            ),
            [u.0],
            device_row,
        )?);
    }
    Ok(out)
}

/// The devices of a room's members: who must get its room keys.
pub fn room_devices(db: &Db<'_>, room: RoomId) -> Result<Vec<DeviceKeys>, StoreError> {
    db.query_map(
        &format!(
            "SELECT {DEVICE_COLUMNS} FROM members m JOIN devices d ON d.user_id = m.user_id
             JOIN users u ON u.id = d.user_id WHERE m.room_id = ?1 ORDER BY d.id"
        ),
        [room.0],
        device_row,
    )
}

/// One key of each device, a one-time key (removed, so never handed out
/// twice) or, when none is left, its fallback key.
pub fn claim(db: &Db<'_>, devices: &[DeviceId]) -> Result<Vec<ClaimedKey>, StoreError> {
    let mut out = Vec::new();
    for &device in devices {
        let key = |r: &super::Row<'_>| {
            Ok(OneTimeKey {
                key_id: r.get(0)?,
                key: r.get(1)?,
                signature: r.get(2)?,
            })
        };
        // Another node may take the same key first: then try the next.
        let mut claimed = None;
        for _ in 0..4 {
            let Some(k) = db.query_opt(
                "SELECT key_id, key, signature FROM one_time_keys
                 WHERE device_id = ?1 AND fallback = 0 ORDER BY key_id LIMIT 1",
                [device.0],
                key,
            )?
            else {
                break;
            };
            let taken = db.execute(
                "DELETE FROM one_time_keys WHERE device_id = ?1 AND fallback = 0 AND key_id = ?2",
                params![device.0, k.key_id.as_str()],
            )?;
            if taken == 1 {
                claimed = Some(ClaimedKey {
                    device,
                    key: k,
                    fallback: false,
                });
                break;
            }
        }
        if claimed.is_none() {
            claimed = db
                .query_opt(
                    "SELECT key_id, key, signature FROM one_time_keys
                     WHERE device_id = ?1 AND fallback = 1",
                    [device.0],
                    key,
                )?
                .map(|k| ClaimedKey {
                    device,
                    key: k,
                    fallback: true,
                });
        }
        out.extend(claimed);
    }
    Ok(out)
}

/// Queues a to-device message; returns its number, the device's next
/// (its row's counter, taken in this transaction: numbers are gapless and
/// in commit order, even with several nodes writing).
pub fn queue(
    db: &Db<'_>,
    to: DeviceId,
    sender: UserId,
    sender_device: DeviceId,
    body: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let seq: i64 = db.query_row(
        "UPDATE devices SET to_device_seq = to_device_seq + 1 WHERE id = ?1 RETURNING to_device_seq",
        [to.0],
        |r| r.get(0),
    )?;
    db.execute(
        "INSERT INTO to_device (device_id, seq, sender_id, sender_device, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![to.0, seq, sender.0, sender_device.0, body, now],
    )?;
    Ok(seq as u64)
}

/// The owner of a device, if it exists.
pub fn owner(db: &Db<'_>, device: DeviceId) -> Result<Option<UserId>, StoreError> {
    db.query_opt(
        "SELECT user_id FROM devices WHERE id = ?1",
        [device.0],
        |r| Ok(UserId(r.get(0)?)),
    )
}

/// Records that `device` got `sender_device`'s Megolm session `session`
/// for `room`.
pub fn record_share(
    db: &Db<'_>,
    room: RoomId,
    session: &str,
    sender_device: DeviceId,
    device: DeviceId,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO room_key_shares (room_id, session, sender_device, device_id)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![room.0, session, sender_device.0, device.0],
    )?;
    Ok(())
}

/// Whether `sender_device`'s session `session` may encrypt for `room`
/// now: `missing` counts members' devices (the sender's own excepted) that
/// have not received it, `gone` the devices that received it and are no
/// longer a member's (the session must be replaced).
pub fn share_gaps(
    db: &Db<'_>,
    room: RoomId,
    session: &str,
    sender_device: DeviceId,
) -> Result<(u64, u64), StoreError> {
    let missing = db.query_row(
        "SELECT COUNT(*) FROM members m JOIN devices d ON d.user_id = m.user_id
         WHERE m.room_id = ?1 AND d.id != ?3 AND NOT EXISTS (
             SELECT 1 FROM room_key_shares s
             WHERE s.room_id = ?1 AND s.session = ?2 AND s.device_id = d.id AND s.sender_device = ?3)",
        params![room.0, session, sender_device.0],
        |r| r.get(0),
    )?;
    let gone = db.query_row(
        "SELECT COUNT(*) FROM room_key_shares s
         WHERE s.room_id = ?1 AND s.session = ?2 AND s.sender_device = ?3 AND NOT EXISTS (
             SELECT 1 FROM devices d JOIN members m ON m.user_id = d.user_id AND m.room_id = ?1
             WHERE d.id = s.device_id)",
        params![room.0, session, sender_device.0],
        |r| r.get(0),
    )?;
    Ok((missing, gone))
}

/// To-device messages for `device` after id `after`, oldest first.
pub fn pending(
    db: &Db<'_>,
    device: DeviceId,
    after: u64,
    limit: usize,
) -> Result<Vec<ToDeviceEvent>, StoreError> {
    db.query_map(
        "SELECT t.seq, u.username, t.sender_device, t.body FROM to_device t
         JOIN users u ON u.id = t.sender_id
         WHERE t.device_id = ?1 AND t.seq > ?2 ORDER BY t.seq LIMIT ?3",
        params![device.0, after.min(i64::MAX as u64) as i64, limit as i64],
        |r| {
            Ok(ToDeviceEvent {
                id: r.get::<i64>(0)? as u64,
                from: r.get(1)?,
                from_device: DeviceId(r.get(2)?),
                body: r.get(3)?,
            })
        },
    )
}

/// Forgets `device`'s to-device messages up to `upto` (it has them).
pub fn ack(db: &Db<'_>, device: DeviceId, upto: u64) -> Result<usize, StoreError> {
    db.execute(
        "DELETE FROM to_device WHERE device_id = ?1 AND seq <= ?2",
        params![device.0, upto.min(i64::MAX as u64) as i64],
    )
}

/// Whether a room is end-to-end encrypted.
pub fn room_encrypted(db: &Db<'_>, room: RoomId) -> Result<bool, StoreError> {
    Ok(db
        .query_opt("SELECT encrypted FROM rooms WHERE id = ?1", [room.0], |r| {
            r.get::<bool>(0)
        })?
        .unwrap_or(false))
}

/// A user's key backup: its info and every sealed room key.
pub fn backup(db: &Db<'_>, user: UserId) -> Result<KeyBackup, StoreError> {
    let info = db.query_opt(
        "SELECT salt, check_text FROM key_backup_info WHERE user_id = ?1",
        [user.0],
        |r| {
            Ok(BackupInfo {
                salt: r.get(0)?,
                check: r.get(1)?,
            })
        },
    )?;
    let keys = db.query_map(
        "SELECT room_id, session, data FROM key_backup WHERE user_id = ?1 ORDER BY room_id, session",
        [user.0],
        |r| {
            Ok(BackupEntry {
                room: RoomId(r.get(0)?),
                session: r.get(1)?,
                data: r.get(2)?,
            })
        },
    )?;
    Ok(KeyBackup { info, keys })
}

/// Starts a new backup (a new recovery key): the old entries go.
pub fn reset_backup(
    db: &Db<'_>,
    user: UserId,
    info: Option<&BackupInfo>,
) -> Result<(), StoreError> {
    db.execute("DELETE FROM key_backup WHERE user_id = ?1", [user.0])?;
    db.execute("DELETE FROM key_backup_info WHERE user_id = ?1", [user.0])?;
    if let Some(info) = info {
        db.execute(
            "INSERT INTO key_backup_info (user_id, salt, check_text) VALUES (?1, ?2, ?3)",
            params![user.0, info.salt.as_deref(), info.check.as_str()],
        )?;
    }
    Ok(())
}

/// Adds sealed room keys to a user's backup (one already there stays);
/// `None` when the user has no backup.
pub fn add_to_backup(
    db: &Db<'_>,
    user: UserId,
    keys: &[BackupEntry],
) -> Result<Option<usize>, StoreError> {
    if !db.exists("SELECT 1 FROM key_backup_info WHERE user_id = ?1", [user.0])? {
        return Ok(None);
    }
    let mut added = 0;
    for k in keys {
        added += db.execute(
            "INSERT INTO key_backup (user_id, room_id, session, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![user.0, k.room.0, k.session.as_str(), k.data.as_str()],
        )?;
    }
    Ok(Some(added))
}
