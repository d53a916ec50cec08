//! `fanout`: N receivers in one room, S senders at a fixed total rate R
//! (open loop: each message carries its intended send time, so a stalled
//! server shows as latency instead of a slower sender). Reports deliveries
//! per second and delivery latency, and how many were lost.

use super::open_load;
use crate::clock::{at, now_ns, pace};
use crate::lean::{Lean, Op};
use crate::procfs::CpuMeter;
use crate::proof::{Counts, Tally};
use crate::stats::{Latency, histogram};
use crate::target::Target;
use crate::ws::{body, connect_stalled, delivery, is_rate_limited, seq_of};
use anyhow::Result;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Receiving connections in the room.
    #[arg(long, default_value_t = 100)]
    pub receivers: usize,
    /// Sending connections.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of measured load (after a one-second warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Accounts the connections are spread over.
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Extra receivers that connect and never read (slow consumers; they
    /// are not counted as receivers). SecureChat only.
    #[arg(long, default_value_t = 0)]
    pub stalled: usize,
    /// Bytes of padding added to each message body.
    #[arg(long, default_value_t = 0)]
    pub pad: usize,
    /// `max` only: rate steps before the ladder stops while the server
    /// still keeps up.
    #[arg(long, default_value_t = 16)]
    pub max_steps: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub receivers: usize,
    pub senders: usize,
    pub offered_rate: f64,
    pub sent: u64,
    pub acked: u64,
    pub rate_limited: u64,
    pub deliveries: u64,
    pub expected_deliveries: u64,
    /// Deliveries of messages sent in the window that never came, and
    /// what came wrongly (each receiver checks every message: see
    /// [`crate::proof`]).
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    pub deliveries_per_sec: f64,
    pub latency: Latency,
    pub generator_load: f64,
    /// The server's CPU over the measured window (1.0 = one core), when
    /// `--server-pid` was given: the cost of the work, whoever saturates.
    pub server_load: Option<f64>,
    /// Receivers that never read, and how many of them the server cut off
    /// by the end (close 1013, or the connection simply ended).
    pub stalled: usize,
    pub stalled_cut: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fanout N={} S={} R={}/s: {:.0} deliveries/s, {}; sent {}, acked {}, rate-limited {}, lost {}, duplicated {}, out of order {}, corrupted {}; generator core {:.0}%",
            self.receivers,
            self.senders,
            self.offered_rate,
            self.deliveries_per_sec,
            self.latency,
            self.sent,
            self.acked,
            self.rate_limited,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.corrupted,
            self.generator_load * 100.0
        )?;
        if let Some(load) = self.server_load {
            write!(f, ", server {:.0}%", load * 100.0)?;
        }
        if self.stalled > 0 {
            write!(
                f,
                "; stalled receivers {}, cut off {}",
                self.stalled, self.stalled_cut
            )?;
        }
        Ok(())
    }
}

impl Report {
    /// Deliveries that came wrongly: duplicated, out of order, corrupted.
    pub fn wrong(&self) -> u64 {
        self.duplicated + self.out_of_order + self.corrupted
    }
}

const WARMUP_NS: u64 = 1_000_000_000;

/// The senders' tallies: sends meant for the measured window, acks, and
/// rate-limit refusals.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    rate_limited: AtomicU64,
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    Ok(measure(target, o).await?.0)
}

/// [`run`], also returning the latency histogram behind the report, so
/// that runs can be pooled.
pub async fn measure(target: &Target, o: &Opts) -> Result<(Report, Histogram<u64>)> {
    measure_while(target, o, || {}).await
}

