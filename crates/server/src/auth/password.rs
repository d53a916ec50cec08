//! Password hashing with argon2id at OWASP's parameters (19 MiB, 2
//! iterations, 1 lane). Hashes run on a few dedicated threads, so a login
//! flood can neither exhaust memory nor starve the async runtime.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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

impl Job {
    fn run(self) {
        match self {
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
}

/// Which queue a hash waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Logins, password changes, operators: served first.
    Interactive,
    /// New accounts from `POST /api/register`: served when no interactive
    /// job waits, and refused when [`BACKGROUND_QUEUE`] wait already.
    Background,
}

/// Background hashes that may wait at once; more are refused ([`Busy`]).
pub const BACKGROUND_QUEUE: usize = 32;

/// Too many background hashes are waiting: retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many accounts are being created; retry shortly")]
pub struct Busy;

#[derive(Default)]
struct Queues {
    interactive: VecDeque<Job>,
    background: VecDeque<Job>,
    /// Every `Hasher` handle is gone: the threads stop.
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job, interactive ones first; `None` once closed.
    fn next(&self) -> Option<Job> {
        let mut q = self.lock();
        loop {
            if let Some(job) = q
                .interactive
                .pop_front()
                .or_else(|| q.background.pop_front())
            {
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Closes the queues when the last [`Hasher`] handle goes.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// Runs hashing on a few dedicated threads.
///
/// Dedicated rather than the blocking pool: each hash needs 19 MiB. On the
/// blocking pool every new thread allocated its own and the allocator kept
/// it in that thread's arena (50 logins grew the server by 330 MiB,
/// measured with `securechat-bench idle`). A fixed set of threads, each
/// reusing one block of memory, keeps hashing at `concurrency` × 19 MiB.
///
/// Two queues: interactive jobs (logins) always go before background ones
/// (registrations), so a flood of registrations cannot slow a login by
/// more than the one hash each thread may be in the middle of.
#[derive(Clone)]
pub struct Hasher {
    shared: Arc<Handle>,
}

impl Hasher {
    /// `concurrency` hashes may run at once (each uses 19 MiB).
    pub fn new(concurrency: usize) -> Self {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
        });
        for i in 0..concurrency.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    while let Some(job) = shared.next() {
                        job.run();
                    }
                })
                .expect("spawn a hashing thread");
        }
        Hasher {
            shared: Arc::new(Handle(shared)),
        }
    }

    fn queue(&self, job: Job, priority: Priority) -> Result<(), Busy> {
        let shared = &self.shared.0;
        let mut q = shared.lock();
        match priority {
            Priority::Interactive => q.interactive.push_back(job),
            Priority::Background if q.background.len() >= BACKGROUND_QUEUE => return Err(Busy),
            Priority::Background => q.background.push_back(job),
        }
        drop(q);
        shared.ready.notify_one();
        Ok(())
    }

    /// Hashes an interactive password (a change of password, an operator).
    pub async fn hash(&self, password: String) -> String {
        self.hash_with(password, Priority::Interactive)
            .await
            .expect("interactive hashes are never refused")
    }

    /// Hashes a password in the given queue.
    pub async fn hash_with(&self, password: String, priority: Priority) -> Result<String, Busy> {
        let (tx, rx) = oneshot::channel();
        self.queue(Job::Hash(password, tx), priority)?;
        Ok(rx.await.expect("hashing does not panic"))
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there
    /// is no user, so both take the same time. Always false without a user.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let (tx, rx) = oneshot::channel();
        self.queue(Job::Verify(password, phc, tx), Priority::Interactive)
            .expect("interactive jobs are never refused");
        rx.await.expect("hashing does not panic")
    }

    /// Background hashes waiting now.
    pub fn background_waiting(&self) -> usize {
        self.shared.0.lock().background.len()
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
    async fn logins_go_before_waiting_registrations() {
        let h = Hasher::new(1);
        let phc = hash_blocking("pw-login");
        let mut registrations = Vec::new();
        for i in 0..8 {
            let h = h.clone();
            registrations.push(tokio::spawn(async move {
                h.hash_with(format!("pw-{i}"), Priority::Background).await
            }));
        }
        tokio::task::yield_now().await;
        let started = std::time::Instant::now();
        assert!(h.verify("pw-login".into(), Some(phc)).await);
        let login = started.elapsed();
        let mut waited = Vec::new();
        for r in registrations {
            r.await.unwrap().unwrap();
            waited.push(started.elapsed());
        }
        // The login waited for at most the hash in progress, not for all 8.
        assert!(
            login < *waited.last().unwrap() / 2,
            "login {login:?}, registrations {waited:?}"
        );
    }

    #[tokio::test]
    async fn a_full_background_queue_refuses_at_once() {
        let h = Hasher::new(1);
        let mut waiting = Vec::new();
        let mut refused = 0;
        for i in 0..(BACKGROUND_QUEUE + 10) {
            let (tx, rx) = oneshot::channel();
            match h.queue(Job::Hash(format!("p{i}"), tx), Priority::Background) {
                Ok(()) => waiting.push(rx),
                Err(Busy) => refused += 1,
            }
        }
        assert!(refused >= 5, "refused {refused}");
        for rx in waiting {
            rx.await.unwrap();
        }
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let h = Hasher::new(2);
        assert!(!h.verify("anything".into(), None).await);
    }
}
