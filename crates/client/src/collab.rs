//! The collaboration calls of the HTTPS API: reactions, pins, threads and
//! notification settings (an extension of [`crate::api::Api`]).

use crate::ClientError;
use crate::api::{Api, message_path};
use reqwest::Method;
use securechat_proto::collab::{
    MentionsResponse, NotificationSettings, NotifyLevel, ThreadResponse,
};
use securechat_proto::{MessageId, RoomId};
use serde::de::IgnoredAny;

/// A path segment: every byte outside `A-Za-z0-9-._~` percent-encoded
/// (an emoji in a reaction's path).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Api {
    /// Adds (`add`) or removes the caller's reaction `emoji` on `msg`.
    pub async fn react(
        &self,
        room: RoomId,
        msg: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<(), ClientError> {
        let path = format!("{}/reactions/{}", message_path(room, msg), segment(emoji));
        let method = if add { Method::PUT } else { Method::DELETE };
        self.call::<IgnoredAny>(method, &path, None::<&()>)
            .await
            .map(drop)
    }

    /// Pins or unpins `msg`.
    pub async fn pin(&self, room: RoomId, msg: MessageId, pinned: bool) -> Result<(), ClientError> {
        let path = format!("{}/pin", message_path(room, msg));
        let method = if pinned { Method::PUT } else { Method::DELETE };
        self.call::<IgnoredAny>(method, &path, None::<&()>)
            .await
            .map(drop)
    }

    /// Follows (or stops following) the thread `msg` belongs to.
    pub async fn follow(
        &self,
        room: RoomId,
        msg: MessageId,
        follow: bool,
    ) -> Result<(), ClientError> {
        let path = format!("/api/rooms/{room}/threads/{msg}/follow");
        let method = if follow { Method::PUT } else { Method::DELETE };
        self.call::<IgnoredAny>(method, &path, None::<&()>)
            .await
            .map(drop)
    }

    /// The thread `msg` belongs to (the root and its replies).
    pub async fn thread(
        &self,
        room: RoomId,
        msg: MessageId,
    ) -> Result<ThreadResponse, ClientError> {
        self.call(
            Method::GET,
            &format!("/api/rooms/{room}/threads/{msg}"),
            None::<&()>,
        )
        .await?
        .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    /// The latest messages that mention the caller (newest first).
    pub async fn mentions(&self, limit: usize) -> Result<MentionsResponse, ClientError> {
        self.call(
            Method::GET,
            &format!("/api/mentions?limit={limit}"),
            None::<&()>,
        )
        .await?
        .ok_or_else(|| ClientError::Protocol("empty answer".into()))
    }

    /// Sets the caller's notification level and mute for `room`.
    pub async fn notify(
        &self,
        room: RoomId,
        level: NotifyLevel,
        muted: bool,
    ) -> Result<(), ClientError> {
        let req = NotificationSettings { level, muted };
        self.call::<IgnoredAny>(
            Method::PUT,
            &format!("/api/rooms/{room}/notifications"),
            Some(&req),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn emoji_are_percent_encoded_in_paths() {
        assert_eq!(super::segment("👍"), "%F0%9F%91%8D");
        assert_eq!(super::segment("ok_1"), "ok_1");
        assert_eq!(super::segment("a/b"), "a%2Fb");
    }
}