/// [`measure`], calling `on_start` once everything is set up (accounts,
/// room, connections), as the load begins: for what should run alongside
/// the load only.
pub async fn measure_while(
    target: &Target,
    o: &Opts,
    on_start: impl FnOnce(),
) -> Result<(Report, Histogram<u64>)> {
    let tokens = target.users(o.users.max(1)).await?;
    let room = target.room(&tokens[0], &tokens).await?;
    let receivers = open_load(target, &tokens, o.receivers, 64).await?;
    let senders = open_load(target, &tokens, o.senders.max(1), 64).await?;
    let mut stalled = Vec::new();
    for i in 0..o.stalled {
        stalled.push(connect_stalled(target, &tokens[i % tokens.len()]).await?);
    }
    // Let presence notices and the like settle.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (stop_tx, stop) = watch::channel(false);
    on_start();
    let begin = now_ns() + 100_000_000;
    let measure_from = begin + WARMUP_NS;
    let measure_to = measure_from + (o.secs * 1e9) as u64;

    // One histogram for every receiver: the generator runs on one thread,
    // so the lock is never contended, and one hot histogram stays in cache
    // where a thousand (one per receiver) cost it a cache miss per frame.
    let latencies = Arc::new(Mutex::new(histogram()));
    let with_seq = target.proto == crate::target::Proto::Securechat;
    let mut rx_tasks = Vec::new();
    for Lean {
        mut reader,
        mut writer,
    } in receivers
    {
        let mut stop = stop.clone();
        let latencies = latencies.clone();
        rx_tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            // One stop future for the whole run, not one per frame.
            let mut stopped = std::pin::pin!(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            loop {
                let more = tokio::select! {
                    more = reader.fill() => more,
                    _ = &mut stopped => break,
                };
                if !matches!(more, Ok(true)) {
                    break;
                }
                // The frames of one socket read arrived together: one
                // clock reading and one histogram lock serve them all (a
                // read holds a few KiB: tens of frames at most). At a
                // million deliveries a second, reading the clock per frame
                // was 5% of this core.
                let now = now_ns();
                let mut ping = None;
                let ended = {
                    let mut h = lock(&latencies);
                    loop {
                        match reader.buffered() {
                            Ok(Some(frame)) => match frame.op {
                                Op::Text => {
                                    if let Some(d) = delivery(frame.payload) {
                                        let seq = if with_seq {
                                            seq_of(frame.payload)
                                        } else {
                                            None
                                        };
                                        tally.record(d.sender, d.n, d.intact, seq);
                                        let sent_ns = d.intended_ns;
                                        if d.intact && (measure_from..measure_to).contains(&sent_ns)
                                        {
                                            let _ = h.record(
                                                (now.saturating_sub(sent_ns) / 1000).max(1),
                                            );
                                        }
                                    }
                                }
                                Op::Ping => ping = Some(frame.payload.to_vec()),
                                Op::Close => break true,
                                Op::Binary | Op::Pong => {}
                            },
                            Ok(None) => break false,
                            Err(_) => break true,
                        }
                    }
                };
                if ended {
                    break;
                }
                if let Some(payload) = ping
                    && writer.pong(&payload).await.is_err()
                {
                    break;
                }
            }
            tally
        }));
    }

    let counters = Arc::new(Counters::default());
    let pad: Arc<str> = if o.pad > 0 {
        format!(":{}", "x".repeat(o.pad - 1)).into()
    } else {
        "".into()
    };
    let per_sender = o.rate / o.senders.max(1) as f64;
    let interval_ns = (1e9 / per_sender) as u64;
    // Stagger the senders across one interval.
    let firsts: Vec<u64> = (0..senders.len())
        .map(|i| begin + interval_ns * i as u64 / senders.len() as u64)
        .collect();
    let mut ticks = pace(&firsts, interval_ns, measure_to).into_iter();
    let mut tx_tasks = Vec::new();
    for (
        i,
        Lean {
            reader: mut stream,
            writer: mut sink,
        },
    ) in senders.into_iter().enumerate()
    {
        let counters = counters.clone();
        let mut stop = stop.clone();
        // Acks and refusals, counted for messages meant for the window.
        // Pings go unanswered here: a sender speaks all the time, so the
        // server never finds it silent.
        let reader = tokio::spawn({
            let counters = counters.clone();
            let target = target.clone();
            async move {
                loop {
                    tokio::select! {
                        frame = stream.next() => match frame {
                            Ok(Some(frame)) if frame.op == Op::Text => {
                                if target.is_ack(frame.payload, i) {
                                    counters.acked.fetch_add(1, Relaxed);
                                } else if is_rate_limited(frame.payload) {
                                    counters.rate_limited.fetch_add(1, Relaxed);
                                }
                            }
                            Ok(Some(frame)) if frame.op == Op::Close => break,
                            Ok(Some(_)) => {}
                            _ => break,
                        },
                        _ = stop.wait_for(|s| *s) => break,
                    }
                }
            }
        });
        let target = target.clone();
        let pad = pad.clone();
        let mut ticks = ticks.next().expect("one tick stream per sender");
        tx_tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            // The numbers this sender sent in the measured window.
            let mut window: Option<std::ops::Range<u64>> = None;
            while let Some(next) = ticks.recv().await {
                let body = body(i, n, next, &pad);
                let frame = target.send_frame(room, i, n, &body);
                if sink.text(&frame).await.is_err() {
                    break;
                }
                if (measure_from..measure_to).contains(&next) {
                    counters.sent.fetch_add(1, Relaxed);
                    window = Some(window.map_or(n, |w| w.start)..n + 1);
                }
                n += 1;
            }
            (sink, reader, window)
        }));
    }

    tokio::time::sleep_until(at(measure_from)).await;
    let cpu = CpuMeter::start();
    let server_cpu = target.server_cpu();
    tokio::time::sleep_until(at(measure_to)).await;
    let generator_load = cpu.load();
    let server_load = server_cpu.map(|m| m.load());
    let mut keep = Vec::new();
    let mut windows = Vec::new();
    for t in tx_tasks {
        let (sink, reader, window) = t.await?;
        keep.push((sink, reader));
        windows.push(window.unwrap_or(0..0));
    }
    // Let the last messages arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let mut counts = Counts::default();
    for t in rx_tasks {
        let tally = t.await?;
        counts.add(&tally.counts);
        counts.lost += tally.missing(&windows);
    }
    let h = std::mem::replace(&mut *lock(&latencies), histogram());
    for (_, reader) in keep {
        let _ = reader.await;
    }
    let mut stalled_cut = 0;
    for ws in stalled {
        if was_cut(ws).await {
            stalled_cut += 1;
        }
    }
    let sent = counters.sent.load(Relaxed);
    let deliveries = h.len();
    let expected = sent * o.receivers as u64;
    let report = Report {
        receivers: o.receivers,
        senders: o.senders,
        offered_rate: o.rate,
        sent,
        acked: counters.acked.load(Relaxed),
        rate_limited: counters.rate_limited.load(Relaxed),
        deliveries,
        expected_deliveries: expected,
        lost: counts.lost,
        duplicated: counts.duplicated,
        out_of_order: counts.out_of_order,
        corrupted: counts.corrupted,
        deliveries_per_sec: deliveries as f64 / o.secs,
        latency: Latency::of(&h),
        generator_load,
        server_load,
        stalled: o.stalled,
        stalled_cut,
    };
    Ok((report, h))
}

