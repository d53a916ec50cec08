//! Device keys and one-time keys: what a device signs, and checking it.

use crate::Error;
use securechat_proto::e2e::{DeviceKeys, OneTimeKey};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

/// Checks that `keys` are well formed and signed by their own Ed25519 key.
pub fn verify_device(keys: &DeviceKeys) -> Result<(), Error> {
    let ed = ed25519(&keys.ed25519)?;
    curve25519(&keys.curve25519)?;
    let text = DeviceKeys::signed_text(&keys.user, keys.device, &keys.curve25519, &keys.ed25519);
    verify(&ed, &text, &keys.signature, "device keys")
}

/// Checks that `key` is a one-time key of `device`, signed by it.
pub fn verify_one_time_key(
    device: &DeviceKeys,
    key: &OneTimeKey,
) -> Result<Curve25519PublicKey, Error> {
    let ed = ed25519(&device.ed25519)?;
    let text = OneTimeKey::signed_text(&device.user, device.device, &key.key_id, &key.key);
    verify(&ed, &text, &key.signature, "one-time key")?;
    curve25519(&key.key)
}

pub(crate) fn verify(
    key: &Ed25519PublicKey,
    text: &str,
    signature: &str,
    what: &'static str,
) -> Result<(), Error> {
    let sig = Ed25519Signature::from_base64(signature).map_err(|_| Error::BadSignature(what))?;
    key.verify(text.as_bytes(), &sig)
        .map_err(|_| Error::BadSignature(what))
}

pub(crate) fn ed25519(b64: &str) -> Result<Ed25519PublicKey, Error> {
    Ed25519PublicKey::from_base64(b64).map_err(|e| Error::format("Ed25519 key", e))
}

pub(crate) fn curve25519(b64: &str) -> Result<Curve25519PublicKey, Error> {
    Curve25519PublicKey::from_base64(b64).map_err(|e| Error::format("Curve25519 key", e))
}

/// Whether two records describe the same device with the same keys.
pub(crate) fn same_device(a: &DeviceKeys, b: &DeviceKeys) -> bool {
    a.user == b.user
        && a.device == b.device
        && a.curve25519 == b.curve25519
        && a.ed25519 == b.ed25519
}
