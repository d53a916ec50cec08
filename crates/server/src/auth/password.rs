//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2
//! iterations, 1 lane). Hashes run on a few dedicated threads, so a login
//! flood can neither exhaust memory nor starve the async runtime.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use tokio::sync::oneshot;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password to a PHC string. Blocking: not on an async task.
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

/// A job for a hashing thread.
enum Job {
    Hash(String, oneshot::Sender<String>),
    Verify(String, Option<String>, oneshot::Sender<bool>),
}

/// Runs hashing on a few dedicated threads.
///
/// Dedicated rather than the blocking pool: each hash allocates 19 MiB,
/// and the allocator keeps such a block in the arena of the thread that
/// freed it. On the blocking pool every new thread kept one (50 logins grew
/// the server by 330 MiB, measured with `securechat-bench idle`); a fixed
/// set of threads reuses theirs, so hashing memory stays at
/// `concurrency` × 19 MiB.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
}

impl Hasher {
    /// `concurrency` hashes may run at once (each uses 19 MiB).
    pub fn new(concurrency: usize) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..concurrency.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return, // every Hasher is gone
                        };
                        match job {
                            Job::Hash(password, reply) => {
                                let _ = reply.send(hash_blocking(&password));
                            }
                            Job::Verify(password, phc, reply) => {
                                let ok = match phc {
                                    Some(phc) => verify_blocking(&password, &phc),
                                    None => {
                                        let _ = verify_blocking(&password, dummy_hash());
                                        false
                                    }
                                };
                                let _ = reply.send(ok);
                            }
                        }
                    }
                })
                .expect("spawn a hashing thread");
        }
        Hasher { jobs }
    }

    pub async fn hash(&self, password: String) -> String {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Hash(password, tx))
            .expect("hashing threads run as long as a Hasher exists");
        rx.await.expect("hashing does not panic")
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there
    /// is no user, so both take the same time. Always false without a user.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Verify(password, phc, tx))
            .expect("hashing threads run as long as a Hasher exists");
        rx.await.expect("hashing does not panic")
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
