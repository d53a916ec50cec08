//! Saving and loading a [`Machine`]: a JSON document whose secrets (the
//! account, every Olm and Megolm session) are each encrypted by vodozemac
//! with the 32-byte pickle key; device keys, ids and counters are public
//! and stay readable.

use crate::Error;
use crate::machine::{Inbound, Machine, Outbound};
use securechat_proto::e2e::DeviceKeys;
use securechat_proto::{DeviceId, RoomId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use vodozemac::megolm::{GroupSessionPickle, InboundGroupSessionPickle};
use vodozemac::olm::{AccountPickle, SessionPickle};

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    user: String,
    device: DeviceId,
    account: String,
    olm: Vec<(String, Vec<String>)>,
    outbound: Vec<SavedOutbound>,
    inbound: Vec<SavedInbound>,
    known: Vec<DeviceKeys>,
    verified: Vec<DeviceId>,
    to_device_done: u64,
}

#[derive(Serialize, Deserialize)]
struct SavedOutbound {
    room: RoomId,
    session: String,
    shared: Vec<DeviceId>,
}

#[derive(Serialize, Deserialize)]
struct SavedInbound {
    room: RoomId,
    session_id: String,
    sender: String,
    sender_device: DeviceId,
    session: String,
}

impl Machine {
    /// The machine as a JSON string, its secrets encrypted with `key`.
    pub fn save(&self, key: &[u8; 32]) -> String {
        let saved = Saved {
            version: 1,
            user: self.user.clone(),
            device: self.device,
            account: self.account.pickle().encrypt(key),
            olm: self
                .olm
                .iter()
                .map(|(k, ss)| {
                    (
                        k.clone(),
                        ss.iter().map(|s| s.pickle().encrypt(key)).collect(),
                    )
                })
                .collect(),
            outbound: self
                .outbound
                .iter()
                .map(|(room, o)| SavedOutbound {
                    room: *room,
                    session: o.session.pickle().encrypt(key),
                    shared: o.shared.iter().copied().collect(),
                })
                .collect(),
            inbound: self
                .inbound
                .iter()
                .map(|((room, id), i)| SavedInbound {
                    room: *room,
                    session_id: id.clone(),
                    sender: i.sender.clone(),
                    sender_device: i.sender_device,
                    session: i.session.pickle().encrypt(key),
                })
                .collect(),
            known: self.known.values().cloned().collect(),
            verified: self.verified.iter().copied().collect(),
            to_device_done: self.to_device_done,
        };
        serde_json::to_string(&saved).expect("a machine always serializes")
    }

    /// Opens what [`save`](Self::save) made, with the same key.
    pub fn load(saved: &str, key: &[u8; 32]) -> Result<Machine, Error> {
        let bad = |e: &dyn std::fmt::Display| Error::Pickle(e.to_string());
        let s: Saved = serde_json::from_str(saved).map_err(|e| bad(&e))?;
        let account = AccountPickle::from_encrypted(&s.account, key).map_err(|e| bad(&e))?;
        let mut olm = HashMap::new();
        for (curve, sessions) in s.olm {
            let mut list = Vec::new();
            for p in sessions {
                let p = SessionPickle::from_encrypted(&p, key).map_err(|e| bad(&e))?;
                list.push(vodozemac::olm::Session::from_pickle(p));
            }
            olm.insert(curve, list);
        }
        let mut outbound = HashMap::new();
        for o in s.outbound {
            let p = GroupSessionPickle::from_encrypted(&o.session, key).map_err(|e| bad(&e))?;
            outbound.insert(
                o.room,
                Outbound {
                    session: vodozemac::megolm::GroupSession::from_pickle(p),
                    shared: o.shared.into_iter().collect(),
                },
            );
        }
        let mut inbound = HashMap::new();
        for i in s.inbound {
            let p =
                InboundGroupSessionPickle::from_encrypted(&i.session, key).map_err(|e| bad(&e))?;
            inbound.insert(
                (i.room, i.session_id),
                Inbound {
                    session: vodozemac::megolm::InboundGroupSession::from_pickle(p),
                    sender: i.sender,
                    sender_device: i.sender_device,
                },
            );
        }
        Ok(Machine {
            user: s.user,
            device: s.device,
            account: vodozemac::olm::Account::from_pickle(account),
            olm,
            outbound,
            inbound,
            known: s.known.into_iter().map(|d| (d.device, d)).collect(),
            verified: s.verified.into_iter().collect::<BTreeSet<_>>(),
            to_device_done: s.to_device_done,
        })
    }
}
