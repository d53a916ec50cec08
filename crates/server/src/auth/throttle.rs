//! Login throttling with growing delays, keyed by client IP and by account.
//!
//! Each key gets `free` failed attempts; every further failure blocks the
//! key for twice as long as the one before (1 s, 2 s, 4 s, … up to 15 min).
//! A success clears the key; a key left alone for 15 minutes is forgotten.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BASE_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Keys kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
pub struct Throttle<K> {
    free: u32,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    pub fn new(free: u32) -> Self {
        Throttle {
            free,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` if `key` is blocked at `now`.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; returns the block it caused, if any.
    pub fn fail(&self, key: K, now: Instant) -> Option<Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, e| now.duration_since(e.last_failure) < FORGET_AFTER);
        }
        let entry = entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: None,
        });
        if now.duration_since(entry.last_failure) >= FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure = now;
        let over = entry.failures.checked_sub(self.free)?.checked_sub(1)?;
        let delay = BASE_DELAY
            .checked_mul(1u32.checked_shl(over.min(20)).unwrap_or(u32::MAX))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY);
        entry.blocked_until = Some(now + delay);
        Some(delay)
    }

    /// Forgets `key` (after a successful login).
    pub fn succeed(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_attempts() {
        let t = Throttle::new(3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.fail("k", now), None);
            assert!(t.check(&"k", now).is_ok());
        }
        assert_eq!(t.fail("k", now), Some(Duration::from_secs(1)));
        assert_eq!(t.check(&"k", now), Err(Duration::from_secs(1)));
        assert!(t.check(&"k", now + Duration::from_secs(1)).is_ok());
        assert_eq!(t.fail("k", now), Some(Duration::from_secs(2)));
        assert_eq!(t.fail("k", now), Some(Duration::from_secs(4)));
        for _ in 0..30 {
            t.fail("k", now);
        }
        assert_eq!(t.check(&"k", now), Err(MAX_DELAY));
        assert!(t.check(&"other", now).is_ok());
        t.succeed(&"k");
        assert!(t.check(&"k", now).is_ok());
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let t = Throttle::new(1);
        let now = Instant::now();
        t.fail("k", now);
        assert_eq!(t.fail("k", now + FORGET_AFTER), None, "count restarted");
    }
}
