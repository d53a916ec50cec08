//! Outgoing webhooks: each new message of a room with one is POSTed, as
//! JSON, to the webhook's URL, signed with HMAC-SHA256.
//!
//! The room never waits: [`Outgoing::offer`] runs after the commit, looks
//! the room up in a map kept in memory (one atomic load when no webhook
//! exists at all) and queues a delivery without blocking; a full queue
//! drops it (counted). Each webhook has a worker that delivers its
//! messages one at a time, in order, so a slow receiver holds up only its
//! own webhook. The owner must still be a member and enabled; an attempt that fails
//! (connection error, timeout, 408, 429, 5xx) is tried again after 1, 2,
//! 4, 8 and 16 seconds, with the same delivery id; another 4xx ends it.
//! A 200 answer with `{"text": "…"}` is posted back as the owner (in the
//! message's thread, if it had one). The owner's own messages are not
//! sent, so a webhook does not answer itself.
//!
//! Deliveries live in memory: those pending when the server stops are
//! lost. With several nodes the map is reloaded every few seconds, so a
//! webhook made on another node starts within [`RELOAD`].

use super::post_text;
use super::target::Guard;
use crate::metrics;
use crate::state::AppState;
use crate::store::rooms::{self, Access};
use crate::store::{users, webhooks};
use ring::hmac;
use securechat_proto::integrations::{
    DELIVERY_HEADER, OutgoingEvent, OutgoingReply, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use securechat_proto::ws::MessageEvent;
use securechat_proto::{RoomId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Deliveries waiting for the dispatcher at most; past that, new ones
/// are dropped.
const QUEUE: usize = 1024;
/// Deliveries waiting for one webhook at most; past that, its new ones are
/// dropped.
const PER_HOOK: usize = 256;
/// Tries per delivery.
const ATTEMPTS: u32 = 6;
/// One try's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the map of webhooks is read again (for other nodes' changes).
pub const RELOAD: Duration = Duration::from_secs(5);
/// The largest answer read for a reply.
const MAX_REPLY: usize = 16 * 1024;

/// An outgoing webhook, as the dispatcher keeps it.
#[derive(Debug)]
pub struct Hook {
    pub id: i64,
    pub room: RoomId,
    pub owner: UserId,
    pub owner_name: String,
    pub url: String,
    pub secret: String,
    pub triggers: Vec<String>,
}

impl Hook {
    /// Whether `event` goes to this webhook, and the trigger it matched.
    fn matches(&self, event: &MessageEvent) -> Option<Option<String>> {
        if event.from == self.owner_name || event.encrypted.is_some() || event.body.is_empty() {
            return None;
        }
        if self.triggers.is_empty() {
            return Some(None);
        }
        let first = event.body.split_whitespace().next()?.to_lowercase();
        self.triggers
            .iter()
            .find(|t| **t == first)
            .map(|t| Some(t.clone()))
    }
}

struct Job {
    hook: Arc<Hook>,
    event: MessageEvent,
    trigger: Option<String>,
}

/// The dispatcher's handle: the webhook map and the delivery queue.
pub struct Outgoing {
    any: AtomicBool,
    hooks: RwLock<Arc<HashMap<RoomId, Vec<Arc<Hook>>>>>,
    queue: mpsc::Sender<Job>,
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    guard: Guard,
    metrics: Arc<metrics::Metrics>,
}

impl Outgoing {
    pub fn new(guard: Guard, metrics: Arc<metrics::Metrics>) -> Outgoing {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Outgoing {
            any: AtomicBool::new(false),
            hooks: RwLock::default(),
            queue,
            receiver: Mutex::new(Some(receiver)),
            guard,
            metrics,
        }
    }

    /// The ids of the outgoing webhooks in the map.
    fn ids(&self) -> std::collections::HashSet<i64> {
        let map = self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone();
        map.values().flatten().map(|h| h.id).collect()
    }

    /// The rule for where webhooks may POST.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Reads the outgoing webhooks again (after a change, and every
    /// [`RELOAD`]).
    pub async fn reload(&self, state: &AppState) {
        let rows = match state.store.read(webhooks::outgoing).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read outgoing webhooks");
                return;
            }
        };
        let mut map: HashMap<RoomId, Vec<Arc<Hook>>> = HashMap::new();
        for row in rows {
            map.entry(row.room).or_default().push(Arc::new(Hook {
                id: row.id,
                room: row.room,
                owner: row.owner,
                owner_name: row.owner_name,
                url: row.url.unwrap_or_default(),
                secret: row.secret.unwrap_or_default(),
                triggers: row.triggers,
            }));
        }
        self.any.store(!map.is_empty(), Ordering::Release);
        *self.hooks.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
    }

    /// After a message commits: queues it to the room's outgoing webhooks
    /// that want it. Never blocks.
    pub fn offer(&self, event: &MessageEvent) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let map = self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(hooks) = map.get(&event.room) else {
            return;
        };
        for hook in hooks {
            let Some(trigger) = hook.matches(event) else {
                continue;
            };
            let job = Job {
                hook: hook.clone(),
                event: event.clone(),
                trigger,
            };
            if self.queue.try_send(job).is_err() {
                metrics::inc(&self.metrics.webhook_dropped_total);
                tracing::warn!(
                    webhook = hook.id,
                    "outgoing webhook queue full: delivery dropped"
                );
            }
        }
    }
}

