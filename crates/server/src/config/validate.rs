//! [`Config::validate`]: every option's bounds, checked once at start-up,
//! each failure named by its option.

use super::{Config, ConfigError};
use std::net::IpAddr;

impl Config {
    /// Checks every rule a value must follow.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Some(url) = &self.database
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.contains("dbname="))
        {
            return bad("database must be a postgres:// URL (or unset for SQLite)".into());
        }
        if let Some(url) = &self.broker {
            if !url.starts_with("nats://") {
                return bad("broker must be a nats:// URL".into());
            }
            if self.database.is_none() {
                return bad(
                    "broker needs database: several nodes share one PostgreSQL database".into(),
                );
            }
        }
        if let Some(addr) = self.redirect_http_bind
            && addr.port() != 0
            && addr.port() == self.bind.port()
        {
            return bad("redirect_http_bind needs a port of its own, not bind's".into());
        }
        if let Err(e) = crate::proxy::Trusted::parse(&self.trusted_proxies) {
            return bad(e);
        }
        if let Err(e) =
            crate::proxy::Trusted::parse_named(&self.webhook_allow, "webhook_allow entry")
        {
            return bad(e);
        }
        if let Some(addr) = self.plain_bind {
            if !addr.ip().is_loopback() {
                return bad(
                    "plain_bind must be a loopback address (127.0.0.1:PORT or [::1]:PORT): \
                     plain HTTP anywhere else would carry passwords in the clear"
                        .into(),
                );
            }
            if self.trusted_proxies.is_empty() {
                return bad(
                    "plain_bind is for a reverse proxy: list it in trusted_proxies \
                     (e.g. [\"127.0.0.1\"]) so clients are told apart"
                        .into(),
                );
            }
        }
        if self
            .retention_days
            .is_some_and(|d| d == 0 || d > securechat_proto::retention::MAX_DAYS)
        {
            return bad("retention_days is between 1 and 36500 (unset: keep forever)".into());
        }
        if let Some(domain) = &self.acme_domain {
            let ok = domain.len() <= 253
                && domain.contains('.')
                && domain.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return bad(format!(
                    "acme_domain {domain:?} is not a DNS name (e.g. chat.example.com)"
                ));
            }
            if self.tls_cert.is_some() {
                return bad("acme_domain and tls_cert exclude each other: choose one".into());
            }
            if self.redirect_http_bind.is_none() {
                return bad(
                    "acme_domain proves the name over HTTP on port 80: set redirect_http_bind \
                     (e.g. --redirect-http 0.0.0.0:80)"
                        .into(),
                );
            }
            if !self.acme_directory.starts_with("https://") {
                return bad("acme_directory must be an https:// URL".into());
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key must be given together".into());
        }
        if !(1..=365).contains(&self.cert_validity_days) {
            return bad("cert_validity_days must be between 1 and 365".into());
        }
        if !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0) {
            return bad("rate_per_sec must be a positive number".into());
        }
        if self.burst == 0 || self.flood_limit == 0 {
            return bad("burst and flood_limit must be at least 1".into());
        }
        if self.max_message_bytes == 0 || self.max_message_bytes + 1024 > self.max_frame_bytes {
            return bad(
                "max_message_bytes must be positive and at least 1024 below max_frame_bytes".into(),
            );
        }
        if self.ping_interval_ms == 0 || self.idle_timeout_ms <= self.ping_interval_ms {
            return bad("idle_timeout_ms must be greater than ping_interval_ms (> 0)".into());
        }
        if self.outbound_queue < 16 {
            return bad("outbound_queue must be at least 16".into());
        }
        if self.session_ttl_hours == 0 {
            return bad("session_ttl_hours must be at least 1".into());
        }
        if self.max_upload_bytes == 0 || self.uploads_per_minute == 0 {
            return bad("max_upload_bytes and uploads_per_minute must be at least 1".into());
        }
        if self.handshake_timeout_ms == 0 || self.max_pending_per_ip == 0 {
            return bad("handshake_timeout_ms and max_pending_per_ip must be at least 1".into());
        }
        if self.login_attempts_per_account == 0
            || self.login_attempts_per_ip == 0
            || self.login_account_slowdown_after == 0
        {
            return bad("login attempt limits must be at least 1".into());
        }
        if self.registrations_per_ip_per_hour == 0 {
            return bad("registrations_per_ip_per_hour must be at least 1".into());
        }
        for (name, rate, burst) in [
            ("action", self.action_rate_per_sec, self.action_burst),
            ("search", self.search_rate_per_sec, self.search_burst),
            ("mark", self.mark_rate_per_sec, self.mark_burst),
        ] {
            if !(rate.is_finite() && rate > 0.0) || burst == 0 {
                return bad(format!(
                    "{name}_rate_per_sec must be a positive number and {name}_burst at least 1"
                ));
            }
        }
        if self.max_sockets_per_user == 0 || self.max_sockets_per_ip == 0 {
            return bad("max_sockets_per_user and max_sockets_per_ip must be at least 1".into());
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return bad("metrics_token must be at least 16 printable ASCII characters".into());
        }
        for name in &self.hostnames {
            let dns_ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
            if name.parse::<IpAddr>().is_err() && !dns_ok {
                return bad(format!("hostname {name:?} is not a DNS name or IP address"));
            }
        }
        for origin in &self.allowed_origins {
            if !origin.starts_with("https://") || origin.ends_with('/') {
                return bad(format!(
                    "allowed origin {origin:?} must look like https://host[:port]"
                ));
            }
        }
        Ok(())
    }
}
