//! Rooms, direct messages, membership, history, read marks, edits and
//! deletions.
//!
//! Every action that changes a room is one store transaction that appends
//! a stored event to the room's stream, so `sync` replays it like a
//! message. What the action changes for connected clients (hub membership,
//! `room_added` / `room_removed`, the events themselves) is collected as
//! [`Effect`]s and applied right after the commit, in commit order.
//!
//! - this file: creating rooms, joining, leaving, inviting, DMs, lists,
//!   history, edits, deletions, read marks, and the shared helpers;
//! - `manage`: what a room's creator or an admin does: rename, set the
//!   topic, remove a member, delete the room.

mod manage;

pub use manage::{delete_room, remove_member, set_archived, set_retention, update};

use crate::action::{ActionError, NO_ROOM, require_member, require_open, require_visible};
use crate::hub::Hub;
use crate::state::AppState;
use crate::store::events::{self, Kind, NewEvent, Stored};
use crate::store::rooms::{self, Access, RoomRow};
use crate::store::users::{self, UserRecord};
use crate::store::{Db, StoreError};
use securechat_proto::http::{CreateRoom, EditRequest, HistoryResponse, RoomsResponse};
use securechat_proto::validate::{self, normalize_room_name, validate_topic};
use securechat_proto::ws::{MemberAction, RoomInfo, RoomKind};
use securechat_proto::{DeviceId, MessageId, RoomId, Seq, ServerMsg, Timestamp, UserId};

/// Largest history page.
pub const MAX_PAGE: usize = 200;
/// History page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;
/// Most users a room can be created with.
const MAX_INITIAL_MEMBERS: usize = 100;

/// A change to announce once the transaction has committed.
#[derive(Debug)]
pub enum Effect {
    /// `user` is now in `room`: cache it and send them `room_added`.
    Joined(UserId, RoomInfo),
    /// A stored event for the room's members.
    Publish(Stored),
    /// `user` is no longer in `room`: uncache it and send `room_removed`.
    Left(UserId, RoomId),
    /// A frame for every session of one user.
    ToUser(UserId, ServerMsg),
}

fn apply(hub: &Hub, effects: &[Effect]) {
    for effect in effects {
        match effect {
            Effect::Joined(user, info) => hub.joined(*user, info),
            Effect::Publish(ev) => hub.publish(ev.room, ev.seq, &ev.msg),
            Effect::Left(user, room) => hub.left(*user, *room),
            Effect::ToUser(user, msg) => hub.send_to_user(*user, msg),
        }
    }
}

