//! End-to-end encryption in the terminal client: this login's device
//! (a [`securechat_crypto::Machine`], saved in `e2e.json` beside the
//! session, mode 0600), publishing its keys, sharing room keys before a
//! send, opening to-device messages and encrypted events.
//!
//! The connection ([`crate::conn`]) calls it for every encrypted send and
//! every `to_device` frame, and opens every encrypted event before it is
//! shown, so the rest of the client only ever sees text.

use crate::ClientError;
use crate::api::Api;
use crate::store::Store;
use reqwest::Method;
use securechat_crypto::{Error as CryptoError, Machine, RecoveryKey, Trust};
use securechat_proto::e2e::{
    Devices, Encrypted, FileSecrets, KeyBackup, KeysClaimed, KeysUploaded, Report, ToDeviceEvent,
};
use securechat_proto::validate::sanitize_file_name;
use securechat_proto::ws::MessageEvent;
use securechat_proto::{DeviceId, RoomId, ServerMsg};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// One-time keys kept published on the server.
const ONE_TIME_KEYS: u64 = 50;

/// The device, shared by the connection task and the commands.
pub type Shared = Arc<tokio::sync::Mutex<Crypto>>;

/// What `e2e.json` holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    device: DeviceId,
    /// Base64 of the 32-byte key the machine's secrets are sealed with.
    pickle_key: String,
    machine: String,
    /// Changed identities seen and not yet accepted, to show again.
    #[serde(default)]
    warnings: Vec<String>,
}

/// This login's device.
pub struct Crypto {
    machine: Machine,
    pickle_key: [u8; 32],
    api: Api,
    store: Store,
    /// The recovery key, once the user gave it in this run (never saved).
    recovery: Option<RecoveryKey>,
    /// Room keys already in the backup.
    backed_up: HashSet<(RoomId, String)>,
    /// Loud notices for the user: changed device identities.
    pub warnings: Vec<String>,
    /// Messages that could not be opened.
    pub undecryptable: u64,
}

impl Crypto {
    /// Opens this login's device, or makes one (a new login is a new
    /// device) and publishes its keys; keeps one-time keys stocked.
    pub async fn open(store: &Store, api: Api, username: &str) -> Result<Crypto, ClientError> {
        let me = api.me().await?;
        let saved: Option<Saved> = store.read_json("e2e.json")?;
        let mut fresh = false;
        let (machine, pickle_key, warnings) = match saved {
            Some(s) if s.device == me.device => {
                let key = decode_key(&s.pickle_key)?;
                let m = Machine::load(&s.machine, &key).map_err(crypto)?;
                (m, key, s.warnings)
            }
            _ => {
                fresh = true;
                let key: [u8; 32] = rand::random();
                (Machine::new(username, me.device), key, Vec::new())
            }
        };
        let mut c = Crypto {
            machine,
            pickle_key,
            api,
            store: store.clone(),
            recovery: None,
            backed_up: HashSet::new(),
            warnings,
            undecryptable: 0,
        };
        if fresh {
            let body = serde_json::json!({"device_keys": c.machine.device_keys()});
            let _: Option<KeysUploaded> =
                c.api.call(Method::POST, "/api/keys", Some(&body)).await?;
        }
        c.stock_keys().await?;
        c.catch_up().await?;
        c.save()?;
        Ok(c)
    }

