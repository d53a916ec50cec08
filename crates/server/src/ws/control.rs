//! A connection's frames other than `send`: `sync`, `typing`, and the
//! refusals of the per-user budgets (with the flood meter that closes a
//! connection refused too often).

use super::session::Reader;
use crate::action::require_member;
use crate::hub::{Close, Outbound};
use crate::metrics;
use crate::store::{StoreError, rooms};
use securechat_proto::ws::ErrorMsg;
use securechat_proto::{ErrorCode, RoomId, Seq, ServerMsg};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Typing notices relayed per room at most this often (per connection).
const TYPING_EVERY: Duration = Duration::from_secs(2);
/// Most rooms one `sync` may name.
const MAX_SYNC_ROOMS: usize = 1000;

/// Counts frames refused by a budget (sends, marks) per minute.
#[derive(Default)]
pub(super) struct FloodMeter {
    window_start: Option<Instant>,
    count: u32,
}

impl FloodMeter {
    /// Records a rejection; returns the count within the current minute.
    pub(super) fn record(&mut self, now: Instant) -> u32 {
        match self.window_start {
            Some(start) if now.duration_since(start) < Duration::from_secs(60) => self.count += 1,
            _ => {
                self.window_start = Some(now);
                self.count = 1;
            }
        }
        self.count
    }
}

impl Reader<'_> {
    /// Takes a token from the user's typing-and-read-marks budget.
    pub(super) fn charge_mark(&self) -> Result<(), Duration> {
        let charged = self
            .state
            .budgets
            .marks
            .check(self.session.user.id, Instant::now());
        if charged.is_err() {
            metrics::inc(&self.state.metrics.actions_rate_limited_total);
        }
        charged
    }

    /// Answers a frame refused by a budget with `rate_limited` and
    /// `retry_after_ms`; a connection refused `flood_limit` times within a
    /// minute is closed instead.
    pub(super) fn over_budget(
        &mut self,
        wait: Duration,
        client_msg_id: Option<String>,
    ) -> Option<Close> {
        if self.flood.record(Instant::now()) >= self.state.config.flood_limit {
            metrics::inc(&self.state.metrics.flood_disconnects_total);
            return Some(Close::FLOODING);
        }
        let retry_after_ms = wait.as_millis().max(1) as u64;
        self.answer(ErrorMsg {
            retry_after_ms: Some(retry_after_ms),
            client_msg_id,
            ..ErrorMsg::new(
                ErrorCode::RateLimited,
                format!("rate limited: retry in {retry_after_ms} ms"),
            )
        });
        None
    }

    pub(super) async fn on_sync(&mut self, since: BTreeMap<RoomId, Seq>) {
        if since.len() > MAX_SYNC_ROOMS {
            self.error(ErrorMsg::new(
                ErrorCode::BadRequest,
                format!("sync names more than {MAX_SYNC_ROOMS} rooms"),
            ))
            .await;
            return;
        }
        let user = self.session.user.id;
        let rooms: Vec<RoomId> = since.keys().copied().collect();
        let access = self
            .state
            .store
            .read(move |c| {
                rooms
                    .into_iter()
                    .map(|r| Ok::<_, StoreError>((r, rooms::access(c, r, user)?)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await;
        let access = match access {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "sync access check failed");
                self.error(ErrorMsg::new(ErrorCode::Internal, "sync failed; retry"))
                    .await;
                return;
            }
        };
        let mut allowed = BTreeMap::new();
        for (room, access) in access {
            match require_member(access) {
                Ok(()) => {
                    allowed.insert(room, since[&room]);
                }
                Err(denied) => {
                    self.error(ErrorMsg::new(
                        denied.code(),
                        format!("room {room}: {denied}"),
                    ))
                    .await
                }
            }
        }
        self.queue(Outbound::Sync(allowed)).await;
    }

    /// Relays a typing notice to the room's other members, at most one per
    /// room every [`TYPING_EVERY`]; extra ones are absorbed (they carry no
    /// information a client would miss).
    pub(super) async fn on_typing(&mut self, room: RoomId) -> Option<Close> {
        let user = &self.session.user;
        if !self.state.hub.is_member(room, user.id) {
            // Charged like a relayed notice: each of these costs a read.
            if let Err(wait) = self.charge_mark() {
                return self.over_budget(wait, None);
            }
            // The same answer as every other frame about a room the user is
            // not in (a private room's id must look like a missing one).
            let id = self.session.user.id;
            let denied = match self
                .state
                .store
                .read(move |c| rooms::access(c, room, id))
                .await
            {
                Ok(access) => require_member(access).err(),
                Err(e) => Some(e.into()),
            };
            if let Some(denied) = denied {
                self.error(ErrorMsg::new(denied.code(), denied.public_message()))
                    .await;
                return None;
            }
        }
        let now = Instant::now();
        if let Some(last) = self.typing.get(&room)
            && now.duration_since(*last) < TYPING_EVERY
        {
            return None;
        }
        if let Err(wait) = self.charge_mark() {
            return self.over_budget(wait, None);
        }
        self.typing.insert(room, now);
        let msg = ServerMsg::Typing {
            room,
            user: user.username.clone(),
        };
        self.state.hub.send_to_room(room, user.id, &msg);
        None
    }
}
