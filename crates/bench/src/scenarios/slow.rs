//! `slow`: the same fan-out without and with receivers that connect and
//! never read (slow consumers), in alternating rounds. Reports the others'
//! p99 in every run, their latency over all runs of each kind pooled (one
//! histogram per kind) and the ratio of the pooled p99s, the server's peak
//! memory for each kind (RSS sampled every 50 ms), and whether the server
//! cut the stalled receivers off.
//!
//! One run of each kind is not enough here: at a few milliseconds, two
//! back-to-back runs of the very same load differ in p99 by up to half on
//! these machines, so a single pair's ratio says more about the machine
//! than about the stalled receiver. Pooling every delivery of a kind
//! weighs each run by its deliveries, where a median of per-run p99s
//! still moved by a tenth between full runs.

use super::fanout;
use crate::procfs::rss_kib;
use crate::stats::{Latency, histogram};
use crate::target::Target;
use anyhow::Result;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "slow")]
pub struct Opts {
    #[command(flatten)]
    pub fanout: fanout::Opts,
    /// Runs of each kind, alternating (without, with, without, …).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every run without stalled receivers, in order.
    pub runs_without: Vec<fanout::Report>,
    /// Every run with them, in order.
    pub runs_with: Vec<fanout::Report>,
    /// The others' latency over every run of each kind, pooled.
    pub without: Latency,
    pub with_stalled: Latency,
    /// The pooled p99 with the stalled receivers over the pooled without.
    pub p99_ratio: f64,
    /// Over all runs with them: stalled receivers, and how many were cut.
    pub stalled: usize,
    pub stalled_cut: usize,
    /// Messages lost to the others, over all runs.
    pub lost: u64,
    pub server_rss_start_kib: u64,
    pub server_rss_peak_without_kib: u64,
    pub server_rss_peak_with_kib: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (without, with) in self.runs_without.iter().zip(&self.runs_with) {
            writeln!(f, "  without: {without}")?;
            writeln!(f, "  with:    {with}")?;
        }
        write!(
            f,
            "slow consumer: others' pooled p99 {:.2} → {:.2} ms ({:.2}×); stalled cut {} of {}; lost {}; server RSS {} KiB, peak {} KiB without, {} KiB with",
            self.without.p99_ms,
            self.with_stalled.p99_ms,
            self.p99_ratio,
            self.stalled_cut,
            self.stalled,
            self.lost,
            self.server_rss_start_kib,
            self.server_rss_peak_without_kib,
            self.server_rss_peak_with_kib
        )
    }
}

pub async fn run(target: &Target, o: &Opts, pid: u32) -> Result<Report> {
    let start = rss_kib(pid).unwrap_or(0);
    let stalled = o.fanout.stalled.max(1);
    let (mut runs_without, mut runs_with) = (Vec::new(), Vec::new());
    let (mut pooled_without, mut pooled_with) = (histogram(), histogram());
    let (mut peak_without, mut peak_with) = (0, 0);
    for _ in 0..o.rounds.max(1) {
        for (stalled, runs, pooled, peak) in [
            (0, &mut runs_without, &mut pooled_without, &mut peak_without),
            (stalled, &mut runs_with, &mut pooled_with, &mut peak_with),
        ] {
            let opts = fanout::Opts {
                stalled,
                ..o.fanout.clone()
            };
            let (measured, kib) = sampled(pid, fanout::measure(target, &opts)).await;
            let (report, h) = measured?;
            pooled.add(&h)?;
            runs.push(report);
            *peak = (*peak).max(kib);
        }
    }
    let (without, with_stalled) = (Latency::of(&pooled_without), Latency::of(&pooled_with));
    Ok(Report {
        p99_ratio: with_stalled.p99_ms / without.p99_ms.max(0.001),
        stalled: runs_with.iter().map(|r| r.stalled).sum(),
        stalled_cut: runs_with.iter().map(|r| r.stalled_cut).sum(),
        lost: runs_without.iter().chain(&runs_with).map(|r| r.lost).sum(),
        without,
        with_stalled,
        runs_without,
        runs_with,
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
