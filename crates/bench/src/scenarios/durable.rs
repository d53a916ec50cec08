//! `durable`: C senders, each in a room of its own (no fan-out), each
//! keeping W sends in flight; an ack means the message is committed to
//! disk. Reports acked messages per second and send→ack latency.

use super::open_many;
use crate::clock::now_ns;
use crate::procfs::CpuMeter;
use crate::stats::{Latency, histogram};
use crate::target::Target;
use crate::ws::{body, is_ack, is_rate_limited};
use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Concurrent senders (one account and one room each).
    #[arg(long, default_value_t = 100)]
    pub senders: usize,
    /// Sends each sender keeps in flight.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// Seconds of measured load (after a one-second warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub senders: usize,
    pub window: usize,
    pub acked: u64,
    pub acked_per_sec: f64,
    pub rate_limited: u64,
    pub latency: Latency,
    pub generator_load: f64,
    /// Cores the server's processes (`--server-pid`) used, if given.
    pub server_load: Option<f64>,
    /// Acked messages per second per server core.
    pub acked_per_server_core: Option<f64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "durable C={} W={}: {:.0} acked messages/s ({} acked), send→ack {}; rate-limited {}; generator core {:.0}%",
            self.senders,
            self.window,
            self.acked_per_sec,
            self.acked,
            self.latency,
            self.rate_limited,
            self.generator_load * 100.0
        )?;
        if let (Some(load), Some(per)) = (self.server_load, self.acked_per_server_core) {
            write!(f, "; server {load:.2} cores, {per:.0} acked/s per core")?;
        }
        Ok(())
    }
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    let tokens = target.users(o.senders).await?;
    let mut rooms = Vec::new();
    for t in &tokens {
        rooms.push(target.room(t, &[]).await?);
    }
    let conns = open_many(target, &tokens, o.senders, 64).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let window = o.window.max(1);
    let measure_from = now_ns() + 1_000_000_000;
    let measure_to = measure_from + (o.secs * 1e9) as u64;
    let mut tasks = Vec::new();
    for (i, ((ws, _), room)) in conns.into_iter().zip(rooms).enumerate() {
        let (mut sink, mut stream) = ws.split();
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let (mut acked, mut limited, mut n) = (0u64, 0u64, 0u64);
            let mut in_flight = VecDeque::new();
            loop {
                while in_flight.len() < window && now_ns() < measure_to {
                    let t = now_ns();
                    let frame = target.send_frame(room, i, n, &body(i, n, t, ""));
                    sink.send(Message::text(frame)).await?;
                    in_flight.push_back(t);
                    n += 1;
                }
                if in_flight.is_empty() {
                    break;
                }
                match stream.next().await {
                    Some(Ok(Message::Text(f))) => {
                        let f = f.as_bytes();
                        if is_ack(f) {
                            let sent = in_flight.pop_front().unwrap_or(0);
                            if (measure_from..measure_to).contains(&sent) {
                                acked += 1;
                                let _ = h.record(((now_ns() - sent) / 1000).max(1));
                            }
                        } else if is_rate_limited(f) {
                            in_flight.pop_front();
                            limited += 1;
                        } else if f.starts_with(br#"{"type":"error""#) {
                            bail!("sender {i}: {}", String::from_utf8_lossy(f));
                        }
                    }
                    Some(Ok(_)) => {}
                    other => bail!("sender {i}: connection ended: {other:?}"),
                }
            }
            anyhow::Ok((h, acked, limited))
        }));
    }
    tokio::time::sleep_until(crate::clock::at(measure_from)).await;
    let cpu = CpuMeter::start();
    let server_cpu = target.server_cpu();
    tokio::time::sleep_until(crate::clock::at(measure_to)).await;
    let generator_load = cpu.load();
    let server_load = server_cpu.map(|m| m.load());
    let mut h = histogram();
    let (mut acked, mut limited) = (0, 0);
    for t in tasks {
        let (th, a, l) = t.await??;
        h.add(th)?;
        acked += a;
        limited += l;
    }
    Ok(Report {
        senders: o.senders,
        window,
        acked,
        acked_per_sec: acked as f64 / o.secs,
        rate_limited: limited,
        latency: Latency::of(&h),
        generator_load,
        server_load,
        acked_per_server_core: server_load
            .filter(|l| *l > 0.0)
            .map(|l| acked as f64 / o.secs / l),
    })
}
