//! Serving: accept TCP, handshake TLS (with a deadline; plain HTTP on the
//! port is redirected, see [`crate::redirect`]), serve HTTP/1.1 with
//! upgrades, and shut down gracefully.
//!
//! [`run`] takes a bound listener, so tests bind port 0 and read the port
//! back; it returns once every connection has finished after `shutdown`
//! resolves (stop accepting, close WebSockets with 1001, let HTTP requests
//! in flight finish, commit everything queued in the store).

use crate::auth::{password::Hasher, throttle::LoginThrottle};
use crate::config::Config;
use crate::datadir::{self, DataDirLock};
use crate::hub::{Close, Hub};
use crate::metrics::Metrics;
use crate::ratelimit::{Budgets, RateLimiter};
use crate::state::{AppState, Inner};
use crate::store::{Store, StoreError, files, sessions};
use crate::tls::{Tls, TlsError};
use crate::tracker::Tracker;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// A connection's read buffer may grow to this: request heads larger than
/// this are refused with 431 by hyper; heads between
/// [`crate::http::MAX_HEAD`] and this, by the router, so the limit is
/// exact.
const MAX_HTTP_BUFFER: usize = crate::http::MAX_HEAD + 32 * 1024;
/// After shutdown starts, connections get this long to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often stored messages are indexed for search.
const SEARCH_INDEX_EVERY: Duration = Duration::from_millis(250);
/// How often certificate renewal and session expiry are checked.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// Start-up failed.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Everything needed to serve, made before the listener starts accepting.
pub struct Prepared {
    pub state: AppState,
    shutdown_tx: watch::Sender<bool>,
    /// Held until [`serve`] returns: no second server on this data dir.
    lock: DataDirLock,
    /// What the hub relays to the other nodes (with a broker).
    relayed: Option<tokio::sync::mpsc::UnboundedReceiver<crate::hub::Wire>>,
    /// Plain HTTP for a reverse proxy (`plain_bind`), if any.
    plain: Option<TcpListener>,
}

impl Prepared {
    /// Makes the data directory private, locks it, opens the store and
    /// sets up TLS from `config`.
    pub fn new(config: Config) -> Result<Prepared, ServerError> {
        datadir::create_private(&config.data_dir)?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = config.open_store()?;
        // Uploads cut off by a crash leave temporary files: nothing needs them.
        let _ = std::fs::remove_dir_all(config.data_dir.join("files").join("tmp"));
        let tls = Arc::new(Tls::load(&config)?);
        let metrics = Arc::new(Metrics::default());
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (hub, relayed) = match &config.broker {
            Some(_) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (Hub::with_relay(metrics.clone(), tx), Some(rx))
            }
            None => (Hub::new(metrics.clone()), None),
        };
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let state = AppState::new(Inner {
            hub: Arc::new(hub),
            hasher: Hasher::new(workers),
            budgets: Budgets::new(&config),
            logins: LoginThrottle::new(
                config.login_attempts_per_account,
                config.login_attempts_per_ip,
                config.login_account_slowdown_after,
            ),
            registrations: RateLimiter::per_hour(config.registrations_per_ip_per_hour),
            metrics: metrics.clone(),
            tls,
            shutdown,
            blobs: crate::files::Blobs::new(&config.data_dir),
            peers: crate::peers::PeerLimits::new(config.max_pending_per_ip),
            sockets: crate::sockets::SocketLimits::new(
                config.max_sockets_per_user,
                config.max_sockets_per_ip,
            ),
            tasks: Tracker::default(),
            started: std::time::Instant::now(),
            acme: Arc::default(),
            webhooks: Arc::new(crate::integrations::outgoing::Outgoing::new(
                crate::integrations::target::Guard::new(
                    crate::proxy::Trusted::parse_named(
                        &config.webhook_allow,
                        "webhook_allow entry",
                    )
                    .expect("validated with the config"),
                ),
                metrics.clone(),
            )),
            store,
            config,
        });
        Ok(Prepared {
            state,
            shutdown_tx,
            lock,
            relayed,
            plain: None,
        })
    }

    /// Also serves plain HTTP (no TLS) on `listener`, for a reverse proxy
    /// that terminates TLS in front (`plain_bind`).
    pub fn with_plain_listener(mut self, listener: TcpListener) -> Prepared {
        self.plain = Some(listener);
        self
    }
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let prepared = Prepared::new(config)?;
    serve(listener, prepared, shutdown).await;
    Ok(())
}

