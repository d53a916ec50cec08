//! End-to-end encryption against a real server: each test user is a real
//! device (`securechat-crypto`, the clients' own code) that publishes its
//! keys, shares room keys over to-device messages and sends ciphertext
//! over the WebSocket.

mod backup;
mod files;
mod keys;
mod rooms;
mod server_blind;

use crate::helpers::{Client, Endpoint};
use securechat_crypto::Machine;
use securechat_proto::e2e::{Devices, Encrypted, KeysClaimed};
use securechat_proto::ws::Ack;
use securechat_proto::{DeviceId, ErrorCode, RoomId, ServerMsg};
use serde_json::{Value, json};

/// A logged-in user with one device and its WebSocket.
pub struct Dev {
    pub name: String,
    pub token: String,
    pub m: Machine,
    pub ws: Client,
    /// Messages opened so far: (room, sender, text).
    pub read: Vec<(RoomId, String, String)>,
}

impl Dev {
    /// Logs `name` in as a new device (its session), publishes its keys and
    /// connects.
    pub async fn new(ep: &Endpoint, name: &str, token: String) -> Dev {
        let me = get(ep, "/api/me", &token).await;
        let device = DeviceId(me["device"].as_i64().expect("device id"));
        let mut m = Machine::new(name, device);
        let (otks, fallback) = m.new_one_time_keys(10);
        let res = ep
            .post(
                "/api/keys",
                json!({"device_keys": m.device_keys(), "one_time_keys": otks, "fallback_key": fallback}),
                Some(&token),
            )
            .await;
        assert_eq!(res.status(), 200, "keys published");
        let (ws, welcome) = ep.connect(&token).await;
        assert_eq!(welcome.device, device);
        Dev {
            name: name.into(),
            token,
            m,
            ws,
            read: Vec::new(),
        }
    }

    pub fn device(&self) -> DeviceId {
        self.m.device()
    }

    /// Shares this device's room key with every device of `room` that
    /// lacks it, as a client does before sending.
    pub async fn share(&mut self, ep: &Endpoint, room: RoomId) {
        let devices: Devices = serde_json::from_value(
            get(ep, &format!("/api/rooms/{room}/devices"), &self.token).await,
        )
        .unwrap();
        let plan = self.m.plan_share(room, &devices.devices);
        assert!(plan.refused.is_empty(), "{:?}", plan.refused);
        let claimed: KeysClaimed = if plan.claim.is_empty() {
            KeysClaimed::default()
        } else {
            let res = ep
                .post(
                    "/api/keys/claim",
                    json!({"devices": plan.claim}),
                    Some(&self.token),
                )
                .await;
            assert_eq!(res.status(), 200);
            res.json().await.unwrap()
        };
        let out = self.m.share(room, &plan.targets, &claimed.keys).unwrap();
        if !out.is_empty() {
            let res = ep
                .post(
                    "/api/to_device",
                    json!({"messages": out}),
                    Some(&self.token),
                )
                .await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            self.m.confirm_shared(room, &out);
        }
    }

    /// Sends one encrypted frame and returns the answer: its ack, or the
    /// error code.
    pub async fn send_raw(
        &mut self,
        room: RoomId,
        cmid: &str,
        enc: &Encrypted,
    ) -> Result<Ack, ErrorCode> {
        self.send_frame(
            json!({"type": "send", "room": room, "client_msg_id": cmid, "encrypted": enc}),
        )
        .await
    }

    /// Sends a `send` frame and returns its ack or error code.
    pub async fn send_frame(&mut self, frame: Value) -> Result<Ack, ErrorCode> {
        let cmid = frame["client_msg_id"].as_str().unwrap().to_owned();
        let cmid = cmid.as_str();
        self.ws.send_json(frame).await;
        let answer = self
            .ws
            .next_where(|m| match m {
                ServerMsg::Ack(a) => a.client_msg_id == cmid,
                ServerMsg::Error(e) => e.client_msg_id.as_deref() == Some(cmid),
                _ => false,
            })
            .await;
        match answer {
            ServerMsg::Ack(a) => Ok(a),
            ServerMsg::Error(e) => Err(e.code),
            _ => unreachable!(),
        }
    }

