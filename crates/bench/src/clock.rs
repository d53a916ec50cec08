//! One monotonic clock for the whole run: send times travel inside message
//! bodies as nanoseconds since it started, and receivers in the same
//! process read the same clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the run's clock started.
pub fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The instant `ns` nanoseconds after the clock started.
pub fn at(ns: u64) -> tokio::time::Instant {
    let start = *START.get_or_init(Instant::now);
    tokio::time::Instant::from_std(start + Duration::from_nanos(ns))
}
