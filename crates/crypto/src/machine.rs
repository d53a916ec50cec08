//! One device's end-to-end state, and what it does to send and receive.
//!
//! Sending in an encrypted room: [`Machine::plan_share`] with the room's
//! current devices (from the server) says whether our Megolm session must
//! be replaced (a device that had its key is gone) and which devices still
//! need it, and which of those need a one-time key for a first Olm
//! session; [`Machine::share`] makes the to-device messages; then
//! [`Machine::encrypt`]. The server refuses (`keys_outdated`) a message
//! whose key has not reached every current device, so a client that
//! follows this loop never leaves anyone unable to decrypt.
//!
//! Receiving: [`Machine::receive_to_device`] opens an Olm message and
//! installs the room key it carries; [`Machine::decrypt`] opens a room
//! message with the key its sender shared.

use crate::Error;
use crate::keys::{self, curve25519};
use securechat_proto::e2e::{
    ClaimedKey, DeviceKeys, Encrypted, FileSecrets, OneTimeKey, Plaintext, RoomKeyRef,
    ToDeviceEvent, ToDeviceOut,
};
use securechat_proto::{DeviceId, RoomId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vodozemac::megolm::{
    GroupSession, InboundGroupSession, MegolmMessage, SessionConfig, SessionKey,
};
use vodozemac::olm::{self, Account, OlmMessage, SessionConfig as OlmConfig};

/// A device's keys and sessions.
pub struct Machine {
    pub(crate) user: String,
    pub(crate) device: DeviceId,
    pub(crate) account: Account,
    /// Olm sessions with other devices, by their Curve25519 key, newest
    /// last.
    pub(crate) olm: HashMap<String, Vec<olm::Session>>,
    /// Our Megolm session per room, and the devices it was shared with.
    pub(crate) outbound: HashMap<RoomId, Outbound>,
    /// Every sender's Megolm sessions we hold, by room and session id.
    pub(crate) inbound: HashMap<(RoomId, String), Inbound>,
    /// Every device seen, as first seen (trust on first use).
    pub(crate) known: BTreeMap<DeviceId, DeviceKeys>,
    /// Devices the user verified by comparing safety codes.
    pub(crate) verified: BTreeSet<DeviceId>,
    /// Highest to-device id handled (a redelivery is skipped).
    pub(crate) to_device_done: u64,
}

pub(crate) struct Outbound {
    pub(crate) session: GroupSession,
    pub(crate) shared: BTreeSet<DeviceId>,
}

pub(crate) struct Inbound {
    pub(crate) session: InboundGroupSession,
    pub(crate) sender: String,
    pub(crate) sender_device: DeviceId,
}

/// What a device list told us about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// First seen now.
    New(DeviceKeys),
    /// Seen before with other keys: someone (the server?) replaced them.
    /// Show it loudly; the new keys are not used until the user accepts.
    Changed { old: DeviceKeys, new: DeviceKeys },
}

/// What to do before sending in a room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharePlan {
    /// A device that had our key is no longer in the room: a new session
    /// was started (already done when this is returned).
    pub rotated: bool,
    /// Devices that still need the room key.
    pub targets: Vec<DeviceKeys>,
    /// Of those, the ones we have no Olm session with: claim a one-time
    /// key for each.
    pub claim: Vec<DeviceId>,
    /// Devices left out: bad signature, or keys changed since first seen.
    pub refused: Vec<Trust>,
}

/// A to-device message, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Delivered before; nothing done.
    Duplicate,
    /// A room key, now installed.
    RoomKey { key: RoomKeyRef, from: String },
}

/// A room message, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub body: String,
    /// The file the message carries, and how to open it.
    pub file: Option<FileSecrets>,
    pub sender_device: DeviceId,
    /// Whether the user verified the sending device.
    pub verified: bool,
}

