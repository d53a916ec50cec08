//! `logins`: a login storm against live traffic. A room's fan-out runs
//! once alone, then again while `--clients` loops (an account each) log
//! in over HTTPS as fast as they are answered (each login an argon2id
//! check).
//! Reports logins per second, their latency and refusals, and the live
//! traffic's latency and faults without and with the storm.

use super::fanout;
use crate::stats::{Latency, histogram};
use crate::target::Target;
use anyhow::Result;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "logins")]
pub struct Opts {
    /// Login loops running at once.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// The live traffic (a room's fan-out).
    #[command(flatten)]
    pub live: fanout::Opts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub clients: usize,
    pub logins: u64,
    pub logins_per_sec: f64,
    pub login_latency: Latency,
    /// Logins the server asked to slow down (429), and other failures.
    pub throttled: u64,
    pub failed: u64,
    pub live_without: fanout::Report,
    pub live_with: fanout::Report,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "logins C={}: {:.1} logins/s, {}; throttled {}, failed {}; live traffic without: p50 {:.2} ms, p99 {:.2} ms, lost {}; with: p50 {:.2} ms, p99 {:.2} ms, lost {}",
            self.clients,
            self.logins_per_sec,
            self.login_latency,
            self.throttled,
            self.failed,
            self.live_without.latency.p50_ms,
            self.live_without.latency.p99_ms,
            self.live_without.lost,
            self.live_with.latency.p50_ms,
            self.live_with.latency.p99_ms,
            self.live_with.lost,
        )
    }
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    // One account per loop, as many people logging in at once.
    let mut names = Vec::new();
    for _ in 0..o.clients.max(1) {
        names.push(target.user_named().await?);
    }
    let (live_without, _) = fanout::measure(target, &o.live).await?;
    let stop = Arc::new(AtomicBool::new(false));
    // The storm starts once the live traffic is set up: logins go before
    // registrations in the server's password queue, so a storm from the
    // start would hold the traffic's own accounts back.
    let (go_tx, go) = tokio::sync::watch::channel(None::<Instant>);
    let mut loops = Vec::new();
    for name in names {
        let (target, stop, mut go) = (target.clone(), stop.clone(), go.clone());
        loops.push(tokio::spawn(async move {
            let (mut h, mut ok, mut throttled, mut failed) = (histogram(), 0u64, 0u64, 0u64);
            let _ = go.wait_for(Option::is_some).await;
            while !stop.load(Relaxed) {
                let t = Instant::now();
                match target.login_again(&name).await {
                    Ok(true) => {
                        let _ = h.record((t.elapsed().as_micros() as u64).max(1));
                        ok += 1;
                    }
                    Ok(false) => {
                        // Told to slow down: a client waits before trying again.
                        throttled += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        if failed == 0 {
                            eprintln!("login failed: {e:#}");
                        }
                        failed += 1;
                        // An error may come back at once: never spin.
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
            (h, ok, throttled, failed)
        }));
    }
    let live = fanout::measure_while(target, &o.live, || {
        let _ = go_tx.send(Some(Instant::now()));
    })
    .await;
    stop.store(true, Relaxed);
    let mut h = histogram();
    let (mut logins, mut throttled, mut failed) = (0, 0, 0);
    for l in loops {
        let (lh, ok, t, f) = l.await?;
        h.add(lh)?;
        logins += ok;
        throttled += t;
        failed += f;
    }
    let started = *go.borrow();
    let secs = started.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok(Report {
        clients: o.clients,
        logins,
        logins_per_sec: if secs > 0.0 {
            logins as f64 / secs
        } else {
            0.0
        },
        login_latency: Latency::of(&h),
        throttled,
        failed,
        live_without,
        live_with: live?.0,
    })
}
