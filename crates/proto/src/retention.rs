//! Retention policies: how long a room keeps its messages.

use serde::{Deserialize, Serialize};

/// `PUT /api/rooms/{id}/retention`: the room's own policy. `days`: keep
/// messages this many days (1–36500), `0` forever, `null` as the server
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRetention {
    pub days: Option<u32>,
}

/// `GET` and `PUT /api/rooms/{id}/retention`: the policy in force and where
/// it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Messages older than this many days are removed; `null`: kept forever.
    pub days: Option<u32>,
    /// The room's own setting (`0`: forever), if it has one.
    pub room: Option<u32>,
    /// The server's (`retention_days`), if it has one.
    pub server: Option<u32>,
}

/// The longest policy, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;
