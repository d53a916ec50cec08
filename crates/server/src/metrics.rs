//! Counters and gauges, rendered in the Prometheus text format at
//! `/metrics`. Plain atomics: cheap on the hot path, no registry.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

macro_rules! metrics {
    ($($(#[doc = $help:literal])* $name:ident: $kind:ident,)*) => {
        /// The server's metrics.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[doc = $help])* pub $name: $kind,)*
        }

        impl Metrics {
            /// The Prometheus text exposition of every metric.
            pub fn render(&self) -> String {
                let mut out = String::new();
                $(
                    let help = concat!($($help),*).trim();
                    let _ = writeln!(out, "# HELP securechat_{} {}", stringify!($name), help);
                    let _ = writeln!(out, "# TYPE securechat_{} {}", stringify!($name), metrics!(@type $kind));
                    let _ = writeln!(out, "securechat_{} {}", stringify!($name), self.$name.load(Relaxed));
                )*
                out
            }
        }
    };
    (@type AtomicU64) => { "counter" };
    (@type AtomicI64) => { "gauge" };
}

metrics! {
    /// Open WebSocket connections.
    connections: AtomicI64,
    /// WebSocket connections accepted since start.
    connections_total: AtomicU64,
    /// Users with at least one open connection.
    users_online: AtomicI64,
    /// Messages stored.
    messages_total: AtomicU64,
    /// Events delivered to connections (one per receiving connection).
    deliveries_total: AtomicU64,
    /// Sends refused by the per-user rate limit.
    rate_limited_total: AtomicU64,
    /// Connections closed for flooding after being rate limited.
    flood_disconnects_total: AtomicU64,
    /// Connections closed because they could not keep up.
    slow_consumer_disconnects_total: AtomicU64,
    /// Connections closed because the peer went silent.
    idle_disconnects_total: AtomicU64,
    /// Successful logins and registrations.
    logins_total: AtomicU64,
    /// Failed logins (bad credentials or throttled).
    logins_failed_total: AtomicU64,
    /// Logins and password changes refused by the throttle before any
    /// password was checked.
    logins_throttled_total: AtomicU64,
    /// Registrations refused by the per-address budget.
    registrations_throttled_total: AtomicU64,
    /// Room actions, typing notices and read marks refused by their
    /// per-user budgets.
    actions_rate_limited_total: AtomicU64,
    /// File uploads refused by the per-user upload budget.
    uploads_rate_limited_total: AtomicU64,
    /// WebSockets refused because their user held `max_sockets_per_user`.
    sockets_refused_user_total: AtomicU64,
    /// WebSockets refused because their address held `max_sockets_per_ip`.
    sockets_refused_address_total: AtomicU64,
    /// State-changing requests refused because they came from another site
    /// (CSRF).
    cross_site_refused_total: AtomicU64,
    /// Connections closed at once because their address held too many
    /// unauthenticated ones.
    connections_refused_total: AtomicU64,
    /// TLS handshakes that failed or timed out.
    handshakes_failed_total: AtomicU64,
    /// Frames refused as malformed or invalid.
    bad_frames_total: AtomicU64,
    /// Sends run again because another node's writer held their room
    /// (PostgreSQL with several nodes).
    store_retries_total: AtomicU64,
    /// Device-to-device (end-to-end encryption) messages queued.
    to_device_total: AtomicU64,
    /// Encrypted sends refused because their room key had not reached
    /// every device yet (the client shares it and sends again).
    keys_outdated_total: AtomicU64,
    /// Encrypted messages clients reported they could not open (after
    /// waiting for the key and trying the backup): should stay 0.
    undecryptable_total: AtomicU64,
    /// Messages removed by retention policies.
    messages_expired_total: AtomicU64,
    /// Messages posted through incoming webhooks.
    webhook_posts_total: AtomicU64,
    /// Outgoing webhook deliveries the receiver accepted (2xx).
    webhook_deliveries_total: AtomicU64,
    /// Outgoing webhook attempts that failed and were tried again.
    webhook_retries_total: AtomicU64,
    /// Outgoing webhook deliveries given up (refused, or failed every try).
    webhook_failures_total: AtomicU64,
    /// Outgoing webhook deliveries dropped because the queue was full.
    webhook_dropped_total: AtomicU64,
}

/// Adds one to a counter.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Adds `n` to a counter.
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        inc(&m.messages_total);
        m.connections.fetch_add(2, Relaxed);
        let text = m.render();
        assert!(
            text.contains(
                "# TYPE securechat_messages_total counter\nsecurechat_messages_total 1\n"
            )
        );
        assert!(text.contains("# TYPE securechat_connections gauge\nsecurechat_connections 2\n"));
        assert!(text.contains("# HELP securechat_logins_failed_total Failed logins"));
    }
}
