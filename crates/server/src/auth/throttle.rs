//! Login throttling that counts every attempt before its password is
//! checked, and that no stranger can turn into a lockout.
//!
//! Keys (an address is an IPv4 address or an IPv6 /64, as in
//! [`crate::peers`]):
//!
//! - **(account, address)**: `per_pair` free failures, then each further
//!   failure blocks the pair for twice as long as the one before (1 s, 2 s,
//!   4 s, … up to 15 min). This is what stops guessing from one place.
//! - **address**: `per_address` free failures whatever the account, then
//!   the same growing delays: one address cannot spray many accounts.
//! - **account**: failures from all addresses. Past `slowdown_after`, the
//!   account is under attack and its pairs lose their free failures: an
//!   address that has failed on it waits after every failure. An address
//!   with no recent failure on it is never held back by the account, so
//!   its owner can still log in while strangers guess.
//!
//! [`LoginThrottle::begin`] checks and counts an attempt as a failure in
//! one step under one lock, before any password is verified; a right
//! password then gives the attempt back ([`Attempt::succeeded`]). So
//! however many attempts arrive at once, no more are checked than the
//! limits allow. A key left alone for 15 minutes is forgotten.

use crate::peers::peer_of;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
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
    last: Instant,
}

/// Failure counts for one kind of key.
#[derive(Debug)]
struct Counts<K>(HashMap<K, Entry>);

impl<K: Eq + Hash + Clone> Counts<K> {
    fn new() -> Self {
        Counts(HashMap::new())
    }

    /// Recent failures of `key` at `now` (0 once forgotten).
    fn failures(&self, key: &K, now: Instant) -> u32 {
        match self.0.get(key) {
            Some(e) if now.saturating_duration_since(e.last) < FORGET_AFTER => e.failures,
            _ => 0,
        }
    }

    /// How long `key` must still wait at `now`, given `free` failures.
    fn blocked(&self, key: &K, free: u32, now: Instant) -> Option<Duration> {
        let failures = self.failures(key, now);
        let over = failures.checked_sub(free)?.checked_sub(1)?;
        let delay = BASE_DELAY
            .checked_mul(1u32.checked_shl(over.min(20)).unwrap_or(u32::MAX))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY);
        let until = self.0.get(key)?.last + delay;
        (until > now).then(|| until - now)
    }

    /// Counts one failure of `key` at `now`.
    fn count(&mut self, key: K, now: Instant) {
        if self.0.len() >= SWEEP_AT {
            self.0
                .retain(|_, e| now.saturating_duration_since(e.last) < FORGET_AFTER);
        }
        let failures = self.failures(&key, now);
        self.0.insert(
            key,
            Entry {
                failures: failures + 1,
                last: now,
            },
        );
    }

    /// Takes back one failure of `key` (the attempt succeeded).
    fn refund(&mut self, key: &K) {
        if let Some(e) = self.0.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
        }
    }
}

#[derive(Debug)]
struct Maps {
    pairs: Counts<(String, IpAddr)>,
    addresses: Counts<IpAddr>,
    accounts: Counts<String>,
}

/// The login throttle: see the module documentation.
#[derive(Debug)]
pub struct LoginThrottle {
    per_pair: u32,
    per_address: u32,
    slowdown_after: u32,
    maps: Mutex<Maps>,
}

/// One counted attempt. Unless [`succeeded`](Attempt::succeeded) is
/// called, it stays counted as a failure.
#[must_use = "an attempt stays counted as a failure unless it succeeded"]
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    account: String,
    address: IpAddr,
}

