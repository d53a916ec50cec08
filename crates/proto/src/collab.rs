//! Collaboration on top of messages: thread summaries, reactions, pins,
//! mentions and per-room notification settings.
//!
//! Reactions and pins are events in the room's seq stream (so resume,
//! history and unread cover them); a thread reply is a `message` that names
//! its root. Follow state and notification settings belong to one user and
//! reach only that user's sessions.

use crate::{MessageId, RoomId, Seq, Timestamp};
use serde::{Deserialize, Serialize};

/// Longest reaction, in UTF-8 bytes (an emoji with modifiers fits).
pub const REACTION_MAX_BYTES: usize = 32;
/// Most different reactions on one message.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;
/// Most pinned messages in one room.
pub const MAX_PINS_PER_ROOM: usize = 50;
/// How many repliers a thread summary names (the most recent first).
pub const SUMMARY_USERS: usize = 5;
/// Most people one message mentions (the first ones named); more names
/// stay text.
pub const MAX_MENTIONS: usize = 50;

/// On a thread's root: how many replies it has, when the last came, and
/// who replied (most recent first, at most [`SUMMARY_USERS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub count: u64,
    pub last_ts: Timestamp,
    pub users: Vec<String>,
}

/// One reaction on a message and who chose it (in the order they did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub users: Vec<String>,
}

/// A stored reaction added to or removed from message `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionEvent {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    pub target: MessageId,
    pub emoji: String,
    pub by: String,
    /// `true` when added, `false` when removed.
    pub add: bool,
}

/// A stored pin or unpin of message `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinEvent {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: Seq,
    pub ts: Timestamp,
    pub target: MessageId,
    pub by: String,
    pub pinned: bool,
}

/// When a room tells a user about new messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message (the default).
    #[default]
    All,
    /// Only messages that mention the user (or `@room`), and replies in
    /// threads they follow.
    Mentions,
    /// Never.
    None,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::None => "none",
        }
    }

    /// The level named `s` (`all`, `mentions`, `none`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(NotifyLevel::All),
            "mentions" => Some(NotifyLevel::Mentions),
            "none" => Some(NotifyLevel::None),
            _ => None,
        }
    }
}

/// A user's follow state and read mark in one thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    pub room: RoomId,
    pub root: MessageId,
    pub following: bool,
    /// Replies up to this seq have been read.
    pub read_seq: Seq,
}

/// `GET /api/rooms/{id}/threads/{root}`: a thread, oldest reply first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadResponse {
    /// The root message (a `message` frame).
    pub root: crate::ServerMsg,
    pub replies: Vec<crate::ServerMsg>,
    pub following: bool,
    pub read_seq: Seq,
}

/// A thread the user follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowedThread {
    pub room: RoomId,
    /// The root message (a `message` frame, with its `replies` summary).
    pub root: crate::ServerMsg,
    /// Replies from others after the user's read mark in the thread.
    pub unread: u64,
    pub read_seq: Seq,
}

/// `GET /api/threads`: followed threads, most recent reply first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadsResponse {
    pub threads: Vec<FollowedThread>,
}

/// `POST /api/rooms/{id}/threads/{root}/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRead {
    pub seq: Seq,
}

/// `GET /api/mentions`: messages that mention the user, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionsResponse {
    pub events: Vec<crate::ServerMsg>,
    /// Whether older ones exist (ask with `before` = the last one's id).
    pub more: bool,
}

/// `GET /api/rooms/{id}/pins`: pinned messages, most recently pinned first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinsResponse {
    pub pins: Vec<crate::ServerMsg>,
}

/// `PUT /api/rooms/{id}/notifications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    pub level: NotifyLevel,
    #[serde(default)]
    pub muted: bool,
}

/// Checks a reaction: 1 to [`REACTION_MAX_BYTES`] bytes, no whitespace,
/// control, bidi or invisible format characters (an emoji's joiners, tag
/// characters and variation selectors are fine).
pub fn validate_reaction(emoji: &str) -> Result<(), &'static str> {
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || crate::validate::is_bidi_control(c)
            || (crate::validate::is_invisible_format(c)
                && c != '\u{200D}'
                && !('\u{E0020}'..='\u{E007F}').contains(&c))
    };
    if emoji.is_empty() || emoji.len() > REACTION_MAX_BYTES || emoji.chars().any(bad) {
        Err("a reaction is 1 to 32 bytes with no spaces or control characters")
    } else {
        Ok(())
    }
}

/// The usernames `@mentioned` in `body` (lowercased, each once, in order),
/// and whether it says `@room` or `@here`, by the formatting grammar's
/// rule ([`crate::markup`]): a mention starts a line or follows a character
/// that is not a letter, digit, `.`, `_`, `-` or `@` (so `ann@example.com`
/// mentions nobody), a trailing `.` is punctuation, and code does not count.
pub fn mentions(body: &str) -> (Vec<String>, bool) {
    let mut users: Vec<String> = Vec::new();
    let mut room = false;
    for name in crate::markup::mentioned_names(body) {
        if name == "room" || name == "here" {
            room = true;
        } else if !users.contains(&name) && users.len() < MAX_MENTIONS {
            users.push(name);
        }
    }
    (users, room)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words_after_an_at_sign() {
        let (users, room) = mentions("hi @Dave and @ann.b, mail ann@example.com @dave.");
        assert_eq!(users, ["dave", "ann.b"]);
        assert!(!room);
        assert!(mentions("@here look").1);
        assert!(mentions("ping @room.").1);
        assert_eq!(mentions("@ab @@ann").0, Vec::<String>::new());
        assert_eq!(mentions("`@ann` and\n```\n@bob\n```\n@cat").0, ["cat"]);
        assert_eq!(mentions("(@ann)").0, ["ann"]);
        let many: String = (0..80).map(|i| format!("@user{i} ")).collect();
        assert_eq!(mentions(&many).0.len(), MAX_MENTIONS);
    }
}