/// Runs the dispatcher until shutdown: keeps the map fresh and hands each
/// delivery to its webhook's worker, which delivers them one at a time, in
/// order; a slow or dead receiver holds up only its own webhook (whose
/// queue, once full, drops).
pub async fn run(state: AppState) {
    let Some(mut receiver) = state
        .webhooks
        .receiver
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    else {
        return;
    };
    let client = match client(state.webhooks.guard.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "outgoing webhooks are off: no HTTP client");
            return;
        }
    };
    let mut workers: HashMap<i64, mpsc::Sender<Job>> = HashMap::new();
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(RELOAD);
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => return,
            _ = tick.tick() => {
                state.webhooks.reload(&state).await;
                let live = state.webhooks.ids();
                // A deleted webhook's worker ends once its queue is empty.
                workers.retain(|id, _| live.contains(id));
            }
            job = receiver.recv() => {
                let Some(job) = job else { return };
                let worker = workers
                    .entry(job.hook.id)
                    .or_insert_with(|| worker(state.clone(), client.clone()));
                if worker.try_send(job).is_err() {
                    metrics::inc(&state.metrics.webhook_dropped_total);
                }
            }
        }
    }
}

/// One webhook's worker: its deliveries, one after another.
fn worker(state: AppState, client: reqwest::Client) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(PER_HOOK);
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            deliver(&state, &client, job).await;
        }
    });
    tx
}

/// Resolves once the server is shutting down.
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// The HTTP client: the system's trusted roots, the guard as resolver, no
/// redirects, a time limit.
fn client(guard: Guard) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        tracing::warn!("no trusted CA certificates found: https webhooks will fail");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(guard))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT / 2)
        .user_agent(concat!("SecureChat-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body` under `secret`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!(
        "sha256={}",
        securechat_proto::digest::hex(ctx.sign().as_ref())
    )
}

