//! Stable error codes. They appear in WebSocket `error` frames and in HTTP
//! error bodies (`{"error":{"code":…,"message":…}}`) and never change meaning.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request failed. Messages that go with a code are for people; code
/// is for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or breaks a validation rule.
    BadRequest,
    /// No valid session.
    Unauthorized,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// No such thing (or not visible to this user).
    NotFound,
    /// A message body or frame over its limit.
    TooLarge,
    /// Slow down; `retry_after_ms` (or `Retry-After`) says for how long.
    RateLimited,
    /// The server failed; nothing about why is disclosed.
    Internal,
    /// `POST /api/register`: the username is in use.
    UsernameTaken,
    /// `POST /api/login`: unknown user or wrong password (never says which).
    InvalidCredentials,
    /// `POST /api/register`: registration is closed, or needs a valid invite.
    RegistrationClosed,
    /// The request clashes with the current state (e.g. inviting a member,
    /// a room name in use).
    Conflict,
    /// An encrypted send whose room key has not reached every device of
    /// the room's members, or has reached a device that is no longer one:
    /// share the key with the room's current devices (or start a new
    /// session), then send again.
    KeysOutdated,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::KeysOutdated => "keys_outdated",
        }
    }

    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::UsernameTaken,
        ErrorCode::InvalidCredentials,
        ErrorCode::RegistrationClosed,
        ErrorCode::Conflict,
        ErrorCode::KeysOutdated,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }
}
