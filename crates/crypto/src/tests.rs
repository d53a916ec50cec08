//! The machine end to end, in memory: devices share keys over Olm, talk
//! over Megolm, and refuse what they should.

use super::*;
use securechat_proto::e2e::{ClaimedKey, DeviceKeys, Encrypted, ToDeviceEvent, ToDeviceOut};
use securechat_proto::{DeviceId, RoomId};

const ROOM: RoomId = RoomId(7);

/// A fake server: publishes keys, hands out one-time keys once, queues
/// to-device messages.
#[derive(Default)]
struct Relay {
    devices: Vec<DeviceKeys>,
    otks: Vec<(DeviceId, securechat_proto::e2e::OneTimeKey)>,
    queue: Vec<(DeviceId, ToDeviceEvent)>,
    next: u64,
}

impl Relay {
    fn join(&mut self, m: &mut Machine) {
        self.devices.push(m.device_keys());
        let (otks, fallback) = m.new_one_time_keys(5);
        assert!(fallback.is_some());
        self.otks.extend(otks.into_iter().map(|k| (m.device(), k)));
    }

    fn claim(&mut self, ids: &[DeviceId]) -> Vec<ClaimedKey> {
        ids.iter()
            .filter_map(|id| {
                let i = self.otks.iter().position(|(d, _)| d == id)?;
                let (device, key) = self.otks.remove(i);
                Some(ClaimedKey {
                    device,
                    key,
                    fallback: false,
                })
            })
            .collect()
    }

    fn post(&mut self, from: &Machine, msgs: Vec<ToDeviceOut>) {
        for m in msgs {
            self.next += 1;
            self.queue.push((
                m.device,
                ToDeviceEvent {
                    id: self.next,
                    from: from.user().into(),
                    from_device: from.device(),
                    body: m.body,
                },
            ));
        }
    }

    fn deliver(&mut self, to: &mut Machine) {
        let devices = self.devices.clone();
        to.observe(&devices);
        let mine: Vec<_> = self
            .queue
            .iter()
            .filter(|(d, _)| *d == to.device())
            .map(|(_, e)| e.clone())
            .collect();
        for ev in mine {
            to.receive_to_device(&ev).expect("to-device opens");
        }
    }

    /// Shares `m`'s key with `room_devices` and encrypts `body`.
    fn send(&mut self, m: &mut Machine, room_devices: &[DeviceKeys], body: &str) -> Encrypted {
        let plan = m.plan_share(ROOM, room_devices);
        let claimed = self.claim(&plan.claim);
        let out = m.share(ROOM, &plan.targets, &claimed).unwrap();
        m.confirm_shared(ROOM, &out);
        self.post(m, out);
        m.encrypt(ROOM, body).unwrap()
    }
}

fn device(user: &str, id: i64) -> Machine {
    Machine::new(user, DeviceId(id))
}

#[test]
fn members_read_each_other_and_redelivery_is_harmless() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut bob2) = (device("alice", 1), device("bob", 2), device("bob", 3));
    for m in [&mut alice, &mut bob, &mut bob2] {
        relay.join(m);
    }
    let all = relay.devices.clone();
    let enc = relay.send(&mut alice, &all, "hello bob");
    relay.deliver(&mut bob);
    relay.deliver(&mut bob2);
    // A second delivery of the same to-device messages changes nothing.
    let again = relay
        .queue
        .iter()
        .find(|(d, _)| *d == bob.device())
        .unwrap()
        .1
        .clone();
    assert_eq!(bob.receive_to_device(&again).unwrap(), Received::Duplicate);
    for m in [&mut bob, &mut bob2] {
        assert_eq!(m.decrypt(ROOM, "alice", &enc).unwrap().body, "hello bob");
    }
    // Alice reads her own message; the second one needs no new share.
    assert_eq!(
        alice.decrypt(ROOM, "alice", &enc).unwrap().body,
        "hello bob"
    );
    let before = relay.queue.len();
    let enc2 = relay.send(&mut alice, &all, "again");
    assert_eq!(relay.queue.len(), before, "no new key shares");
    assert_eq!(bob.decrypt(ROOM, "alice", &enc2).unwrap().body, "again");
    // And the other way, over the Olm sessions just made.
    let enc3 = relay.send(&mut bob, &all, "hi alice");
    relay.deliver(&mut alice);
    assert_eq!(alice.decrypt(ROOM, "bob", &enc3).unwrap().body, "hi alice");
}

