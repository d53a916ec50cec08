//! Server-side key backup: every room key a device holds, sealed with the
//! user's recovery key, so a new device (or a reinstalled browser) reads
//! the old history once the user types the key (or a passphrase) in.
//!
//! - The recovery key is 32 random bytes, shown as 52 Crockford base32
//!   characters in groups of four; a passphrase becomes one through
//!   Argon2id (19 MiB, 2 passes) with a random salt kept on the server.
//! - Each room key is exported at the first message index known and sealed
//!   with XChaCha20-Poly1305 (RustCrypto's audited `chacha20poly1305`),
//!   a random 24-byte nonce, and the room and session ids as associated
//!   data, so the server cannot move an entry to another room.
//! - [`BackupInfo::check`] seals a fixed text: a mistyped key is told apart
//!   from a damaged backup before anything is restored.

use crate::Error;
use crate::machine::{Inbound, Machine};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use securechat_proto::e2e::{BackupEntry, BackupInfo};
use securechat_proto::{DeviceId, RoomId};
use serde::{Deserialize, Serialize};
use vodozemac::megolm::{ExportedSessionKey, InboundGroupSession, SessionConfig};

const CHECK_TEXT: &[u8] = b"securechat-recovery-check-v1";
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The key that seals a user's backup.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryKey([u8; 32]);

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(…)")
    }
}

impl RecoveryKey {
    /// A new random key.
    pub fn generate() -> Result<RecoveryKey, Error> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| Error::format("randomness", e))?;
        Ok(RecoveryKey(k))
    }

    /// The key of a passphrase with the backup's salt (Argon2id).
    pub fn from_passphrase(passphrase: &str, salt: &str) -> Result<RecoveryKey, Error> {
        let params = Params::new(19 * 1024, 2, 1, Some(32))
            .map_err(|e| Error::format("Argon2 parameters", e))?;
        let mut k = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), salt.as_bytes(), &mut k)
            .map_err(|e| Error::format("passphrase", e))?;
        Ok(RecoveryKey(k))
    }

    /// A new random salt for [`from_passphrase`](Self::from_passphrase).
    pub fn new_salt() -> Result<String, Error> {
        let mut s = [0u8; 16];
        getrandom::fill(&mut s).map_err(|e| Error::format("randomness", e))?;
        Ok(vodozemac::base64_encode(s))
    }

    /// The key as people write it down: 52 characters in groups of four.
    pub fn to_display(&self) -> String {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = String::new();
        for &b in &self.0 {
            bits = (bits << 8) | b as u32;
            n += 8;
            while n >= 5 {
                n -= 5;
                out.push(ALPHABET[((bits >> n) & 31) as usize] as char);
            }
        }
        if n > 0 {
            out.push(ALPHABET[((bits << (5 - n)) & 31) as usize] as char);
        }
        out.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("ASCII"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads a key as typed: spaces and dashes ignored, case-insensitive,
    /// `O` read as `0` and `I`/`L` as `1`.
    pub fn parse(typed: &str) -> Result<RecoveryKey, Error> {
        let bad = || Error::Format("recovery key: 52 characters of 0-9 and A-Z".into());
        let mut bits = 0u64;
        let mut n = 0;
        let mut out = Vec::with_capacity(33);
        for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            let v = ALPHABET
                .iter()
                .position(|&a| a as char == c)
                .ok_or_else(bad)? as u64;
            bits = (bits << 5) | v;
            n += 5;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        <[u8; 32]>::try_from(out.as_slice())
            .map(RecoveryKey)
            .map_err(|_| bad())
    }

    fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, Error> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| Error::format("randomness", e))?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
            .map_err(|_| Error::Decrypt("cannot seal".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(vodozemac::base64_encode(out))
    }

    fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, Error> {
        let raw = vodozemac::base64_decode(sealed).map_err(|e| Error::format("backup", e))?;
        if raw.len() < 24 {
            return Err(Error::Format("backup entry too short".into()));
        }
        let (nonce, body) = raw.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| Error::Format("backup nonce".into()))?;
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(&nonce, Payload { msg: body, aad })
            .map_err(|_| Error::Decrypt("wrong recovery key, or a damaged backup".into()))
    }

    /// What the server keeps about a new backup made with this key
    /// (`salt` when it came from a passphrase).
    pub fn info(&self, salt: Option<String>) -> Result<BackupInfo, Error> {
        Ok(BackupInfo {
            salt,
            check: self.seal(CHECK_TEXT, b"check")?,
        })
    }

    /// Whether this is the key the backup of `info` was made with.
    pub fn matches(&self, info: &BackupInfo) -> bool {
        self.open(&info.check, b"check")
            .is_ok_and(|t| t == CHECK_TEXT)
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    sender: String,
    sender_device: DeviceId,
    key: String,
}

fn aad(room: RoomId, session: &str) -> Vec<u8> {
    format!("securechat-backup-v1\n{room}\n{session}").into_bytes()
}

impl Machine {
    /// Seals every room key this device holds that is not in `skip` (the
    /// ones already backed up), for `PUT /api/keys/backup`.
    pub fn backup_entries(
        &self,
        key: &RecoveryKey,
        skip: &std::collections::HashSet<(RoomId, String)>,
    ) -> Result<Vec<BackupEntry>, Error> {
        let mut out = Vec::new();
        for ((room, session), i) in &self.inbound {
            if skip.contains(&(*room, session.clone())) {
                continue;
            }
            let sealed = Sealed {
                sender: i.sender.clone(),
                sender_device: i.sender_device,
                key: i.session.export_at_first_known_index().to_base64(),
            };
            let plain = serde_json::to_vec(&sealed).map_err(|e| Error::format("backup", e))?;
            out.push(BackupEntry {
                room: *room,
                session: session.clone(),
                data: key.seal(&plain, &aad(*room, session))?,
            });
        }
        Ok(out)
    }

    /// Installs the room keys of a backup (keys held already stay);
    /// returns how many were new. A wrong key fails before anything is
    /// installed.
    pub fn restore(
        &mut self,
        key: &RecoveryKey,
        info: &BackupInfo,
        entries: &[BackupEntry],
    ) -> Result<usize, Error> {
        if !key.matches(info) {
            return Err(Error::Decrypt("wrong recovery key".into()));
        }
        let mut added = 0;
        for e in entries {
            let plain = key.open(&e.data, &aad(e.room, &e.session))?;
            let sealed: Sealed =
                serde_json::from_slice(&plain).map_err(|e| Error::format("backup", e))?;
            let exported = ExportedSessionKey::from_base64(&sealed.key)
                .map_err(|e| Error::format("backup key", e))?;
            let session = InboundGroupSession::import(&exported, SessionConfig::version_1());
            if session.session_id() != e.session {
                return Err(Error::Misdirected("another session"));
            }
            let slot = (e.room, e.session.clone());
            if let std::collections::hash_map::Entry::Vacant(v) = self.inbound.entry(slot) {
                v.insert(Inbound {
                    session,
                    sender: sealed.sender,
                    sender_device: sealed.sender_device,
                });
                added += 1;
            }
        }
        Ok(added)
    }
}