    pub fn device(&self) -> DeviceId {
        self.machine.device()
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    fn save(&self) -> Result<(), ClientError> {
        let saved = Saved {
            device: self.machine.device(),
            pickle_key: base64_key(&self.pickle_key),
            machine: self.machine.save(&self.pickle_key),
            warnings: self.warnings.clone(),
        };
        self.store.write_json("e2e.json", &saved)
    }

    /// Publishes one-time keys until the server holds enough.
    async fn stock_keys(&mut self) -> Result<(), ClientError> {
        let up: KeysUploaded = self
            .api
            .call(Method::POST, "/api/keys", Some(&serde_json::json!({})))
            .await?
            .ok_or_else(|| ClientError::Protocol("empty answer".into()))?;
        if up.one_time_keys < ONE_TIME_KEYS / 2 {
            let (otks, fallback) = self
                .machine
                .new_one_time_keys((ONE_TIME_KEYS - up.one_time_keys) as usize);
            // Saved before they are published: a key the server hands
            // out must be one this device can still open.
            self.save()?;
            let body = serde_json::json!({"one_time_keys": otks, "fallback_key": fallback});
            let _: Option<KeysUploaded> = self
                .api
                .call(Method::POST, "/api/keys", Some(&body))
                .await?;
        }
        Ok(())
    }

    /// Records what a device list says, keeping a loud notice of every
    /// changed identity.
    fn observe(&mut self, devices: &[securechat_proto::e2e::DeviceKeys]) {
        for t in self.machine.observe(devices) {
            if let Trust::Changed { new, .. } = t {
                self.warnings.push(format!(
                    "WARNING: the keys of {}'s device {} CHANGED. Someone may be listening in; \
                     verify with them before you trust it.",
                    new.user, new.device
                ));
            }
        }
    }

    /// Shares our room key with every device of `room` that lacks it
    /// (starting a new one if a device that had it left).
    pub async fn share(&mut self, room: RoomId) -> Result<(), ClientError> {
        let devices: Devices = get(&self.api, &format!("/api/rooms/{room}/devices")).await?;
        self.observe(&devices.devices);
        let plan = self.machine.plan_share(room, &devices.devices);
        let claimed = if plan.claim.is_empty() {
            KeysClaimed::default()
        } else {
            let body = serde_json::json!({"devices": plan.claim});
            self.api
                .call(Method::POST, "/api/keys/claim", Some(&body))
                .await?
                .unwrap_or_default()
        };
        let out = self
            .machine
            .share(room, &plan.targets, &claimed.keys)
            .map_err(crypto)?;
        self.save()?;
        for chunk in out.chunks(500) {
            let body = serde_json::json!({"messages": chunk});
            let _: Option<serde_json::Value> = self
                .api
                .call(Method::POST, "/api/to_device", Some(&body))
                .await?;
            // Only what the server took counts as shared.
            self.machine.confirm_shared(room, chunk);
            self.save()?;
        }
        Ok(())
    }

    /// `body` sealed for `room`, its key shared first.
    pub async fn encrypt(&mut self, room: RoomId, body: &str) -> Result<Encrypted, ClientError> {
        self.encrypt_with_file(room, body, None).await
    }

    /// `body` and the secrets of a file it carries, sealed for `room`.
    pub async fn encrypt_with_file(
        &mut self,
        room: RoomId,
        body: &str,
        file: Option<FileSecrets>,
    ) -> Result<Encrypted, ClientError> {
        self.share(room).await?;
        let enc = self
            .machine
            .encrypt_with_file(room, body, file)
            .map_err(crypto)?;
        self.save()?;
        Ok(enc)
    }

    /// Opens the to-device messages waiting for this device (for commands
    /// that do not connect), then acks them.
    pub async fn catch_up(&mut self) -> Result<(), ClientError> {
        #[derive(Deserialize, Default)]
        struct Pending {
            messages: Vec<ToDeviceEvent>,
        }
        let mut after = self.machine.to_device_done();
        loop {
            let page: Pending =
                get(&self.api, &format!("/api/to_device/pending?after={after}")).await?;
            let Some(last) = page.messages.last().map(|m| m.id) else {
                return Ok(());
            };
            for ev in &page.messages {
                if let Err(e) = self.receive(ev).await {
                    self.warnings
                        .push(format!("a key from {} could not be opened: {e}", ev.from));
                }
            }
            after = last;
            let body = serde_json::json!({"upto": last});
            let _: Option<serde_json::Value> = self
                .api
                .call(Method::POST, "/api/to_device/ack", Some(&body))
                .await?;
        }
    }

    /// Opens a to-device message (its sender's keys looked up if new). An
    /// error other than [`ClientError::Crypto`] (the server could not be
    /// reached) leaves the message unhandled: it comes again.
    pub async fn receive(&mut self, ev: &ToDeviceEvent) -> Result<(), ClientError> {
        if self.machine.known_device(ev.from_device).is_none() {
            let body = serde_json::json!({"users": [ev.from]});
            let devices: Devices = self
                .api
                .call(Method::POST, "/api/keys/query", Some(&body))
                .await?
                .unwrap_or_default();
            self.observe(&devices.devices);
        }
        let opened = self.machine.receive_to_device(ev);
        self.save()?;
        if let Err(e) = opened {
            // Counted as handled: it cannot be opened again.
            return Err(crypto(e));
        }
        self.backup_new().await;
        // More one-time keys next time if the server cannot take them now.
        if let Err(e) = self.stock_keys().await {
            self.warnings
                .push(format!("cannot publish one-time keys: {e}"));
        }
        Ok(())
    }

    /// Opens an encrypted message in place (its `body` becomes the text);
    /// false when its key is not here (yet).
    pub fn open_message(&mut self, m: &mut MessageEvent) -> bool {
        match &m.encrypted {
            None => true,
            Some(enc) => match self.machine.decrypt(m.room, &m.from, enc) {
                Ok(d) => {
                    m.body = d.body;
                    // The server knows the file only as nameless bytes.
                    if let (Some(info), Some(secrets)) = (&mut m.file, d.file) {
                        info.name = sanitize_file_name(&secrets.name);
                        info.media_type = secrets.media_type;
                        info.size = secrets.size;
                    }
                    true
                }
                Err(CryptoError::UnknownSession) => false,
                Err(e) => {
                    m.body = format!("[cannot decrypt: {e}]");
                    true
                }
            },
        }
    }

    /// How to open the encrypted file message `m` carries (`None`: it
    /// is not encrypted).
    pub fn file_secrets(&mut self, m: &MessageEvent) -> Result<Option<FileSecrets>, ClientError> {
        let Some(enc) = &m.encrypted else {
            return Ok(None);
        };
        let d = self.machine.decrypt(m.room, &m.from, enc).map_err(crypto)?;
        d.file
            .map(Some)
            .ok_or_else(|| ClientError::Crypto("the file's message holds no key for it".into()))
    }

    /// Opens a room event in place; false when a key is missing.
    pub fn open_event(&mut self, msg: &mut ServerMsg) -> bool {
        match msg {
            ServerMsg::Message(m) if !m.deleted => self.open_message(m),
            ServerMsg::Edited(e) => match &e.encrypted {
                None => true,
                Some(enc) => match self.machine.decrypt(e.room, &e.by, enc) {
                    Ok(d) => {
                        e.body = d.body;
                        true
                    }
                    Err(CryptoError::UnknownSession) => false,
                    Err(err) => {
                        e.body = format!("[cannot decrypt: {err}]");
                        true
                    }
                },
            },
            _ => true,
        }
    }

    /// Marks an event whose key never came, and counts it (reported to the
    /// server's `/metrics`).
    pub async fn give_up(&mut self, msg: &mut ServerMsg) {
        let text = "[unable to decrypt: the key for this message has not reached this device; \
                    `securechat keys restore` reads it from your backup]";
        match msg {
            ServerMsg::Message(m) => m.body = text.into(),
            ServerMsg::Edited(e) => e.body = text.into(),
            _ => return,
        }
        self.undecryptable += 1;
        let _: Result<Option<serde_json::Value>, _> = self
            .api
            .call(
                Method::POST,
                "/api/keys/report",
                Some(&Report { undecryptable: 1 }),
            )
            .await;
    }

    /// Marks `device` (listed in `devices`) verified: the safety codes
    /// matched.
    pub fn verify(
        &mut self,
        devices: &[securechat_proto::e2e::DeviceKeys],
        device: DeviceId,
    ) -> Result<(), ClientError> {
        if !devices.iter().any(|d| d.device == device) {
            return Err(ClientError::Usage(format!(
                "no device {device} in that list"
            )));
        }
        self.observe(devices);
        self.machine.set_verified(device, true);
        self.save()
    }

    /// Uses `key` for the backup from now on (checked against the server's
    /// backup); restores every room key in it and returns how many were
    /// new.
    pub async fn restore(&mut self, key: RecoveryKey) -> Result<usize, ClientError> {
        let backup: KeyBackup = get(&self.api, "/api/keys/backup").await?;
        let info = backup.info.ok_or_else(|| {
            ClientError::Usage("there is no key backup: run `securechat keys backup`".into())
        })?;
        let added = self
            .machine
            .restore(&key, &info, &backup.keys)
            .map_err(crypto)?;
        self.backed_up = backup
            .keys
            .iter()
            .map(|k| (k.room, k.session.clone()))
            .collect();
        self.recovery = Some(key);
        self.save()?;
        Ok(added)
    }

    /// Starts a new backup with `key` (and the passphrase's `salt`), and
    /// seals every room key this device holds into it.
    pub async fn new_backup(
        &mut self,
        key: RecoveryKey,
        salt: Option<String>,
    ) -> Result<usize, ClientError> {
        let info = key.info(salt).map_err(crypto)?;
        let _: Option<serde_json::Value> = self
            .api
            .call(Method::PUT, "/api/keys/backup/info", Some(&info))
            .await?;
        self.backed_up.clear();
        self.recovery = Some(key);
        self.upload_backup().await
    }

    /// The salt of the server's backup, if it was made from a passphrase.
    pub async fn backup_salt(&self) -> Result<Option<String>, ClientError> {
        let backup: KeyBackup = get(&self.api, "/api/keys/backup").await?;
        Ok(backup.info.and_then(|i| i.salt))
    }

    async fn upload_backup(&mut self) -> Result<usize, ClientError> {
        let Some(key) = &self.recovery else {
            return Ok(0);
        };
        let entries = self
            .machine
            .backup_entries(key, &self.backed_up)
            .map_err(crypto)?;
        for chunk in entries.chunks(500) {
            let body = KeyBackup {
                info: None,
                keys: chunk.to_vec(),
            };
            let _: Option<serde_json::Value> = self
                .api
                .call(Method::PUT, "/api/keys/backup", Some(&body))
                .await?;
        }
        self.backed_up
            .extend(entries.iter().map(|e| (e.room, e.session.clone())));
        Ok(entries.len())
    }

    /// Backs up keys received since, when the recovery key is known.
    async fn backup_new(&mut self) {
        if let Err(e) = self.upload_backup().await {
            self.warnings.push(format!("key backup failed: {e}"));
        }
    }
}

async fn get<T: serde::de::DeserializeOwned + Default>(
    api: &Api,
    path: &str,
) -> Result<T, ClientError> {
    Ok(api
        .call(Method::GET, path, None::<&()>)
        .await?
        .unwrap_or_default())
}

fn crypto(e: CryptoError) -> ClientError {
    ClientError::Crypto(e.to_string())
}

fn base64_key(k: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(k)
}

fn decode_key(s: &str) -> Result<[u8; 32], ClientError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| ClientError::Crypto("e2e.json: a damaged pickle key".into()))
}