/// The shared histogram (a receiver that panicked while holding it left
/// it whole: recording is one counter increment).
fn lock(h: &Mutex<Histogram<u64>>) -> std::sync::MutexGuard<'_, Histogram<u64>> {
    h.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads what a stalled connection was sent until it ends (the server cut
/// it off: true) or stays open with nothing more to read (false).
async fn was_cut(mut ws: crate::ws::Ws) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            Err(_) => return false,
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// The highest rate whose p99 stays within this.
const P99_LIMIT_MS: f64 = 100.0;

/// What ended a `max` ladder, and so what its figure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// A step broke p99 ≤ 100 ms, lost messages or was refused: the figure
    /// is the server's limit (within the last step's ratio).
    Server,
    /// The step that failed had the generator's own core saturated: the
    /// server's limit may be higher than the figure.
    Generator,
    /// The step limit came while the server still kept up.
    Steps,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaxReport {
    pub receivers: usize,
    pub steps: Vec<Report>,
    /// Deliveries per second at the highest rate that kept p99 ≤ 100 ms,
    /// lost nothing and left the generator's core under its limit.
    pub max_deliveries_per_sec: f64,
    pub limit: Limit,
}

impl std::fmt::Display for MaxReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.steps {
            writeln!(f, "  {s}")?;
        }
        let floor = if self.limit == Limit::Server {
            ""
        } else {
            "≥ "
        };
        write!(
            f,
            "max N={}: {floor}{:.0} deliveries/s sustained with p99 ≤ {P99_LIMIT_MS} ms (limit: {:?})",
            self.receivers, self.max_deliveries_per_sec, self.limit
        )
    }
}

/// Raises the rate by half each step until p99 exceeds 100 ms or messages
/// are lost. A step where the generator's own core passed `max_load` is
/// not counted (it measures the generator) but does not end the ladder: a
/// server that batches frames once it saturates costs the generator less
/// per delivery, and a later step may measure it again. When the server
/// was the limit, one more step halfway (geometrically) between the last
/// rate and the failed one narrows the figure to ×1.22.
pub async fn max(target: &Target, o: &Opts, max_load: f64) -> Result<MaxReport> {
    ladder(o, max_load, async |rate| {
        run(target, &Opts { rate, ..o.clone() }).await
    })
    .await
}

/// The `max` ladder over any way of running a step at a rate.
async fn ladder(
    o: &Opts,
    max_load: f64,
    mut run_at: impl AsyncFnMut(f64) -> Result<Report>,
) -> Result<MaxReport> {
    let mut steps: Vec<Report> = Vec::new();
    let mut best = 0.0f64;
    let mut rate = o.rate;
    let limit = loop {
        let step = run_at(rate).await?;
        if let Some(limit) = judge(step, max_load, &mut steps, &mut best) {
            break limit;
        }
        if steps.len() >= o.max_steps.max(1) {
            break Limit::Steps;
        }
        rate *= 1.5;
    };
    if limit == Limit::Server && best > 0.0 {
        let step = run_at(rate / 1.5f64.sqrt()).await?;
        judge(step, max_load, &mut steps, &mut best);
    }
    Ok(MaxReport {
        receivers: o.receivers,
        steps,
        max_deliveries_per_sec: best,
        limit,
    })
}