/// Runs `f` as one transaction and applies its effects after the commit.
pub(crate) async fn act<T, F>(state: &AppState, f: F) -> Result<T, ActionError>
where
    T: Send + 'static,
    F: FnOnce(&Db<'_>, &mut Vec<Effect>) -> Result<T, ActionError> + Send + 'static,
{
    let hub = state.hub.clone();
    let (value, _) = state
        .store
        .write_then(
            move |tx| {
                let mut effects = Vec::new();
                let value = f(tx, &mut effects)?;
                Ok::<_, ActionError>((value, effects))
            },
            move |(_, effects)| apply(&hub, effects),
        )
        .await?;
    Ok(value)
}

fn room(tx: &Db<'_>, id: RoomId) -> Result<RoomRow, ActionError> {
    rooms::by_id(tx, id)?.ok_or(NO_ROOM)
}

fn user_named(tx: &Db<'_>, name: &str) -> Result<UserRecord, ActionError> {
    const NO_USER: ActionError = ActionError::NotFound("no such user");
    let name = validate::normalize_username(name).map_err(|_| NO_USER)?;
    users::by_name(tx, &name)?.ok_or(NO_USER)
}

/// Appends a membership event.
fn member_event(
    tx: &Db<'_>,
    room: RoomId,
    action: MemberAction,
    user: UserId,
    by: UserId,
) -> Result<Stored, StoreError> {
    let ev = NewEvent {
        subject: Some(user),
        ..NewEvent::new(Kind::Member(action), by)
    };
    events::append(tx, room, ev, Timestamp::now())
}

/// Adds `user` to `room` with a stored `action` event by `by`; false (and
/// nothing stored) if they were already a member.
fn add(
    tx: &Db<'_>,
    fx: &mut Vec<Effect>,
    room: RoomId,
    user: UserId,
    action: MemberAction,
    by: UserId,
) -> Result<bool, ActionError> {
    if !rooms::add_member(tx, room, user, Timestamp::now().0)? {
        return Ok(false);
    }
    let ev = member_event(tx, room, action, user, by)?;
    fx.push(Effect::Joined(user, rooms::info_for(tx, room, user)?));
    fx.push(Effect::Publish(ev));
    Ok(true)
}

/// Removes `user` from `room` with a stored `action` event; false if they
/// were not a member.
fn take_out(
    tx: &Db<'_>,
    fx: &mut Vec<Effect>,
    room: RoomId,
    user: UserId,
    action: MemberAction,
    by: UserId,
) -> Result<bool, ActionError> {
    if !rooms::remove_member(tx, room, user)? {
        return Ok(false);
    }
    // Published while the hub still counts them in, so they see it too.
    fx.push(Effect::Publish(member_event(tx, room, action, user, by)?));
    fx.push(Effect::Left(user, room));
    Ok(true)
}

/// A room as `user` sees it; an admin who is not a member sees no counts.
fn view(tx: &Db<'_>, r: &RoomRow, user: UserId) -> Result<RoomInfo, ActionError> {
    match rooms::access(tx, r.id, user)? {
        Access::Member => Ok(rooms::info_for(tx, r.id, user)?),
        _ => Ok(RoomInfo {
            id: r.id,
            kind: r.kind,
            name: r.name.clone(),
            topic: r.topic.clone(),
            last_seq: r.last_seq,
            unread: 0,
            read_seq: 0,
            mentions: 0,
            notify: Default::default(),
            muted: false,
            encrypted: false,
            archived: rooms::archived(tx, r.id)?,
            retention_days: crate::store::retention::room_policy(tx, r.id)?,
        }),
    }
}

fn name_taken(name: &str) -> impl FnOnce(StoreError) -> ActionError + '_ {
    move |e| match e {
        StoreError::Conflict => ActionError::Conflict(format!("a room named {name} exists")),
        other => other.into(),
    }
}

fn clean_topic(topic: Option<String>) -> Result<Option<String>, ActionError> {
    match topic {
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => {
            validate_topic(&t)?;
            Ok(Some(t))
        }
        None => Ok(None),
    }
}

/// `POST /api/rooms`: a public or private room, its creator in it and
/// `members` invited.
pub async fn create_room(
    state: &AppState,
    creator: UserId,
    req: CreateRoom,
) -> Result<RoomInfo, ActionError> {
    let name = match (req.name, req.kind) {
        (_, RoomKind::Dm) => {
            return Err(ActionError::BadRequest(
                "open direct messages with POST /api/dms",
            ));
        }
        (Some(n), _) => normalize_room_name(&n)?,
        (None, RoomKind::Private) => format!("group-{:06x}", rand::random::<u32>() & 0xff_ffff),
        (None, RoomKind::Public) => {
            return Err(ActionError::BadRequest("a public room needs a name"));
        }
    };
    let topic = clean_topic(req.topic)?;
    if req.members.len() > MAX_INITIAL_MEMBERS {
        return Err(ActionError::BadRequest("at most 100 members at creation"));
    }
    let kind = req.kind;
    if req.encrypted && kind != RoomKind::Private {
        return Err(ActionError::BadRequest(
            "only private rooms and DMs can be end-to-end encrypted",
        ));
    }
    act(state, move |tx, fx| {
        let now = Timestamp::now().0;
        let id = rooms::insert(tx, kind, &name, topic.as_deref(), creator, None, now)
            .map_err(name_taken(&name))?;
        if req.encrypted {
            rooms::set_encrypted(tx, id)?;
        }
        add(tx, fx, id, creator, MemberAction::Join, creator)?;
        for username in &req.members {
            let user = user_named(tx, username)?;
            add(tx, fx, id, user.id, MemberAction::Invite, creator)?;
        }
        Ok(rooms::info_for(tx, id, creator)?)
    })
    .await
}

/// `POST /api/rooms/{id}/join`: public rooms only; joining twice is fine.
pub async fn join(state: &AppState, user: UserId, id: RoomId) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        // A private room or DM the user is not in answers like a missing
        // one: only public rooms can be joined.
        match rooms::access(tx, id, user)? {
            Access::Member => {}
            Access::NotMember => {
                require_open(tx, id)?;
                add(tx, fx, id, user, MemberAction::Join, user)?;
            }
            Access::Hidden | Access::NoSuchRoom => return Err(NO_ROOM),
        }
        Ok(rooms::info_for(tx, id, user)?)
    })
    .await
}

