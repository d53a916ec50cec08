//! The server's one configuration struct: defaults, then the TOML file, then
//! `SECURECHAT_*` environment variables, then command-line flags, validated
//! once at start-up. `docs/config.example.toml` documents every option.
//!
//! - this file: [`Config`] (every option, its default), [`Overrides`] (the
//!   flags), [`Config::load`] (the layers), paths derived from it;
//! - `validate`: [`Config::validate`], each option's bounds;
//! - `show`: `config check`'s TOML with secrets redacted, and bad input
//!   explained by option and place.

mod show;
mod validate;

pub use show::{REDACTED, explain, redact_url};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Who may create an account through `POST /api/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone who can reach the server.
    Open,
    /// Only holders of an invite code (`securechat-server invite create`).
    Invite,
    /// Nobody; operators add users with `securechat-server user add`.
    Closed,
}

impl RegistrationMode {
    /// The mode's name in the configuration and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::Invite => "invite",
            RegistrationMode::Closed => "closed",
        }
    }

    /// The mode called `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Open, Self::Invite, Self::Closed]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Every server option. Field docs are the reference; defaults in
/// [`Config::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on (HTTPS and wss:// share it).
    pub bind: SocketAddr,
    /// A second address for plain HTTP (e.g. `0.0.0.0:80`) that only
    /// redirects to https:// on `bind`'s port. Unset: none (plain HTTP
    /// sent to `bind` itself is redirected anyway).
    pub redirect_http_bind: Option<SocketAddr>,
    /// Plain HTTP (no TLS) for a reverse proxy that terminates TLS in
    /// front, on a loopback address (e.g. `127.0.0.1:8080`). Needs the
    /// proxy in `trusted_proxies`. Unset: none.
    pub plain_bind: Option<SocketAddr>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name
    /// the client: addresses or CIDR ranges (`["127.0.0.1", "10.0.0.0/8"]`).
    /// Their connections are not under `max_pending_per_ip`; throttles and
    /// caps apply to the client address they report. Empty: every client
    /// is its TCP peer, whatever headers it sends.
    pub trusted_proxies: Vec<String>,
    /// Private, loopback or link-local addresses (or CIDR ranges) that
    /// outgoing webhooks may reach, e.g. `["10.0.0.0/8"]`; `http://` URLs
    /// are allowed only to these. Empty: outgoing webhooks reach public
    /// addresses only, over https (no request forgery into your network).
    pub webhook_allow: Vec<String>,
    /// Remove messages (with their files, reactions and edits) older than
    /// this many days (1–36500), in every room without a policy of its
    /// own; checked hourly. Unset: kept forever.
    pub retention_days: Option<u32>,
    /// Where the database, certificates and files live.
    pub data_dir: PathBuf,
    /// A PostgreSQL database to use instead of SQLite in `data_dir`, as a
    /// URL: `postgres://USER:PASSWORD@HOST:PORT/DBNAME` (any libpq-style
    /// URL or `key=value` string). Several nodes share one for scale-out;
    /// files are then kept in it too. Unset: SQLite (the default).
    pub database: Option<String>,
    /// A NATS server (`nats://HOST:PORT`, with credentials
    /// `nats://USER:PASSWORD@HOST:PORT` or `nats://TOKEN@HOST:PORT`) through
    /// which several nodes on one `database` share fan-out, presence,
    /// typing and session revocation. Unset: this node serves alone.
    pub broker: Option<String>,
    /// This node's name among several (logs, the broker). Unset: a random
    /// one at each start.
    pub node_id: Option<String>,
    /// Extra DNS names or IP addresses clients use to reach the server. They
    /// go into the generated certificate (and CA name constraints) and are
    /// accepted as WebSocket `Origin`s. localhost, 127.0.0.1 and ::1 are
    /// always included.
    pub hostnames: Vec<String>,
    /// Extra browser origins allowed to open `/ws`, e.g.
    /// `https://chat.example.com` when served behind a proxy.
    pub allowed_origins: Vec<String>,
    /// PEM certificate chain to serve instead of the built-in CA's.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A public DNS name to get a certificate for from an ACME CA (Let's
    /// Encrypt), e.g. `chat.example.com`; renewed 30 days before it ends.
    /// Proven with HTTP-01, so `redirect_http_bind` must be port 80 as the
    /// world sees it. Until the first one arrives, and if it fails, the
    /// built-in CA's certificate is served. Unset: the built-in CA.
    pub acme_domain: Option<String>,
    /// The ACME directory URL. Let's Encrypt's staging directory,
    /// `https://acme-staging-v02.api.letsencrypt.org/directory`, is for
    /// trying it out.
    pub acme_directory: String,
    /// A contact address the CA may write to about the certificate.
    pub acme_email: Option<String>,
    /// A CA certificate (PEM) to trust for the ACME directory's own HTTPS,
    /// for a private or test ACME server (e.g. pebble). Unset: the
    /// system's roots.
    pub acme_ca_file: Option<PathBuf>,
    /// Lifetime of the generated leaf certificate, in days (1–365). It is
    /// renewed when a third of it remains.
    pub cert_validity_days: u32,
    /// `open`, `invite` or `closed`. An admin can change it while the
    /// server runs (web admin page, `PATCH /api/admin/settings`); from then
    /// on the database's value wins over this one.
    pub registration: RegistrationMode,
    /// How long a session token stays valid, in hours.
    pub session_ttl_hours: u64,
    /// Sustained messages per second per user (token bucket refill rate).
    pub rate_per_sec: f64,
    /// Messages a user may send in a burst (token bucket size).
    pub burst: u32,
    /// Rejected (rate-limited) sends within one minute after which a
    /// connection is closed with code 1008.
    pub flood_limit: u32,
    /// Largest message body, in UTF-8 bytes.
    pub max_message_bytes: usize,
    /// Largest WebSocket frame; a larger one closes the connection (1009).
    pub max_frame_bytes: usize,
    /// Interval between server pings, in milliseconds.
    pub ping_interval_ms: u64,
    /// A peer silent for this long (milliseconds) is disconnected.
    pub idle_timeout_ms: u64,
    /// Frames queued per connection before it counts as a slow consumer and
    /// is disconnected (close 1013; it resumes with `sync`). A quarter of it
    /// (at most 64) is how many sends one connection may have waiting for
    /// their commit.
    pub outbound_queue: usize,
    /// Failed logins (and wrong old passwords) for one account from one
    /// client address (an IPv6 /64) before growing delays start for that
    /// pair.
    pub login_attempts_per_account: u32,
    /// Failed logins from one client address, whatever the account, before
    /// growing delays start for that address.
    pub login_attempts_per_ip: u32,
    /// Failed logins for one account from all addresses within 15 minutes
    /// after which the account is under attack: every address that has
    /// failed on it waits growing delays from its next failure on. An
    /// address with no recent failure on the account is never delayed by
    /// this, so its owner can still log in.
    pub login_account_slowdown_after: u32,
    /// Registrations one client address (an IPv6 /64) may make per hour
    /// (a token bucket holding this many).
    pub registrations_per_ip_per_hour: u32,
    /// Sustained room actions per second per user: edits, deletions,
    /// joins, leaves, new rooms and DMs, invites, renames and topics,
    /// removals, reactions, pins, thread follows and read marks,
    /// notification settings, and administrators' changes (token bucket
    /// refill rate).
    pub action_rate_per_sec: f64,
    /// Room actions a user may make in a burst (token bucket size).
    pub action_burst: u32,
    /// Sustained typing notices and read marks per second per user.
    pub mark_rate_per_sec: f64,
    /// Typing notices and read marks a user may send in a burst.
    pub mark_burst: u32,
    /// Authenticated WebSockets one user may hold at once, across all
    /// their sessions.
    pub max_sockets_per_user: usize,
    /// Authenticated WebSockets one client address (an IPv6 /64) may hold
    /// at once, whatever the users.
    pub max_sockets_per_ip: usize,
    /// Largest file upload, in bytes.
    pub max_upload_bytes: u64,
    /// File uploads allowed per user per minute (a token bucket holding
    /// this many, taken before the body is read).
    pub uploads_per_minute: u32,
    /// Sustained searches per second per user (`GET /api/search`).
    pub search_rate_per_sec: f64,
    /// Searches a user may make in a burst.
    pub search_burst: u32,
    /// A bearer token that lets a client from any address read `/metrics`.
    /// Without it (the default), `/metrics` answers loopback clients only.
    pub metrics_token: Option<String>,
    /// A TLS handshake, and then each request's headers, must arrive within
    /// this many milliseconds (slowloris defence).
    pub handshake_timeout_ms: u64,
    /// Connections one client address (an IPv6 /64) may hold that are not an
    /// authenticated WebSocket: TLS handshakes, HTTP requests, idle
    /// keep-alives. Further ones are closed at once.
    pub max_pending_per_ip: usize,
    /// Log filter in `tracing` syntax, e.g. `info` or `securechat_server=debug`.
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8443)),
            redirect_http_bind: None,
            plain_bind: None,
            trusted_proxies: Vec::new(),
            webhook_allow: Vec::new(),
            retention_days: None,
            data_dir: PathBuf::from("securechat-data"),
            database: None,
            broker: None,
            node_id: None,
            hostnames: Vec::new(),
            allowed_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            acme_domain: None,
            acme_directory: "https://acme-v02.api.letsencrypt.org/directory".into(),
            acme_email: None,
            acme_ca_file: None,
            cert_validity_days: 90,
            registration: RegistrationMode::Open,
            session_ttl_hours: 24 * 30,
            rate_per_sec: 5.0,
            burst: 10,
            flood_limit: 100,
            max_message_bytes: 16 * 1024,
            max_frame_bytes: 64 * 1024,
            ping_interval_ms: 20_000,
            idle_timeout_ms: 60_000,
            outbound_queue: 1024,
            login_attempts_per_account: 5,
            login_attempts_per_ip: 20,
            login_account_slowdown_after: 20,
            registrations_per_ip_per_hour: 30,
            action_rate_per_sec: 2.0,
            action_burst: 20,
            mark_rate_per_sec: 10.0,
            mark_burst: 50,
            max_sockets_per_user: 32,
            max_sockets_per_ip: 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            uploads_per_minute: 30,
            search_rate_per_sec: 2.0,
            search_burst: 20,
            metrics_token: None,
            handshake_timeout_ms: 10_000,
            max_pending_per_ip: 256,
            log: "info".into(),
        }
    }
}