/// Records one step of the ladder, raising `best` if it kept up with the
/// generator under its limit: what ended the ladder, if this step did.
fn judge(step: Report, max_load: f64, steps: &mut Vec<Report>, best: &mut f64) -> Option<Limit> {
    let ok = step.latency.p99_ms <= P99_LIMIT_MS
        && step.lost == 0
        && step.rate_limited == 0
        && step.wrong() == 0;
    let saturated = step.generator_load > max_load;
    if ok && !saturated {
        *best = best.max(step.deliveries_per_sec);
    }
    steps.push(step);
    match (ok, saturated) {
        (true, _) => None,
        (false, true) => Some(Limit::Generator),
        (false, false) => Some(Limit::Server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max_steps: usize) -> Opts {
        Opts {
            receivers: 10,
            senders: 1,
            rate: 100.0,
            secs: 1.0,
            users: 1,
            stalled: 0,
            pad: 0,
            max_steps,
        }
    }

    /// A server that keeps p99 at 5 ms up to `cap` messages/s and at 500 ms
    /// beyond, measured by a generator whose core is over its limit at
    /// `saturated` rates.
    fn model(cap: f64, saturated: impl Fn(f64) -> bool) -> impl AsyncFnMut(f64) -> Result<Report> {
        async move |rate: f64| {
            let p99_ms = if rate <= cap { 5.0 } else { 500.0 };
            Ok(Report {
                receivers: 10,
                senders: 1,
                offered_rate: rate,
                sent: rate as u64,
                acked: rate as u64,
                rate_limited: 0,
                deliveries: rate as u64 * 10,
                expected_deliveries: rate as u64 * 10,
                lost: 0,
                duplicated: 0,
                out_of_order: 0,
                corrupted: 0,
                deliveries_per_sec: rate * 10.0,
                latency: Latency {
                    p50_ms: p99_ms / 2.0,
                    p99_ms,
                    p999_ms: p99_ms,
                    max_ms: p99_ms,
                },
                generator_load: if saturated(rate) { 0.9 } else { 0.5 },
                server_load: None,
                stalled: 0,
                stalled_cut: 0,
            })
        }
    }

    fn rates(r: &MaxReport) -> Vec<u64> {
        r.steps
            .iter()
            .map(|s| s.offered_rate.round() as u64)
            .collect()
    }

    #[tokio::test]
    async fn the_server_limit_ends_the_ladder_and_a_halfway_step_narrows_it() {
        let r = ladder(&opts(16), 0.8, model(400.0, |_| false))
            .await
            .unwrap();
        assert_eq!(r.limit, Limit::Server);
        // 100, 150, 225, 338 keep up; 506 fails; halfway: 506 / 1.22 = 413.
        assert_eq!(rates(&r), vec![100, 150, 225, 338, 506, 413]);
        assert_eq!(r.max_deliveries_per_sec, 3375.0, "413 failed too");
        let r = ladder(&opts(16), 0.8, model(450.0, |_| false))
            .await
            .unwrap();
        assert_eq!(r.max_deliveries_per_sec.round(), 4134.0, "413 kept up");
    }

    #[tokio::test]
    async fn saturated_steps_are_not_counted_but_do_not_end_the_ladder() {
        // The generator is saturated at 150 and 225 only (a server that
        // batches once saturated gets cheaper to receive).
        let band = |rate: f64| (140.0..230.0).contains(&rate);
        let r = ladder(&opts(16), 0.8, model(300.0, band)).await.unwrap();
        assert_eq!(r.limit, Limit::Server);
        assert_eq!(rates(&r), vec![100, 150, 225, 338, 276]);
        assert_eq!(r.max_deliveries_per_sec.round(), 2756.0);
        // Fails while saturated: the generator, not the server, is the
        // limit, and no halfway step runs.
        let r = ladder(&opts(16), 0.8, model(300.0, |rate| rate > 200.0))
            .await
            .unwrap();
        assert_eq!(r.limit, Limit::Generator);
        assert_eq!(rates(&r), vec![100, 150, 225, 338]);
        assert_eq!(r.max_deliveries_per_sec, 1500.0);
        assert!(r.to_string().contains("≥ 1500"), "{r}");
    }

    #[tokio::test]
    async fn the_step_limit_ends_a_ladder_that_still_keeps_up() {
        let r = ladder(&opts(3), 0.8, model(f64::MAX, |_| false))
            .await
            .unwrap();
        assert_eq!(r.limit, Limit::Steps);
        assert_eq!(rates(&r), vec![100, 150, 225]);
        assert_eq!(r.max_deliveries_per_sec, 2250.0);
    }
}
