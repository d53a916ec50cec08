//! `securechat-bench`: load scenarios against a running SecureChat server
//! on loopback. Prints one line of figures per run (`--json`: one JSON
//! object). A result measured while the generator's own core was more than
//! `--max-load` busy is refused (exit code 3): it would measure the
//! generator, not the server. In `max`, such a step is not counted.

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use securechat_bench::scenarios::{connect, durable, fanout, idle, logins, search, slow, storm};
use securechat_bench::target::{Proto, Target};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The server's address (loopback only); repeat it for several nodes
    /// of one installation (load connections take them in turn).
    #[arg(long, global = true, default_value = "127.0.0.1:8443")]
    addr: Vec<SocketAddr>,
    /// The server's CA certificate (`DATA_DIR/tls/ca.pem`).
    #[arg(long, global = true, default_value = "securechat-data/tls/ca.pem")]
    ca: PathBuf,
    /// The server's process id, for memory readings (`idle`) and CPU;
    /// repeat it for every node (and the database and broker, whose CPU
    /// then counts as the server's too).
    #[arg(long, global = true)]
    server_pid: Vec<u32>,
    /// What runs at the address: SecureChat, or a peer broadcast server
    /// (`fanout` and `max` only).
    #[arg(long, global = true, value_enum, default_value = "securechat")]
    proto: Proto,
    /// Print the figures as one JSON object.
    #[arg(long, global = true)]
    json: bool,
    /// Refuse results measured with the generator's core busier than this.
    #[arg(long, global = true, default_value_t = 0.8)]
    max_load: f64,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N receivers in one room, S senders at rate R.
    Fanout(fanout::Opts),
    /// Raise R (×1.5 a step) until p99 exceeds 100 ms.
    Max(fanout::Opts),
    /// Acked (committed) messages per second from C concurrent senders.
    Durable(durable::Opts),
    /// Server memory per idle authenticated connection.
    Idle(idle::Opts),
    /// TLS + upgrade + auth handshakes per second: full, then resumed.
    Connect(connect::Opts),
    /// K clients cut at once reconnect and sync; nothing lost or doubled.
    Storm(storm::Opts),
    /// Fan-out without and with receivers that never read (`--stalled`,
    /// at least 1), in alternating rounds: the others' p99 and the
    /// server's peak memory.
    Slow(slow::Opts),
    /// Logins (argon2id) from C loops at once against live traffic: logins
    /// per second, and the traffic's latency without and with them.
    Logins(logins::Opts),
    /// Search latency on a seeded database (`securechat-server seed`):
    /// common words, rare words, prefixes, filters.
    Search(search::Opts),
}

fn emit(json: bool, report: &(impl Serialize + std::fmt::Display)) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

fn check_load(load: f64, max: f64) -> Result<()> {
    if load > max {
        eprintln!(
            "REFUSED: the generator's core was {:.0}% busy (limit {:.0}%): this measures the generator, not the server",
            load * 100.0,
            max * 100.0
        );
        std::process::exit(3);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut target = Target::new(&cli.addr, &cli.ca, cli.proto)?;
    target.server_pid = cli.server_pid.first().copied();
    target.server_pids = cli.server_pid.clone();
    if cli.proto != Proto::Securechat
        && !matches!(cli.scenario, Scenario::Fanout(_) | Scenario::Max(_))
    {
        bail!("a peer runs only `fanout` and `max`");
    }
    if let Scenario::Fanout(o) | Scenario::Max(o) = &cli.scenario
        && o.stalled > 0
        && cli.proto != Proto::Securechat
    {
        bail!("--stalled needs SecureChat (a stalled receiver connects to /ws)");
    }
    match &cli.scenario {
        Scenario::Fanout(o) => {
            let r = fanout::run(&target, o).await?;
            emit(cli.json, &r)?;
            if r.wrong() > 0 {
                bail!("messages were duplicated, out of order or corrupted");
            }
            check_load(r.generator_load, cli.max_load)?;
        }
        Scenario::Max(o) => {
            let r = fanout::max(&target, o, cli.max_load).await?;
            emit(cli.json, &r)?;
            if r.steps.iter().any(|s| s.wrong() > 0) {
                bail!("messages were duplicated, out of order or corrupted");
            }
        }
        Scenario::Durable(o) => {
            let r = durable::run(&target, o).await?;
            emit(cli.json, &r)?;
            check_load(r.generator_load, cli.max_load)?;
        }
        Scenario::Idle(o) => {
            let Some(&pid) = cli.server_pid.first() else {
                bail!("idle needs --server-pid to read the server's memory");
            };
            emit(cli.json, &idle::run(&target, o, pid).await?)?;
        }
        Scenario::Logins(o) => {
            let r = logins::run(&target, o).await?;
            emit(cli.json, &r)?;
            if r.live_without.wrong() + r.live_with.wrong() > 0 {
                bail!("messages were duplicated, out of order or corrupted");
            }
            for live in [&r.live_without, &r.live_with] {
                check_load(live.generator_load, cli.max_load)?;
            }
        }
        Scenario::Search(o) => {
            emit(cli.json, &search::run(&target, o).await?)?;
        }
        Scenario::Connect(o) => {
            let r = connect::run(&target, o).await?;
            emit(cli.json, &r)?;
            check_load(
                r.full.generator_load.max(r.resumed.generator_load),
                cli.max_load,
            )?;
        }
        Scenario::Slow(o) => {
            let Some(&pid) = cli.server_pid.first() else {
                bail!("slow needs --server-pid to read the server's memory");
            };
            let r = slow::run(&target, o, pid).await?;
            emit(cli.json, &r)?;
            for run in r.runs_without.iter().chain(&r.runs_with) {
                check_load(run.generator_load, cli.max_load)?;
            }
        }
        Scenario::Storm(o) => {
            let r = storm::run(&target, o).await?;
            emit(cli.json, &r)?;
            if r.lost > 0 || r.duplicated > 0 {
                bail!("messages were lost or duplicated");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every subcommand (unique names and groups).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
