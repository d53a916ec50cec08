//! `connect`: workers that repeatedly open a connection (TCP, TLS
//! handshake, WebSocket upgrade with session check, `welcome`) and close
//! it. Reports completed connects per second and their latency.

use crate::clock::now_ns;
use crate::procfs::CpuMeter;
use crate::stats::{Latency, histogram};
use crate::target::Target;
use crate::ws::connect;
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Connects in progress at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub concurrency: usize,
    pub connects: u64,
    pub failed: u64,
    pub connects_per_sec: f64,
    pub latency: Latency,
    pub generator_load: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connect C={}: {:.0} connects/s (TLS + upgrade + auth + welcome), {}; failed {}; generator core {:.0}%",
            self.concurrency,
            self.connects_per_sec,
            self.latency,
            self.failed,
            self.generator_load * 100.0
        )
    }
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    let tokens = target.users(4).await?;
    let end = now_ns() + (o.secs * 1e9) as u64;
    let cpu = CpuMeter::start();
    let mut tasks = Vec::new();
    for i in 0..o.concurrency.max(1) {
        let target = target.clone();
        let token = tokens[i % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (mut h, mut ok, mut failed) = (histogram(), 0u64, 0u64);
            while now_ns() < end {
                let t = now_ns();
                match connect(&target, &token).await {
                    Ok((mut ws, _)) => {
                        let _ = h.record(((now_ns() - t) / 1000).max(1));
                        ok += 1;
                        let _ = ws.close(None).await;
                    }
                    Err(_) => failed += 1,
                }
            }
            (h, ok, failed)
        }));
    }
    let mut h = histogram();
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (th, o2, f) = t.await?;
        h.add(th)?;
        ok += o2;
        failed += f;
    }
    Ok(Report {
        concurrency: o.concurrency,
        connects: ok,
        failed,
        connects_per_sec: ok as f64 / o.secs,
        latency: Latency::of(&h),
        generator_load: cpu.load(),
    })
}
