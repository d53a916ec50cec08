//! Three server nodes on one PostgreSQL database and one NATS server (each
//! test starts its own `nats-server` on a free loopback port, so it can
//! stop and start it): users on different nodes chat live, presence and
//! session revocation cross nodes, and a broker outage only delays.
//! Needs `SC_TEST_POSTGRES` and Debian's `nats-server` (scripts/test.sh
//! provides both); without them each test says so and passes.

use crate::helpers::{Client, PASSWORD, TestApp, general, spawn_with, test_database};
use crate::services::Nats;
use securechat_proto::ws::MessageEvent;
use securechat_proto::{RoomId, Seq, ServerMsg};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// `count` nodes on one new database and `nats`, or `None` (and a note)
/// without PostgreSQL.
async fn cluster(count: usize, nats: &Nats) -> Option<Vec<TestApp>> {
    let url = test_database().await?;
    let mut nodes = Vec::new();
    for i in 0..count {
        let (db, broker) = (url.clone(), nats.url());
        nodes.push(
            spawn_with(move |c| {
                c.database = Some(db);
                c.broker = Some(broker);
                c.node_id = Some(format!("node{i}"));
                c.burst = 1000;
                c.rate_per_sec = 1000.0;
            })
            .await,
        );
    }
    Some(nodes)
}

fn setup() -> Option<Nats> {
    if std::env::var("SC_TEST_POSTGRES").is_err() {
        eprintln!("skipped: several nodes need SC_TEST_POSTGRES");
        return None;
    }
    let nats = Nats::start();
    if nats.is_none() {
        eprintln!("skipped: nats-server is not installed");
    }
    nats
}

/// The messages `client` receives until it has `want` of them.
async fn messages(client: &mut Client, want: usize) -> Vec<MessageEvent> {
    let mut got = Vec::new();
    while got.len() < want {
        if let ServerMsg::Message(m) = client.next().await {
            got.push(m);
        }
    }
    got
}

