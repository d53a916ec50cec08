//! `connect`: workers that repeatedly open a connection (TCP, TLS
//! handshake, WebSocket upgrade with session check, `welcome`) and close
//! it, first with full TLS handshakes (no session kept), then resuming
//! the TLS session each time (as a reconnecting client does). Reports
//! each phase's connects per second, latency, the server's CPU per
//! connect, and how many handshakes really were full or resumed.

use crate::clock::now_ns;
use crate::procfs::CpuMeter;
use crate::stats::{Latency, histogram};
use crate::target::Target;
use crate::ws::connect;
use anyhow::Result;
use rustls::HandshakeKind;
use rustls::client::Resumption;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Connects in progress at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds to run each phase (full, then resumed).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub concurrency: usize,
    pub full: Phase,
    pub resumed: Phase,
}

/// One phase's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub connects: u64,
    pub failed: u64,
    pub connects_per_sec: f64,
    pub latency: Latency,
    /// Handshakes as TLS says they went: the full phase must have no
    /// resumed one; the resumed phase's first connect per worker is full.
    pub full_handshakes: u64,
    pub resumed_handshakes: u64,
    /// The server's CPU per connect (µs), when its pid was given.
    pub server_us_per_connect: Option<f64>,
    pub generator_load: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connect C={}", self.concurrency)?;
        for (name, p) in [("full", &self.full), ("resumed", &self.resumed)] {
            write!(
                f,
                "; {name}: {:.0} connects/s (TLS + upgrade + auth + welcome), {}; handshakes full {} resumed {}; failed {}",
                p.connects_per_sec, p.latency, p.full_handshakes, p.resumed_handshakes, p.failed,
            )?;
            if let Some(us) = p.server_us_per_connect {
                write!(f, ", server {us:.0} µs per connect")?;
            }
            write!(f, ", generator core {:.0}%", p.generator_load * 100.0)?;
        }
        Ok(())
    }
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    let tokens = target.users(4).await?;
    let mut full = target.clone();
    let mut config = (*target.tls).clone();
    config.resumption = Resumption::disabled();
    full.tls = Arc::new(config);
    let full = phase(&full, &tokens, o).await?;
    let resumed = phase(target, &tokens, o).await?;
    Ok(Report {
        concurrency: o.concurrency,
        full,
        resumed,
    })
}

async fn phase(target: &Target, tokens: &[String], o: &Opts) -> Result<Phase> {
    let end = now_ns() + (o.secs * 1e9) as u64;
    let cpu = CpuMeter::start();
    let server = target.server_cpu();
    let mut tasks = Vec::new();
    for i in 0..o.concurrency.max(1) {
        let target = target.clone();
        let token = tokens[i % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (mut h, mut ok, mut failed, mut resumed) = (histogram(), 0u64, 0u64, 0u64);
            while now_ns() < end {
                let t = now_ns();
                match connect(&target, &token).await {
                    Ok((mut ws, _)) => {
                        let _ = h.record(((now_ns() - t) / 1000).max(1));
                        ok += 1;
                        if ws.get_ref().get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed)
                        {
                            resumed += 1;
                        }
                        let _ = ws.close(None).await;
                    }
                    Err(_) => failed += 1,
                }
            }
            (h, ok, failed, resumed)
        }));
    }
    let mut h = histogram();
    let (mut ok, mut failed, mut resumed) = (0, 0, 0);
    for t in tasks {
        let (th, o2, f, r) = t.await?;
        h.add(th)?;
        ok += o2;
        failed += f;
        resumed += r;
    }
    let server_load = server.map(|s| s.load());
    Ok(Phase {
        connects: ok,
        failed,
        connects_per_sec: ok as f64 / o.secs,
        latency: Latency::of(&h),
        full_handshakes: ok - resumed,
        resumed_handshakes: resumed,
        server_us_per_connect: server_load
            .filter(|_| ok > 0)
            .map(|l| l * o.secs * 1e6 / ok as f64),
        generator_load: cpu.load(),
    })
}
