//! End-to-end encryption, the server's part: publish and look up device
//! keys, hand out one-time keys, relay to-device messages, remove
//! devices. The server never holds a private key nor a plaintext; it
//! checks only what routing needs (who may send what to which device).

use crate::action::{ActionError, require_member};
use crate::hub::Close;
use crate::state::AppState;
use crate::store::e2e::{self, UploadRefused};
use crate::store::sessions::{self, Session, SessionId};
use crate::store::{Db, StoreError, rooms, users};
use securechat_proto::e2e::{
    BackupEntry, BackupInfo, Devices, KeyBackup, KeysClaimed, KeysUpload, KeysUploaded, OneTimeKey,
    ToDeviceOut,
};
use securechat_proto::validate::validate_key;
use securechat_proto::{DeviceId, RoomId, Timestamp};

/// Most to-device messages in one request (a room key for a room of 500
/// members with two devices each fits).
pub const MAX_TO_DEVICE: usize = 1000;
/// Most to-device messages waiting for one device; past it the sender is
/// told to slow down.
pub const MAX_PENDING: u64 = 10_000;
/// Most bytes of one to-device body.
pub const MAX_TO_DEVICE_BODY: usize = 8 * 1024;
/// Most users or devices in one query or claim.
pub const MAX_LOOKUP: usize = 1000;

fn check_key(k: &OneTimeKey) -> Result<(), ActionError> {
    validate_key(&k.key_id, "key_id")?;
    validate_key(&k.key, "key")?;
    validate_key(&k.signature, "signature")?;
    Ok(())
}

/// `POST /api/keys`: this session becomes a device with these keys.
pub async fn upload(
    state: &AppState,
    session: &Session,
    req: KeysUpload,
) -> Result<KeysUploaded, ActionError> {
    let device = DeviceId(session.id.0);
    if let Some(k) = &req.device_keys {
        if k.user != session.user.username || k.device != device {
            return Err(ActionError::BadRequest(
                "device keys must name you and this session's device id",
            ));
        }
        validate_key(&k.curve25519, "curve25519")?;
        validate_key(&k.ed25519, "ed25519")?;
        validate_key(&k.signature, "signature")?;
    }
    if req.one_time_keys.len() > e2e::MAX_ONE_TIME_KEYS as usize {
        return Err(ActionError::BadRequest("at most 100 one-time keys at once"));
    }
    for k in req.one_time_keys.iter().chain(&req.fallback_key) {
        check_key(k)?;
    }
    let (sid, user) = (session.id, session.user.id);
    let now = Timestamp::now().0;
    let stored = state
        .store
        .write(move |tx| -> Result<_, ActionError> {
            let r = e2e::upload(
                tx,
                sid,
                user,
                req.device_keys.as_ref(),
                &req.one_time_keys,
                req.fallback_key.as_ref(),
                now,
            )?;
            match r {
                Ok(n) => Ok(n),
                Err(UploadRefused::NoDevice) => {
                    Err(ActionError::BadRequest("publish this device's keys first"))
                }
                Err(UploadRefused::KeysChanged) => Err(ActionError::Conflict(
                    "this device published other keys; log in again for a new device".into(),
                )),
            }
        })
        .await
        .map_err(|e| match e {
            // Another device already uses these identity keys.
            ActionError::Store(StoreError::Conflict) => {
                ActionError::Conflict("these keys belong to another device".into())
            }
            other => other,
        })?;
    Ok(KeysUploaded {
        device,
        one_time_keys: stored,
    })
}

/// `GET /api/devices`: the caller's devices.
pub async fn mine(state: &AppState, session: &Session) -> Result<Devices, ActionError> {
    let user = session.user.id;
    let devices = state
        .store
        .read(move |c| e2e::devices_of(c, &[user]))
        .await?;
    Ok(Devices { devices })
}

/// `POST /api/keys/query`: the devices of these users (unknown names are
/// left out).
pub async fn query(state: &AppState, names: Vec<String>) -> Result<Devices, ActionError> {
    if names.len() > MAX_LOOKUP {
        return Err(ActionError::BadRequest("at most 1000 users at once"));
    }
    let devices = state
        .store
        .read(move |c| -> Result<_, StoreError> {
            let mut ids = Vec::new();
            for n in &names {
                if let Some(u) = users::by_name(c, &n.to_ascii_lowercase())? {
                    ids.push(u.id);
                }
            }
            e2e::devices_of(c, &ids)
        })
        .await?;
    Ok(Devices { devices })
}

