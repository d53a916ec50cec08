//! Account operations shared by the HTTP API and the operator CLI:
//! creating users, sessions, passwords, disabling, invites.

use crate::auth::password::{Busy, Hasher, Priority};
use crate::auth::token::{hash_token, new_token};
use crate::config::RegistrationMode;
use crate::store::sessions::{self, Session, SessionId};
use crate::store::users::{self, UserRecord};
use crate::store::{Store, StoreError};
use crate::store::{invites, resets, settings};
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
    #[error("the last admin cannot stop being one")]
    LastAdmin,
    #[error("the password reset link does not work")]
    BadResetLink,
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long invite codes stay valid.
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a password reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(24 * 3600);

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
                && !invites::valid(c, code, now)?
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
                && !invites::use_up(tx, &code, user.id, now)?
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

/// An API token's use is recorded, at most this often (ms).
const TOKEN_USE_GRAIN: i64 = 60_000;

/// The live session (a login or an API token) for a bearer token, if any;
/// an API token's last use is recorded (at most once a minute).
pub async fn session_for_token(store: &Store, token: &str) -> Result<Option<Session>, StoreError> {
    let hash = hash_token(token);
    let now = Timestamp::now().0;
    let session = store.read(move |c| sessions::lookup(c, &hash, now)).await?;
    if let Some(s) = &session
        && s.is_token()
        && s.last_used_at.is_none_or(|t| now - t >= TOKEN_USE_GRAIN)
    {
        let id = s.id;
        store
            .write(move |tx| sessions::touch_token(tx, id, now))
            .await?;
    }
    Ok(session)
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

/// Makes a single-use invite code; returns its id and the code (shown
/// once, stored hashed).
pub async fn create_invite(
    store: &Store,
    created_by: Option<UserId>,
) -> Result<(i64, String), AccountError> {
    let code = new_token();
    let hash = hash_token(&code);
    let id = store
        .write(move |tx| {
            let now = Timestamp::now().0;
            invites::insert(
                tx,
                &hash,
                created_by,
                now,
                now + INVITE_TTL.as_millis() as i64,
            )
        })
        .await?;
    Ok((id, code))
}

/// The registration mode in force: an admin's choice (stored), else the
/// configuration's.
pub async fn registration_mode(
    store: &Store,
    configured: RegistrationMode,
) -> Result<RegistrationMode, StoreError> {
    let stored = store
        .read(|c| settings::get(c, settings::REGISTRATION))
        .await?;
    Ok(stored
        .as_deref()
        .and_then(RegistrationMode::parse)
        .unwrap_or(configured))
}

/// Stores the registration mode an admin chose.
pub async fn set_registration_mode(
    store: &Store,
    mode: RegistrationMode,
) -> Result<(), StoreError> {
    store
        .write(move |tx| settings::set(tx, settings::REGISTRATION, mode.as_str()))
        .await
}

/// Makes a user an admin or not. The last enabled admin cannot stop being
/// one (`LastAdmin`), so an installation always has someone to run it.
pub async fn set_admin(store: &Store, user: UserId, is_admin: bool) -> Result<(), AccountError> {
    store
        .write(move |tx| {
            if !is_admin {
                let current = users::by_id(tx, user)?.ok_or(StoreError::NotFound)?;
                if current.is_admin && !current.disabled && users::count_admins(tx)? <= 1 {
                    return Err(StoreError::Conflict);
                }
            }
            users::set_admin(tx, user, is_admin)
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict => AccountError::LastAdmin,
            StoreError::NotFound => AccountError::NoSuchUser,
            e => e.into(),
        })
}

/// Makes a password reset link's secret for `user` (shown once, stored
/// hashed; the user's earlier links stop working); returns it with its
/// expiry (Unix ms).
pub async fn create_reset_link(
    store: &Store,
    user: UserId,
    by: Option<UserId>,
) -> Result<(String, i64), AccountError> {
    let token = new_token();
    let hash = hash_token(&token);
    let now = Timestamp::now().0;
    let expires = now + RESET_TTL.as_millis() as i64;
    store
        .write(move |tx| resets::insert(tx, &hash, user, by, now, expires))
        .await?;
    Ok((token, expires))
}

/// Sets a new password with a reset link's secret: the link is used up
/// and every session of the user ends (returned with the user). A link
/// that does not work is refused before the password is hashed.
pub async fn reset_password(
    store: &Store,
    hasher: &Hasher,
    token: &str,
    new_password: String,
) -> Result<(UserId, Vec<SessionId>), AccountError> {
    let hash = hash_token(token);
    let now = Timestamp::now().0;
    if store
        .read(move |c| resets::valid(c, &hash, now))
        .await?
        .is_none()
    {
        return Err(AccountError::BadResetLink);
    }
    validate::validate_password(&new_password)?;
    let password_hash = hasher.hash(new_password).await;
    store
        .write(move |tx| -> Result<_, AccountError> {
            // Used up in this transaction: of two uses at once, one wins.
            let user =
                resets::use_up(tx, &hash, Timestamp::now().0)?.ok_or(AccountError::BadResetLink)?;
            users::set_password(tx, user, &password_hash)?;
            Ok((user, sessions::delete_for_user(tx, user, None)?))
        })
        .await
}
