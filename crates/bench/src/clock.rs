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

/// The shortest sleep of the pacing thread when ticks (of all senders
/// together) come more often than this. Up to 1,000 ticks a second every
/// tick is released on time; above, the thread wakes once a millisecond
/// and releases all that came due meanwhile (as tokio's timer did), so
/// that pacing does not take the generator's core from receiving.
const MIN_SLEEP_NS: u64 = 1_000_000;

/// Ticks for open-loop senders, each released within about 0.1 ms of when
/// it is due (up to 1 ms at high rates).
///
/// Sender `i` gets the instants `firsts[i] + k * interval` before `until`,
/// each as the nanosecond it was due, over its own channel. tokio's timer
/// rounds every deadline up to its next millisecond tick, so a sender it
/// woke was 1–2 ms late; latency counts from each message's intended send
/// time (so that a stalled server cannot hide behind a slowed sender), and
/// those milliseconds were measured as every server's. A thread of its own
/// sleeps on the kernel's high-resolution timer instead. A sender that
/// falls behind finds its ticks queued, still stamped with when they were
/// due.
pub fn pace(
    firsts: &[u64],
    interval: u64,
    until: u64,
) -> Vec<tokio::sync::mpsc::UnboundedReceiver<u64>> {
    let interval = interval.max(1);
    let min_sleep = if interval / (firsts.len().max(1) as u64) < MIN_SLEEP_NS {
        MIN_SLEEP_NS
    } else {
        0
    };
    let (mut due, receivers): (Vec<_>, Vec<_>) = firsts
        .iter()
        .map(|&first| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            ((first, Some(tx)), rx)
        })
        .unzip();
    std::thread::spawn(move || {
        loop {
            let now = now_ns();
            let mut earliest = u64::MAX;
            for (next, tx) in &mut due {
                while *next <= now && *next < until {
                    if tx.as_ref().is_some_and(|t| t.send(*next).is_err()) {
                        *tx = None;
                    }
                    *next += interval;
                }
                if *next < until && tx.is_some() {
                    earliest = earliest.min(*next);
                }
            }
            if earliest == u64::MAX {
                return;
            }
            let wait = earliest.saturating_sub(now_ns()).max(min_sleep);
            std::thread::sleep(Duration::from_nanos(wait));
        }
    });
    receivers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tick comes, in order, stamped with when it was due and never
    /// before; a sender that went away does not stop the others.
    #[tokio::test(flavor = "current_thread")]
    async fn pace_releases_every_tick_in_order_never_early() {
        let t0 = now_ns() + 2_000_000;
        let interval = 3_000_000;
        let mut ticks = pace(
            &[t0, t0 + 1_000_000, t0 + 2_000_000],
            interval,
            t0 + 30_000_000,
        );
        drop(ticks.pop());
        for (i, rx) in ticks.iter_mut().enumerate() {
            let first = t0 + i as u64 * 1_000_000;
            let mut got = Vec::new();
            while let Some(due) = rx.recv().await {
                assert!(now_ns() >= due, "tick {due} released early");
                got.push(due);
            }
            let want: Vec<u64> = (0..10).map(|k| first + k * interval).collect();
            assert_eq!(got, want, "sender {i}");
        }
    }
}
