//! Posting a message: authorize, store with the room's next seq, and fan
//! out in commit order.

use crate::action::{ActionError, require_member};
use crate::hub::Hub;
use crate::metrics::{self, Metrics};
use crate::state::AppState;
use crate::store::events::{self, Appended};
use crate::store::rooms;
use securechat_proto::{RoomId, ServerMsg, Timestamp, UserId};

/// After a commit: counts a newly stored message and queues it to the room
/// (a retried duplicate was delivered the first time).
pub fn announce(hub: &Hub, metrics: &Metrics, appended: &Appended) {
    if let Appended::New(event) = appended {
        metrics::inc(&metrics.messages_total);
        hub.publish(event.room, event.seq, &ServerMsg::Message(event.clone()));
    }
}

/// Stores `body` from `user` in `room` (once per `client_msg_id`) and
/// queues it to every member. Returns once the write is queued, with a
/// future that resolves when the message is durable; writes commit in the
/// order they were queued.
pub async fn post(
    state: &AppState,
    user: UserId,
    room: RoomId,
    client_msg_id: String,
    body: String,
) -> Result<impl Future<Output = Result<Appended, ActionError>> + Send + 'static, ActionError> {
    let hub = state.hub.clone();
    let metrics = state.metrics.clone();
    state
        .store
        .submit_then(
            move |tx| {
                require_member(rooms::access(tx, room, user)?)?;
                let ts = Timestamp::now();
                Ok(events::append_message(
                    tx,
                    room,
                    user,
                    &client_msg_id,
                    &body,
                    ts,
                )?)
            },
            move |appended| announce(&hub, &metrics, appended),
        )
        .await
}
