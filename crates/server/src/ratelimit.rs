//! Token buckets, refilled at `rate` tokens a second and holding at most
//! `burst`, keyed by user (shared by all of a user's connections) or by
//! client address. [`Budgets`] holds the per-user ones: messages, room
//! actions, typing and read marks, uploads.

use crate::config::Config;
use securechat_proto::UserId;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before those idle long enough to be full again are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by `K` (a user by default).
#[derive(Debug)]
pub struct RateLimiter<K = UserId> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash> RateLimiter<K> {
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        RateLimiter {
            rate: rate_per_sec,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `per_hour` tokens an hour, holding as many.
    pub fn per_hour(per_hour: u32) -> Self {
        Self::new(f64::from(per_hour) / 3600.0, per_hour)
    }

    /// `per_minute` tokens a minute, holding as many.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(f64::from(per_minute) / 60.0, per_minute)
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT {
            // A bucket untouched for long enough to refill is like a new one.
            let full = Duration::from_secs_f64(self.burst / self.rate);
            buckets.retain(|_, b| now.saturating_duration_since(b.updated) < full);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }
}

/// Every per-user budget.
#[derive(Debug)]
pub struct Budgets {
    /// Messages (`send`).
    pub messages: RateLimiter,
    /// Room actions: edits, deletions, joins, leaves, new rooms and DMs,
    /// invites, renames, removals, administrators' changes.
    pub actions: RateLimiter,
    /// Typing notices and read marks.
    pub marks: RateLimiter,
    /// File uploads, taken before the body is read.
    pub uploads: RateLimiter,
    /// Searches.
    pub searches: RateLimiter,
}

impl Budgets {
    pub fn new(config: &Config) -> Self {
        Budgets {
            messages: RateLimiter::new(config.rate_per_sec, config.burst),
            actions: RateLimiter::new(config.action_rate_per_sec, config.action_burst),
            marks: RateLimiter::new(config.mark_rate_per_sec, config.mark_burst),
            uploads: RateLimiter::per_minute(config.uploads_per_minute),
            searches: RateLimiter::new(config.search_rate_per_sec, config.search_burst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let rl: RateLimiter = RateLimiter::new(5.0, 10);
        let (u, now) = (UserId(1), Instant::now());
        for _ in 0..10 {
            rl.check(u, now).unwrap();
        }
        let wait = rl.check(u, now).unwrap_err();
        assert!(wait <= Duration::from_millis(200) && wait > Duration::from_millis(190));
        rl.check(u, now + Duration::from_millis(200)).unwrap();
        assert!(rl.check(u, now + Duration::from_millis(200)).is_err());
        rl.check(UserId(2), now).unwrap();
    }
}
