//! Posting a message: authorize, store with the room's next seq, and fan
//! out in commit order. A message may reply in a thread and mention people;
//! a plain message (no thread, no `@`) takes the shortest path.

use crate::action::{ActionError, require_member};
use crate::collab::resolve_mentions;
use crate::conversations::NO_MESSAGE;
use crate::hub::Hub;
use crate::integrations::outgoing::Outgoing;
use crate::metrics::{self, Metrics};
use crate::state::AppState;
use crate::store::e2e;
use crate::store::events::{self, Appended, NewMessage};
use crate::store::{Db, StoreError, collab, files, rooms};
use securechat_proto::collab::ThreadState;
use securechat_proto::e2e::Encrypted;
use securechat_proto::{DeviceId, FileId, MessageId, RoomId, ServerMsg, UserId};

/// What to post.
#[derive(Debug, Clone, Default)]
pub struct Post {
    pub client_msg_id: String,
    pub body: String,
    pub file: Option<FileId>,
    /// Reply in the thread of this message.
    pub thread: Option<MessageId>,
    /// With `thread`: also show it in the room.
    pub also_room: bool,
    /// In an encrypted room: the ciphertext (and `body` is empty).
    pub encrypted: Option<Encrypted>,
    /// The posting session's device (to check `encrypted.device`).
    pub device: Option<DeviceId>,
    /// With `encrypted`: whom it mentions, in the clear.
    pub mentions: Vec<String>,
}

/// A stored (or retried) message, and the users who now follow a thread
/// because of it.
#[derive(Debug)]
pub struct Posted {
    pub appended: Appended,
    pub follows: Vec<(UserId, ThreadState)>,
}

/// After a commit: counts a newly stored message and queues it to the room
/// and its outgoing webhooks (a retried duplicate was delivered the first
/// time), then tells new followers of a thread.
pub fn announce(hub: &Hub, metrics: &Metrics, webhooks: &Outgoing, posted: &Posted) {
    if let Appended::New(event) = &posted.appended {
        metrics::inc(&metrics.messages_total);
        hub.publish(event.room, event.seq, &ServerMsg::Message(event.clone()));
        webhooks.offer(event);
    }
    for (user, st) in &posted.follows {
        hub.send_to_user(*user, &ServerMsg::Thread(st.clone()));
    }
}

/// The write job of a message: stores it as the room's next event if
/// `user` may post there, once per `client_msg_id` (a retry gets the
/// message stored the first time). Its checks come before its writes,
/// so it runs without a savepoint (see [`Store::submit_unguarded_then`]):
/// the outer error is a storage failure, the inner one the answer.
///
/// [`Store::submit_unguarded_then`]: crate::store::Store::submit_unguarded_then
pub fn store(
    tx: &Db<'_>,
    user: UserId,
    room: RoomId,
    post: &Post,
) -> Result<Result<Posted, ActionError>, StoreError> {
    let plain = |appended| {
        Ok(Ok(Posted {
            appended,
            follows: Vec::new(),
        }))
    };
    let mut new = NewMessage::new(room, user, &post.client_msg_id, &post.body);
    new.file = post.file;
    new.encrypted = post.encrypted.as_ref();
    // (If nothing is stored here, it is not a member, a retry, or text in
    // an encrypted room or ciphertext elsewhere.)
    if post.thread.is_none()
        && post.encrypted.is_none()
        && !post.body.contains('@')
        && let Some(m) = events::insert_message(tx, &new)?
    {
        return plain(Appended::New(m));
    }
    if let Err(denied) = require_member(rooms::access(tx, room, user)?) {
        return Ok(Err(denied));
    }
    // (The quick insert above skips archived rooms.)
    if rooms::archived(tx, room)? {
        return Ok(Err(crate::action::ARCHIVED));
    }
    if let Some(first) = events::by_client_msg_id(tx, user, &post.client_msg_id)? {
        return plain(Appended::Duplicate(first));
    }
    // An encrypted message's file was uploaded as ciphertext just before:
    // it may carry one the sender uploaded to this room that nothing
    // carries yet. (A file in the clear comes only with its upload.)
    let clear = !post.body.is_empty() || post.file.is_some() && post.encrypted.is_none();
    if let Err(refused) = check_encryption(tx, room, post.encrypted.as_ref(), post.device, clear)? {
        return Ok(Err(refused));
    }
    if let (Some(file), Some(_)) = (post.file, &post.encrypted)
        && !files::attachable(tx, file, user, room)?
    {
        return Ok(Err(ActionError::NotFound(
            "no such file: attach a file you uploaded to this room that no message carries",
        )));
    }
    // A reply or a mention: check the root, resolve the names, then write.
    let root = match post.thread {
        None => None,
        Some(t) => match events::message_row(tx, room, t)? {
            Some(row) if !row.deleted => {
                let (root, starter) = match row.thread {
                    Some(root) => (root, events::message_row(tx, room, root)?.map(|r| r.sender)),
                    None => (t, Some(row.sender)),
                };
                // One who has left the room hears nothing more of it.
                let starter = match starter {
                    Some(s) if rooms::access(tx, room, s)? == rooms::Access::Member => Some(s),
                    _ => None,
                };
                Some((root, starter))
            }
            _ => return Ok(Err(NO_MESSAGE)),
        },
    };
    // Ciphertext mentions whom its sender names in the clear.
    let named;
    let text = match &post.encrypted {
        None => &post.body,
        Some(_) => {
            named = post
                .mentions
                .iter()
                .map(|m| format!("@{m} "))
                .collect::<String>();
            &named
        }
    };
    let mentions = resolve_mentions(tx, room, user, text)?;
    new.thread = root.map(|(r, _)| r);
    new.also_room = post.also_room;
    new.mentions = mentions.data.as_deref();
    let m = events::insert_message(tx, &new)?.ok_or(StoreError::NotFound)?;
    if mentions.room {
        collab::insert_room_mention(tx, room, m.seq, m.id, user)?;
    } else {
        collab::insert_mentions(tx, room, m.seq, m.id, &mentions.users)?;
    }
    let mut follows = Vec::new();
    if let Some((root, starter)) = root {
        collab::bump_thread(tx, root, m.ts)?;
        // Who replies or is mentioned follows; who started it follows
        // unless they chose not to.
        let mut candidates = vec![(user, true)];
        candidates.extend(starter.map(|s| (s, false)));
        candidates.extend(mentions.users.iter().map(|&u| (u, true)));
        for (u, force) in candidates {
            if collab::follow(tx, u, room, root, force)? {
                let (following, read_seq) = collab::thread_state(tx, u, root)?;
                let st = ThreadState {
                    room,
                    root,
                    following,
                    read_seq,
                };
                follows.push((u, st));
            }
        }
    }
    Ok(Ok(Posted {
        appended: Appended::New(m),
        follows,
    }))
}

