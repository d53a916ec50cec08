//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2
//! iterations, 1 lane). Hashes run on a few dedicated threads, so a login
//! flood can neither exhaust memory nor starve the async runtime.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use tokio::sync::oneshot;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// This thread's argon2 memory, reused by every hash it computes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `blocks` blocks of this thread's argon2 memory.
fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != blocks {
            *memory = vec![Block::new(); blocks];
        }
        f(&mut memory)
    })
}

/// Hashes a password to a PHC string. Blocking: not on an async task.
pub fn hash_blocking(password: &str) -> String {
    let argon2 = argon2();
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; 32];
    with_memory(argon2.params().block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .expect("argon2 with valid parameters and salt cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).expect("valid parameters"),
        salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt")),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    }
    .to_string()
}

/// Checks a password against a PHC string (any argon2 variant and
/// parameters it names). Blocking.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = with_memory(argon2.params().block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected)
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
/// Dedicated rather than the blocking pool: each hash needs 19 MiB. On the
/// blocking pool every new thread allocated its own and the allocator kept
/// it in that thread's arena (50 logins grew the server by 330 MiB,
/// measured with `securechat-bench idle`). A fixed set of threads, each
/// reusing one block of memory, keeps hashing at `concurrency` × 19 MiB.
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

    #[test]
    fn compatible_with_the_argon2_crates_own_phc_strings() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Hashes stored before memory reuse were made by the crate itself.
        let theirs = argon2().hash_password(b"old password").unwrap().to_string();
        assert!(verify_blocking("old password", &theirs));
        assert!(!verify_blocking("old passwore", &theirs));
        // And the crate accepts ours.
        let ours = hash_blocking("new password");
        assert!(
            argon2()
                .verify_password(b"new password", ours.as_str())
                .is_ok()
        );
        // Other parameters named in the string are honoured.
        let light = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 1, Some(16)).unwrap(),
        );
        let other = light.hash_password(b"pw").unwrap().to_string();
        assert!(other.starts_with("$argon2i$v=16$m=64,t=1,p=1$"), "{other}");
        assert!(verify_blocking("pw", &other));
        assert!(!verify_blocking("pw", "not a hash"));
        assert!(!verify_blocking(
            "pw",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"
        ));
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let h = Hasher::new(2);
        assert!(!h.verify("anything".into(), None).await);
    }
}