/// `GET /api/rooms/{id}/devices`: every device of the room's members,
/// for members.
pub async fn room_devices(
    state: &AppState,
    session: &Session,
    room: RoomId,
) -> Result<Devices, ActionError> {
    let user = session.user.id;
    let devices = state
        .store
        .read(move |c| -> Result<_, ActionError> {
            require_member(rooms::access(c, room, user)?)?;
            Ok(e2e::room_devices(c, room)?)
        })
        .await?;
    Ok(Devices { devices })
}

/// `POST /api/keys/claim`: one key of each device, each handed out once.
pub async fn claim(state: &AppState, devices: Vec<DeviceId>) -> Result<KeysClaimed, ActionError> {
    if devices.len() > MAX_LOOKUP {
        return Err(ActionError::BadRequest("at most 1000 devices at once"));
    }
    let keys = state
        .store
        .write(move |tx| e2e::claim(tx, &devices))
        .await?;
    Ok(KeysClaimed { keys })
}

/// `POST /api/to_device`: queues each message for its device and tells
/// the device's connections. A message that carries a room key is
/// accepted only from a member of an encrypted room, for the device of a
/// member, and recorded as that device's share of the key.
pub async fn send(
    state: &AppState,
    session: &Session,
    messages: Vec<ToDeviceOut>,
) -> Result<usize, ActionError> {
    if messages.len() > MAX_TO_DEVICE {
        return Err(ActionError::BadRequest("at most 1000 messages at once"));
    }
    for m in &messages {
        if m.body.is_empty() || m.body.len() > MAX_TO_DEVICE_BODY {
            return Err(ActionError::BadRequest(
                "a to-device body is 1 to 8192 bytes",
            ));
        }
        if let Some(k) = &m.room_key {
            validate_key(&k.session, "session")?;
        }
    }
    let (sender, user) = (DeviceId(session.id.0), session.user.id);
    let now = Timestamp::now().0;
    let count = messages.len();
    let to = state
        .store
        .write(move |tx| -> Result<_, ActionError> {
            if e2e::device(tx, sender)?.is_none() {
                return Err(ActionError::BadRequest("publish this device's keys first"));
            }
            let mut to = Vec::with_capacity(messages.len());
            for m in &messages {
                let Some(owner) = e2e::owner(tx, m.device)? else {
                    return Err(ActionError::NotFound("no such device"));
                };
                if let Some(k) = &m.room_key {
                    check_room_key(tx, k.room, user, owner)?;
                    e2e::record_share(tx, k.room, &k.session, sender, m.device)?;
                }
                if waiting(tx, m.device)? >= MAX_PENDING {
                    return Err(ActionError::Conflict(format!(
                        "device {} has too many messages waiting",
                        m.device
                    )));
                }
                e2e::queue(tx, m.device, user, sender, &m.body, now)?;
                to.push(SessionId(m.device.0));
            }
            Ok(to)
        })
        .await?;
    let mut to = to;
    to.sort();
    to.dedup();
    state.hub.poke_devices(&to);
    crate::metrics::add(&state.metrics.to_device_total, count as u64);
    Ok(count)
}

fn waiting(tx: &Db<'_>, device: DeviceId) -> Result<u64, StoreError> {
    tx.query_row(
        "SELECT COUNT(*) FROM to_device WHERE device_id = ?1",
        [device.0],
        |r| r.get(0),
    )
}

/// A room key goes from a member of an encrypted room to a member's device.
fn check_room_key(
    tx: &Db<'_>,
    room: RoomId,
    sender: securechat_proto::UserId,
    owner: securechat_proto::UserId,
) -> Result<(), ActionError> {
    require_member(rooms::access(tx, room, sender)?)?;
    if !e2e::room_encrypted(tx, room)? {
        return Err(ActionError::BadRequest(
            "this conversation is not encrypted",
        ));
    }
    if rooms::access(tx, room, owner)? != rooms::Access::Member {
        return Err(ActionError::BadRequest(
            "a room key goes only to the devices of the room's members",
        ));
    }
    Ok(())
}

