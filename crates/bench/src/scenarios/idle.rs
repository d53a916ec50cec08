//! `idle`: K authenticated wss:// connections that stay open and quiet.
//! Reports the server's resident-memory growth per connection (from
//! `/proc/PID/status`) and the kernel's (TCP buffers and slab).

use super::open_many;
use crate::procfs::{kernel_net_kib, rss_kib};
use crate::target::Target;
use anyhow::{Context, Result};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Connections to open (each process may hold 20,000 files here).
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Accounts the connections are spread over.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub connections: usize,
    pub server_rss_before_kib: u64,
    pub server_rss_after_kib: u64,
    pub server_kib_per_connection: f64,
    pub kernel_kib_per_connection: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "idle K={}: server RSS {} → {} KiB, {:.1} KiB per connection; kernel {:.1} KiB per connection (both ends)",
            self.connections,
            self.server_rss_before_kib,
            self.server_rss_after_kib,
            self.server_kib_per_connection,
            self.kernel_kib_per_connection
        )
    }
}

pub async fn run(target: &Target, o: &Opts, server_pid: u32) -> Result<Report> {
    let tokens = target.users(o.users.max(1)).await?;
    // Warm the server's allocator and caches with a few connections first.
    let warm = open_many(target, &tokens, 20, 20).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(server_pid).context("server RSS")?;
    let kernel_before = kernel_net_kib().unwrap_or(0);
    let conns = open_many(target, &tokens, o.connections, 128).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(server_pid).context("server RSS")?;
    let kernel_after = kernel_net_kib().unwrap_or(0);
    drop(conns);
    drop(warm);
    let k = o.connections.max(1) as f64;
    Ok(Report {
        connections: o.connections,
        server_rss_before_kib: before,
        server_rss_after_kib: after,
        server_kib_per_connection: after.saturating_sub(before) as f64 / k,
        kernel_kib_per_connection: kernel_after.saturating_sub(kernel_before) as f64 / k,
    })
}
