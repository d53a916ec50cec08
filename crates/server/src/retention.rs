//! Retention: messages (and every other event) older than a room's policy
//! are removed by a sweep every hour (the first a minute after start).
//! The policy is the room's own (`PUT /api/rooms/{id}/retention`), else
//! the server's `retention_days`, else none (kept forever). What removing
//! keeps and drops is in `store::retention`.

use crate::action::{ActionError, require_member};
use crate::metrics;
use crate::state::AppState;
use crate::store::{Store, StoreError, retention, rooms};
use securechat_proto::retention::{MAX_DAYS, Retention};
use securechat_proto::{RoomId, Timestamp, UserId};
use std::time::Duration;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(3600);
/// Events expired per transaction.
const BATCH: usize = 500;
const DAY_MS: i64 = 86_400_000;

/// The days in force for a room's own setting and the server's.
pub fn effective(room: Option<u32>, server: Option<u32>) -> Option<u32> {
    match room {
        Some(0) => None,
        Some(d) => Some(d),
        None => server,
    }
}

/// Expires, in every room with a policy, what is older than it at `now`
/// (ms); returns how many messages expired.
pub async fn sweep(store: &Store, server: Option<u32>, now: i64) -> Result<u64, StoreError> {
    let mut expired = 0;
    for (room, own) in store.read(retention::policies).await? {
        let Some(days) = effective(own, server) else {
            continue;
        };
        let cutoff = now - i64::from(days) * DAY_MS;
        loop {
            let (n, more) = store
                .write(move |tx| retention::expire_batch(tx, room, cutoff, BATCH))
                .await?;
            expired += n;
            if !more {
                break;
            }
        }
    }
    Ok(expired)
}

/// Sweeps every [`EVERY`] until shutdown.
pub async fn run(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        }
        wait = EVERY;
        match sweep(
            &state.store,
            state.config.retention_days,
            Timestamp::now().0,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => {
                metrics::add(&state.metrics.messages_expired_total, n);
                tracing::info!(messages = n, "retention: old messages removed");
            }
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; trying again in an hour"),
        }
    }
}

/// A room's policy, for a member.
pub async fn get(state: &AppState, user: UserId, room: RoomId) -> Result<Retention, ActionError> {
    let own = state
        .store
        .read(move |c| {
            require_member(rooms::access(c, room, user)?)?;
            Ok::<_, ActionError>(retention::room_policy(c, room)?)
        })
        .await?;
    Ok(view(own, state.config.retention_days))
}

/// Sets a room's own policy: its creator or an admin, not for DMs; the
/// members' clients are told (`room_added`).
pub async fn set(
    state: &AppState,
    actor: crate::store::users::UserRecord,
    room: RoomId,
    days: Option<u32>,
) -> Result<Retention, ActionError> {
    if days.is_some_and(|d| d > MAX_DAYS) {
        return Err(ActionError::BadRequest(
            "days is between 1 and 36500 (0: forever, null: as the server)",
        ));
    }
    let user = actor.id;
    crate::conversations::set_retention(state, actor, room, days).await?;
    tracing::info!(room = %room, user = %user, days = ?days, "retention policy set");
    Ok(view(days, state.config.retention_days))
}

fn view(room: Option<u32>, server: Option<u32>) -> Retention {
    Retention {
        days: effective(room, server),
        room,
        server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_policy_wins_over_the_servers() {
        assert_eq!(effective(None, None), None);
        assert_eq!(effective(None, Some(30)), Some(30));
        assert_eq!(effective(Some(7), Some(30)), Some(7));
        assert_eq!(effective(Some(400), Some(30)), Some(400));
        assert_eq!(effective(Some(0), Some(30)), None);
    }
}
