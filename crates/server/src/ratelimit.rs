//! Per-user message rate limit: a token bucket refilled at `rate` tokens a
//! second, holding at most `burst`. Shared by all of a user's connections.

use securechat_proto::UserId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by user.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        RateLimiter {
            rate: rate_per_sec,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`, or says how long until one is available.
    pub fn check(&self, user: UserId, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(user).or_insert(Bucket {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let rl = RateLimiter::new(5.0, 10);
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