impl LoginThrottle {
    pub fn new(per_pair: u32, per_address: u32, slowdown_after: u32) -> Self {
        LoginThrottle {
            per_pair,
            per_address,
            slowdown_after,
            maps: Mutex::new(Maps {
                pairs: Counts::new(),
                addresses: Counts::new(),
                accounts: Counts::new(),
            }),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an attempt on `account` from `ip` as a failure, or says how
    /// long to wait if one of its keys is blocked (then nothing is counted
    /// and no password may be checked).
    pub fn begin(&self, account: &str, ip: IpAddr, now: Instant) -> Result<Attempt<'_>, Duration> {
        let address = peer_of(ip);
        let account = account.to_owned();
        let pair = (account.clone(), address);
        let mut maps = self.maps();
        let under_attack = maps.accounts.failures(&account, now) >= self.slowdown_after;
        let pair_free = if under_attack { 0 } else { self.per_pair };
        let wait = [
            maps.pairs.blocked(&pair, pair_free, now),
            maps.addresses.blocked(&address, self.per_address, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        maps.pairs.count(pair, now);
        maps.addresses.count(address, now);
        maps.accounts.count(account.clone(), now);
        Ok(Attempt {
            throttle: self,
            account,
            address,
        })
    }
}

impl Attempt<'_> {
    /// The password was right: the pair starts afresh, and the address and
    /// the account get this attempt back.
    pub fn succeeded(self) {
        let mut maps = self.throttle.maps();
        maps.pairs.0.remove(&(self.account.clone(), self.address));
        maps.addresses.refund(&self.address);
        maps.accounts.refund(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn delays_grow_after_the_free_attempts_of_a_pair() {
        let t = LoginThrottle::new(3, 100, 100);
        let now = Instant::now();
        for _ in 0..4 {
            let _ = t.begin("k", A, now).expect("free, and the one after them");
        }
        assert_eq!(t.begin("k", A, now).unwrap_err(), Duration::from_secs(1));
        let _ = t.begin("k", A, now + Duration::from_secs(1)).unwrap();
        assert_eq!(
            t.begin("k", A, now + Duration::from_secs(1)).unwrap_err(),
            Duration::from_secs(2)
        );
        let _ = t
            .begin("k", B, now)
            .expect("another address is not held back");
        let _ = t.begin("other", A, now).expect("nor another account");
    }

    #[test]
    fn attempts_count_before_they_are_checked() {
        // Many attempts begun together, none finished: only the free ones
        // and one more get through.
        let t = LoginThrottle::new(5, 100, 100);
        let now = Instant::now();
        let admitted = (0..24).filter(|_| t.begin("k", A, now).is_ok()).count();
        assert_eq!(admitted, 6);
    }

    #[test]
    fn a_success_clears_the_pair_and_gives_the_attempt_back() {
        let t = LoginThrottle::new(2, 3, 100);
        let now = Instant::now();
        let _ = t.begin("k", A, now).unwrap();
        let _ = t.begin("k", A, now).unwrap();
        t.begin("k", A, now).unwrap().succeeded();
        assert_eq!(t.maps().addresses.failures(&peer_of(A), now), 2);
        for _ in 0..2 {
            let _ = t.begin("k", A, now).unwrap();
        }
        assert!(t.begin("other", A, now).is_err(), "the address is spent");
    }

    #[test]
    fn under_attack_only_addresses_that_failed_are_slowed() {
        let t = LoginThrottle::new(5, 1000, 10);
        let now = Instant::now();
        for i in 0..10u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
            let _ = t.begin("admin", ip, now).unwrap();
        }
        // The attackers' addresses now wait after each failure…
        let attacker = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 0));
        assert_eq!(
            t.begin("admin", attacker, now).unwrap_err(),
            Duration::from_secs(1)
        );
        // …while the owner, from an address with no failure, gets in.
        t.begin("admin", A, now).unwrap().succeeded();
        let _ = t.begin("admin", A, now).expect("and may even mistype once");
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let t = LoginThrottle::new(1, 100, 100);
        let now = Instant::now();
        let _ = t.begin("k", A, now).unwrap();
        let _ = t.begin("k", A, now).unwrap();
        assert!(t.begin("k", A, now).is_err());
        let _ = t.begin("k", A, now + FORGET_AFTER).expect("forgotten");
    }

    #[test]
    fn ipv6_addresses_are_throttled_by_their_64() {
        let t = LoginThrottle::new(1, 100, 100);
        let now = Instant::now();
        let _ = t.begin("k", "2001:db8::1".parse().unwrap(), now).unwrap();
        let _ = t.begin("k", "2001:db8::2".parse().unwrap(), now).unwrap();
        assert!(t.begin("k", "2001:db8::3".parse().unwrap(), now).is_err());
        let _ = t
            .begin("k", "2001:db8:0:1::1".parse().unwrap(), now)
            .unwrap();
    }
}
