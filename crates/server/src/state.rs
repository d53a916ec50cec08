//! [`AppState`]: everything a request handler or connection task needs,
//! shared behind one `Arc`.

use crate::auth::password::Hasher;
use crate::auth::throttle::LoginThrottle;
use crate::config::Config;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::ratelimit::{Budgets, RateLimiter};
use crate::store::Store;
use crate::tls::Tls;
use crate::tracker::Tracker;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::watch;

/// Shared server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub hub: Arc<Hub>,
    pub hasher: Hasher,
    /// Per-user budgets: messages, room actions, marks, uploads.
    pub budgets: Budgets,
    /// Login and old-password attempts.
    pub logins: LoginThrottle,
    /// Registrations per client address (an IPv6 /64).
    pub registrations: RateLimiter<IpAddr>,
    pub metrics: Arc<Metrics>,
    pub tls: Arc<Tls>,
    /// Uploaded files' bytes.
    pub blobs: crate::files::Blobs,
    /// Flips to true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Per-address cap on unauthenticated connections.
    pub peers: Arc<crate::peers::PeerLimits>,
    /// Per-user and per-address caps on authenticated WebSockets.
    pub sockets: Arc<crate::sockets::SocketLimits>,
    /// Connection tasks; shutdown waits for them.
    pub tasks: Tracker,
    /// When the server started.
    pub started: std::time::Instant,
    /// ACME HTTP-01 answers in flight (`acme_domain`).
    pub acme: Arc<crate::tls::acme::Challenges>,
    /// Outgoing webhooks: the map of rooms that have one, the queue.
    pub webhooks: Arc<crate::integrations::outgoing::Outgoing>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