/// `DELETE /api/devices/{id}`: removes one of the caller's devices (ends
/// that session and closes its connections). Senders then start new room
/// keys, which it never gets.
pub async fn remove(
    state: &AppState,
    session: &Session,
    device: DeviceId,
) -> Result<(), ActionError> {
    let user = session.user.id;
    let sid = SessionId(device.0);
    state
        .store
        .write(move |tx| -> Result<_, ActionError> {
            match e2e::owner(tx, device)? {
                Some(owner) if owner == user => {}
                _ => return Err(ActionError::NotFound("no such device")),
            }
            sessions::delete(tx, sid)?;
            Ok(())
        })
        .await?;
    state.hub.close_sessions(&[sid], Close::SESSION_ENDED);
    tracing::info!(user = %user, device = %device, "device removed");
    Ok(())
}

/// Most room keys added to a backup in one request.
pub const MAX_BACKUP_BATCH: usize = 1000;

/// `GET /api/keys/backup`: the caller's backup (their own only).
pub async fn backup(state: &AppState, session: &Session) -> Result<KeyBackup, ActionError> {
    let user = session.user.id;
    Ok(state.store.read(move |c| e2e::backup(c, user)).await?)
}

/// `PUT /api/keys/backup/info`: starts a new backup (a new recovery key);
/// what the old one held is dropped. `DELETE /api/keys/backup` passes
/// `None`: no backup.
pub async fn reset_backup(
    state: &AppState,
    session: &Session,
    info: Option<BackupInfo>,
) -> Result<(), ActionError> {
    if let Some(i) = &info {
        validate_key(&i.check, "check")?;
        if let Some(salt) = &i.salt {
            validate_key(salt, "salt")?;
        }
    }
    let user = session.user.id;
    state
        .store
        .write(move |tx| e2e::reset_backup(tx, user, info.as_ref()))
        .await?;
    tracing::info!(user = %user, "key backup replaced");
    Ok(())
}

/// `PUT /api/keys/backup`: adds sealed room keys; returns how many were
/// new.
pub async fn add_to_backup(
    state: &AppState,
    session: &Session,
    keys: Vec<BackupEntry>,
) -> Result<usize, ActionError> {
    if keys.len() > MAX_BACKUP_BATCH {
        return Err(ActionError::BadRequest("at most 1000 keys at once"));
    }
    for k in &keys {
        validate_key(&k.session, "session")?;
        if k.data.is_empty()
            || k.data.len() > MAX_TO_DEVICE_BODY
            || !k
                .data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        {
            return Err(ActionError::BadRequest(
                "a backed-up key is 1 to 8192 characters of base64",
            ));
        }
    }
    let user = session.user.id;
    state
        .store
        .write(move |tx| e2e::add_to_backup(tx, user, &keys))
        .await?
        .ok_or(ActionError::Conflict(
            "no key backup: start one first".into(),
        ))
}

/// `POST /api/keys/report`: a client counts messages it could not open
/// (for `/metrics`; at most 1000 a report).
pub fn report_undecryptable(state: &AppState, count: u64) -> Result<(), ActionError> {
    if count > 1000 {
        return Err(ActionError::BadRequest("at most 1000 at once"));
    }
    crate::metrics::add(&state.metrics.undecryptable_total, count);
    if count > 0 {
        tracing::warn!(count, "a client could not decrypt messages");
    }
    Ok(())
}

/// `GET /api/to_device?after=N`: this device's waiting messages after `N`
/// (at most 200), for a client that is not connected.
pub async fn pending(
    state: &AppState,
    session: &Session,
    after: u64,
) -> Result<Vec<securechat_proto::e2e::ToDeviceEvent>, ActionError> {
    let device = DeviceId(session.id.0);
    Ok(state
        .store
        .read(move |c| e2e::pending(c, device, after, 200))
        .await?)
}

/// `POST /api/to_device/ack`: forgets this device's messages up to `upto`.
pub async fn ack(state: &AppState, session: &Session, upto: u64) -> Result<(), ActionError> {
    let device = DeviceId(session.id.0);
    state
        .store
        .write(move |tx| e2e::ack(tx, device, upto))
        .await?;
    Ok(())
}
