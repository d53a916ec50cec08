//! Several nodes, one installation: the hubs talk through NATS.
//!
//! Every node publishes what its hub relays ([`Wire`]) on one subject,
//! `securechat.hub`, and applies what the others publish there (its own
//! messages come back and are skipped). One subject, one publisher task per
//! node: the others see a node's messages in the order it sent them.
//!
//! NATS core delivers at most once, and that is enough, because the
//! database, not the broker, is the source of truth:
//! - a connection's writer fills any gap in a room's seqs from the
//!   database before sending the next event (so events of one room from
//!   two nodes may arrive in either order);
//! - every [`CATCH_UP`] this node compares each room it has members in
//!   with the database and publishes, to its own connections, what it
//!   missed: a lost message, or a broker outage, only delays.
//!
//! Presence crosses as [`Wire::Presence`] and, every [`HEARTBEAT`],
//! [`Wire::Alive`]; a node silent for [`crate::hub::remote::NODE_TIMEOUT`]
//! is gone (its users go offline).

use crate::hub::{Hub, Wire};
use crate::store::{Store, StoreError, events};
use futures_util::StreamExt;
use securechat_proto::{RoomId, Seq};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The one subject every node publishes and subscribes to.
pub const SUBJECT: &str = "securechat.hub";
/// How often a node says who is connected to it.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How often a node compares its rooms with the database.
pub const CATCH_UP: Duration = Duration::from_secs(1);
/// Events published at most per room per catch-up.
const CATCH_UP_PAGE: usize = 500;

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: String,
    wire: Wire,
}

/// Connects to NATS at `url` (retrying in the background until it
/// answers) and runs this node's side until the task is aborted.
pub async fn run(
    url: String,
    node: String,
    hub: Arc<Hub>,
    store: Store,
    mut relayed: mpsc::UnboundedReceiver<Wire>,
) {
    let (url, login) = credentials(&url);
    let options = match login {
        Some((user, Some(password))) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        Some((token, None)) => async_nats::ConnectOptions::with_token(token),
        None => async_nats::ConnectOptions::new(),
    };
    let client = match options
        .name(format!("securechat {node}"))
        .retry_on_initial_connect()
        .event_callback(|event| async move {
            tracing::info!(%event, "broker connection");
        })
        .connect(url.as_str())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot use the broker; this node serves alone");
            return;
        }
    };
    let mut inbox = match client.subscribe(SUBJECT).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot subscribe to the broker");
            return;
        }
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut catch_up = tokio::time::interval(CATCH_UP);
    catch_up.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let publish = |wire: Wire| {
        let client = client.clone();
        let body = serde_json::to_vec(&Envelope {
            node: node.clone(),
            wire,
        });
        async move {
            let Ok(body) = body else { return false };
            let sent =
                tokio::time::timeout(Duration::from_secs(1), client.publish(SUBJECT, body.into()))
                    .await;
            matches!(sent, Ok(Ok(())))
        }
    };
    loop {
        tokio::select! {
            wire = relayed.recv() => match wire {
                Some(wire) => {
                    if !publish(wire).await {
                        // NATS cannot take messages now: drop what waits
                        // rather than pile it up. Catch-up from the
                        // database covers the events, the heartbeat the
                        // presence; frames to users on other nodes are lost.
                        let mut dropped = 1;
                        while relayed.try_recv().is_ok() {
                            dropped += 1;
                        }
                        tracing::warn!(dropped, "the broker is not taking messages");
                    }
                }
                None => return,
            },
            msg = inbox.next() => match msg {
                Some(msg) => match serde_json::from_slice::<Envelope>(&msg.payload) {
                    Ok(env) if env.node != node => hub.receive(&env.node, env.wire),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "unreadable broker message"),
                },
                None => return,
            },
            _ = heartbeat.tick() => {
                hub.expire_nodes();
                let _ = publish(Wire::Alive { users: hub.local_users() }).await;
            }
            _ = catch_up.tick() => {
                if let Err(e) = catch_up_rooms(&hub, &store).await {
                    tracing::warn!(error = %e, "catch-up with the database failed");
                }
            }
        }
    }
}

/// `nats://user:password@host:port` (or `nats://token@host:port`) as the
/// URL without them, and the user and password (or the token).
fn credentials(url: &str) -> (String, Option<(String, Option<String>)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let Some((login, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let bare = if path.is_empty() {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/{path}")
    };
    let login = match login.split_once(':') {
        Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
        None => (login.to_owned(), None),
    };
    (bare, Some(login))
}

/// Publishes to this node's connections the events the database has beyond
/// what the hub has seen, in the rooms this node has members in.
async fn catch_up_rooms(hub: &Hub, store: &Store) -> Result<(), StoreError> {
    let here = hub.local_rooms();
    if here.is_empty() {
        return Ok(());
    }
    let last: HashMap<RoomId, Seq> = store
        .read(|db| {
            db.query_map("SELECT id, last_seq FROM rooms", (), |r| {
                Ok((RoomId(r.get(0)?), r.get(1)?))
            })
        })
        .await?
        .into_iter()
        .collect();
    for (room, seen) in here {
        let Some(&newest) = last.get(&room) else {
            continue;
        };
        let Some(seen) = seen else {
            // Not looked at here yet: its connections synced from the
            // database; catch up from now on.
            hub.mark_published(room, newest);
            continue;
        };
        if newest <= seen {
            continue;
        }
        let missed = store
            .read(move |db| events::range(db, room, seen, newest, CATCH_UP_PAGE))
            .await?;
        if !missed.is_empty() {
            tracing::debug!(%room, from = seen, count = missed.len(), "caught up from the database");
        }
        for event in missed {
            hub.publish_here(event.room, event.seq, &event.msg.to_json().into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn credentials_come_out_of_the_url() {
        assert_eq!(
            credentials("nats://127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".into(), None)
        );
        assert_eq!(
            credentials("nats://sc:p@ss@10.0.0.5:4222"),
            (
                "nats://10.0.0.5:4222".into(),
                Some(("sc".into(), Some("p@ss".into())))
            )
        );
        assert_eq!(
            credentials("nats://tok@h:1"),
            ("nats://h:1".into(), Some(("tok".into(), None)))
        );
    }
}