/// One delivery, tried up to [`ATTEMPTS`] times.
async fn deliver(state: &AppState, client: &reqwest::Client, job: Job) {
    let Job {
        hook,
        event,
        trigger,
    } = job;
    // Only what the owner may read, while they may, and while the webhook
    // exists.
    let (owner, room, hook_id) = (hook.owner, hook.room, hook.id);
    let allowed = state
        .store
        .read(
            move |c| -> Result<Option<String>, crate::store::StoreError> {
                // (Deleted since it was queued: not sent.)
                let exists = webhooks::get(c, room, hook_id)?.is_some();
                let member = rooms::access(c, room, owner)? == Access::Member;
                let enabled = users::by_id(c, owner)?.is_some_and(|u| !u.disabled);
                Ok((exists && member && enabled)
                    .then_some(rooms::by_id(c, room)?.map(|r| r.name))
                    .flatten())
            },
        )
        .await;
    let room_name = match allowed {
        Ok(Some(name)) => name,
        Ok(None) => {
            metrics::inc(&state.metrics.webhook_failures_total);
            tracing::info!(
                webhook = hook.id,
                "outgoing webhook deleted, or its owner cannot read the room: not sent"
            );
            return;
        }
        Err(e) => {
            metrics::inc(&state.metrics.webhook_failures_total);
            tracing::warn!(webhook = hook.id, error = %e, "outgoing webhook not sent");
            return;
        }
    };
    let payload = OutgoingEvent {
        event: "message".into(),
        webhook: hook.id,
        room: event.room,
        room_name,
        id: event.id,
        seq: event.seq,
        sender: event.from.clone(),
        body: event.body.clone(),
        ts: event.ts,
        thread: event.thread,
        trigger,
    };
    let body = serde_json::to_vec(&payload).expect("plain data serializes");
    let delivery = format!("{}.{}", hook.id, event.id.0);
    let mut shutdown = state.shutdown.clone();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            metrics::inc(&state.metrics.webhook_retries_total);
            let wait = Duration::from_secs(1 << (attempt - 1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(&mut shutdown) => return,
            }
        }
        match attempt_once(state, client, &hook, &delivery, &body).await {
            Outcome::Done(reply) => {
                metrics::inc(&state.metrics.webhook_deliveries_total);
                if let Some(text) = reply {
                    let thread = event.thread;
                    if let Err(e) =
                        post_text(state, hook.owner, hook.room, text, thread, None).await
                    {
                        tracing::info!(webhook = hook.id, error = ?e, "outgoing webhook's reply not posted");
                    }
                }
                return;
            }
            Outcome::GiveUp(why) => {
                metrics::inc(&state.metrics.webhook_failures_total);
                tracing::warn!(webhook = hook.id, why, "outgoing webhook delivery refused");
                return;
            }
            Outcome::Retry(why) => {
                tracing::info!(
                    webhook = hook.id,
                    attempt,
                    why,
                    "outgoing webhook delivery failed"
                );
            }
        }
    }
    metrics::inc(&state.metrics.webhook_failures_total);
    tracing::warn!(
        webhook = hook.id,
        "outgoing webhook delivery failed every try"
    );
}

enum Outcome {
    /// Accepted; with a reply to post, if the answer had one.
    Done(Option<String>),
    Retry(String),
    GiveUp(String),
}

async fn attempt_once(
    state: &AppState,
    client: &reqwest::Client,
    hook: &Hook,
    delivery: &str,
    body: &[u8],
) -> Outcome {
    // The URL's addresses now (a literal address or `http://` is not
    // seen by the client's resolver).
    if let Err(why) = state.webhooks.guard.check(&hook.url).await {
        return Outcome::GiveUp(why);
    }
    let timestamp = securechat_proto::Timestamp::now()
        .0
        .div_euclid(1000)
        .to_string();
    let sent = client
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(SIGNATURE_HEADER, signature(&hook.secret, &timestamp, body))
        .header(DELIVERY_HEADER, delivery)
        .body(body.to_vec())
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        // (Without its URL: it may hold the receiver's secret, which logs
        // must not show.)
        Err(e) => return Outcome::Retry(e.without_url().to_string()),
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Done(reply(&mut resp).await);
    }
    if status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
    {
        Outcome::Retry(format!("answered {status}"))
    } else {
        Outcome::GiveUp(format!("answered {status}"))
    }
}

/// The reply text in an answer, if it has one (JSON, at most
/// [`MAX_REPLY`] bytes, non-empty `text`).
async fn reply(resp: &mut reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_REPLY {
            return None;
        }
    }
    let reply: OutgoingReply = serde_json::from_slice(&bytes).ok()?;
    (!reply.text.trim().is_empty()).then_some(reply.text)
}
