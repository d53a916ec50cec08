//! `securechat-crypto` for the web app: one [`Device`] class, built to
//! WebAssembly with `wasm-bindgen --target web` (an ES module served from
//! the app's own origin, `web/crypto/`). Values cross as JSON strings in
//! the wire's own shapes (`securechat_proto::e2e`), so the JavaScript side
//! passes server answers straight in and sends what comes out.
//!
//! Ids cross as JavaScript numbers (server ids stay far below 2^53).
//! Errors are thrown as `Error`s whose message starts with a code and a
//! colon (`unknown_session: …`), so the app can tell a key that has not
//! arrived yet from a forgery. The logic is in plain functions ([`core`])
//! that native tests run; the `#[wasm_bindgen]` layer only converts.

pub mod core;

use wasm_bindgen::prelude::*;

fn js(e: String) -> JsError {
    JsError::new(&e)
}

/// A file sealed by [`Device::encrypt_file`]: the bytes to upload and
/// the `FileSecrets` JSON its message carries.
#[wasm_bindgen]
pub struct SealedFile {
    bytes: Vec<u8>,
    secrets: String,
}

#[wasm_bindgen]
impl SealedFile {
    #[wasm_bindgen(getter)]
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn secrets(&self) -> String {
        self.secrets.clone()
    }
}

/// This browser's device.
#[wasm_bindgen]
pub struct Device(core::Device);

#[wasm_bindgen]
impl Device {
    /// A new device for `user`, with the server's id for this session.
    pub fn create(user: &str, device: f64) -> Device {
        Device(core::Device::create(user, device as i64))
    }

    /// A device saved by [`save`](Self::save) with the same key.
    pub fn load(saved: &str, key_b64: &str) -> Result<Device, JsError> {
        core::Device::load(saved, key_b64).map(Device).map_err(js)
    }

    /// A new random 32-byte pickle key, base64.
    #[wasm_bindgen(js_name = newPickleKey)]
    pub fn new_pickle_key() -> Result<String, JsError> {
        core::new_pickle_key().map_err(js)
    }

    pub fn save(&self, key_b64: &str) -> Result<String, JsError> {
        self.0.save(key_b64).map_err(js)
    }

    #[wasm_bindgen(js_name = deviceId)]
    pub fn device_id(&self) -> f64 {
        self.0.device_id() as f64
    }

    /// `DeviceKeys` JSON.
    #[wasm_bindgen(js_name = deviceKeys)]
    pub fn device_keys(&self) -> String {
        self.0.device_keys()
    }

    /// `{"one_time_keys": [...], "fallback_key": ...}` to publish.
    #[wasm_bindgen(js_name = newOneTimeKeys)]
    pub fn new_one_time_keys(&mut self, count: usize) -> String {
        self.0.new_one_time_keys(count)
    }

    /// Records a device list (`{"devices": [...]}`); returns the changed
    /// identities as `[{"user", "device"}]`.
    pub fn observe(&mut self, devices: &str) -> Result<String, JsError> {
        self.0.observe(devices).map_err(js)
    }

    #[wasm_bindgen(js_name = knownDevice)]
    pub fn known_device(&self, device: f64) -> bool {
        self.0.known_device(device as i64)
    }

    /// `{"rotated", "targets": [DeviceKeys], "claim": [ids], "refused": n}`.
    #[wasm_bindgen(js_name = planShare)]
    pub fn plan_share(&mut self, room: f64, devices: &str) -> Result<String, JsError> {
        self.0.plan_share(room as i64, devices).map_err(js)
    }

    /// The to-device messages (`[ToDeviceOut]`) giving `targets` the key.
    pub fn share(&mut self, room: f64, targets: &str, claimed: &str) -> Result<String, JsError> {
        self.0.share(room as i64, targets, claimed).map_err(js)
    }

    /// Records that the server took these shares (`[ToDeviceOut]`, as
    /// [`share`](Self::share) made them): only then do they count.
    #[wasm_bindgen(js_name = confirmShared)]
    pub fn confirm_shared(&mut self, room: f64, sent: &str) -> Result<(), JsError> {
        self.0.confirm_shared(room as i64, sent).map_err(js)
    }