/// Serves a prepared server on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, prepared: Prepared, shutdown: impl Future<Output = ()>) {
    let Prepared {
        state,
        shutdown_tx,
        lock,
        relayed,
        plain,
    } = prepared;
    let proxies = Arc::new(
        crate::proxy::Trusted::parse(&state.config.trusted_proxies)
            .expect("validated with the config"),
    );
    let tls_config = match state.tls.server_config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "TLS configuration failed");
            return;
        }
    };
    let acceptor = TlsAcceptor::from(tls_config);
    let app = crate::http::router(state.clone());
    let maintenance = tokio::spawn(maintenance(state.clone()));
    let sweeper = tokio::spawn(sweep_sessions(state.clone()));
    let webhooks = tokio::spawn(crate::integrations::outgoing::run(state.clone()));
    let retention = tokio::spawn(crate::retention::run(state.clone()));
    let indexer = tokio::spawn(index_search(state.store.clone()));
    let acme = tokio::spawn(crate::tls::acme::run(
        state.config.clone(),
        state.tls.clone(),
        state.acme.clone(),
        state.shutdown.clone(),
    ));
    let broker = match (relayed, &state.config.broker) {
        (Some(relayed), Some(url)) => Some(tokio::spawn(crate::broker::run(
            url.clone(),
            state.config.node_name(),
            state.hub.clone(),
            state.store.clone(),
            relayed,
        ))),
        _ => None,
    };
    tokio::pin!(shutdown);

    let accept_plain = async |plain: &Option<TcpListener>| match plain {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    };
    loop {
        // `tls`: false for the plain listener (a reverse proxy's).
        let (accepted, tls) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => (accepted, true),
            accepted = accept_plain(&plain) => (accepted, false),
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = if proxies.contains(peer.ip()) {
            state.peers.exempt(peer.ip())
        } else {
            let Some(slot) = state.peers.try_acquire(peer.ip()) else {
                crate::metrics::inc(&state.metrics.connections_refused_total);
                tracing::debug!(%peer, "too many unauthenticated connections from this address");
                continue;
            };
            slot
        };
        let slot = Arc::new(slot);
        let proxies = proxies.clone();
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handshake_timeout = state.config.handshake_timeout();
        let metrics = state.metrics.clone();
        let app = app.clone();
        let alive = state.tasks.guard();
        let stopping = state.shutdown.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let deadline = tokio::time::Instant::now() + handshake_timeout;
            let service = app.map_request(move |mut req: axum::extract::Request<_>| {
                let client = proxies.client(peer, req.headers());
                req.extensions_mut().insert(ConnectInfo(client));
                req.extensions_mut().insert(slot.clone());
                req
            });
            if !tls {
                serve_http(
                    TokioIo::new(tcp),
                    service,
                    handshake_timeout,
                    stopping,
                    peer,
                )
                .await;
                return;
            }
            // Plain HTTP on this port (`http://host:8443` typed in a
            // browser) is sent to https:// rather than failing the handshake.
            let mut first = [0u8; 1];
            match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
                Ok(Ok(1)) if crate::redirect::is_plain_http(first[0]) => {
                    crate::redirect::answer(tcp, None, handshake_timeout, None).await;
                    return;
                }
                Ok(Ok(1)) => {}
                _ => {
                    crate::metrics::inc(&metrics.handshakes_failed_total);
                    tracing::debug!(%peer, "closed or silent before the TLS handshake");
                    return;
                }
            }
            let tls = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    crate::metrics::inc(&metrics.handshakes_failed_total);
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    crate::metrics::inc(&metrics.handshakes_failed_total);
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            serve_http(
                TokioIo::new(tls),
                service,
                handshake_timeout,
                stopping,
                peer,
            )
            .await;
        });
    }

    tracing::info!("shutting down");
    drop(listener);
    maintenance.abort();
    sweeper.abort();
    webhooks.abort();
    acme.abort();
    retention.abort();
    indexer.abort();
    if let Some(broker) = broker {
        broker.abort();
    }
    let _ = shutdown_tx.send(true);
    state.hub.close_all(Close::GOING_AWAY);
    if tokio::time::timeout(DRAIN_TIMEOUT, state.tasks.idle())
        .await
        .is_err()
    {
        tracing::warn!(
            left = state.tasks.live(),
            "connections did not finish in time"
        );
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.close())
        .await
        .ok();
    drop(lock);
    tracing::info!("stopped");
}