/// What travels inside an Olm message.
#[derive(Serialize, Deserialize)]
struct OlmPayload {
    sender: String,
    sender_device: DeviceId,
    recipient: String,
    recipient_device: DeviceId,
    /// The recipient's Ed25519 key, as the sender knows it.
    recipient_ed25519: String,
    #[serde(flatten)]
    content: Content,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Content {
    RoomKey {
        room: RoomId,
        session: String,
        key: String,
    },
}

/// A to-device body: who made it (Curve25519) and the Olm message.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    sender_key: String,
    #[serde(rename = "type")]
    kind: usize,
    body: String,
}

impl Machine {
    /// A new device with fresh identity keys.
    pub fn new(user: &str, device: DeviceId) -> Machine {
        Machine {
            user: user.to_owned(),
            device,
            account: Account::new(),
            olm: HashMap::new(),
            outbound: HashMap::new(),
            inbound: HashMap::new(),
            known: BTreeMap::new(),
            verified: BTreeSet::new(),
            to_device_done: 0,
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// Our device keys, signed, to publish.
    pub fn device_keys(&self) -> DeviceKeys {
        let ids = self.account.identity_keys();
        let (curve, ed) = (ids.curve25519.to_base64(), ids.ed25519.to_base64());
        let text = DeviceKeys::signed_text(&self.user, self.device, &curve, &ed);
        DeviceKeys {
            user: self.user.clone(),
            device: self.device,
            signature: self.account.sign(text.as_bytes()).to_base64(),
            curve25519: curve,
            ed25519: ed,
        }
    }

    /// Makes `count` new one-time keys (and a fallback key when there is
    /// none), signed, to publish; then counts them as published.
    pub fn new_one_time_keys(&mut self, count: usize) -> (Vec<OneTimeKey>, Option<OneTimeKey>) {
        self.account.generate_one_time_keys(count);
        let fresh = self.account.fallback_key().is_empty();
        if fresh {
            self.account.generate_fallback_key();
        }
        let sign = |id: String, key: String| {
            let text = OneTimeKey::signed_text(&self.user, self.device, &id, &key);
            OneTimeKey {
                signature: self.account.sign(text.as_bytes()).to_base64(),
                key_id: id,
                key,
            }
        };
        let mut otks: Vec<OneTimeKey> = self
            .account
            .one_time_keys()
            .into_iter()
            .map(|(id, k)| sign(id.to_base64(), k.to_base64()))
            .collect();
        otks.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        let fallback = fresh
            .then(|| self.account.fallback_key().into_iter().next())
            .flatten()
            .map(|(id, k)| sign(id.to_base64(), k.to_base64()));
        self.account.mark_keys_as_published();
        (otks, fallback)
    }

    /// Records the devices in a list from the server: checks each
    /// signature and compares with what was seen before. Returns what is
    /// new or changed; a changed device keeps its first keys.
    pub fn observe(&mut self, devices: &[DeviceKeys]) -> Vec<Trust> {
        let mut news = Vec::new();
        for d in devices {
            if keys::verify_device(d).is_err() {
                continue;
            }
            match self.known.get(&d.device) {
                Some(old) if keys::same_device(old, d) => {}
                Some(old) => news.push(Trust::Changed {
                    old: old.clone(),
                    new: d.clone(),
                }),
                None => {
                    self.known.insert(d.device, d.clone());
                    news.push(Trust::New(d.clone()));
                }
            }
        }
        news
    }

    /// The keys first seen for `device`, if any.
    pub fn known_device(&self, device: DeviceId) -> Option<&DeviceKeys> {
        self.known.get(&device)
    }

    /// Marks a device verified (the user compared safety codes).
    pub fn set_verified(&mut self, device: DeviceId, verified: bool) {
        if verified {
            self.verified.insert(device);
        } else {
            self.verified.remove(&device);
        }
    }

    pub fn is_verified(&self, device: DeviceId) -> bool {
        self.verified.contains(&device)
    }

    /// Decides what to share before sending in `room`, whose members'
    /// devices are `devices` (ours included or not). Starts a new Megolm
    /// session when there is none or a device that had the key is gone.
    pub fn plan_share(&mut self, room: RoomId, devices: &[DeviceKeys]) -> SharePlan {
        let mut plan = SharePlan::default();
        let mut current = Vec::new();
        let me = self.device;
        for d in devices.iter().filter(|d| d.device != me) {
            match self.trusted(d) {
                Ok(()) => current.push(d.clone()),
                Err(t) => plan.refused.push(*t),
            }
        }
        let ids: BTreeSet<DeviceId> = current.iter().map(|d| d.device).collect();
        let stale = self
            .outbound
            .get(&room)
            .is_some_and(|o| !o.shared.is_subset(&ids));
        if stale || !self.outbound.contains_key(&room) {
            plan.rotated = stale;
            self.rotate(room);
        }
        let shared = &self.outbound[&room].shared;
        plan.targets = current
            .into_iter()
            .filter(|d| !shared.contains(&d.device))
            .collect();
        plan.claim = plan
            .targets
            .iter()
            .filter(|d| self.olm.get(&d.curve25519).is_none_or(|s| s.is_empty()))
            .map(|d| d.device)
            .collect();
        plan
    }

    /// Checks a device's signature and that its keys are the ones first
    /// seen (recording them if new).
    fn trusted(&mut self, d: &DeviceKeys) -> Result<(), Box<Trust>> {
        if keys::verify_device(d).is_err() {
            return Err(Box::new(Trust::New(d.clone())));
        }
        match self.known.get(&d.device) {
            Some(old) if keys::same_device(old, d) => Ok(()),
            Some(old) => Err(Box::new(Trust::Changed {
                old: old.clone(),
                new: d.clone(),
            })),
            None => {
                self.known.insert(d.device, d.clone());
                Ok(())
            }
        }
    }

    /// Starts a new Megolm session for `room` (after a member left, or on
    /// demand); it is shared with nobody yet.
    pub fn rotate(&mut self, room: RoomId) {
        let session = GroupSession::new(SessionConfig::version_1());
        let inbound = InboundGroupSession::new(&session.session_key(), SessionConfig::version_1());
        self.inbound.insert(
            (room, session.session_id()),
            Inbound {
                session: inbound,
                sender: self.user.clone(),
                sender_device: self.device,
            },
        );
        self.outbound.insert(
            room,
            Outbound {
                session,
                shared: BTreeSet::new(),
            },
        );
    }

    /// The to-device messages that give `targets` our key for `room`,
    /// using `claimed` one-time keys for devices we have no Olm session
    /// with. A target with neither is skipped (the server will say it is
    /// still missing). Once the server has taken them, call
    /// [`confirm_shared`](Self::confirm_shared): until then the devices
    /// count as lacking the key, so a share lost on the way is made again.
    pub fn share(
        &mut self,
        room: RoomId,
        targets: &[DeviceKeys],
        claimed: &[ClaimedKey],
    ) -> Result<Vec<ToDeviceOut>, Error> {
        if !self.outbound.contains_key(&room) {
            self.rotate(room);
        }
        let (session, key) = {
            let o = &self.outbound[&room];
            (o.session.session_id(), o.session.session_key().to_base64())
        };
        let mut out = Vec::new();
        for target in targets {
            let claimed = claimed.iter().find(|c| c.device == target.device);
            let content = Content::RoomKey {
                room,
                session: session.clone(),
                key: key.clone(),
            };
            let Some(body) = self.olm_encrypt(target, claimed, content)? else {
                continue;
            };
            out.push(ToDeviceOut {
                device: target.device,
                body,
                room_key: Some(RoomKeyRef {
                    room,
                    session: session.clone(),
                }),
            });
        }
        Ok(out)
    }

    /// Records that the server took these shares of our key for `room`
    /// (the messages [`share`](Self::share) made).
    pub fn confirm_shared(&mut self, room: RoomId, sent: &[ToDeviceOut]) {
        let Some(o) = self.outbound.get_mut(&room) else {
            return;
        };
        let session = o.session.session_id();
        for m in sent {
            if m.room_key
                .as_ref()
                .is_some_and(|k| k.room == room && k.session == session)
            {
                o.shared.insert(m.device);
            }
        }
    }

    fn olm_encrypt(
        &mut self,
        target: &DeviceKeys,
        claimed: Option<&ClaimedKey>,
        content: Content,
    ) -> Result<Option<String>, Error> {
        let has_session = self
            .olm
            .get(&target.curve25519)
            .is_some_and(|s| !s.is_empty());
        if !has_session {
            let Some(claimed) = claimed else {
                return Ok(None);
            };
            let otk = keys::verify_one_time_key(target, &claimed.key)?;
            let identity = curve25519(&target.curve25519)?;
            let session = self
                .account
                .create_outbound_session(OlmConfig::version_1(), identity, otk)
                .map_err(|e| Error::format("one-time key", e))?;
            self.olm
                .entry(target.curve25519.clone())
                .or_default()
                .push(session);
        }
        let payload = OlmPayload {
            sender: self.user.clone(),
            sender_device: self.device,
            recipient: target.user.clone(),
            recipient_device: target.device,
            recipient_ed25519: target.ed25519.clone(),
            content,
        };
        let plain = serde_json::to_vec(&payload).map_err(|e| Error::format("payload", e))?;
        let session = self
            .olm
            .get_mut(&target.curve25519)
            .and_then(|s| s.last_mut())
            .ok_or(Error::Decrypt("no Olm session".into()))?;
        let message = session
            .encrypt(&plain)
            .map_err(|e| Error::format("Olm", e))?;
        let (kind, bytes) = message.to_parts();
        let wrapped = Wrapped {
            sender_key: self.account.curve25519_key().to_base64(),
            kind,
            body: vodozemac::base64_encode(bytes),
        };
        Ok(Some(
            serde_json::to_string(&wrapped).map_err(|e| Error::format("wrapper", e))?,
        ))
    }

    /// Encrypts a message for `room` with our current session (share it
    /// first: see [`plan_share`](Self::plan_share)).
    pub fn encrypt(&mut self, room: RoomId, body: &str) -> Result<Encrypted, Error> {
        self.encrypt_with_file(room, body, None)
    }

    /// Encrypts a message that carries a file sealed with
    /// [`encrypt_file`](crate::encrypt_file) (its secrets ride inside).
    pub fn encrypt_with_file(
        &mut self,
        room: RoomId,
        body: &str,
        file: Option<FileSecrets>,
    ) -> Result<Encrypted, Error> {
        if !self.outbound.contains_key(&room) {
            self.rotate(room);
        }
        let plain = serde_json::to_vec(&Plaintext {
            room,
            body: body.to_owned(),
            file,
        })
        .map_err(|e| Error::format("plaintext", e))?;
        let o = self.outbound.get_mut(&room).ok_or(Error::UnknownSession)?;
        let ciphertext = o.session.encrypt(plain).to_base64();
        Ok(Encrypted {
            device: self.device,
            session: o.session.session_id(),
            ciphertext,
        })
    }

    /// Opens a to-device message. `sender` must be the sending device's
    /// keys as listed by the server (see [`Error::UnknownDevice`]). A
    /// message at or below the last handled id is a redelivery and is
    /// skipped; any other outcome counts the message as handled.
    pub fn receive_to_device(&mut self, ev: &ToDeviceEvent) -> Result<Received, Error> {
        if ev.id <= self.to_device_done {
            return Ok(Received::Duplicate);
        }
        let sender = match self.known.get(&ev.from_device) {
            Some(s) if s.user == ev.from => s.clone(),
            _ => return Err(Error::UnknownDevice(ev.from_device)),
        };
        self.to_device_done = ev.id;
        let wrapped: Wrapped =
            serde_json::from_str(&ev.body).map_err(|e| Error::format("to-device body", e))?;
        if wrapped.sender_key != sender.curve25519 {
            return Err(Error::WrongSender);
        }
        let bytes =
            vodozemac::base64_decode(&wrapped.body).map_err(|e| Error::format("base64", e))?;
        let message =
            OlmMessage::from_parts(wrapped.kind, &bytes).map_err(|e| Error::format("Olm", e))?;
        let plain = self.olm_decrypt(&sender, &message)?;
        let payload: OlmPayload =
            serde_json::from_slice(&plain).map_err(|e| Error::format("payload", e))?;
        if payload.sender != sender.user || payload.sender_device != sender.device {
            return Err(Error::WrongSender);
        }
        let me = self.device_keys();
        if payload.recipient != me.user
            || payload.recipient_device != me.device
            || payload.recipient_ed25519 != me.ed25519
        {
            return Err(Error::Misdirected("another device"));
        }
        match payload.content {
            Content::RoomKey { room, session, key } => {
                let key =
                    SessionKey::from_base64(&key).map_err(|e| Error::format("room key", e))?;
                let inbound = InboundGroupSession::new(&key, SessionConfig::version_1());
                if inbound.session_id() != session {
                    return Err(Error::Misdirected("another session"));
                }
                // A key we hold already (from an earlier share) stays: a
                // later share may start at a later message.
                self.inbound
                    .entry((room, session.clone()))
                    .or_insert(Inbound {
                        session: inbound,
                        sender: sender.user.clone(),
                        sender_device: sender.device,
                    });
                Ok(Received::RoomKey {
                    key: RoomKeyRef { room, session },
                    from: sender.user,
                })
            }
        }
    }

    fn olm_decrypt(&mut self, sender: &DeviceKeys, message: &OlmMessage) -> Result<Vec<u8>, Error> {
        if let Some(sessions) = self.olm.get_mut(&sender.curve25519) {
            for s in sessions.iter_mut().rev() {
                if let Ok(plain) = s.decrypt(message) {
                    return Ok(plain);
                }
            }
        }
        let OlmMessage::PreKey(pre) = message else {
            return Err(Error::Decrypt("no Olm session for this message".into()));
        };
        let identity = curve25519(&sender.curve25519)?;
        let created = self
            .account
            .create_inbound_session(OlmConfig::version_1(), identity, pre)
            .map_err(|e| Error::Decrypt(e.to_string()))?;
        self.olm
            .entry(sender.curve25519.clone())
            .or_default()
            .push(created.session);
        Ok(created.plaintext)
    }

    /// Opens a message `from` sent in `room`.
    pub fn decrypt(
        &mut self,
        room: RoomId,
        from: &str,
        enc: &Encrypted,
    ) -> Result<Decrypted, Error> {
        let inbound = self
            .inbound
            .get_mut(&(room, enc.session.clone()))
            .ok_or(Error::UnknownSession)?;
        if inbound.sender != from || inbound.sender_device != enc.device {
            return Err(Error::WrongSender);
        }
        let message =
            MegolmMessage::from_base64(&enc.ciphertext).map_err(|e| Error::format("Megolm", e))?;
        let opened = inbound
            .session
            .decrypt(&message)
            .map_err(|e| Error::Decrypt(e.to_string()))?;
        let plain: Plaintext =
            serde_json::from_slice(&opened.plaintext).map_err(|e| Error::format("plaintext", e))?;
        if plain.room != room {
            return Err(Error::Misdirected("another room"));
        }
        Ok(Decrypted {
            body: plain.body,
            file: plain.file,
            sender_device: enc.device,
            verified: self.verified.contains(&enc.device),
        })
    }

    /// Whether we hold the key of this room session.
    pub fn has_session(&self, room: RoomId, session: &str) -> bool {
        self.inbound.contains_key(&(room, session.to_owned()))
    }

    /// The id of our current session for `room`, if any.
    pub fn outbound_session(&self, room: RoomId) -> Option<String> {
        self.outbound.get(&room).map(|o| o.session.session_id())
    }

    /// The highest to-device id handled so far.
    pub fn to_device_done(&self) -> u64 {
        self.to_device_done
    }
}
