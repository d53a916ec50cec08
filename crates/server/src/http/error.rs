//! [`ApiError`]: every HTTP failure as `{"error":{"code","message"}}` with
//! the right status, and `Retry-After` for `rate_limited`.

use crate::accounts::AccountError;
use crate::action::ActionError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use securechat_proto::ErrorCode;
use securechat_proto::http::{ApiError as Inner, ApiErrorBody};
use std::time::Duration;

/// An HTTP error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rate_limited(wait: Duration) -> Self {
        Self::slow_down("too many attempts", wait)
    }

    /// 429 `rate_limited` saying `why`, with `Retry-After` in whole seconds
    /// (rounded up, at least 1).
    pub fn slow_down(why: &str, wait: Duration) -> Self {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        ApiError {
            retry_after: Some(Duration::from_secs(secs)),
            ..ApiError::new(ErrorCode::RateLimited, format!("{why}; retry in {secs} s"))
        }
    }

    pub fn unauthorized() -> Self {
        ApiError::new(ErrorCode::Unauthorized, "log in first")
    }

    pub fn internal() -> Self {
        ApiError::new(ErrorCode::Internal, "internal error")
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::RegistrationClosed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UsernameTaken | ErrorCode::Conflict | ErrorCode::KeysOutdated => {
                StatusCode::CONFLICT
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let body = ApiErrorBody {
            error: Inner {
                code: self.code,
                message: self.message,
            },
        };
        let mut res = (status, Json(body)).into_response();
        if let Some(wait) = retry_after
            && let Ok(v) = HeaderValue::from_str(&wait.as_secs().to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::internal()
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        ApiError {
            // Retry-After is whole seconds: at least one.
            retry_after: e.retry_after_ms().map(|_| Duration::from_secs(1)),
            ..ApiError::new(e.code(), e.public_message())
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(v) => ApiError::new(v.code(), v.to_string()),
            AccountError::UsernameTaken => {
                ApiError::new(ErrorCode::UsernameTaken, "that username is taken")
            }
            AccountError::BadInvite => ApiError::new(
                ErrorCode::RegistrationClosed,
                "the invite code is invalid, used or expired",
            ),
            AccountError::NoSuchUser | AccountError::WrongPassword => {
                ApiError::new(ErrorCode::InvalidCredentials, "wrong username or password")
            }
            AccountError::LastAdmin => ApiError::new(
                ErrorCode::Conflict,
                "the last admin cannot stop being one; make someone else an admin first",
            ),
            AccountError::BadResetLink => ApiError::new(
                ErrorCode::BadRequest,
                "this password reset link does not work: it was used, replaced by a newer one, \
                 or has expired; ask an admin for a new one",
            ),
            AccountError::Busy(_) => ApiError::slow_down(
                "too many accounts are being created",
                Duration::from_secs(1),
            ),
            AccountError::Store(s) => s.into(),
        }
    }
}
