//! End-to-end encryption on the wire: device keys, one-time keys,
//! device-to-device (to-device) messages and encrypted room content.
//!
//! The server stores and relays all of these without being able to read
//! them: keys are public halves, bodies are Olm or Megolm ciphertext made
//! and read by the clients (`securechat-crypto`). What the server must see
//! to route is in the clear: which device a to-device message is for, and
//! which room and Megolm session a room key belongs to (so it can refuse a
//! send whose key has not reached every device of the room).

use crate::{DeviceId, RoomId};
use serde::{Deserialize, Serialize};

/// A device's public identity keys, signed by its own Ed25519 key over
/// [`DeviceKeys::signed_text`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeys {
    /// The owner's username.
    pub user: String,
    pub device: DeviceId,
    /// Unpadded base64 Curve25519 public key (Olm identity key).
    pub curve25519: String,
    /// Unpadded base64 Ed25519 public key (signing key).
    pub ed25519: String,
    /// Unpadded base64 Ed25519 signature of [`DeviceKeys::signed_text`].
    pub signature: String,
}

impl DeviceKeys {
    /// The exact bytes a device signs: a version tag, then the owner, the
    /// device id and both keys, one per line.
    pub fn signed_text(user: &str, device: DeviceId, curve25519: &str, ed25519: &str) -> String {
        format!("securechat-device-keys-v1\n{user}\n{device}\n{curve25519}\n{ed25519}")
    }
}

/// A one-time (or fallback) Curve25519 key, signed by the device's Ed25519
/// key over [`OneTimeKey::signed_text`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeKey {
    /// The key's id, unique per device (as vodozemac names it).
    pub key_id: String,
    /// Unpadded base64 Curve25519 public key.
    pub key: String,
    pub signature: String,
}

impl OneTimeKey {
    /// The exact bytes a device signs for one of its one-time keys.
    pub fn signed_text(user: &str, device: DeviceId, key_id: &str, key: &str) -> String {
        format!("securechat-one-time-key-v1\n{user}\n{device}\n{key_id}\n{key}")
    }
}

/// `POST /api/keys`: publish this session's device keys (once; the same
/// keys again are fine, different ones are 409) and more one-time keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysUpload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_keys: Option<DeviceKeys>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_time_keys: Vec<OneTimeKey>,
    /// Handed out when the one-time keys run out; replaces the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_key: Option<OneTimeKey>,
}

/// Answer to `POST /api/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysUploaded {
    pub device: DeviceId,
    /// Unclaimed one-time keys the server now holds for this device.
    pub one_time_keys: u64,
}

/// A list of devices (`GET /api/devices`, `POST /api/keys/query`,
/// `GET /api/rooms/{id}/devices`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devices {
    pub devices: Vec<DeviceKeys>,
}

/// `POST /api/keys/query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysQuery {
    pub users: Vec<String>,
}

/// `POST /api/keys/claim`: one key of each device, each handed out once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysClaim {
    pub devices: Vec<DeviceId>,
}

/// A claimed key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedKey {
    pub device: DeviceId,
    pub key: OneTimeKey,
    /// The device's fallback key (it had no one-time key left).
    #[serde(default)]
    pub fallback: bool,
}

/// Answer to `POST /api/keys/claim` (devices with no key at all are left
/// out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysClaimed {
    pub keys: Vec<ClaimedKey>,
}

/// Names the room key a to-device message carries, so the server can
/// check that a room's key reached every device before it stores
/// messages encrypted with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoomKeyRef {
    pub room: RoomId,
    /// The Megolm session id.
    pub session: String,
}

/// One device-to-device message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToDeviceOut {
    pub device: DeviceId,
    /// Olm ciphertext, opaque to the server.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_key: Option<RoomKeyRef>,
}

/// `POST /api/to_device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToDeviceSend {
    pub messages: Vec<ToDeviceOut>,
}

/// A device-to-device message, delivered on the recipient device's
/// connections as `{"type":"to_device", …}` until it acks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToDeviceEvent {
    /// Numbers the recipient device's messages 1, 2, 3, … with no gaps,
    /// in the order they were stored; ack with `to_device_ack`.
    pub id: u64,
    pub from: String,
    pub from_device: DeviceId,
    pub body: String,
}

/// The encrypted content of a room message or edit: Megolm ciphertext of
/// the JSON [`Plaintext`], made by `device` with Megolm session `session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encrypted {
    pub device: DeviceId,
    pub session: String,
    pub ciphertext: String,
}

impl Encrypted {
    /// Most bytes of ciphertext for a body of `max_body` bytes: base64 of
    /// the JSON plaintext (a valid body at most doubles when escaped: no
    /// control characters), its padding, MAC and signature.
    pub fn max_ciphertext(max_body: usize) -> usize {
        (max_body * 2 + 256) * 4 / 3 + 64
    }
}

/// What an encrypted message decrypts to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plaintext {
    /// The room it was sent to (a ciphertext replayed elsewhere fails).
    pub room: RoomId,
    pub body: String,
    /// The file this message carries (uploaded as ciphertext; the
    /// message's `file` names it), and how to open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileSecrets>,
}

/// How to open an encrypted file: its real name, media type and size, the
/// XChaCha20-Poly1305 key and nonce it was sealed with (unpadded base64)
/// and the SHA-256 of the ciphertext (lowercase hex), checked before
/// opening.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSecrets {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub key: String,
    pub nonce: String,
    pub sha256: String,
}

/// What the server keeps about a user's key backup: the passphrase's
/// Argon2id salt (when the key came from one) and a sealed check text
/// that tells a right recovery key from a wrong one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub check: String,
}

/// One room key in the backup, sealed with the recovery key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    pub room: RoomId,
    pub session: String,
    pub data: String,
}

/// `GET /api/keys/backup` (the whole backup) and `PUT /api/keys/backup`
/// (more keys; `info` left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBackup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<BackupInfo>,
    #[serde(default)]
    pub keys: Vec<BackupEntry>,
}

/// `POST /api/keys/report`: messages this client could not open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub undecryptable: u64,
}
