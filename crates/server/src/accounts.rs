//! Account operations shared by the HTTP API and the operator CLI:
//! creating users, sessions, passwords, disabling, invites.

use crate::auth::password::{Busy, Hasher, Priority};
use crate::auth::token::{hash_token, new_token};
use crate::store::sessions::{self, Session, SessionId};
use crate::store::users::{self, UserRecord};
use crate::store::{Store, StoreError};
use securechat_proto::validate::{self, ValidationError};
use securechat_proto::{Timestamp, UserId};
use std::time::Duration;
use thiserror::Error;

/// Why an account operation failed.
#[derive(Debug, Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("username is taken")]
    UsernameTaken,
    #[error("no such user")]
    NoSuchUser,
    #[error("registration needs a valid invite code")]
    BadInvite,
    #[error("wrong password")]
    WrongPassword,
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long invite codes stay valid.
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Creates an account. `admin: None` makes the first user an admin. With an
/// invite code, the code is used up in the same transaction.
///
/// The cheap checks come first, in an order that tells a stranger nothing:
/// the rules for names and passwords, then the invite code (a made-up code
/// gets `BadInvite` whether or not the name is taken), then the name. Only
/// then is the password hashed, in `priority`'s queue.
pub async fn create_user(
    store: &Store,
    hasher: &Hasher,
    username: &str,
    password: String,
    admin: Option<bool>,
    invite_code: Option<&str>,
    priority: Priority,
) -> Result<UserRecord, AccountError> {
    let username = validate::normalize_username(username)?;
    validate::validate_password(&password)?;
    let invite = invite_code.map(hash_token);
    let (code, name) = (invite, username.clone());
    store
        .read(move |c| {
            let now = Timestamp::now().0;
            if let Some(code) = &code
                && !users::invite_valid(c, code, now)?
            {
                return Err(AccountError::BadInvite);
            }
            if users::by_name(c, &name)?.is_some() {
                return Err(AccountError::UsernameTaken);
            }
            Ok(())
        })
        .await?;
    let hash = hasher.hash_with(password, priority).await?;
    let result = store
        .write(move |tx| {
            let now = Timestamp::now().0;
            let user = users::insert(tx, &username, &hash, admin, now)?;
            if let Some(code) = invite
                && !users::use_invite(tx, &code, user.id, now)?
            {
                return Err(StoreError::NotFound);
            }
            Ok(user)
        })
        .await;
    match result {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict) => Err(AccountError::UsernameTaken),
        Err(StoreError::NotFound) => Err(AccountError::BadInvite),
        Err(e) => Err(e.into()),
    }
}

/// Starts a session for `user`; returns the token (shown once, stored hashed).
pub async fn create_session(
    store: &Store,
    user: UserId,
    ttl: Duration,
) -> Result<(String, SessionId), AccountError> {
    let token = new_token();
    let hash = hash_token(&token);
    let id = store
        .write(move |tx| {
            let now = Timestamp::now().0;
            sessions::insert(tx, user, &hash, now, now + ttl.as_millis() as i64)
        })
        .await?;
    Ok((token, id))
}

/// The live session for a bearer token, if any.
pub async fn session_for_token(store: &Store, token: &str) -> Result<Option<Session>, StoreError> {
    let hash = hash_token(token);
    store
        .read(move |c| sessions::lookup(c, &hash, Timestamp::now().0))
        .await
}

/// Looks a user up by (case-insensitive) name.
pub async fn find_user(store: &Store, username: &str) -> Result<Option<UserRecord>, StoreError> {
    let Ok(name) = validate::normalize_username(username) else {
        return Ok(None);
    };
    store.read(move |c| users::by_name(c, &name)).await
}

/// Sets a new password and ends every session of the user except `keep`.
/// Returns the ended sessions, whose live sockets the caller should close.
pub async fn set_password(
    store: &Store,
    hasher: &Hasher,
    user: UserId,
    new_password: String,
    keep: Option<SessionId>,
) -> Result<Vec<SessionId>, AccountError> {
    validate::validate_password(&new_password)?;
    let hash = hasher.hash(new_password).await;
    Ok(store
        .write(move |tx| {
            users::set_password(tx, user, &hash)?;
            sessions::delete_for_user(tx, user, keep)
        })
        .await?)
}

/// Disables (or re-enables) a user; disabling ends all their sessions,
/// which are returned.
pub async fn set_disabled(
    store: &Store,
    user: UserId,
    disabled: bool,
) -> Result<Vec<SessionId>, AccountError> {
    Ok(store
        .write(move |tx| {
            users::set_disabled(tx, user, disabled)?;
            if disabled {
                sessions::delete_for_user(tx, user, None)
            } else {
                Ok(Vec::new())
            }
        })
        .await?)
}

/// Makes a single-use invite code.
pub async fn create_invite(store: &Store) -> Result<String, AccountError> {
    let code = new_token();
    let hash = hash_token(&code);
    store
        .write(move |tx| {
            let now = Timestamp::now().0;
            users::insert_invite(tx, &hash, now, now + INVITE_TTL.as_millis() as i64)
        })
        .await?;
    Ok(code)
}
