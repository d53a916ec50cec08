//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2
//! iterations, 1 lane). Each hash runs on the blocking pool, and at most a
//! few run at once, so a login flood cannot exhaust memory or starve the
//! runtime.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password to a PHC string. Blocking: call from the blocking pool.
pub fn hash_blocking(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("argon2 with a generated salt cannot fail")
        .to_string()
}

/// Checks a password against a PHC string. Blocking.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash of a random password, verified against when the user does not
/// exist so that "no such user" takes as long as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&format!("{random:?}"))
    })
}

/// Runs hashing on the blocking pool, a few at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// `concurrency` hashes may run at once (each uses 19 MiB).
    pub fn new(concurrency: usize) -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub async fn hash(&self, password: String) -> String {
        let _permit = self.permits.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .expect("hashing does not panic")
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there
    /// is no user, so both take the same time. Always false without a user.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let _permit = self.permits.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, dummy_hash());
                false
            }
        })
        .await
        .expect("hashing does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_with_owasp_parameters() {
        let phc = hash_blocking("correct horse");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("correct horse", &phc));
        assert!(!verify_blocking("wrong horse", &phc));
        assert_ne!(phc, hash_blocking("correct horse"), "salted");
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let h = Hasher::new(2);
        assert!(!h.verify("anything".into(), None).await);
    }
}
