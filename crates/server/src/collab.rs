//! Collaboration actions: reactions, pins, threads (view, follow, read
//! marks, the followed list), mentions (who a message notifies, the
//! Mentions view) and per-room notification settings.
//!
//! Reactions and pins append stored events to the room's stream, like
//! edits; a thread reply is a message (see [`crate::chat`]). What belongs to
//! one user (follow state, notification settings) goes to that user's
//! sessions only.

use crate::action::{ActionError, require_member};
use crate::conversations::{Effect, NO_MESSAGE, act};
use crate::state::AppState;
use crate::store::events::{self, Kind, MessageRow, NewEvent};
use crate::store::rooms::{self, Access};
use crate::store::{Db, StoreError, collab, users};
use securechat_proto::collab::{
    self as proto, FollowedThread, MAX_PINS_PER_ROOM, MAX_REACTIONS_PER_MESSAGE, MentionsResponse,
    NotifyLevel, PinsResponse, ThreadResponse, ThreadState, ThreadsResponse,
};
use securechat_proto::ws::{RoomInfo, RoomKind};
use securechat_proto::{MessageId, RoomId, Seq, ServerMsg, Timestamp, UserId};

/// Most replies a thread view returns.
pub const MAX_THREAD_REPLIES: usize = 1000;
/// Most followed threads listed.
pub const MAX_FOLLOWED: usize = 100;
/// Largest page of the Mentions view.
pub const MAX_MENTIONS_PAGE: usize = 100;

/// Whom a message mentions: members of the room other than the sender.
#[derive(Debug, Default)]
pub struct Mentions {
    pub users: Vec<UserId>,
    /// `@room` / `@here` by someone allowed to use it.
    pub room: bool,
    /// What the message row keeps (see [`events::mentions_data`]).
    pub data: Option<String>,
}

/// Who may notify a whole room with `@room` / `@here`: its creator and
/// server admins, and both people in a DM. From anyone else the words stay
/// plain text.
fn may_mention_room(tx: &Db<'_>, room: RoomId, user: UserId) -> Result<bool, StoreError> {
    let Some(r) = rooms::by_id(tx, room)? else {
        return Ok(false);
    };
    if r.kind == RoomKind::Dm || r.created_by == Some(user) {
        return Ok(true);
    }
    Ok(users::by_id(tx, user)?.is_some_and(|u| u.is_admin))
}

/// Resolves the `@names` in `body` against the members of `room`.
pub fn resolve_mentions(
    tx: &Db<'_>,
    room: RoomId,
    sender: UserId,
    body: &str,
) -> Result<Mentions, StoreError> {
    if !body.contains('@') {
        return Ok(Mentions::default());
    }
    let (names, says_room) = proto::mentions(body);
    let mut out = Mentions::default();
    let mut kept = Vec::new();
    for name in names {
        if let Some(u) = users::by_name(tx, &name)?
            && u.id != sender
            && rooms::access(tx, room, u.id)? == Access::Member
        {
            out.users.push(u.id);
            kept.push(name);
        }
    }
    out.room = says_room && may_mention_room(tx, room, sender)?;
    out.data = events::mentions_data(&kept, out.room);
    Ok(out)
}

/// A message of `room` that reactions, pins and replies may target.
fn live_message(
    tx: &Db<'_>,
    room: RoomId,
    user: UserId,
    msg: MessageId,
) -> Result<MessageRow, ActionError> {
    require_member(rooms::access(tx, room, user)?)?;
    crate::action::require_open(tx, room)?;
    let row = events::message_row(tx, room, msg)?.ok_or(NO_MESSAGE)?;
    if row.deleted {
        return Err(NO_MESSAGE);
    }
    Ok(row)
}

/// Adds (`add`) or removes `user`'s reaction `emoji` on `msg`. Doing what
/// is already done changes nothing and stores no event.
pub async fn react(
    state: &AppState,
    user: UserId,
    room: RoomId,
    msg: MessageId,
    emoji: String,
    add: bool,
) -> Result<(), ActionError> {
    proto::validate_reaction(&emoji).map_err(ActionError::BadRequest)?;
    act(state, move |tx, fx| {
        live_message(tx, room, user, msg)?;
        let ts = Timestamp::now();
        let changed = if add {
            let kinds = collab::reaction_kinds(tx, msg)?;
            if kinds.len() >= MAX_REACTIONS_PER_MESSAGE && !kinds.contains(&emoji) {
                return Err(ActionError::Conflict(format!(
                    "a message can have at most {MAX_REACTIONS_PER_MESSAGE} different reactions"
                )));
            }
            collab::add_reaction(tx, msg, &emoji, user, ts)?
        } else {
            collab::remove_reaction(tx, msg, &emoji, user)?
        };
        if changed {
            let ev = NewEvent {
                target: Some(msg),
                body: Some(&emoji),
                data: Some(if add { "+" } else { "-" }),
                ..NewEvent::new(Kind::React, user)
            };
            fx.push(Effect::Publish(events::append(tx, room, ev, ts)?));
        }
        Ok(())
    })
    .await
}