/// Every seq once, in order, contiguous; bodies as sent.
fn assert_in_order(who: &str, got: &[MessageEvent]) {
    let seqs: Vec<Seq> = got.iter().map(|m| m.seq).collect();
    let first = seqs[0];
    let expected: Vec<Seq> = (first..first + seqs.len() as Seq).collect();
    assert_eq!(seqs, expected, "{who}: contiguous seqs in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_three_nodes_chat_live_in_seq_order() {
    let Some(nats) = setup() else { return };
    let Some(nodes) = cluster(3, &nats).await else {
        return;
    };
    let names = ["ann", "ben", "cat"];
    let mut tokens = Vec::new();
    for (i, name) in names.iter().enumerate() {
        tokens.push(nodes[i].register_ok(name).await);
    }
    // Each user on their own node; a session made on one works on all.
    let mut clients = Vec::new();
    let mut room = RoomId(0);
    for (i, token) in tokens.iter().enumerate() {
        let (c, w) = nodes[(i + 1) % 3].connect(token).await;
        room = general(&w);
        clients.push(c);
    }
    // Presence crosses nodes: ann (node 1) sees cat (node 0) come online.
    let ann_sees = clients[0]
        .next_where(|m| matches!(m, ServerMsg::Presence { user, online: true } if user == "cat"))
        .await;
    assert!(matches!(ann_sees, ServerMsg::Presence { .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Everyone sends at once through their own node.
    const EACH: usize = 40;
    for round in 0..EACH {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send_text(
                room,
                &format!("{}-{round}", names[i]),
                &format!("{} says {round}", names[i]),
            )
            .await;
        }
    }
    let mut seen: Vec<Vec<MessageEvent>> = Vec::new();
    for c in clients.iter_mut() {
        seen.push(messages(c, EACH * 3).await);
    }
    for (i, got) in seen.iter().enumerate() {
        assert_in_order(names[i], got);
        let bodies: HashMap<&str, usize> = got.iter().fold(HashMap::new(), |mut m, e| {
            *m.entry(e.from.as_str()).or_default() += 1;
            m
        });
        assert_eq!(bodies.len(), 3, "{}: from all three", names[i]);
        assert!(
            bodies.values().all(|n| *n == EACH),
            "{}: {bodies:?}",
            names[i]
        );
    }
    // All saw the same order.
    let order = |got: &[MessageEvent]| got.iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(order(&seen[0]), order(&seen[1]));
    assert_eq!(order(&seen[1]), order(&seen[2]));

    // Typing crosses nodes; logging out on one node closes that session's
    // socket on another at once.
    clients[1]
        .send_json(json!({"type": "typing", "room": room}))
        .await;
    clients[0]
        .next_where(|m| matches!(m, ServerMsg::Typing { .. }))
        .await;
    let res = nodes[2]
        .post("/api/logout", json!({}), Some(&tokens[0]))
        .await;
    assert_eq!(res.status(), 204);
    let (code, _) = tokio::time::timeout(Duration::from_secs(3), clients[0].expect_close())
        .await
        .expect("closed at once, not at the next session sweep");
    assert_eq!(code, 4001);
    assert_eq!(nodes[0].login("ann", PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_only_delays_and_loses_nothing() {
    let Some(mut nats) = setup() else { return };
    let Some(nodes) = cluster(2, &nats).await else {
        return;
    };
    let ann = nodes[0].register_ok("ann").await;
    let ben = nodes[1].register_ok("ben").await;
    let (mut a, w) = nodes[0].connect(&ann).await;
    let room = general(&w);
    let (mut b, _) = nodes[1].connect(&ben).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sent = BTreeMap::new();
    for i in 0..30 {
        if i == 10 {
            nats.stop();
        }
        if i == 20 {
            nats.resume().unwrap();
        }
        a.send_text(room, &format!("a{i}"), &format!("ann {i}"))
            .await;
        let ack = a.next_ack().await;
        sent.insert(ack.seq, format!("ann {i}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ben, on the other node, gets every one once and in order: what the
    // broker lost comes from the database.
    let got = tokio::time::timeout(Duration::from_secs(20), messages(&mut b, 30))
        .await
        .expect("everything arrives once the broker is back");
    assert_in_order("ben", &got);
    let bodies: BTreeMap<Seq, String> = got.into_iter().map(|m| (m.seq, m.body)).collect();
    assert_eq!(bodies, sent);
    b.expect_quiet(Duration::from_millis(1500)).await;
}

/// A node goes away mid-conversation: its client reconnects to another
/// node and resumes from its last seq, while the other user keeps
/// sending; nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_node_that_goes_resumes_on_another() {
    let Some(nats) = setup() else { return };
    let Some(mut nodes) = cluster(2, &nats).await else {
        return;
    };
    let ann = nodes[0].register_ok("ann").await;
    let ben = nodes[0].register_ok("ben").await;
    let (mut a, w) = nodes[0].connect(&ann).await;
    let room = general(&w);
    let (mut b, _) = nodes[1].connect(&ben).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent = BTreeMap::new();
    let mut send = async |a: &mut Client, i: usize| {
        a.send_text(room, &format!("a{i}"), &format!("ann {i}"))
            .await;
        let ack = a.next_ack().await;
        sent.insert(ack.seq, format!("ann {i}"));
    };
    for i in 0..10 {
        send(&mut a, i).await;
    }
    let before = messages(&mut b, 10).await;
    let last = before.last().unwrap().seq;
    nodes[1].stop().await;
    for i in 10..20 {
        send(&mut a, i).await;
    }
    // Ben's client reconnects to the other node and resumes.
    let (mut b, _) = nodes[0].connect(&ben).await;
    b.send_json(json!({"type": "sync", "since": {room.to_string(): last}}))
        .await;
    for i in 20..25 {
        send(&mut a, i).await;
    }
    let after = messages(&mut b, 15).await;
    let all: Vec<MessageEvent> = before.into_iter().chain(after).collect();
    assert_in_order("ben", &all);
    let bodies: BTreeMap<Seq, String> = all.into_iter().map(|m| (m.seq, m.body)).collect();
    assert_eq!(bodies, sent);
    b.expect_quiet(Duration::from_millis(500)).await;
}
