//! The JSON-in, JSON-out device behind the WebAssembly class (natively
//! testable). Errors are `"code: message"` strings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use securechat_crypto::{Error, Machine, RecoveryKey, Trust, safety_code};
use securechat_proto::e2e::{
    BackupInfo, ClaimedKey, DeviceKeys, Devices, Encrypted, FileSecrets, KeyBackup, ToDeviceEvent,
    ToDeviceOut,
};
use securechat_proto::{DeviceId, RoomId};
use serde::de::DeserializeOwned;
use serde_json::json;

type Out<T> = Result<T, String>;

fn err(e: Error) -> String {
    format!("{}: {e}", e.code())
}

fn parse<T: DeserializeOwned>(what: &str, s: &str) -> Out<T> {
    serde_json::from_str(s).map_err(|e| format!("format: {what}: {e}"))
}

fn key32(b64: &str) -> Out<[u8; 32]> {
    STANDARD
        .decode(b64)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| "format: a pickle key is 32 bytes of base64".into())
}

/// Seals a file: the bytes to upload and the `FileSecrets` JSON its
/// message carries.
pub fn encrypt_file(plain: &[u8], name: &str, media_type: &str) -> Out<(Vec<u8>, String)> {
    let (sealed, secrets) =
        securechat_crypto::encrypt_file(plain, name, media_type).map_err(err)?;
    Ok((sealed, serde_json::to_string(&secrets).expect("serializes")))
}

/// Opens a downloaded file with its message's `FileSecrets` JSON.
pub fn decrypt_file(sealed: &[u8], secrets: &str) -> Out<Vec<u8>> {
    let secrets: FileSecrets = parse("file secrets", secrets)?;
    securechat_crypto::decrypt_file(sealed, &secrets).map_err(err)
}

pub fn new_pickle_key() -> Out<String> {
    Ok(STANDARD.encode(securechat_crypto::random_bytes::<32>().map_err(err)?))
}

pub fn new_recovery_key() -> Out<String> {
    Ok(RecoveryKey::generate().map_err(err)?.to_display())
}

pub fn new_salt() -> Out<String> {
    RecoveryKey::new_salt().map_err(err)
}

pub fn passphrase_key(passphrase: &str, salt: &str) -> Out<String> {
    Ok(RecoveryKey::from_passphrase(passphrase, salt)
        .map_err(err)?
        .to_display())
}

pub fn backup_info(key: &str, salt: &str) -> Out<String> {
    let key = RecoveryKey::parse(key).map_err(err)?;
    let salt = (!salt.is_empty()).then(|| salt.to_owned());
    Ok(serde_json::to_string(&key.info(salt).map_err(err)?).expect("serializes"))
}

pub struct Device(Machine);

impl Device {
    pub fn create(user: &str, device: i64) -> Device {
        Device(Machine::new(user, DeviceId(device)))
    }

    pub fn load(saved: &str, key_b64: &str) -> Out<Device> {
        Machine::load(saved, &key32(key_b64)?)
            .map(Device)
            .map_err(err)
    }

    pub fn save(&self, key_b64: &str) -> Out<String> {
        Ok(self.0.save(&key32(key_b64)?))
    }

    pub fn device_id(&self) -> i64 {
        self.0.device().0
    }

    pub fn device_keys(&self) -> String {
        serde_json::to_string(&self.0.device_keys()).expect("serializes")
    }

    pub fn new_one_time_keys(&mut self, count: usize) -> String {
        let (otks, fallback) = self.0.new_one_time_keys(count);
        json!({"one_time_keys": otks, "fallback_key": fallback}).to_string()
    }

    pub fn observe(&mut self, devices: &str) -> Out<String> {
        let d: Devices = parse("devices", devices)?;
        let changed: Vec<_> = self
            .0
            .observe(&d.devices)
            .into_iter()
            .filter_map(|t| match t {
                Trust::Changed { new, .. } => Some(json!({"user": new.user, "device": new.device})),
                Trust::New(_) => None,
            })
            .collect();
        Ok(serde_json::Value::from(changed).to_string())
    }

    pub fn known_device(&self, device: i64) -> bool {
        self.0.known_device(DeviceId(device)).is_some()
    }

    pub fn plan_share(&mut self, room: i64, devices: &str) -> Out<String> {
        let d: Devices = parse("devices", devices)?;
        let plan = self.0.plan_share(RoomId(room), &d.devices);
        Ok(json!({
            "rotated": plan.rotated,
            "targets": plan.targets,
            "claim": plan.claim,
            "refused": plan.refused.len(),
        })
        .to_string())
    }

    pub fn share(&mut self, room: i64, targets: &str, claimed: &str) -> Out<String> {
        let targets: Vec<DeviceKeys> = parse("targets", targets)?;
        let claimed: Vec<ClaimedKey> = parse("claimed keys", claimed)?;
        let out = self
            .0
            .share(RoomId(room), &targets, &claimed)
            .map_err(err)?;
        Ok(serde_json::to_string(&out).expect("serializes"))
    }

    pub fn confirm_shared(&mut self, room: i64, sent: &str) -> Out<()> {
        let sent: Vec<ToDeviceOut> = parse("sent shares", sent)?;
        self.0.confirm_shared(RoomId(room), &sent);
        Ok(())
    }

