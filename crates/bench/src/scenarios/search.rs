//! `search`: query latency on a seeded database (`securechat-server seed`,
//! which makes the `searcher` account, in every room). Four kinds of
//! query, each run `--queries` times one after another over one
//! keep-alive connection: common words, rare words, prefixes, and words
//! with filters. The server's search budget must be lifted for the run
//! (`SECURECHAT_SEARCH_RATE_PER_SEC`, `SECURECHAT_SEARCH_BURST`).

use crate::stats::{Latency, histogram};
use crate::target::Target;
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Queries of each kind.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// The seeded account that searches.
    #[arg(long, default_value = "searcher")]
    pub user: String,
    #[arg(long, default_value = "seed password")]
    pub password: String,
    /// Rooms the seed made (for `in:` filters).
    #[arg(long, default_value_t = 2000)]
    pub rooms: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kind {
    pub kind: &'static str,
    pub queries: usize,
    /// Mean results on the first page (at most 20).
    pub mean_results: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kinds: Vec<Kind>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for k in &self.kinds {
            writeln!(
                f,
                "search {:<8} ({} queries, {:.1} results each): {}",
                k.kind, k.queries, k.mean_results, k.latency
            )?;
        }
        Ok(())
    }
}

const COMMON: &[&str] = &[
    "deploy", "release", "meeting", "coffee", "database", "review", "the",
];
const PREFIX: &[&str] = &["depl*", "mig*", "term1*", "rev*", "dash*", "inc*"];

fn query(kind: &str, i: usize, rooms: usize) -> String {
    match kind {
        "common" => COMMON[i % COMMON.len()].to_owned(),
        "rare" => format!("rareword{}", (i * 37) % 200),
        "prefix" => PREFIX[i % PREFIX.len()].to_owned(),
        _ => match i % 3 {
            0 => format!("deploy from:seed-user-{}", i % 200),
            1 => format!("release in:#seed-room-{}", (i * 13) % rooms.max(1)),
            _ => "backup after:2026-06-01 before:2026-07-01".to_owned(),
        },
    }
}

pub async fn run(target: &Target, opts: &Opts) -> Result<Report> {
    let token = target.login(&opts.user, &opts.password).await?;
    let mut kinds = Vec::new();
    for kind in ["common", "rare", "prefix", "filters"] {
        let mut h = histogram();
        let mut results = 0usize;
        for i in 0..opts.queries {
            let q = query(kind, i, opts.rooms);
            let started = Instant::now();
            let v = target.get("/api/search", &[("q", &q)], &token).await?;
            h.record(started.elapsed().as_micros().max(1) as u64)?;
            results += v["results"].as_array().map_or(0, Vec::len);
        }
        kinds.push(Kind {
            kind,
            queries: opts.queries,
            mean_results: results as f64 / opts.queries.max(1) as f64,
            latency: Latency::of(&h),
        });
    }
    Ok(Report { kinds })
}
