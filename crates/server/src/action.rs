//! [`ActionError`]: why a user action failed, shared by the HTTP API and
//! the WebSocket session, each of which turns it into its own error shape.

use crate::store::StoreError;
use crate::store::rooms::Access;
use securechat_proto::ErrorCode;
use securechat_proto::validate::ValidationError;
use thiserror::Error;

/// A refused or failed action.
#[derive(Debug, Error)]
pub enum ActionError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("{0}")]
    KeysOutdated(&'static str),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ActionError::NotFound(_) => ErrorCode::NotFound,
            ActionError::Forbidden(_) => ErrorCode::Forbidden,
            ActionError::Conflict(_) => ErrorCode::Conflict,
            ActionError::BadRequest(_) => ErrorCode::BadRequest,
            ActionError::KeysOutdated(_) => ErrorCode::KeysOutdated,
            ActionError::Invalid(v) => v.code(),
            // Lost a row to another node's writer: try again shortly.
            ActionError::Store(e) if e.is_contention() => ErrorCode::RateLimited,
            ActionError::Store(_) => ErrorCode::Internal,
        }
    }

    /// A message safe to show the client (storage errors say nothing more).
    pub fn public_message(&self) -> String {
        match self {
            ActionError::Store(e) if e.is_contention() => {
                format!("the server is busy: retry in {CONTENTION_RETRY_MS} ms")
            }
            ActionError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                "internal error".into()
            }
            other => other.to_string(),
        }
    }
}

/// How long a client waits before retrying an action that lost a row to
/// another node's writer (sent as `retry_after_ms` with `rate_limited`).
pub const CONTENTION_RETRY_MS: u64 = 50;

impl ActionError {
    /// For `rate_limited` answers: when to try again.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ActionError::Store(e) if e.is_contention() => Some(CONTENTION_RETRY_MS),
            _ => None,
        }
    }

    /// The `error` frame that answers this.
    pub fn error_msg(&self) -> securechat_proto::ws::ErrorMsg {
        securechat_proto::ws::ErrorMsg {
            retry_after_ms: self.retry_after_ms(),
            ..securechat_proto::ws::ErrorMsg::new(self.code(), self.public_message())
        }
    }
}

pub const NO_ROOM: ActionError = ActionError::NotFound("no such room");
pub const NOT_MEMBER: ActionError = ActionError::Forbidden("you are not a member of this room");

/// `Ok` for members; `forbidden` for a public room the user is not in;
/// for a private room or DM they are not in, the very answer a missing room
/// gets (`not_found`, "no such room"), so room ids reveal nothing.
pub fn require_member(access: Access) -> Result<(), ActionError> {
    match access {
        Access::Member => Ok(()),
        Access::NotMember => Err(NOT_MEMBER),
        Access::Hidden | Access::NoSuchRoom => Err(NO_ROOM),
    }
}

/// What a write to an archived room is answered.
pub const ARCHIVED: ActionError = ActionError::Forbidden(
    "this room is archived: it is read-only (its creator or an admin can unarchive it)",
);

/// `Ok` unless the room is archived (read-only).
pub fn require_open(
    tx: &crate::store::Db<'_>,
    room: securechat_proto::RoomId,
) -> Result<(), ActionError> {
    if crate::store::rooms::archived(tx, room)? {
        Err(ARCHIVED)
    } else {
        Ok(())
    }
}

/// `Ok` when the user may know the room exists (a member, or a public
/// room); the answer for a missing room otherwise.
pub fn require_visible(access: Access) -> Result<(), ActionError> {
    if access.visible() {
        Ok(())
    } else {
        Err(NO_ROOM)
    }
}