#[test]
fn a_removed_device_gets_nothing_new_and_others_lose_nothing() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut eve) = (device("alice", 1), device("bob", 2), device("eve", 3));
    for m in [&mut alice, &mut bob, &mut eve] {
        relay.join(m);
    }
    let all = relay.devices.clone();
    let first = relay.send(&mut alice, &all, "before eve left");
    relay.deliver(&mut eve);
    assert_eq!(
        eve.decrypt(ROOM, "alice", &first).unwrap().body,
        "before eve left"
    );
    // Eve leaves: the room's devices no longer include hers.
    let without: Vec<_> = all.iter().filter(|d| d.user != "eve").cloned().collect();
    let plan = alice.plan_share(ROOM, &without);
    assert!(plan.rotated, "a device that had the key left: new session");
    let claimed = relay.claim(&plan.claim);
    let out = alice.share(ROOM, &plan.targets, &claimed).unwrap();
    alice.confirm_shared(ROOM, &out);
    assert!(out.iter().all(|m| m.device != eve.device()));
    relay.post(&alice, out);
    let secret = alice.encrypt(ROOM, "after eve left").unwrap();
    assert_ne!(secret.session, first.session);
    relay.deliver(&mut eve);
    relay.deliver(&mut bob);
    assert_eq!(
        eve.decrypt(ROOM, "alice", &secret),
        Err(Error::UnknownSession)
    );
    assert_eq!(
        bob.decrypt(ROOM, "alice", &secret).unwrap().body,
        "after eve left"
    );
}

#[test]
fn forgeries_and_misdirections_are_refused() {
    let mut relay = Relay::default();
    let (mut alice, mut bob, mut mallory) =
        (device("alice", 1), device("bob", 2), device("mallory", 3));
    for m in [&mut alice, &mut bob, &mut mallory] {
        relay.join(m);
    }
    let all = relay.devices.clone();
    let enc = relay.send(&mut alice, &all, "hi");
    relay.deliver(&mut bob);
    // Another sender name on alice's session.
    assert_eq!(bob.decrypt(ROOM, "mallory", &enc), Err(Error::WrongSender));
    // The same ciphertext shown in another room.
    assert_eq!(
        bob.decrypt(RoomId(8), "alice", &enc),
        Err(Error::UnknownSession)
    );
    // A flipped byte.
    let mut bad = enc.clone();
    let mut raw = vodozemac::base64_decode(&bad.ciphertext).unwrap();
    raw[10] ^= 1;
    bad.ciphertext = vodozemac::base64_encode(raw);
    assert!(matches!(
        bob.decrypt(ROOM, "alice", &bad),
        Err(Error::Decrypt(_))
    ));
    // A to-device message relabelled as coming from another device.
    let ev = relay
        .queue
        .iter()
        .find(|(d, _)| *d == mallory.device())
        .unwrap()
        .1
        .clone();
    let forged = ToDeviceEvent {
        id: 99,
        from: "mallory".into(),
        from_device: mallory.device(),
        ..ev
    };
    let mut fresh = device("mallory", 3);
    fresh.observe(&relay.devices);
    assert!(fresh.receive_to_device(&forged).is_err());
}

#[test]
fn changed_keys_are_flagged_and_not_used() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = (device("alice", 1), device("bob", 2));
    relay.join(&mut alice);
    relay.join(&mut bob);
    assert_eq!(alice.observe(&relay.devices).len(), 2);
    // The server now lists other keys under bob's device id.
    let impostor = device("bob", 2).device_keys();
    let changed = alice.observe(std::slice::from_ref(&impostor));
    assert!(matches!(&changed[..], [Trust::Changed { .. }]));
    let plan = alice.plan_share(ROOM, &[impostor]);
    assert!(plan.targets.is_empty());
    assert_eq!(plan.refused.len(), 1);
    // A bad signature is refused too.
    let mut unsigned = device("carol", 4).device_keys();
    unsigned.user = "dave".into();
    assert!(alice.observe(&[unsigned]).is_empty());
}

#[test]
fn a_saved_machine_opens_with_its_key_only_and_keeps_reading() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = (device("alice", 1), device("bob", 2));
    relay.join(&mut alice);
    relay.join(&mut bob);
    let all = relay.devices.clone();
    let enc = relay.send(&mut alice, &all, "kept");
    relay.deliver(&mut bob);
    let key = [7u8; 32];
    let saved = bob.save(&key);
    assert!(!saved.contains("kept"));
    assert!(matches!(
        Machine::load(&saved, &[8u8; 32]),
        Err(Error::Pickle(_))
    ));
    let mut back = Machine::load(&saved, &key).unwrap();
    assert_eq!(back.decrypt(ROOM, "alice", &enc).unwrap().body, "kept");
    assert_eq!(back.device_keys(), bob.device_keys());
    assert_eq!(back.to_device_done(), bob.to_device_done());
    let enc2 = relay.send(&mut alice, &all, "after restart");
    assert_eq!(
        back.decrypt(ROOM, "alice", &enc2).unwrap().body,
        "after restart"
    );
}