/// Pins or unpins `msg` (any member may).
pub async fn pin(
    state: &AppState,
    user: UserId,
    room: RoomId,
    msg: MessageId,
    pinned: bool,
) -> Result<(), ActionError> {
    act(state, move |tx, fx| {
        live_message(tx, room, user, msg)?;
        if pinned && collab::pinned(tx, room)?.len() >= MAX_PINS_PER_ROOM {
            return Err(ActionError::Conflict(format!(
                "a room can have at most {MAX_PINS_PER_ROOM} pinned messages"
            )));
        }
        let ts = Timestamp::now();
        if collab::set_pinned(tx, msg, pinned, ts)? {
            let kind = if pinned { Kind::Pin } else { Kind::Unpin };
            let ev = NewEvent {
                target: Some(msg),
                ..NewEvent::new(kind, user)
            };
            fx.push(Effect::Publish(events::append(tx, room, ev, ts)?));
        }
        Ok(())
    })
    .await
}

/// `GET /api/rooms/{id}/pins`.
pub async fn pins(
    state: &AppState,
    user: UserId,
    room: RoomId,
) -> Result<PinsResponse, ActionError> {
    state
        .store
        .read(move |c| {
            require_member(rooms::access(c, room, user)?)?;
            let pins = collab::pinned(c, room)?
                .into_iter()
                .map(|e| e.msg)
                .collect();
            Ok(PinsResponse { pins })
        })
        .await
}

/// The thread root `msg` belongs to (itself, or its root for a reply).
fn root_of(c: &Db<'_>, room: RoomId, msg: MessageId) -> Result<MessageId, ActionError> {
    let row = events::message_row(c, room, msg)?.ok_or(NO_MESSAGE)?;
    Ok(row.thread.unwrap_or(msg))
}

/// `GET /api/rooms/{id}/threads/{root}`.
pub async fn thread(
    state: &AppState,
    user: UserId,
    room: RoomId,
    root: MessageId,
) -> Result<ThreadResponse, ActionError> {
    state
        .store
        .read(move |c| {
            require_member(rooms::access(c, room, user)?)?;
            let root = root_of(c, room, root)?;
            let root_ev = events::by_id(c, root)?.ok_or(NO_MESSAGE)?;
            let replies = collab::replies(c, root, MAX_THREAD_REPLIES)?;
            let (following, read_seq) = collab::thread_state(c, user, root)?;
            Ok(ThreadResponse {
                root: root_ev.msg,
                replies: replies.into_iter().map(|e| e.msg).collect(),
                following,
                read_seq,
            })
        })
        .await
}

/// `GET /api/threads`.
pub async fn followed(state: &AppState, user: UserId) -> Result<ThreadsResponse, ActionError> {
    state
        .store
        .read(move |c| {
            let threads = collab::followed(c, user, MAX_FOLLOWED)?
                .into_iter()
                .map(|f| FollowedThread {
                    room: f.root.room,
                    root: f.root.msg,
                    unread: f.unread,
                    read_seq: f.read_seq,
                })
                .collect();
            Ok::<_, ActionError>(ThreadsResponse { threads })
        })
        .await
}

/// Follows or unfollows a thread, or moves its read mark; every session of
/// the user hears the new state.
pub async fn set_thread(
    state: &AppState,
    user: UserId,
    room: RoomId,
    root: MessageId,
    following: Option<bool>,
    read: Option<Seq>,
) -> Result<ThreadState, ActionError> {
    act(state, move |tx, fx| {
        require_member(rooms::access(tx, room, user)?)?;
        let root = root_of(tx, room, root)?;
        if let Some(f) = following {
            collab::set_following(tx, user, room, root, f)?;
        }
        if let Some(seq) = read {
            collab::mark_thread_read(tx, user, room, root, seq)?;
        }
        let (following, read_seq) = collab::thread_state(tx, user, root)?;
        let st = ThreadState {
            room,
            root,
            following,
            read_seq,
        };
        fx.push(Effect::ToUser(user, ServerMsg::Thread(st.clone())));
        Ok(st)
    })
    .await
}

/// `GET /api/mentions?before=ID&limit=N`.
pub async fn mentions(
    state: &AppState,
    user: UserId,
    before: Option<MessageId>,
    limit: Option<usize>,
) -> Result<MentionsResponse, ActionError> {
    let limit = limit.unwrap_or(50).clamp(1, MAX_MENTIONS_PAGE);
    let before = before.unwrap_or(MessageId(i64::MAX));
    state
        .store
        .read(move |c| {
            let mut page = collab::mentioning(c, user, before, limit + 1)?;
            let more = page.len() > limit;
            page.truncate(limit);
            Ok::<_, ActionError>(MentionsResponse {
                events: page.into_iter().map(|e| e.msg).collect(),
                more,
            })
        })
        .await
}

/// `PUT /api/rooms/{id}/notifications`.
pub async fn set_notifications(
    state: &AppState,
    user: UserId,
    room: RoomId,
    level: NotifyLevel,
    muted: bool,
) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        require_member(rooms::access(tx, room, user)?)?;
        collab::set_notify(tx, room, user, level, muted)?;
        fx.push(Effect::ToUser(
            user,
            ServerMsg::Notifications { room, level, muted },
        ));
        Ok(rooms::info_for(tx, room, user)?)
    })
    .await
}