/// Serves HTTP/1.1 (with upgrades) on one connection until it closes, or
/// until shutdown, after the request in flight.
async fn serve_http<I, S>(
    io: I,
    service: S,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: tower::Service<
            axum::extract::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HTTP_BUFFER);
    let conn = http
        .serve_connection(io, TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { drop(stopping.wait_for(|s| *s).await) } => {
            // Finish the request in flight, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// How long an upload waits for the message that carries it.
const UNATTACHED_FILES_KEPT_MS: i64 = 24 * 3600 * 1000;

/// Hourly: renew the certificate when due, forget uploads no message
/// carried, delete unused file bytes, drop expired sessions.
/// Indexes stored messages for search about once a second, off the
/// messages' own commits (see `store::search_index`).
async fn index_search(store: Store) {
    let mut every = tokio::time::interval(SEARCH_INDEX_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = store.catch_up_search().await {
            tracing::warn!(error = %e, "search indexing failed");
        }
    }
}

async fn maintenance(state: AppState) {
    let mut every = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        every.tick().await;
        match state
            .tls
            .renew_if_due(&state.config, time::OffsetDateTime::now_utc())
        {
            Ok(true) => tracing::info!(
                not_after = %state.tls.leaf_not_after(),
                "renewed the TLS certificate"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "certificate renewal failed"),
        }
        // An encrypted upload's message comes right after it: a day later,
        // it is not coming.
        let before = securechat_proto::Timestamp::now().0 - UNATTACHED_FILES_KEPT_MS;
        match state
            .store
            .write(move |tx| files::forget_unattached(tx, before))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "forgot uploads no message carried"),
            Err(e) => tracing::warn!(error = %e, "forgetting unattached uploads failed"),
        }
        match state.blobs.sweep(&state.store).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "deleted files no message uses"),
            Err(e) => tracing::warn!(error = %e, "file sweep failed"),
        }
        let now = securechat_proto::Timestamp::now().0;
        if let Err(e) = state
            .store
            .write(move |tx| sessions::purge_expired(tx, now))
            .await
        {
            tracing::warn!(error = %e, "session purge failed");
        }
    }
}

/// Every ping interval: close live connections whose session ended outside
/// this process (`securechat-server user disable|passwd` runs as another
/// process) or expired.
async fn sweep_sessions(state: AppState) {
    let mut every = tokio::time::interval(state.config.ping_interval());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let live = state.hub.sessions();
        if live.is_empty() {
            continue;
        }
        let now = securechat_proto::Timestamp::now().0;
        let check = live.clone();
        match state
            .store
            .read(move |c| sessions::still_valid(c, &check, now))
            .await
        {
            Ok(valid) => {
                let ended: Vec<_> = live.into_iter().filter(|s| !valid.contains(s)).collect();
                if !ended.is_empty() {
                    state.hub.close_sessions(&ended, Close::SESSION_ENDED);
                }
            }
            Err(e) => tracing::warn!(error = %e, "session sweep failed"),
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The address a server bound to, as an `https://` URL.
pub fn url_for(addr: SocketAddr) -> String {
    match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("https://[{ip}]:{}", addr.port()),
        std::net::IpAddr::V4(ip) => format!("https://{ip}:{}", addr.port()),
    }
}