/// Values given as command-line flags; `None` leaves the lower layers alone.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_http_bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain_bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_domain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// The configuration could not be loaded or is invalid.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// Each problem on a line: where, which option, what is wrong.
    #[error("{0}")]
    Parse(String),
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults → `file` (if any) → `SECURECHAT_*` env → `flags`, and
    /// validates the result.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let config: Config = fig
            .merge(Env::prefixed("SECURECHAT_").ignore(&["config"]))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|e| ConfigError::Parse(explain(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The names the certificate is for: localhost, loopback IPs, then
    /// `hostnames`.
    pub fn cert_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for h in &self.hostnames {
            let h = h.to_ascii_lowercase();
            if !names.contains(&h) {
                names.push(h);
            }
        }
        names
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }

    /// This node's name: `node_id`, or one made up for this process.
    pub fn node_name(&self) -> String {
        self.node_id
            .clone()
            .unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()))
    }

    /// Path of the SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("securechat.db")
    }

    /// Opens the configured database: PostgreSQL at `database`, or SQLite
    /// in the data directory.
    pub fn open_store(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        match &self.database {
            Some(url) => crate::store::Store::connect(url),
            None => crate::store::Store::open(&self.db_path()),
        }
    }

    /// Directory of the built-in CA and certificate.
    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    /// Where the ACME account and certificate are kept.
    pub fn acme_dir(&self) -> PathBuf {
        self.data_dir.join("acme")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\nburst = 3\nlog = \"debug\"\n",
        )
        .unwrap();
        let flags = Overrides {
            log: Some("warn".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &flags).unwrap();
        assert_eq!(c.bind.port(), 9000, "file beats default");
        assert_eq!(c.burst, 3);
        assert_eq!(c.log, "warn", "flag beats file");
        assert_eq!(c.rate_per_sec, 5.0, "default kept");
    }

    #[test]
    fn bad_values_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "cert_validity_days = 400\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("cert_validity_days"), "{err}");

        std::fs::write(&file, "no_such_option = 1\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("no_such_option"), "{err}");

        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            Config::load(Some(&missing), &Overrides::default()),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn the_documented_example_is_the_defaults() {
        let example = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/config.example.toml"
        );
        let c = Config::load(Some(Path::new(example)), &Overrides::default()).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn cert_names_always_cover_loopback() {
        let c = Config {
            hostnames: vec!["Chat.Example.com".into(), "localhost".into()],
            ..Config::default()
        };
        assert_eq!(
            c.cert_names(),
            ["localhost", "127.0.0.1", "::1", "chat.example.com"]
        );
    }
}