    /// Sends `body` encrypted as a client does: share, encrypt, send; on
    /// `keys_outdated`, share again (starting a new session if a device
    /// left) and resend.
    pub async fn send(&mut self, ep: &Endpoint, room: RoomId, cmid: &str, body: &str) -> Ack {
        for _ in 0..3 {
            self.share(ep, room).await;
            let enc = self.m.encrypt(room, body).unwrap();
            match self.send_raw(room, cmid, &enc).await {
                Ok(ack) => return ack,
                Err(ErrorCode::KeysOutdated) => continue,
                Err(e) => panic!("send refused: {e}"),
            }
        }
        panic!("keys still outdated after three shares");
    }

    /// An encrypted reply in the thread of `root`, naming `mentions` in the
    /// clear for notifications.
    pub async fn reply(
        &mut self,
        ep: &Endpoint,
        room: RoomId,
        cmid: &str,
        body: &str,
        root: securechat_proto::MessageId,
        mentions: &[&str],
    ) -> Ack {
        self.share(ep, room).await;
        let enc = self.m.encrypt(room, body).unwrap();
        let frame = json!({"type": "send", "room": room, "client_msg_id": cmid, "encrypted": enc,
                           "thread": root, "mentions": mentions});
        self.send_frame(frame).await.expect("reply stored")
    }

    /// Reads frames until a message of `room` arrives, handling to-device
    /// messages on the way (and acking them); returns the message opened.
    pub async fn next_message(&mut self, ep: &Endpoint, room: RoomId) -> (String, String) {
        loop {
            match self.ws.next().await {
                ServerMsg::ToDevice(ev) => self.open_to_device(ep, ev).await,
                ServerMsg::Message(m) if m.room == room => {
                    let enc = m.encrypted.clone().expect("an encrypted message");
                    let opened = self
                        .m
                        .decrypt(room, &m.from, &enc)
                        .unwrap_or_else(|e| panic!("{} cannot open {m:?}: {e}", self.name));
                    self.read.push((room, m.from.clone(), opened.body.clone()));
                    return (m.from, opened.body);
                }
                _ => {}
            }
        }
    }

    /// Opens a to-device message (looking up its sender's keys first if
    /// they are new) and acks it.
    pub async fn open_to_device(
        &mut self,
        ep: &Endpoint,
        ev: securechat_proto::e2e::ToDeviceEvent,
    ) {
        if self.m.known_device(ev.from_device).is_none() {
            let devices: Devices = serde_json::from_value(
                post(
                    ep,
                    "/api/keys/query",
                    json!({"users": [ev.from]}),
                    &self.token,
                )
                .await,
            )
            .unwrap();
            self.m.observe(&devices.devices);
        }
        self.m
            .receive_to_device(&ev)
            .expect("to-device message opens");
        self.ws
            .send_json(json!({"type": "to_device_ack", "upto": ev.id}))
            .await;
    }
}

pub async fn get(ep: &Endpoint, path: &str, token: &str) -> Value {
    let res = ep.get(path, Some(token)).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

pub async fn post(ep: &Endpoint, path: &str, body: Value, token: &str) -> Value {
    let res = ep.post(path, body, Some(token)).await;
    assert_eq!(res.status(), 200, "POST {path}");
    res.json().await.unwrap()
}

/// An encrypted private room made by `owner` with `members`.
pub async fn encrypted_room(ep: &Endpoint, owner: &str, name: &str, members: &[&str]) -> RoomId {
    let info = ep
        .post_room(
            "/api/rooms",
            json!({"name": name, "kind": "private", "members": members, "encrypted": true}),
            owner,
            201,
        )
        .await;
    assert!(info.encrypted);
    info.id
}