#[test]
fn safety_codes_match_on_both_sides_and_differ_per_pair() {
    let (a, b, c) = (
        device("alice", 1).device_keys(),
        device("bob", 2).device_keys(),
        device("bob", 2).device_keys(),
    );
    let ab = safety_code(&a, &b);
    assert_eq!(ab, safety_code(&b, &a));
    assert_eq!(ab.emoji.len(), 7);
    assert_eq!(ab.digits.len(), 6 * 5 + 5);
    assert_ne!(ab, safety_code(&a, &c), "other keys, other code");
}

#[test]
fn a_new_device_reads_old_history_from_the_backup_and_only_with_the_key() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = (device("alice", 1), device("bob", 2));
    relay.join(&mut alice);
    relay.join(&mut bob);
    let all = relay.devices.clone();
    let old = relay.send(&mut alice, &all, "history before the new phone");
    relay.deliver(&mut bob);
    // Bob backs up his keys with a passphrase.
    let salt = RecoveryKey::new_salt().unwrap();
    let key = RecoveryKey::from_passphrase("correct horse battery staple", &salt).unwrap();
    let info = key.info(Some(salt.clone())).unwrap();
    let entries = bob.backup_entries(&key, &Default::default()).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(!format!("{entries:?}").contains("history"));
    // His new phone: nothing until the passphrase is given.
    let mut phone = device("bob", 3);
    assert_eq!(
        phone.decrypt(ROOM, "alice", &old),
        Err(Error::UnknownSession)
    );
    let wrong = RecoveryKey::from_passphrase("wrong horse", &salt).unwrap();
    assert!(phone.restore(&wrong, &info, &entries).is_err());
    assert_eq!(
        phone.decrypt(ROOM, "alice", &old),
        Err(Error::UnknownSession)
    );
    let again = RecoveryKey::from_passphrase("correct horse battery staple", &salt).unwrap();
    assert_eq!(phone.restore(&again, &info, &entries).unwrap(), 1);
    assert_eq!(
        phone.decrypt(ROOM, "alice", &old).unwrap().body,
        "history before the new phone"
    );
    // Restoring twice adds nothing; an entry moved to another room fails.
    assert_eq!(phone.restore(&again, &info, &entries).unwrap(), 0);
    let mut moved = entries.clone();
    moved[0].room = RoomId(99);
    assert!(device("bob", 4).restore(&again, &info, &moved).is_err());
    // Already backed up: not sealed again.
    let skip = entries
        .iter()
        .map(|e| (e.room, e.session.clone()))
        .collect();
    assert!(bob.backup_entries(&key, &skip).unwrap().is_empty());
}

#[test]
fn recovery_keys_print_and_parse_forgivingly() {
    let key = RecoveryKey::generate().unwrap();
    let shown = key.to_display();
    assert_eq!(shown.replace(' ', "").len(), 52);
    assert_eq!(RecoveryKey::parse(&shown).unwrap(), key);
    let sloppy = shown
        .to_lowercase()
        .replace('0', "o")
        .replace('1', "l")
        .replace(' ', "-");
    assert_eq!(RecoveryKey::parse(&sloppy).unwrap(), key);
    assert!(RecoveryKey::parse("ABCD").is_err());
    assert!(RecoveryKey::parse(&shown.replace(shown.chars().next().unwrap(), "U")).is_err());
    assert_ne!(RecoveryKey::generate().unwrap(), key);
    assert_eq!(
        format!("{key:?}"),
        "RecoveryKey(…)",
        "never printed by accident"
    );
}

#[test]
fn a_share_the_server_never_took_is_made_again() {
    let mut relay = Relay::default();
    let (mut alice, mut bob) = (device("alice", 1), device("bob", 2));
    relay.join(&mut alice);
    relay.join(&mut bob);
    let all = relay.devices.clone();
    let plan = alice.plan_share(ROOM, &all);
    let claimed = relay.claim(&plan.claim);
    let lost = alice.share(ROOM, &plan.targets, &claimed).unwrap();
    assert_eq!(lost.len(), 1);
    // The upload failed: bob still lacks the key, and gets it next time
    // over the Olm session already made.
    let again = alice.plan_share(ROOM, &all);
    assert_eq!(again.targets.len(), 1);
    assert!(again.claim.is_empty());
    let enc = relay.send(&mut alice, &all, "after a lost share");
    relay.deliver(&mut bob);
    assert_eq!(
        bob.decrypt(ROOM, "alice", &enc).unwrap().body,
        "after a lost share"
    );
}
