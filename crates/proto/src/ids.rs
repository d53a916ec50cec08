//! Typed ids. Each is a server-assigned 64-bit integer, a JSON number on the
//! wire (a string when it is a JSON object key, as in `sync.since`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A conversation: a room or a direct message.
    RoomId
);
id_type!(
    /// A stored event (message).
    MessageId
);

id_type!(
    /// An uploaded file.
    FileId
);

id_type!(
    /// A device: one login (session) that holds end-to-end encryption keys.
    DeviceId
);

/// Position of an event in its room's stream: 1, 2, 3, … with no gaps.
pub type Seq = u64;