/// `POST /api/rooms/{id}/leave`: leaving twice is fine; general and DMs
/// cannot be left.
pub async fn leave(state: &AppState, user: UserId, id: RoomId) -> Result<(), ActionError> {
    act(state, move |tx, fx| {
        require_visible(rooms::access(tx, id, user)?)?;
        let r = room(tx, id)?;
        if r.is_general() {
            return Err(ActionError::Forbidden("everyone stays in general"));
        }
        if r.kind == RoomKind::Dm {
            return Err(ActionError::Forbidden("a direct message cannot be left"));
        }
        take_out(tx, fx, id, user, MemberAction::Leave, user)?;
        Ok(())
    })
    .await
}

/// `POST /api/rooms/{id}/invite`: members invite; the invitee is in at once.
pub async fn invite(
    state: &AppState,
    inviter: UserId,
    id: RoomId,
    username: String,
) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_member(rooms::access(tx, id, inviter)?)?;
        require_open(tx, id)?;
        if r.kind == RoomKind::Dm {
            return Err(ActionError::Forbidden(
                "a direct message has exactly two members",
            ));
        }
        let user = user_named(tx, &username)?;
        if !add(tx, fx, id, user.id, MemberAction::Invite, inviter)? {
            return Err(ActionError::Conflict(format!(
                "{} is already a member",
                user.username
            )));
        }
        Ok(rooms::info_for(tx, id, inviter)?)
    })
    .await
}

/// `POST /api/dms`: the one DM room of a pair, made on first use.
pub async fn open_dm(
    state: &AppState,
    user: UserId,
    username: String,
    encrypted: bool,
) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        let other = user_named(tx, &username)?;
        if other.id == user {
            return Err(ActionError::BadRequest(
                "a direct message needs another user",
            ));
        }
        let mut key = format!("{}:{}", user.0.min(other.id.0), user.0.max(other.id.0));
        if encrypted {
            key.push_str(":e2e");
        }
        if let Some(id) = rooms::dm_by_key(tx, &key)? {
            return Ok(rooms::info_for(tx, id, user)?);
        }
        let now = Timestamp::now().0;
        let id = rooms::insert(tx, RoomKind::Dm, &key, None, user, Some(&key), now)?;
        if encrypted {
            rooms::set_encrypted(tx, id)?;
        }
        for member in [user, other.id] {
            rooms::add_member(tx, id, member, now)?;
        }
        for member in [user, other.id] {
            fx.push(Effect::Joined(member, rooms::info_for(tx, id, member)?));
        }
        Ok(rooms::info_for(tx, id, user)?)
    })
    .await
}

/// `GET /api/rooms`.
pub async fn list(state: &AppState, user: UserId) -> Result<RoomsResponse, ActionError> {
    Ok(state
        .store
        .read(move |c| {
            Ok::<_, StoreError>(RoomsResponse {
                rooms: rooms::for_user(c, user)?,
                public: rooms::public(c, user)?,
            })
        })
        .await?)
}

/// `GET /api/rooms/{id}/members`.
pub async fn members(
    state: &AppState,
    user: UserId,
    id: RoomId,
) -> Result<Vec<String>, ActionError> {
    state
        .store
        .read(move |c| {
            require_member(rooms::access(c, id, user)?)?;
            Ok(rooms::member_names(c, id)?)
        })
        .await
}

/// `GET /api/rooms/{id}/events`: a page of stored events before `before`.
pub async fn history(
    state: &AppState,
    user: UserId,
    id: RoomId,
    before: Option<Seq>,
    limit: Option<usize>,
) -> Result<HistoryResponse, ActionError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let before = before.unwrap_or(i64::MAX as Seq);
    state
        .store
        .read(move |c| {
            require_member(rooms::access(c, id, user)?)?;
            let page = events::before(c, id, before, limit)?;
            // Expired events (see `retention`) are the oldest: history
            // starts after them.
            let (total, older) = (page.len(), page.first().is_some_and(|e| e.seq > 1));
            let kept: Vec<ServerMsg> = page
                .into_iter()
                .map(|e| e.msg)
                .filter(|msg| !matches!(msg, ServerMsg::Message(m) if m.expired))
                .collect();
            let more = kept.len() == total && older;
            Ok(HistoryResponse { events: kept, more })
        })
        .await
}

