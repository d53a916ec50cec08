//! Importing a team's history from Slack
//! (`securechat-server import-slack EXPORT.zip`).
//!
//! - this file: the import: users (matched by name, else made: people
//!   with no usable password until an admin sends them a reset link, bots
//!   as bots, deactivated ones disabled), public channels as public rooms
//!   (matched by name, else made) with their members, then each channel's
//!   messages in time order with their original times, threads, reactions
//!   and files (when the export has their bytes);
//! - [`slack`]: reading the export zip, with size limits;
//! - [`text`]: Slack's markup and reaction names into ours;
//! - `write`: a batch of one channel's messages, in one transaction.
//!
//! Running it again doubles nothing: a message is stored with
//! `client_msg_id` `slack:CHANNEL:TS`, unique per sender, so a second run
//! finds it; reactions are a set. Imported history is marked read for
//! everyone in the room (it is not news), and notifies nobody.

pub mod slack;
pub mod text;
mod write;

use crate::files::Blobs;
use crate::store::{Store, StoreError, profiles, rooms, users};
use securechat_proto::validate::{self, normalize_room_name, sanitize_file_name};
use securechat_proto::ws::RoomKind;
use securechat_proto::{MessageId, RoomId, Timestamp, UserId};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// An imported person's password hash: not a hash, so no password matches
/// until an admin sends them a reset link.
pub const IMPORTED_PASSWORD: &str = "!imported";
/// Messages written per transaction.
const BATCH: usize = 500;
/// The kinds of Slack message kept (others are joins, leaves, topic
/// changes and the like).
const KEPT: [Option<&str>; 5] = [
    None,
    Some("thread_broadcast"),
    Some("file_share"),
    Some("me_message"),
    Some("bot_message"),
];

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("not a Slack export: {0}")]
    NotSlack(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("storing a file: {0}")]
    Upload(#[from] crate::files::UploadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub users_created: u64,
    pub users_matched: u64,
    pub rooms_created: u64,
    pub rooms_matched: u64,
    pub messages: u64,
    /// Messages a run before had imported.
    pub already: u64,
    /// Joins, leaves, topic changes, empty or unreadable messages.
    pub skipped: u64,
    pub reactions: u64,
    pub files: u64,
    /// Names of the people made, who need a reset link to log in.
    pub new_people: Vec<String>,
}

/// One message, ready to be written.
struct Prepared {
    ts: String,
    millis: i64,
    sender: UserId,
    body: String,
    root: Option<String>,
    broadcast: bool,
    reactions: Vec<(String, UserId)>,
    file: Option<(crate::files::Stored, String, String)>,
}

