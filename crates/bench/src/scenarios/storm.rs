//! `storm`: K clients in one room are cut off at once; while they are away
//! M messages are posted; then all reconnect at once and `sync`. Reports
//! the time until every client has caught up, and checks that each got
//! exactly the missed messages, once each, in order.

use super::open_many;
use crate::target::Target;
use crate::ws::{Ws, connect};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use securechat_proto::{RoomId, Seq, ServerMsg};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, clap::Args)]
pub struct Opts {
    /// Clients that are cut off and come back.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Messages posted while they are away.
    #[arg(long, default_value_t = 20)]
    pub missed: u64,
    /// Accounts the clients are spread over.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub clients: usize,
    pub missed: u64,
    pub caught_up_secs: f64,
    pub retried_connects: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "storm K={} M={}: all caught up {:.2} s after the reconnect began ({} connects retried); lost {}, duplicated {}",
            self.clients,
            self.missed,
            self.caught_up_secs,
            self.retried_connects,
            self.lost,
            self.duplicated
        )
    }
}

async fn text(ws: &mut Ws) -> Result<ServerMsg> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(t.as_str())?),
            Ok(Some(Ok(_))) => continue,
            other => bail!("connection ended: {other:?}"),
        }
    }
}

pub async fn run(target: &Target, o: &Opts) -> Result<Report> {
    let tokens = target.users(o.users.max(1)).await?;
    let room = target.room(&tokens[0], &tokens).await?;
    let conns = open_many(target, &tokens, o.clients, 128).await?;
    let base = conns
        .iter()
        .filter_map(|(_, w)| w.rooms.iter().find(|r| r.id == room).map(|r| r.last_seq))
        .max()
        .context("the room in welcome")?;
    drop(conns); // everyone is cut off at once

    let (mut sender, _) = connect(target, &tokens[0]).await?;
    let mut last = base;
    for n in 0..o.missed {
        let frame = target.send_frame(room, 0, n, &format!("missed {n}"));
        sender.send(Message::text(frame)).await?;
        loop {
            if let ServerMsg::Ack(a) = text(&mut sender).await? {
                last = a.seq;
                break;
            }
        }
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..o.clients {
        let target = target.clone();
        let token = tokens[i % tokens.len()].clone();
        tasks.push(tokio::spawn(catch_up(target, token, room, base, last)));
    }
    let (mut retried, mut lost, mut duplicated) = (0, 0, 0);
    for t in tasks {
        let (r, l, d) = t.await??;
        retried += r;
        lost += l;
        duplicated += d;
    }
    Ok(Report {
        clients: o.clients,
        missed: o.missed,
        caught_up_secs: started.elapsed().as_secs_f64(),
        retried_connects: retried,
        lost,
        duplicated,
    })
}

/// Reconnects (retrying refused connects), syncs from `base`, and reads
/// until `last`: (connects retried, lost, duplicated).
async fn catch_up(
    target: Target,
    token: String,
    room: RoomId,
    base: Seq,
    last: Seq,
) -> Result<(u64, u64, u64)> {
    let mut retried = 0;
    let mut ws = loop {
        match connect(&target, &token).await {
            Ok((ws, _)) => break ws,
            Err(_) if retried < 100 => {
                retried += 1;
                tokio::time::sleep(Duration::from_millis(20 * retried.min(10))).await;
            }
            Err(e) => return Err(e),
        }
    };
    let sync = format!(r#"{{"type":"sync","since":{{"{room}":{base}}}}}"#);
    ws.send(Message::text(sync)).await?;
    let mut seqs = Vec::new();
    while seqs.last().copied().unwrap_or(base) < last {
        if let ServerMsg::Message(m) = text(&mut ws).await?
            && m.room == room
        {
            seqs.push(m.seq);
        }
    }
    let want: Vec<Seq> = (base + 1..=last).collect();
    let lost = want.iter().filter(|s| !seqs.contains(s)).count() as u64;
    let duplicated = (seqs.len() as u64).saturating_sub(want.len() as u64 - lost);
    Ok((retried, lost, duplicated))
}
