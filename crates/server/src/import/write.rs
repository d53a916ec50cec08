//! Writing a batch of one channel's messages in one transaction: each
//! with its sender made a member, its thread root found (in this run or a
//! run before), its file row, its reactions; a message a run before stored
//! (same `client_msg_id`) is found, not stored again.

use super::Prepared;
use crate::store::events::{self, NewMessage};
use crate::store::{StoreError, collab, files, rooms};
use securechat_proto::{MessageId, RoomId, Timestamp};
use std::collections::HashMap;

/// The message a run before stored for `client_msg_id` in `room`.
fn stored_id(
    tx: &crate::store::Db<'_>,
    room: RoomId,
    client_msg_id: &str,
) -> Result<Option<MessageId>, StoreError> {
    tx.query_opt(
        "SELECT id FROM events WHERE room_id = ?1 AND client_msg_id = ?2",
        crate::store::params![room.0, client_msg_id],
        |r| Ok(MessageId(r.get(0)?)),
    )
}

/// What writing one message did.
pub(super) struct Written {
    pub ts: String,
    pub id: MessageId,
    /// Not stored by a run before.
    pub new: bool,
    pub reactions: u64,
    pub file: bool,
}

/// Writes a batch of one channel's messages.
pub(super) fn batch(
    tx: &crate::store::Db<'_>,
    room: RoomId,
    channel: &str,
    batch: Vec<Prepared>,
    mut roots: HashMap<String, MessageId>,
) -> Result<Vec<Written>, StoreError> {
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        let client_msg_id = format!("slack:{channel}:{}", p.ts);
        rooms::add_member(tx, room, p.sender, p.millis)?;
        let thread = match &p.root {
            None => None,
            Some(root) => match roots.get(root) {
                Some(id) => Some(*id),
                None => stored_id(tx, room, &format!("slack:{channel}:{root}"))?,
            },
        };
        let ts = Timestamp(p.millis);
        let file = match &p.file {
            Some((stored, name, media)) => Some(files::insert(
                tx,
                &stored.sha256,
                stored.size,
                name,
                media,
                stored.image.is_some(),
                room,
                p.sender,
                p.millis,
            )?),
            None => None,
        };
        let mut new = NewMessage::new(room, p.sender, &client_msg_id, &p.body);
        new.ts = ts;
        new.thread = thread;
        new.also_room = p.broadcast;
        new.file = file.as_ref().map(|f| f.id);
        match events::insert_message(tx, &new)? {
            Some(m) => {
                if let Some(root) = thread {
                    collab::bump_thread(tx, root, ts)?;
                }
                let mut added = 0;
                for (emoji, user) in &p.reactions {
                    added += u64::from(collab::add_reaction(tx, m.id, emoji, *user, ts)?);
                }
                roots.insert(p.ts.clone(), m.id);
                out.push(Written {
                    ts: p.ts,
                    id: m.id,
                    new: true,
                    reactions: added,
                    file: file.is_some(),
                });
            }
            None => {
                if let Some(f) = file {
                    files::delete(tx, f.id)?;
                }
                if let Some(id) = stored_id(tx, room, &client_msg_id)? {
                    out.push(Written {
                        ts: p.ts,
                        id,
                        new: false,
                        reactions: 0,
                        file: false,
                    });
                }
            }
        }
    }
    Ok(out)
}
