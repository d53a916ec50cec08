//! `slow`: the same fan-out twice, first as it is, then with receivers
//! that connect and never read (slow consumers). Reports the others' p99
//! in both runs, the server's peak memory in both (RSS sampled every
//! 50 ms), and whether the server cut the stalled receivers off.

use super::fanout::{self, Opts};
use crate::procfs::rss_kib;
use crate::target::Target;
use anyhow::Result;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub without: fanout::Report,
    pub with_stalled: fanout::Report,
    /// The others' p99 with the stalled receivers over p99 without.
    pub p99_ratio: f64,
    pub server_rss_start_kib: u64,
    pub server_rss_peak_without_kib: u64,
    pub server_rss_peak_with_kib: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  without: {}", self.without)?;
        writeln!(f, "  with:    {}", self.with_stalled)?;
        write!(
            f,
            "slow consumer: others' p99 {:.2} → {:.2} ms ({:.2}×); server RSS {} KiB, peak {} KiB without, {} KiB with",
            self.without.latency.p99_ms,
            self.with_stalled.latency.p99_ms,
            self.p99_ratio,
            self.server_rss_start_kib,
            self.server_rss_peak_without_kib,
            self.server_rss_peak_with_kib
        )
    }
}

pub async fn run(target: &Target, o: &Opts, pid: u32) -> Result<Report> {
    let start = rss_kib(pid).unwrap_or(0);
    let (without, peak_without) = sampled(
        pid,
        fanout::run(
            target,
            &Opts {
                stalled: 0,
                ..o.clone()
            },
        ),
    )
    .await;
    let stalled = o.stalled.max(1);
    let (with_stalled, peak_with) = sampled(
        pid,
        fanout::run(
            target,
            &Opts {
                stalled,
                ..o.clone()
            },
        ),
    )
    .await;
    let (without, with_stalled) = (without?, with_stalled?);
    Ok(Report {
        p99_ratio: with_stalled.latency.p99_ms / without.latency.p99_ms.max(0.001),
        without,
        with_stalled,
        server_rss_start_kib: start,
        server_rss_peak_without_kib: peak_without,
        server_rss_peak_with_kib: peak_with,
    })
}

/// Runs `f` while sampling `pid`'s RSS; returns its result and the peak.
async fn sampled<T>(pid: u32, f: impl Future<Output = T>) -> (T, u64) {
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            while !done.load(Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let out = f.await;
    done.store(true, Relaxed);
    let _ = sampler.await;
    (out, peak.load(Relaxed))
}