    /// `Encrypted` JSON of a message (with `file`, the `FileSecrets` JSON
    /// from [`encryptFile`](Self::encrypt_file), or "").
    pub fn encrypt(&mut self, room: f64, body: &str, file: &str) -> Result<String, JsError> {
        self.0.encrypt(room as i64, body, file).map_err(js)
    }

    /// Seals a file for an encrypted conversation (see [`SealedFile`]).
    #[wasm_bindgen(js_name = encryptFile)]
    pub fn encrypt_file(plain: &[u8], name: &str, media_type: &str) -> Result<SealedFile, JsError> {
        let (bytes, secrets) = core::encrypt_file(plain, name, media_type).map_err(js)?;
        Ok(SealedFile { bytes, secrets })
    }

    /// Checks a downloaded file's SHA-256 against its message's
    /// `FileSecrets` JSON and opens it.
    #[wasm_bindgen(js_name = decryptFile)]
    pub fn decrypt_file(sealed: &[u8], secrets: &str) -> Result<Vec<u8>, JsError> {
        core::decrypt_file(sealed, secrets).map_err(js)
    }

    /// Opens a `ToDeviceEvent`; `"duplicate"` or `"room_key"`.
    #[wasm_bindgen(js_name = receiveToDevice)]
    pub fn receive_to_device(&mut self, event: &str) -> Result<String, JsError> {
        self.0.receive_to_device(event).map_err(js)
    }

    /// `{"body", "verified", "file"}` of an `Encrypted` from `from` in
    /// `room` (`file`: `FileSecrets` or null).
    pub fn decrypt(&mut self, room: f64, from: &str, encrypted: &str) -> Result<String, JsError> {
        self.0.decrypt(room as i64, from, encrypted).map_err(js)
    }

    #[wasm_bindgen(js_name = toDeviceDone)]
    pub fn to_device_done(&self) -> f64 {
        self.0.to_device_done() as f64
    }

    /// `{"emoji": [...], "digits"}` for this device and `other` (`DeviceKeys`).
    #[wasm_bindgen(js_name = safetyCode)]
    pub fn safety_code(&self, other: &str) -> Result<String, JsError> {
        self.0.safety_code(other).map_err(js)
    }

    #[wasm_bindgen(js_name = setVerified)]
    pub fn set_verified(&mut self, device: f64, verified: bool) {
        self.0.set_verified(device as i64, verified)
    }

    /// Whether the user marked `device` verified.
    #[wasm_bindgen(js_name = isVerified)]
    pub fn is_verified(&self, device: f64) -> bool {
        self.0.is_verified(device as i64)
    }

    /// A new recovery key, as shown to people.
    #[wasm_bindgen(js_name = newRecoveryKey)]
    pub fn new_recovery_key() -> Result<String, JsError> {
        core::new_recovery_key().map_err(js)
    }

    /// A new passphrase salt.
    #[wasm_bindgen(js_name = newSalt)]
    pub fn new_salt() -> Result<String, JsError> {
        core::new_salt().map_err(js)
    }

    /// The recovery key (as shown) of a passphrase and salt.
    #[wasm_bindgen(js_name = passphraseKey)]
    pub fn passphrase_key(passphrase: &str, salt: &str) -> Result<String, JsError> {
        core::passphrase_key(passphrase, salt).map_err(js)
    }

    /// `BackupInfo` JSON for a new backup with `key` (and `salt`, or "").
    #[wasm_bindgen(js_name = backupInfo)]
    pub fn backup_info(key: &str, salt: &str) -> Result<String, JsError> {
        core::backup_info(key, salt).map_err(js)
    }

    /// `[BackupEntry]` of the room keys not in `skip` (`[[room, session]]`).
    #[wasm_bindgen(js_name = backupEntries)]
    pub fn backup_entries(&self, key: &str, skip: &str) -> Result<String, JsError> {
        self.0.backup_entries(key, skip).map_err(js)
    }

    /// Restores a backup (`KeyBackup` JSON); returns how many keys were new.
    pub fn restore(&mut self, key: &str, backup: &str) -> Result<usize, JsError> {
        self.0.restore(key, backup).map_err(js)
    }
}