/// Imports the Slack export at `path`. Bodies longer than `max_body`
/// bytes are cut; files over `max_file` bytes are left out (named in the
/// message).
pub async fn slack(
    store: &Store,
    blobs: &Blobs,
    path: &Path,
    max_body: usize,
    max_file: u64,
) -> Result<Report, ImportError> {
    let mut export = slack::Export::open(path)?;
    let mut report = Report::default();
    let people = import_users(store, &export.users, &mut report).await?;
    let names: HashMap<String, String> = people
        .iter()
        .map(|(id, (_, name))| (id.clone(), name.clone()))
        .collect();
    let channels = std::mem::take(&mut export.channels);
    for channel in &channels {
        let Ok(name) = normalize_room_name(&channel.name) else {
            report.skipped += 1;
            continue;
        };
        let members: Vec<UserId> = channel
            .members
            .iter()
            .filter_map(|m| people.get(m).map(|(id, _)| *id))
            .collect();
        let Some(&creator) = members.first().or(people.values().map(|(id, _)| id).next()) else {
            continue;
        };
        let topic = [&channel.topic, &channel.purpose]
            .into_iter()
            .flatten()
            .map(|t| text::convert(&t.value, &names).trim().to_owned())
            .find(|t| !t.is_empty() && validate::validate_topic(t).is_ok());
        let (room, made) = store
            .write(move |tx| {
                let now = Timestamp::now().0;
                let found: Option<i64> = tx.query_opt(
                    "SELECT id FROM rooms WHERE kind = 'public' AND name = ?1",
                    [name.as_str()],
                    |r| r.get(0),
                )?;
                let (room, made) = match found {
                    Some(id) => (RoomId(id), false),
                    None => (
                        rooms::insert(
                            tx,
                            RoomKind::Public,
                            &name,
                            topic.as_deref(),
                            creator,
                            None,
                            now,
                        )?,
                        true,
                    ),
                };
                for m in &members {
                    rooms::add_member(tx, room, *m, now)?;
                }
                Ok::<_, StoreError>((room, made))
            })
            .await?;
        if made {
            report.rooms_created += 1;
        } else {
            report.rooms_matched += 1;
        }
        let messages = export.messages(&channel.name)?;
        let mut roots: HashMap<String, MessageId> = HashMap::new();
        for chunk in messages.chunks(BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for m in chunk {
                match prepare(m, &people, &names, &mut export, blobs, max_body, max_file).await? {
                    Some(p) => batch.push(p),
                    None => report.skipped += 1,
                }
            }
            let known = roots.clone();
            let channel_id = channel.id.clone();
            let written = store
                .write(move |tx| write::batch(tx, room, &channel_id, batch, known))
                .await?;
            for w in written {
                roots.insert(w.ts, w.id);
                if w.new {
                    report.messages += 1;
                    report.reactions += w.reactions;
                    report.files += u64::from(w.file);
                } else {
                    report.already += 1;
                }
            }
        }
        let archived = channel.is_archived;
        store
            .write(move |tx| {
                tx.execute(
                    "UPDATE members SET read_seq = (SELECT last_seq FROM rooms WHERE id = ?1)
                     WHERE room_id = ?1",
                    [room.0],
                )?;
                if archived && !rooms::archived(tx, room)? {
                    rooms::set_archived(tx, room, Some(Timestamp::now().0))?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
    }
    Ok(report)
}

/// Slack id → (user, username), making the users not here yet.
async fn import_users(
    store: &Store,
    list: &[slack::User],
    report: &mut Report,
) -> Result<HashMap<String, (UserId, String)>, ImportError> {
    let mut people = HashMap::new();
    for u in list {
        let name =
            slack::username(&u.name).unwrap_or_else(|| format!("slack-{}", u.id.to_lowercase()));
        let display = [&u.profile.display_name, &u.profile.real_name, &u.real_name]
            .into_iter()
            .flatten()
            .find_map(|d| {
                validate::normalize_display_name(d)
                    .ok()
                    .filter(|d| !d.is_empty())
            });
        let (bot, gone) = (u.is_bot, u.deleted);
        let (id, username, made) = store
            .write(move |tx| {
                if let Some(found) = users::by_name(tx, &name)? {
                    return Ok((found.id, found.username, false));
                }
                let now = Timestamp::now().0;
                let made = if bot {
                    users::insert_bot(tx, &name, now)?
                } else {
                    users::insert(tx, &name, IMPORTED_PASSWORD, Some(false), now)?
                };
                if let Some(d) = &display {
                    profiles::update(tx, made.id, Some(d), None)?;
                }
                if gone {
                    users::set_disabled(tx, made.id, true)?;
                }
                Ok::<_, StoreError>((made.id, made.username, true))
            })
            .await?;
        if made {
            report.users_created += 1;
            if !bot && !gone {
                report.new_people.push(username.clone());
            }
        } else {
            report.users_matched += 1;
        }
        people.insert(u.id.clone(), (id, username));
    }
    Ok(people)
}

/// A Slack message as one to write; `None` for what is not kept.
async fn prepare(
    m: &slack::Message,
    people: &HashMap<String, (UserId, String)>,
    names: &HashMap<String, String>,
    export: &mut slack::Export,
    blobs: &Blobs,
    max_body: usize,
    max_file: u64,
) -> Result<Option<Prepared>, ImportError> {
    if !KEPT.contains(&m.subtype.as_deref()) {
        return Ok(None);
    }
    let (Some((sender, _)), Some((millis, _))) = (
        m.user.as_ref().and_then(|u| people.get(u)),
        slack::ts_millis(&m.ts),
    ) else {
        return Ok(None);
    };
    // No control characters but line breaks and tabs, as `validate_body`
    // asks of every message (an escape sequence would reach terminals).
    let mut body: String = text::convert(&m.text, names)
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect::<String>()
        .trim()
        .to_owned();
    let mut file = None;
    for f in &m.files {
        let name = sanitize_file_name(f.name.as_deref().or(f.title.as_deref()).unwrap_or(&f.id));
        let bytes = match file {
            None => export.upload(&f.id, max_file).ok().flatten(),
            Some(_) => None,
        };
        match bytes {
            Some(bytes) => {
                let chunk = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
                    bytes::Bytes::from(bytes),
                )]);
                let stored = blobs.store(chunk, max_file).await?;
                let media = f
                    .mimetype
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into());
                file = Some((stored, name, media));
            }
            None => {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(&format!("[file: {name}]"));
            }
        }
    }
    if body.len() > max_body {
        let mut cut = max_body.saturating_sub(3);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push('…');
    }
    if body.is_empty() && file.is_none() {
        return Ok(None);
    }
    let reactions = m
        .reactions
        .iter()
        .flat_map(|r| {
            let emoji = text::emoji(&r.name);
            r.users
                .iter()
                .filter_map(|u| people.get(u).map(|(id, _)| (emoji.clone(), *id)))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(Some(Prepared {
        ts: m.ts.clone(),
        millis,
        sender: *sender,
        body,
        root: m.thread_ts.clone().filter(|t| *t != m.ts),
        broadcast: m.subtype.as_deref() == Some("thread_broadcast"),
        reactions,
        file,
    }))
}
