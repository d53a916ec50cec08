//! [`ClientError`]: what can go wrong, in words a user understands, and the
//! exit code a script can test.

use securechat_proto::ErrorCode;
use thiserror::Error;

/// A client failure.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server's certificate is not trusted (yet): first contact.
    #[error("the server's certificate is not trusted yet (fingerprint {fingerprint})")]
    Untrusted { fingerprint: String },
    /// The pinned certificate authority changed: possible interception.
    #[error(
        "@@@ WARNING: THE SERVER'S CERTIFICATE AUTHORITY HAS CHANGED @@@\n\
         Someone could be intercepting your connection (man-in-the-middle), or the\n\
         server's operator replaced its certificate authority.\n\
         Pinned fingerprint:  {pinned}\n\
         Offered fingerprint: {offered}\n\
         Refusing to connect. If the change is expected, remove the pin with\n\
         `securechat forget {server}` and connect again."
    )]
    PinMismatch {
        server: String,
        pinned: String,
        offered: String,
    },
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("not logged in: run `securechat login URL` first")]
    NotLoggedIn,
    #[error("the session ended (logged out, password changed, or expired): log in again")]
    SessionEnded,
    /// The server answered with an error.
    #[error("{message}")]
    Server {
        code: ErrorCode,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("no room named {0:?} (see `securechat rooms`)")]
    NoSuchRoom(String),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("end-to-end encryption: {0}")]
    Crypto(String),
}

impl ClientError {
    /// Process exit code: 1 other, 2 usage, 3 trust, 4 auth, 5 not found or
    /// forbidden, 6 rate limited, 7 unreachable.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Usage(_) => 2,
            ClientError::Untrusted { .. } | ClientError::PinMismatch { .. } => 3,
            ClientError::NotLoggedIn | ClientError::SessionEnded => 4,
            ClientError::NoSuchRoom(_) => 5,
            ClientError::Server { code, .. } => match code {
                ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => 4,
                ErrorCode::NotFound | ErrorCode::Forbidden => 5,
                ErrorCode::RateLimited => 6,
                _ => 1,
            },
            ClientError::Unreachable(_) => 7,
            _ => 1,
        }
    }
}
