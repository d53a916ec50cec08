//! Files in encrypted conversations: each file is sealed whole with a key
//! and nonce of its own (XChaCha20-Poly1305, RustCrypto's audited
//! `chacha20poly1305`) before upload. The key, the nonce, the SHA-256 of
//! the ciphertext and the file's real name and type travel inside the
//! Megolm-encrypted message that carries the file; the server stores only
//! the ciphertext under a blank name.
//!
//! Opening checks the SHA-256 of the downloaded bytes first (so a server
//! that swaps files is caught before any decryption), then the AEAD tag.

use crate::Error;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use securechat_proto::e2e::FileSecrets;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes` (as the server names stored files).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals `plain` under a fresh key: the bytes to upload, and what the
/// message carrying them must hold to open them (`name` and `media_type`
/// as given: the receiving client cleans them up before use).
pub fn encrypt_file(
    plain: &[u8],
    name: &str,
    media_type: &str,
) -> Result<(Vec<u8>, FileSecrets), Error> {
    let key: [u8; 32] = crate::random_bytes()?;
    let nonce: [u8; 24] = crate::random_bytes()?;
    let sealed = XChaCha20Poly1305::new((&key).into())
        .encrypt(&XNonce::from(nonce), plain)
        .map_err(|_| Error::Decrypt("cannot seal the file".into()))?;
    let secrets = FileSecrets {
        name: name.to_owned(),
        media_type: media_type.to_owned(),
        size: plain.len() as u64,
        key: vodozemac::base64_encode(key),
        nonce: vodozemac::base64_encode(nonce),
        sha256: sha256_hex(&sealed),
    };
    Ok((sealed, secrets))
}

/// Opens downloaded ciphertext with the secrets from its message: refused
/// if its SHA-256 is not the one the sender sealed, or it does not decrypt.
pub fn decrypt_file(sealed: &[u8], secrets: &FileSecrets) -> Result<Vec<u8>, Error> {
    if sha256_hex(sealed) != secrets.sha256.to_ascii_lowercase() {
        return Err(Error::Decrypt(
            "the file's SHA-256 is not the one its sender sealed".into(),
        ));
    }
    let key: [u8; 32] = decode(&secrets.key, "file key")?;
    let nonce: [u8; 24] = decode(&secrets.nonce, "file nonce")?;
    XChaCha20Poly1305::new((&key).into())
        .decrypt(&XNonce::from(nonce), sealed)
        .map_err(|_| Error::Decrypt("the file does not open with its key".into()))
}

fn decode<const N: usize>(b64: &str, what: &str) -> Result<[u8; N], Error> {
    let raw = vodozemac::base64_decode(b64).map_err(|e| Error::format(what, e))?;
    <[u8; N]>::try_from(raw.as_slice()).map_err(|_| Error::Format(format!("{what}: wrong length")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_any_change_is_caught() {
        let plain = b"quarterly numbers: 42".repeat(1000);
        let (sealed, secrets) = encrypt_file(&plain, "q3.txt", "text/plain").unwrap();
        assert_eq!(secrets.size, plain.len() as u64);
        assert_eq!(sealed.len(), plain.len() + 16);
        assert!(!sealed.windows(9).any(|w| w == b"quarterly"));
        assert_eq!(decrypt_file(&sealed, &secrets).unwrap(), plain);

        // A flipped bit fails the hash; a hash made to match fails the tag.
        let mut bad = sealed.clone();
        bad[10] ^= 1;
        assert!(
            matches!(decrypt_file(&bad, &secrets), Err(Error::Decrypt(m)) if m.contains("SHA-256"))
        );
        let forged = FileSecrets {
            sha256: sha256_hex(&bad),
            ..secrets.clone()
        };
        assert!(matches!(decrypt_file(&bad, &forged), Err(Error::Decrypt(m)) if m.contains("key")));

        // Another file's key does not open it.
        let (_, other) = encrypt_file(b"x", "x", "text/plain").unwrap();
        let wrong_key = FileSecrets {
            key: other.key,
            ..secrets.clone()
        };
        assert!(decrypt_file(&sealed, &wrong_key).is_err());
        // Two seals of the same bytes share nothing.
        let (again, secrets2) = encrypt_file(&plain, "q3.txt", "text/plain").unwrap();
        assert_ne!(again, sealed);
        assert_ne!(secrets2.key, secrets.key);
    }
}
