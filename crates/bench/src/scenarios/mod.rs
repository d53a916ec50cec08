//! The scenarios: each sets up what it needs through the HTTPS API, runs a
//! bounded load over wss://, and returns its figures.

pub mod connect;
pub mod durable;
pub mod fanout;
pub mod idle;
pub mod logins;
pub mod search;
pub mod slow;
pub mod storm;

use crate::target::Target;
use crate::ws::{Load, Ws, connect, connect_any};
use anyhow::Result;
use futures_util::{StreamExt, TryStreamExt, stream};
use securechat_proto::ws::Welcome;

/// Opens `n` connections, using `tokens` in turn, `parallel` at a time;
/// the i-th connection is `tokens[i % tokens.len()]`'s.
pub async fn open_many(
    target: &Target,
    tokens: &[String],
    n: usize,
    parallel: usize,
) -> Result<Vec<(Ws, Welcome)>> {
    stream::iter(0..n)
        .map(|i| connect(target, &tokens[i % tokens.len()]))
        .buffered(parallel)
        .try_collect()
        .await
}

/// Like [`open_many`], for any [`crate::target::Proto`]: `fanout`'s lean
/// load connections.
pub async fn open_load(
    target: &Target,
    tokens: &[String],
    n: usize,
    parallel: usize,
) -> Result<Vec<Load>> {
    stream::iter(0..n)
        .map(|i| connect_any(target, &tokens[i % tokens.len()]))
        .buffered(parallel)
        .try_collect()
        .await
}