/// `PATCH /api/rooms/{id}/messages/{msg}`: the sender edits their message.
/// The same text again changes nothing.
pub async fn edit(
    state: &AppState,
    user: UserId,
    device: DeviceId,
    id: RoomId,
    msg: MessageId,
    req: EditRequest,
) -> Result<ServerMsg, ActionError> {
    let EditRequest { body, encrypted } = req;
    match &encrypted {
        None => validate::validate_body(&body, state.config.max_message_bytes)?,
        Some(enc) => validate::validate_encrypted(enc, state.config.max_message_bytes)?,
    }
    act(state, move |tx, fx| {
        require_member(rooms::access(tx, id, user)?)?;
        require_open(tx, id)?;
        let row = events::message_row(tx, id, msg)?.ok_or(NO_MESSAGE)?;
        if row.deleted {
            return Err(NO_MESSAGE);
        }
        if row.sender != user {
            return Err(ActionError::Forbidden(
                "you can only edit your own messages",
            ));
        }
        crate::chat::check_encryption(tx, id, encrypted.as_ref(), Some(device), !body.is_empty())??;
        if let Some(enc) = &encrypted {
            // The server cannot compare ciphertexts: every encrypted edit
            // is a new event.
            let ts = Timestamp::now();
            let json = serde_json::to_string(enc).expect("ciphertext serializes");
            events::set_encrypted(tx, msg, &json, ts)?;
            let ev = NewEvent {
                target: Some(msg),
                encrypted: Some(&json),
                ..NewEvent::new(Kind::Edit, user)
            };
            fx.push(Effect::Publish(events::append(tx, id, ev, ts)?));
        } else if row.body != body {
            let ts = Timestamp::now();
            let mentions = crate::collab::resolve_mentions(tx, id, user, &body)?;
            events::set_body(tx, msg, &body, mentions.data.as_deref(), ts)?;
            // An edit notifies nobody new, but whoever it no longer
            // mentions stops counting it.
            if !mentions.room {
                crate::store::collab::prune_mentions(tx, msg, &mentions.users)?;
            }
            let ev = NewEvent {
                target: Some(msg),
                body: Some(&body),
                ..NewEvent::new(Kind::Edit, user)
            };
            fx.push(Effect::Publish(events::append(tx, id, ev, ts)?));
        }
        Ok(events::by_id(tx, msg)?.ok_or(NO_MESSAGE)?.msg)
    })
    .await
}

pub(crate) const NO_MESSAGE: ActionError = ActionError::NotFound("no such message");

/// `DELETE /api/rooms/{id}/messages/{msg}`: the sender, or any admin.
/// Deleting twice is fine.
pub async fn delete(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
    msg: MessageId,
) -> Result<(), ActionError> {
    act(state, move |tx, fx| {
        match rooms::access(tx, id, actor.id)? {
            Access::Member => {}
            Access::NotMember | Access::Hidden if actor.is_admin => {}
            other => require_member(other)?,
        }
        // Admins may still take a message down from an archived room.
        if !actor.is_admin {
            require_open(tx, id)?;
        }
        let row = events::message_row(tx, id, msg)?.ok_or(NO_MESSAGE)?;
        if row.sender != actor.id && !actor.is_admin {
            return Err(ActionError::Forbidden(
                "you can only delete your own messages",
            ));
        }
        if !row.deleted {
            events::mark_deleted(tx, msg)?;
            let ev = NewEvent {
                target: Some(msg),
                ..NewEvent::new(Kind::Delete, actor.id)
            };
            fx.push(Effect::Publish(events::append(
                tx,
                id,
                ev,
                Timestamp::now(),
            )?));
        }
        Ok(())
    })
    .await
}

/// The `read` frame: moves the read mark and tells all the user's sessions.
pub async fn mark_read(
    state: &AppState,
    user: UserId,
    id: RoomId,
    seq: Seq,
) -> Result<(), ActionError> {
    let hub = state.hub.clone();
    state
        .store
        .write_then(
            move |tx| {
                require_member(rooms::access(tx, id, user)?)?;
                Ok::<_, ActionError>(rooms::mark_read(tx, id, user, seq)?)
            },
            move |seq| {
                hub.send_to_user(
                    user,
                    &ServerMsg::Read {
                        room: id,
                        seq: *seq,
                    },
                )
            },
        )
        .await?;
    Ok(())
}
