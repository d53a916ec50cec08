//! How a row of `events` becomes the frame that shows it: one `SELECT`
//! (the [`select!`] macro, followed by each caller's `WHERE` tail) reads the
//! event with its sender, file, thread summary and reactions.

use super::StoreError;
use super::events::Stored;
use super::sql::Row;
use securechat_proto::collab::{PinEvent, ReactionCount, ReactionEvent, ThreadSummary};
use securechat_proto::ws::{
    Deleted, Edited, FileInfo, MemberAction, MemberEvent, MessageEvent, RoomUpdated,
};
use securechat_proto::{FileId, MessageId, RoomId, Seq, ServerMsg, Timestamp};

/// The query of stored events, followed by its `WHERE …` tail (a literal,
/// so the SQL is one static string: no formatting per call).
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT e.id, e.room_id, e.seq, e.ts, e.kind, a.username, s.username,
                             e.target_id, e.body, e.data, e.edited_at, e.deleted,
                             f.id, f.name, f.size, f.media_type, f.sha256, f.image,
                             e.thread_id, e.in_room, e.reply_count, e.last_reply_at,
                             e.pinned_at,
                             CASE WHEN e.reply_count > 0 THEN (
                                 SELECT string_agg(name, ' ' ORDER BY latest DESC) FROM (
                                     SELECT ru.username AS name, max(r.id) AS latest
                                     FROM events r JOIN users ru ON ru.id = r.user_id
                                     WHERE r.thread_id = e.id AND r.deleted = 0
                                     GROUP BY ru.id, ru.username
                                     ORDER BY latest DESC LIMIT 5) AS repliers)
                             END,
                             (SELECT string_agg(x.emoji || '\u{1}' || xu.username, '\u{2}'
                                                ORDER BY x.created_at, x.emoji)
                              FROM reactions x JOIN users xu ON xu.id = x.user_id
                              WHERE x.message_id = e.id),
                             e.encrypted
                      FROM events e JOIN users a ON a.id = e.user_id
                      LEFT JOIN users s ON s.id = e.subject_id
                      LEFT JOIN files f ON f.id = e.file_id AND f.removed = 0 ",
            $tail
        )
    };
}
pub(crate) use select;

pub(crate) fn from_row(r: &Row<'_>) -> Result<Stored, StoreError> {
    let id = MessageId(r.get(0)?);
    let room = RoomId(r.get(1)?);
    let seq: Seq = r.get(2)?;
    let ts = Timestamp(r.get(3)?);
    let kind: String = r.get(4)?;
    let by: String = r.get(5)?;
    let subject: Option<String> = r.get(6)?;
    let target = MessageId(r.get::<Option<i64>>(7)?.unwrap_or_default());
    let body: Option<String> = r.get(8)?;
    let data: Option<String> = r.get(9)?;
    let member = |action| {
        ServerMsg::Member(MemberEvent {
            id,
            room,
            seq,
            ts,
            user: subject.clone().unwrap_or_else(|| by.clone()),
            action,
            by: by.clone(),
        })
    };
    let msg = match kind.as_str() {
        "join" => member(MemberAction::Join),
        "leave" => member(MemberAction::Leave),
        "invite" => member(MemberAction::Invite),
        "remove" => member(MemberAction::Remove),
        "update" => ServerMsg::RoomUpdated(RoomUpdated {
            id,
            room,
            seq,
            ts,
            by,
            name: body.unwrap_or_default(),
            topic: data,
        }),
        "edit" => ServerMsg::Edited(Edited {
            id,
            room,
            seq,
            ts,
            target,
            body: body.unwrap_or_default(),
            encrypted: encrypted_of(r.get(25)?),
            by,
        }),
        "delete" => ServerMsg::Deleted(Deleted {
            id,
            room,
            seq,
            ts,
            target,
            by,
        }),
        "react" => ServerMsg::Reaction(ReactionEvent {
            id,
            room,
            seq,
            ts,
            target,
            emoji: body.unwrap_or_default(),
            by,
            add: data.as_deref() != Some("-"),
        }),
        "pin" | "unpin" => ServerMsg::Pin(PinEvent {
            id,
            room,
            seq,
            ts,
            target,
            by,
            pinned: kind == "pin",
        }),
        "expired" => ServerMsg::Message(MessageEvent {
            id,
            room,
            seq,
            ts,
            from: by,
            deleted: true,
            expired: true,
            thread: r.get::<Option<i64>>(18)?.map(MessageId),
            ..MessageEvent::default()
        }),
        _ => ServerMsg::Message(MessageEvent {
            id,
            room,
            seq,
            ts,
            from: by,
            body: body.unwrap_or_default(),
            encrypted: encrypted_of(r.get(25)?),
            edited: r.get::<Option<i64>>(10)?.is_some(),
            deleted: r.get(11)?,
            file: match r.get::<Option<i64>>(12)? {
                Some(id) => Some(FileInfo {
                    id: FileId(id),
                    name: r.get(13)?,
                    size: r.get(14)?,
                    media_type: r.get(15)?,
                    sha256: r.get(16)?,
                    image: r.get(17)?,
                }),
                None => None,
            },
            thread: r.get::<Option<i64>>(18)?.map(MessageId),
            also_room: r.get::<Option<i64>>(18)?.is_some() && r.get::<bool>(19)?,
            replies: match r.get::<i64>(20)? {
                0 => None,
                count => Some(ThreadSummary {
                    count: count as u64,
                    last_ts: Timestamp(r.get::<Option<i64>>(21)?.unwrap_or_default()),
                    users: words(r.get(23)?),
                }),
            },
            mentions: mentioned(data.as_deref()).0,
            mentions_room: mentioned(data.as_deref()).1,
            reactions: reactions(r.get(24)?),
            pinned: r.get::<Option<i64>>(22)?.is_some(),
            expired: false,
        }),
    };
    Ok(Stored { room, seq, msg })
}

fn words(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A message's `data`: the usernames it mentions, and `@room` if it
/// mentions the whole room.
pub fn mentions_data(users: &[String], room: bool) -> Option<String> {
    let mut words: Vec<&str> = users.iter().map(String::as_str).collect();
    if room {
        words.push("@room");
    }
    (!words.is_empty()).then(|| words.join(" "))
}

pub(crate) fn mentioned(data: Option<&str>) -> (Vec<String>, bool) {
    let mut users = Vec::new();
    let mut room = false;
    for w in data
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
    {
        if w == "@room" {
            room = true;
        } else {
            users.push(w.to_owned());
        }
    }
    (users, room)
}

/// `emoji \x01 user` pairs joined by `\x02`, oldest first, grouped by emoji
/// in the order each first appeared.
fn reactions(s: Option<String>) -> Vec<ReactionCount> {
    let mut out: Vec<ReactionCount> = Vec::new();
    for pair in s.as_deref().unwrap_or_default().split('\u{2}') {
        let Some((emoji, user)) = pair.split_once('\u{1}') else {
            continue;
        };
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user.to_owned()),
            None => out.push(ReactionCount {
                emoji: emoji.to_owned(),
                users: vec![user.to_owned()],
            }),
        }
    }
    out
}

/// The stored JSON of an encrypted content (written by the server itself,
/// so it always parses; a row that does not is shown as plain).
pub(crate) fn encrypted_of(json: Option<String>) -> Option<securechat_proto::e2e::Encrypted> {
    json.and_then(|j| serde_json::from_str(&j).ok())
}
