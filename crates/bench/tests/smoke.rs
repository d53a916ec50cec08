//! A few seconds of every scenario against a real server (in-process, port
//! 0, temp data dir, real TLS), so the load generator cannot rot. The
//! figures are not judged here (`bench/run` measures, pinned); only that
//! each scenario runs and that nothing is lost or doubled. Then
//! `bench/report.py` turns these results into a report, as `bench/run`
//! does, so a change to the JSON cannot break the report unnoticed.

use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_securechat-bench");

async fn bench(addr: std::net::SocketAddr, ca: &std::path::Path, args: &[&str]) -> Value {
    let mut cmd = Command::new(BIN);
    cmd.args(["--addr", &addr.to_string()])
        .arg("--ca")
        .arg(ca)
        .args(["--json", "--max-load", "100"])
        .args(["--server-pid", &std::process::id().to_string()])
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Keeps `r` under `names` (bench/run's file names) for the report.
fn keep(results: &std::path::Path, names: &[&str], r: &Value) {
    for name in names {
        std::fs::write(results.join(format!("{name}.json")), r.to_string()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_and_loses_nothing() {
    securechat_server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let config = securechat_server::Config {
        data_dir: dir.path().to_owned(),
        rate_per_sec: 100_000.0,
        burst: 100_000,
        // Small, so that `slow`'s stalled receiver (8 KB frames) is cut off
        // within about a second; not smaller, or a stall on a busy CI
        // machine (a slow disk sync, then a burst) gets a healthy
        // connection cut too: the sender's first, as it gets two frames
        // (ack and delivery) per message.
        outbound_queue: 256,
        // The scenarios register dozens of users and open many sockets per
        // user from one address: that is load, not an attack.
        registrations_per_ip_per_hour: 100_000,
        max_sockets_per_user: 100_000,
        max_sockets_per_ip: 100_000,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let prepared = securechat_server::Prepared::new(config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(securechat_server::serve(listener, prepared, async {
        let _ = stopped.await;
    }));
    let ca = dir.path().join("tls/ca.pem");
    let results = tempfile::tempdir().unwrap();
    let results = results.path();

    let r = bench(
        addr,
        &ca,
        &[
            "fanout",
            "--receivers",
            "10",
            "--senders",
            "2",
            "--rate",
            "50",
            "--secs",
            "2",
            "--users",
            "3",
        ],
    )
    .await;
    keep(results, &["fanout10"], &r);
    assert!(r["sent"].as_u64().unwrap() >= 90, "{r}");
    assert_eq!(r["deliveries"], r["expected_deliveries"], "{r}");
    for fault in ["lost", "duplicated", "out_of_order", "corrupted"] {
        assert_eq!(r[fault], 0, "{fault}: {r}");
    }
    assert!(r["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["server_load"].as_f64().is_some(), "{r}");

    // A DM-sized room.
    let r = bench(
        addr,
        &ca,
        &[
            "fanout",
            "--receivers",
            "3",
            "--senders",
            "2",
            "--rate",
            "50",
            "--secs",
            "2",
            "--users",
            "2",
        ],
    )
    .await;
    keep(results, &["fanout3"], &r);
    assert_eq!(r["deliveries"], r["expected_deliveries"], "{r}");
    for fault in ["lost", "duplicated", "out_of_order", "corrupted"] {
        assert_eq!(r[fault], 0, "{fault}: {r}");
    }

    let r = bench(
        addr,
        &ca,
        &[
            "max",
            "--receivers",
            "5",
            "--senders",
            "1",
            "--rate",
            "20",
            "--secs",
            "1",
            "--users",
            "3",
            "--max-steps",
            "2",
        ],
    )
    .await;
    keep(results, &["max100", "max1000"], &r);
    // Two steps (20, then 30 msgs/s) normally; a stall on a busy machine
    // may break p99 on the second, and then the ladder ends at the server
    // and narrows with one step halfway. Either way the figure is the best
    // step that kept up.
    let steps = r["steps"].as_array().unwrap();
    let rates: Vec<f64> = steps
        .iter()
        .map(|s| s["offered_rate"].as_f64().unwrap())
        .collect();
    let kept_up = |s: &&Value| {
        s["latency"]["p99_ms"].as_f64().unwrap() <= 100.0
            && s["lost"] == 0
            && s["rate_limited"] == 0
    };
    match r["limit"].as_str() {
        Some("steps") => assert_eq!(rates, [20.0, 30.0], "×1.5 a step: {r}"),
        Some("server") => {
            assert!(rates[0] == 20.0 && rates.len() <= 3, "{r}");
            let failed = steps
                .iter()
                .position(|s| !kept_up(&s))
                .expect("a failed step");
            if failed > 0 {
                let halfway = rates[failed] / 1.5f64.sqrt();
                assert!((rates.last().unwrap() - halfway).abs() < 1e-9, "{r}");
            }
        }
        other => panic!("a ladder ends at the steps or the server here, not {other:?}: {r}"),
    }
    let best = steps
        .iter()
        .filter(kept_up)
        .map(|s| s["deliveries_per_sec"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(r["max_deliveries_per_sec"].as_f64(), Some(best), "{r}");

    let r = bench(
        addr,
        &ca,
        &["durable", "--senders", "5", "--window", "2", "--secs", "2"],
    )
    .await;
    keep(results, &["durable", "durable1"], &r);
    assert!(r["acked"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["rate_limited"], 0, "{r}");

    let r = bench(addr, &ca, &["connect", "--concurrency", "2", "--secs", "1"]).await;
    keep(results, &["connect"], &r);
    for phase in ["full", "resumed"] {
        assert!(r[phase]["connects"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r[phase]["failed"], 0, "{r}");
    }
    assert_eq!(r["full"]["resumed_handshakes"], 0, "{r}");
    assert!(
        r["resumed"]["resumed_handshakes"].as_u64().unwrap()
            >= r["resumed"]["connects"].as_u64().unwrap() - 2,
        "all but each worker's first connect resume: {r}"
    );

    let r = bench(
        addr,
        &ca,
        &[
            "logins",
            "--clients",
            "2",
            "--receivers",
            "3",
            "--senders",
            "1",
            "--rate",
            "50",
            "--secs",
            "1",
            "--users",
            "2",
        ],
    )
    .await;
    keep(results, &["logins"], &r);
    assert!(r["logins"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    for live in ["live_without", "live_with"] {
        for fault in ["lost", "duplicated", "out_of_order", "corrupted"] {
            assert_eq!(r[live][fault], 0, "{live} {fault}: {r}");
        }
    }

    let r = bench(addr, &ca, &["idle", "--connections", "50", "--users", "3"]).await;
    keep(results, &["idle", "idle_fresh1000"], &r);
    assert_eq!(r["connections"], 50, "{r}");
    assert!(r["server_rss_after_kib"].as_u64().unwrap() > 0, "{r}");

    let r = bench(
        addr,
        &ca,
        &["storm", "--clients", "30", "--missed", "5", "--users", "3"],
    )
    .await;
    keep(results, &["storm"], &r);
    assert_eq!(
        (r["lost"].as_u64(), r["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    let r = bench(
        addr,
        &ca,
        &[
            "slow",
            "--receivers",
            "5",
            "--senders",
            "1",
            "--rate",
            "300",
            "--secs",
            "2",
            "--users",
            "3",
            "--pad",
            "8000",
            "--rounds",
            "2",
        ],
    )
    .await;
    keep(results, &["slow"], &r);
    for kind in ["runs_without", "runs_with"] {
        let runs = r[kind].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{r}");
        for run in runs {
            assert_eq!(run["lost"], 0, "{r}");
            assert_eq!(run["deliveries"], run["expected_deliveries"], "{r}");
        }
    }
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(
        r["stalled"], 2,
        "one stalled receiver in each run with: {r}"
    );
    assert_eq!(r["stalled_cut"], 2, "the server cuts them off: {r}");
    let p99 = |run: &Value| run["latency"]["p99_ms"].as_f64().unwrap();
    for (pooled, runs) in [("without", "runs_without"), ("with_stalled", "runs_with")] {
        let each: Vec<f64> = r[runs].as_array().unwrap().iter().map(p99).collect();
        let (low, high) = (
            each.iter().copied().fold(f64::MAX, f64::min),
            each.iter().copied().fold(f64::MIN, f64::max),
        );
        let pooled = r[pooled]["p99_ms"].as_f64().unwrap();
        assert!(
            (low..=high).contains(&pooled),
            "the p99 of all runs together lies within the runs' own: {r}"
        );
    }
    let ratio =
        r["with_stalled"]["p99_ms"].as_f64().unwrap() / r["without"]["p99_ms"].as_f64().unwrap();
    assert!(
        (r["p99_ratio"].as_f64().unwrap() - ratio).abs() < 1e-9,
        "the ratio is of the pooled p99s: {r}"
    );
    assert!(r["server_rss_peak_with_kib"].as_u64().unwrap() > 0, "{r}");

    // The report bench/run writes, from these results (no peers ran).
    let report = results.join("RESULTS.md");
    let chart = results.join("latency.svg");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .current_dir(&root)
        .arg("bench/report.py")
        .args([results, &report, &chart])
        .output()
        .expect("python3 runs bench/report.py");
    assert!(
        out.status.success(),
        "bench/report.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&report).unwrap();
    for section in [
        "## Small rooms",
        "## Fan-out",
        "### Side by side",
        "**Highest sustained at N = 5**",
        "## Durable sends",
        "## Slow consumer",
        "## Connects",
        "## Login storm",
        "## Reconnect storm",
        "## Idle connections",
    ] {
        assert!(report.contains(section), "no {section:?} in:\n{report}");
    }
    assert!(std::fs::read_to_string(&chart).unwrap().starts_with("<svg"));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap();
}
