//! Posting a message: authorize, store with the room's next seq, and fan
//! out in commit order.

use crate::metrics;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::events::{self, Appended};
use crate::store::rooms::{self, Access};
use securechat_proto::{ErrorCode, RoomId, ServerMsg, Timestamp, UserId};

/// Why a user may not touch a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    NoSuchRoom,
    NotMember,
}

impl Denied {
    pub fn code(self) -> ErrorCode {
        match self {
            Denied::NoSuchRoom => ErrorCode::NotFound,
            Denied::NotMember => ErrorCode::Forbidden,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Denied::NoSuchRoom => "no such room",
            Denied::NotMember => "you are not a member of this room",
        }
    }
}

/// Maps a room access check to `Ok` for members.
pub fn require_member(access: Access) -> Result<(), Denied> {
    match access {
        Access::Member => Ok(()),
        Access::NotMember => Err(Denied::NotMember),
        Access::NoSuchRoom => Err(Denied::NoSuchRoom),
    }
}

/// Stores `body` from `user` in `room` (once per `client_msg_id`) and
/// queues it to every member. Returns when the message is durable.
pub async fn post(
    state: &AppState,
    user: UserId,
    room: RoomId,
    client_msg_id: String,
    body: String,
) -> Result<Result<Appended, Denied>, StoreError> {
    let hub = state.hub.clone();
    let metrics = state.metrics.clone();
    state
        .store
        .write_then(
            move |tx| {
                if let Err(denied) = require_member(rooms::access(tx, room, user)?) {
                    return Ok(Err(denied));
                }
                let ts = Timestamp::now();
                Ok(Ok(events::append_message(
                    tx,
                    room,
                    user,
                    &client_msg_id,
                    &body,
                    ts,
                )?))
            },
            move |result| {
                if let Ok(Appended::New(event)) = result {
                    metrics::inc(&metrics.messages_total);
                    hub.publish(event.room, event.seq, &ServerMsg::Message(event.clone()));
                }
            },
        )
        .await
}