/// An encrypted room takes only ciphertext (a message or an edit with
/// nothing `clear`: no text, no file), from the posting session's own
/// `device`, encrypted with a Megolm session that every current device of
/// the room's members has received and no former one has (else
/// `keys_outdated`: the client shares its key, or starts a new session,
/// and sends again). Other rooms take only text.
pub fn check_encryption(
    tx: &Db<'_>,
    room: RoomId,
    encrypted: Option<&Encrypted>,
    device: Option<DeviceId>,
    clear: bool,
) -> Result<Result<(), ActionError>, StoreError> {
    let encrypted_room = e2e::room_encrypted(tx, room)?;
    let Some(enc) = encrypted else {
        return Ok(if encrypted_room {
            Err(ActionError::BadRequest(
                "this conversation is end-to-end encrypted: send ciphertext",
            ))
        } else {
            Ok(())
        });
    };
    if !encrypted_room {
        return Ok(Err(ActionError::BadRequest(
            "this conversation is not encrypted: send text",
        )));
    }
    if device != Some(enc.device) || e2e::device(tx, enc.device)?.is_none() {
        return Ok(Err(ActionError::Forbidden(
            "encrypt with this session's own published device keys",
        )));
    }
    if tx.backend() == crate::store::Backend::Postgres {
        // Another node's join or leave commits under this lock: take it
        // before counting who has the key, so the count and the insert
        // see the same members.
        tx.query_opt(
            "SELECT 1 FROM rooms WHERE id = ?1 FOR UPDATE",
            [room.0],
            |_| Ok(()),
        )?;
    }
    if clear {
        return Ok(Err(ActionError::BadRequest(
            "an encrypted message carries no text and no file in the clear",
        )));
    }
    let (missing, gone) = e2e::share_gaps(tx, room, &enc.session, enc.device)?;
    if gone > 0 {
        return Ok(Err(ActionError::KeysOutdated(
            "a device that has this room key left the room: start a new session",
        )));
    }
    if missing > 0 {
        return Ok(Err(ActionError::KeysOutdated(
            "this room key has not reached every device in the room: share it first",
        )));
    }
    Ok(Ok(()))
}

/// Stores `post` from `user` in `room` (once per `client_msg_id`) and
/// queues it to every member. Returns once the write is queued, with a
/// future that resolves when the message is durable; writes commit in the
/// order they were queued.
pub async fn post(
    state: &AppState,
    user: UserId,
    room: RoomId,
    post: Post,
) -> Result<impl Future<Output = Result<Posted, ActionError>> + Send + 'static, ActionError> {
    let first = submit(state, user, room, post.clone()).await?;
    let state = state.clone();
    Ok(async move {
        let mut result = first.await;
        // On PostgreSQL with several nodes, a send that waited too long
        // for its room's row (another node's batch held it) rolled back
        // alone: send it again, with the same `client_msg_id`, so it is
        // stored once. (It may then follow a later send of the same
        // connection.)
        for _ in 0..CONTENTION_RETRIES {
            match &result {
                Err(ActionError::Store(e)) if e.is_contention() => {}
                _ => break,
            }
            metrics::inc(&state.metrics.store_retries_total);
            result = match submit(&state, user, room, post.clone()).await {
                Ok(again) => again.await,
                Err(e) => Err(e),
            };
        }
        if matches!(result, Err(ActionError::KeysOutdated(_))) {
            metrics::inc(&state.metrics.keys_outdated_total);
        }
        result
    })
}

/// Sends lost to another node's writer that are tried again at once.
const CONTENTION_RETRIES: usize = 5;

async fn submit(
    state: &AppState,
    user: UserId,
    room: RoomId,
    post: Post,
) -> Result<impl Future<Output = Result<Posted, ActionError>> + Send + 'static, ActionError> {
    let hub = state.hub.clone();
    let metrics = state.metrics.clone();
    let webhooks = state.webhooks.clone();
    state
        .store
        .submit_unguarded_then(
            move |tx| store(tx, user, room, &post),
            move |posted| announce(&hub, &metrics, &webhooks, posted),
        )
        .await
}
