//! What end-to-end encryption costs a client, measured with the real code:
//! `cargo bench -p securechat-crypto --bench e2e` (release build). Prints
//! per-message Megolm encrypt and decrypt, and the key share to a room of
//! 100 members with 2 devices each (200 Olm sessions made and 200
//! to-device messages), then each recipient's cost to open its share.
//! Figures: bench/E2E.md.

use securechat_crypto::Machine;
use securechat_proto::e2e::{ClaimedKey, DeviceKeys, ToDeviceEvent};
use securechat_proto::{DeviceId, RoomId};
use std::time::Instant;

const ROOM: RoomId = RoomId(1);

fn per_op(label: &str, n: u32, start: Instant) -> f64 {
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{label:<52} {us:>10.1} µs");
    us
}

fn main() {
    let body = "x".repeat(200);
    // Megolm: one sender, one reader.
    let mut alice = Machine::new("alice", DeviceId(1));
    let mut bob = Machine::new("bob", DeviceId(2));
    let (otks, _) = bob.new_one_time_keys(1);
    let bob_keys = bob.device_keys();
    alice.observe(std::slice::from_ref(&bob_keys));
    bob.observe(&[alice.device_keys()]);
    let plan = alice.plan_share(ROOM, std::slice::from_ref(&bob_keys));
    let claimed = vec![ClaimedKey {
        device: DeviceId(2),
        key: otks[0].clone(),
        fallback: false,
    }];
    let out = alice.share(ROOM, &plan.targets, &claimed).unwrap();
    let ev = ToDeviceEvent {
        id: 1,
        from: "alice".into(),
        from_device: DeviceId(1),
        body: out[0].body.clone(),
    };
    bob.receive_to_device(&ev).unwrap();
    let n = 5_000;
    let start = Instant::now();
    let mut sealed = Vec::with_capacity(n as usize);
    for _ in 0..n {
        sealed.push(alice.encrypt(ROOM, &body).unwrap());
    }
    per_op("Megolm encrypt, 200-byte message", n, start);
    let start = Instant::now();
    for enc in &sealed {
        bob.decrypt(ROOM, "alice", enc).unwrap();
    }
    per_op("Megolm decrypt, 200-byte message", n, start);
    println!(
        "{:<52} {:>10} B",
        "ciphertext of a 200-byte message (base64)",
        sealed[0].ciphertext.len()
    );

    // Key share to 100 members × 2 devices.
    let mut members: Vec<Machine> = (0..200)
        .map(|i| Machine::new(&format!("u{}", i / 2), DeviceId(100 + i)))
        .collect();
    let mut devices: Vec<DeviceKeys> = Vec::new();
    let mut claimed = Vec::new();
    for m in &mut members {
        let (k, _) = m.new_one_time_keys(1);
        devices.push(m.device_keys());
        claimed.push(ClaimedKey {
            device: m.device(),
            key: k[0].clone(),
            fallback: false,
        });
    }
    let mut sender = Machine::new("sender", DeviceId(99));
    let start = Instant::now();
    let plan = sender.plan_share(RoomId(2), &devices);
    let out = sender.share(RoomId(2), &plan.targets, &claimed).unwrap();
    let share_us = per_op(
        "key share to 200 devices (plan, 200 Olm sessions), total",
        1,
        start,
    );
    println!("{:<52} {:>10.1} µs", "  per device", share_us / 200.0);
    let bytes: usize = out.iter().map(|m| m.body.len()).sum();
    println!("{:<52} {:>10} B", "  to-device bytes in all", bytes);
    sender.confirm_shared(RoomId(2), &out);
    // Again with the Olm sessions in place (a rotation after someone left).
    sender.rotate(RoomId(2));
    let start = Instant::now();
    let plan = sender.plan_share(RoomId(2), &devices);
    let again = sender.share(RoomId(2), &plan.targets, &[]).unwrap();
    let rotate_us = per_op(
        "key rotation to 200 devices (sessions exist), total",
        1,
        start,
    );
    println!("{:<52} {:>10.1} µs", "  per device", rotate_us / 200.0);
    assert_eq!(again.len(), 200);
    // Each recipient opens its share (the first is a pre-key message).
    let sender_keys = sender.device_keys();
    let start = Instant::now();
    for (i, (m, msg)) in members.iter_mut().zip(&out).enumerate() {
        m.observe(std::slice::from_ref(&sender_keys));
        let ev = ToDeviceEvent {
            id: i as u64 + 1,
            from: "sender".into(),
            from_device: DeviceId(99),
            body: msg.body.clone(),
        };
        m.receive_to_device(&ev).unwrap();
    }
    per_op(
        "open a room key share (new Olm session), per device",
        200,
        start,
    );
}
