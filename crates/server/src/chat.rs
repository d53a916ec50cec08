//! Posting a message: authorize, store with the room's next seq, and fan
//! out in commit order.

use crate::action::{ActionError, require_member};
use crate::hub::Hub;
use crate::metrics::{self, Metrics};
use crate::state::AppState;
use crate::store::events::{self, Appended};
use crate::store::{StoreError, Transaction, rooms};
use securechat_proto::{FileId, RoomId, ServerMsg, Timestamp, UserId};

/// After a commit: counts a newly stored message and queues it to the room
/// (a retried duplicate was delivered the first time).
pub fn announce(hub: &Hub, metrics: &Metrics, appended: &Appended) {
    if let Appended::New(event) = appended {
        metrics::inc(&metrics.messages_total);
        hub.publish(event.room, event.seq, &ServerMsg::Message(event.clone()));
    }
}

/// The write job of a message: stores it as the room's next event if
/// `user` may post there, once per `client_msg_id` (a retry gets the
/// message stored the first time). Its checks come before its one write,
/// so it runs without a savepoint (see [`Store::submit_unguarded_then`]):
/// the outer error is a storage failure, the inner one the answer.
///
/// [`Store::submit_unguarded_then`]: crate::store::Store::submit_unguarded_then
pub fn store(
    tx: &Transaction<'_>,
    user: UserId,
    room: RoomId,
    client_msg_id: &str,
    body: &str,
    file: Option<FileId>,
) -> Result<Result<Appended, ActionError>, StoreError> {
    let ts = Timestamp::now();
    if let Some(m) = events::insert_message(tx, room, user, client_msg_id, body, file, ts)? {
        return Ok(Ok(Appended::New(m)));
    }
    // Nothing stored: not a member, or a retry.
    if let Err(denied) = require_member(rooms::access(tx, room, user)?) {
        return Ok(Err(denied));
    }
    let first = events::by_client_msg_id(tx, user, client_msg_id)?;
    Ok(Ok(Appended::Duplicate(first.ok_or(StoreError::NotFound)?)))
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
        .submit_unguarded_then(
            move |tx| store(tx, user, room, &client_msg_id, &body, None),
            move |appended| announce(&hub, &metrics, appended),
        )
        .await
}