    /// `file`: the `FileSecrets` JSON of a file sealed by [`encrypt_file`],
    /// or "" for none.
    pub fn encrypt(&mut self, room: i64, body: &str, file: &str) -> Out<String> {
        let file: Option<FileSecrets> = match file {
            "" => None,
            f => Some(parse("file secrets", f)?),
        };
        let enc = self
            .0
            .encrypt_with_file(RoomId(room), body, file)
            .map_err(err)?;
        Ok(serde_json::to_string(&enc).expect("serializes"))
    }

    pub fn receive_to_device(&mut self, event: &str) -> Out<String> {
        let ev: ToDeviceEvent = parse("to-device message", event)?;
        Ok(match self.0.receive_to_device(&ev).map_err(err)? {
            securechat_crypto::Received::Duplicate => "duplicate".into(),
            securechat_crypto::Received::RoomKey { .. } => "room_key".into(),
        })
    }

    pub fn decrypt(&mut self, room: i64, from: &str, encrypted: &str) -> Out<String> {
        let enc: Encrypted = parse("encrypted content", encrypted)?;
        let d = self.0.decrypt(RoomId(room), from, &enc).map_err(err)?;
        Ok(json!({"body": d.body, "verified": d.verified, "file": d.file}).to_string())
    }

    pub fn to_device_done(&self) -> u64 {
        self.0.to_device_done()
    }

    pub fn safety_code(&self, other: &str) -> Out<String> {
        let other: DeviceKeys = parse("device keys", other)?;
        let code = safety_code(&self.0.device_keys(), &other);
        Ok(json!({"emoji": code.emoji, "digits": code.digits}).to_string())
    }

    pub fn set_verified(&mut self, device: i64, verified: bool) {
        self.0.set_verified(DeviceId(device), verified)
    }

    pub fn is_verified(&self, device: i64) -> bool {
        self.0.is_verified(DeviceId(device))
    }

    pub fn backup_entries(&self, key: &str, skip: &str) -> Out<String> {
        let key = RecoveryKey::parse(key).map_err(err)?;
        let skip: Vec<(RoomId, String)> = parse("skip list", skip)?;
        let entries = self
            .0
            .backup_entries(&key, &skip.into_iter().collect())
            .map_err(err)?;
        Ok(serde_json::to_string(&entries).expect("serializes"))
    }

    pub fn restore(&mut self, key: &str, backup: &str) -> Out<usize> {
        let key = RecoveryKey::parse(key).map_err(err)?;
        let b: KeyBackup = parse("backup", backup)?;
        let info: BackupInfo = b.info.ok_or("format: no backup")?;
        self.0.restore(&key, &info, &b.keys).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_devices_talk_through_json() {
        let mut a = Device::create("alice", 1);
        let mut b = Device::create("bob", 2);
        let b_keys: DeviceKeys = serde_json::from_str(&b.device_keys()).unwrap();
        let otks: serde_json::Value = serde_json::from_str(&b.new_one_time_keys(2)).unwrap();
        let devices = json!({"devices": [b_keys]}).to_string();
        let plan: serde_json::Value =
            serde_json::from_str(&a.plan_share(5, &devices).unwrap()).unwrap();
        assert_eq!(plan["claim"], json!([2]));
        let claimed =
            json!([{"device": 2, "key": otks["one_time_keys"][0], "fallback": false}]).to_string();
        let out: Vec<serde_json::Value> =
            serde_json::from_str(&a.share(5, &plan["targets"].to_string(), &claimed).unwrap())
                .unwrap();
        let a_keys = json!({"devices": [serde_json::from_str::<serde_json::Value>(&a.device_keys()).unwrap()]});
        b.observe(&a_keys.to_string()).unwrap();
        let ev =
            json!({"id": 1, "from": "alice", "from_device": 1, "body": out[0]["body"]}).to_string();
        assert_eq!(b.receive_to_device(&ev).unwrap(), "room_key");
        let enc = a.encrypt(5, "hi from the browser", "").unwrap();
        let opened: serde_json::Value =
            serde_json::from_str(&b.decrypt(5, "alice", &enc).unwrap()).unwrap();
        assert_eq!(opened["body"], "hi from the browser");
        assert_eq!(opened["file"], serde_json::Value::Null);
        // A file: sealed, its secrets inside the message, opened.
        let (sealed, secrets) =
            encrypt_file(b"%PDF-1.7 report", "report.pdf", "application/pdf").unwrap();
        let enc = a.encrypt(5, "", &secrets).unwrap();
        let opened: serde_json::Value =
            serde_json::from_str(&b.decrypt(5, "alice", &enc).unwrap()).unwrap();
        assert_eq!(opened["file"]["name"], "report.pdf");
        let back = decrypt_file(&sealed, &opened["file"].to_string()).unwrap();
        assert_eq!(back, b"%PDF-1.7 report");
        assert!(
            decrypt_file(&sealed[1..], &secrets)
                .unwrap_err()
                .starts_with("decrypt:")
        );
        let err = b.decrypt(6, "alice", &enc).unwrap_err();
        assert!(err.starts_with("unknown_session:"), "{err}");
        // Saved and loaded with the same key only.
        let key = new_pickle_key().unwrap();
        let saved = b.save(&key).unwrap();
        assert!(Device::load(&saved, &new_pickle_key().unwrap()).is_err());
        let mut back = Device::load(&saved, &key).unwrap();
        assert!(back.decrypt(5, "alice", &enc).is_ok());
        // A passphrase gives the same key every time.
        let salt = new_salt().unwrap();
        assert_eq!(
            passphrase_key("a passphrase", &salt).unwrap(),
            passphrase_key("a passphrase", &salt).unwrap()
        );
    }
}
