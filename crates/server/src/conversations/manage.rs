//! Managing a room: what its creator or an admin may do (rename, set the
//! topic, remove a member, archive it, delete it).

use super::{Effect, act, clean_topic, name_taken, room, take_out, user_named, view};
use crate::action::{ActionError, require_member};
use crate::state::AppState;
use crate::store::Db;
use crate::store::events::{self, Kind, NewEvent};
use crate::store::rooms::{self, RoomRow};
use crate::store::users::UserRecord;
use securechat_proto::http::UpdateRoom;
use securechat_proto::validate::normalize_room_name;
use securechat_proto::ws::{MemberAction, RoomInfo, RoomKind};
use securechat_proto::{RoomId, ServerMsg, Timestamp};

/// May `actor` manage room `r` (rename, topic, remove members)?
fn require_manager(tx: &Db<'_>, r: &RoomRow, actor: &UserRecord) -> Result<(), ActionError> {
    if !actor.is_admin {
        require_member(rooms::access(tx, r.id, actor.id)?)?;
    }
    if r.kind == RoomKind::Dm {
        return Err(ActionError::Forbidden("direct messages cannot be managed"));
    }
    if actor.is_admin {
        return Ok(());
    }
    if r.created_by == Some(actor.id) {
        Ok(())
    } else {
        Err(ActionError::Forbidden(
            "only the room's creator or an admin can do this",
        ))
    }
}

/// `PATCH /api/rooms/{id}`: rename and/or set the topic.
pub async fn update(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
    req: UpdateRoom,
) -> Result<RoomInfo, ActionError> {
    let new_name = req.name.as_deref().map(normalize_room_name).transpose()?;
    let new_topic = match req.topic {
        Some(t) => Some(clean_topic(Some(t))?),
        None => None,
    };
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_manager(tx, &r, &actor)?;
        let name = new_name.unwrap_or_else(|| r.name.clone());
        if r.is_general() && name != r.name {
            return Err(ActionError::Forbidden("general cannot be renamed"));
        }
        let topic = new_topic.unwrap_or_else(|| r.topic.clone());
        if name != r.name || topic != r.topic {
            rooms::update(tx, id, &name, topic.as_deref()).map_err(name_taken(&name))?;
            let ev = NewEvent {
                body: Some(&name),
                data: topic.as_deref(),
                ..NewEvent::new(Kind::Update, actor.id)
            };
            fx.push(Effect::Publish(events::append(
                tx,
                id,
                ev,
                Timestamp::now(),
            )?));
        }
        view(tx, &room(tx, id)?, actor.id)
    })
    .await
}

/// `DELETE /api/rooms/{id}/members/{username}`: by the creator or an admin.
pub async fn remove_member(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
    username: String,
) -> Result<(), ActionError> {
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_manager(tx, &r, &actor)?;
        if r.is_general() {
            return Err(ActionError::Forbidden("nobody is removed from general"));
        }
        let user = user_named(tx, &username)?;
        take_out(tx, fx, id, user.id, MemberAction::Remove, actor.id)?;
        Ok(())
    })
    .await
}

/// `POST /api/rooms/{id}/archive`: archives the room (read-only: history
/// stays, nothing can be added) or, with `false`, opens it again; by the
/// creator or an admin, never `general` or a DM. Every member's clients get
/// the room again (`room_added`) with `archived` set.
pub async fn set_archived(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
    archived: bool,
) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_manager(tx, &r, &actor)?;
        if r.is_general() {
            return Err(ActionError::Forbidden("general cannot be archived"));
        }
        if rooms::archived(tx, id)? != archived {
            rooms::set_archived(tx, id, archived.then(|| Timestamp::now().0))?;
            for user in rooms::member_ids(tx, id)? {
                let room = rooms::info_for(tx, id, user)?;
                fx.push(Effect::ToUser(user, ServerMsg::RoomAdded { room }));
            }
        }
        view(tx, &room(tx, id)?, actor.id)
    })
    .await
}

/// `DELETE /api/rooms/{id}`: by the creator or an admin; never `general`
/// or a DM. The room goes with everything in it (messages, files, reactions,
/// pins, threads, read marks); every member is told `room_removed` at once.
pub async fn delete_room(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
) -> Result<usize, ActionError> {
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_manager(tx, &r, &actor)?;
        if r.is_general() {
            return Err(ActionError::Forbidden(
                "general cannot be deleted: new accounts start there",
            ));
        }
        let members = rooms::member_ids(tx, id)?;
        rooms::delete(tx, id)?;
        for user in &members {
            fx.push(Effect::Left(*user, id));
        }
        Ok(members.len())
    })
    .await
}

/// `PUT /api/rooms/{id}/retention`: the room's own retention policy
/// (`None`: the server's; `Some(0)`: forever), by the creator or an admin,
/// not for DMs. Every member's clients get the room again (`room_added`)
/// with its `retention_days`.
pub async fn set_retention(
    state: &AppState,
    actor: UserRecord,
    id: RoomId,
    days: Option<u32>,
) -> Result<RoomInfo, ActionError> {
    act(state, move |tx, fx| {
        let r = room(tx, id)?;
        require_manager(tx, &r, &actor)?;
        crate::store::retention::set_room_policy(tx, id, days)?;
        for user in rooms::member_ids(tx, id)? {
            let room = rooms::info_for(tx, id, user)?;
            fx.push(Effect::ToUser(user, ServerMsg::RoomAdded { room }));
        }
        view(tx, &room(tx, id)?, actor.id)
    })
    .await
}
