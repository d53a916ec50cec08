//! `securechat-server`: serve, or manage users and certificates.
//!
//! A thin binary over the `securechat_server` library: parse flags, load
//! the config, set up tracing, then serve or run one operator command.

mod cmd;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use securechat_server::auth::password::Hasher;
use securechat_server::config::{Config, Overrides, RegistrationMode};
use securechat_server::store::Store;
use securechat_server::{Prepared, accounts, server};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

/// SecureChat server: HTTPS and wss:// on one port, SQLite storage, and a
/// built-in certificate authority.
///
/// Settings come from defaults, then the config file, then SECURECHAT_*
/// environment variables (e.g. SECURECHAT_BIND, SECURECHAT_RATE_PER_SEC),
/// then these flags. See docs/config.example.toml for every option.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct Global {
    /// TOML config file.
    #[arg(long, short, global = true, env = "SECURECHAT_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and certificates live [default: ./securechat-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user:password@host/db) instead of SQLite
    /// in the data dir.
    #[arg(
        long,
        global = true,
        env = "SECURECHAT_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,
    /// NATS server (nats://host:port) shared by several nodes on one
    /// --database.
    #[arg(long, global = true, env = "SECURECHAT_BROKER")]
    broker: Option<String>,
    /// This node's name among several [default: random].
    #[arg(long, global = true, env = "SECURECHAT_NODE_ID")]
    node_id: Option<String>,
    /// Address and port to listen on [default: 127.0.0.1:8443].
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Also listen for plain HTTP here (e.g. 0.0.0.0:80), only to redirect
    /// to https://.
    #[arg(long = "redirect-http", global = true, value_name = "ADDR")]
    redirect_http_bind: Option<SocketAddr>,
    /// Also serve plain HTTP on this loopback address, for a reverse proxy
    /// that terminates TLS (needs --trusted-proxy).
    #[arg(long, global = true, value_name = "ADDR")]
    plain_bind: Option<SocketAddr>,
    /// A reverse proxy (address or CIDR) whose Forwarded / X-Forwarded-For
    /// headers name the client (repeatable).
    #[arg(long = "trusted-proxy", global = true, value_name = "ADDR")]
    trusted_proxies: Vec<String>,
    /// Who may register: open, invite or closed [default: open].
    #[arg(long, global = true)]
    registration: Option<RegistrationMode>,
    /// Get a public certificate for this DNS name from Let's Encrypt (ACME,
    /// HTTP-01 on --redirect-http, which must be port 80).
    #[arg(long, global = true, value_name = "NAME")]
    acme_domain: Option<String>,
    /// Extra DNS name or IP for the certificate and allowed origins (repeatable).
    #[arg(long = "hostname", global = true)]
    hostnames: Vec<String>,
    /// PEM certificate chain to serve instead of the built-in CA's.
    #[arg(long, global = true, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, global = true, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log filter, e.g. info or securechat_server=debug [default: info].
    #[arg(long, global = true)]
    log: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage user accounts (works while the server runs).
    #[command(subcommand)]
    User(cmd::user::UserCmd),
    /// Make a single-use invite code (for registration = "invite").
    #[command(subcommand)]
    Invite(InviteCmd),
    /// Certificate information.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Print counts of users, rooms and messages.
    Stats,
    /// Fill the database with a made-up history, for benchmarks: rooms
    /// `seed-room-N`, users `seed-user-N` and `searcher` (in every room),
    /// all with the password `seed password`.
    Seed {
        #[arg(long, default_value_t = 2000)]
        rooms: usize,
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        #[arg(long, default_value_t = 200)]
        users: usize,
    },
    /// Copy this data dir's SQLite database into an empty PostgreSQL
    /// database and verify every table (counts and SHA-256); the server
    /// must be stopped. Then run with --database URL.
    Migrate {
        /// The PostgreSQL database: postgres://user:password@host/db.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Check the configuration and print the effective settings.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Copy the database (a consistent snapshot), the files and the
    /// built-in CA into DEST, a new directory, while the server runs and
    /// writes. SQLite only: on PostgreSQL, use pg_dump.
    Backup {
        /// A new (or empty) directory.
        dest: PathBuf,
    },
    /// Put a backup back into --data-dir, which must hold no database;
    /// everything is checked first. The server must be stopped.
    Restore {
        /// A directory made by `backup`.
        src: PathBuf,
    },
    /// Export everything (or one user's own messages and files) as JSON
    /// and files into DEST, a new directory, while the server runs.
    Export {
        /// A new (or empty) directory.
        dest: PathBuf,
        /// Only what this user wrote, in the rooms they are in.
        #[arg(long)]
        user: Option<String>,
    },
    /// Import a Slack export zip: users, public channels, messages,
    /// threads, reactions and files. Running it again doubles nothing.
    ImportSlack {
        /// The export, as Slack makes it.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum InviteCmd {
    /// Print a new invite code, valid for 7 days.
    Create,
}

#[derive(Subcommand)]
enum CertCmd {
    /// Print the SHA-256 fingerprint clients pin.
    Fingerprint,
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate and print the effective configuration as TOML, with
    /// passwords and tokens redacted.
    Check,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let flags = Overrides {
        bind: cli.global.bind,
        redirect_http_bind: cli.global.redirect_http_bind,
        plain_bind: cli.global.plain_bind,
        trusted_proxies: cli.global.trusted_proxies.clone(),
        data_dir: cli.global.data_dir.clone(),
        database: cli.global.database.clone(),
        broker: cli.global.broker.clone(),
        node_id: cli.global.node_id.clone(),
        registration: cli.global.registration,
        tls_cert: cli.global.tls_cert.clone(),
        tls_key: cli.global.tls_key.clone(),
        acme_domain: cli.global.acme_domain.clone(),
        hostnames: cli.global.hostnames.clone(),
        log: cli.global.log.clone(),
    };
    let config = Config::load(cli.global.config.as_deref(), &flags)?;
    init_tracing(&config.log);
    securechat_server::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve), config))
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn dispatch(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::User(cmd) => cmd::user::run(cmd, &config).await,
        Command::Invite(InviteCmd::Create) => {
            let store = open_store(&config)?;
            let (_, code) = accounts::create_invite(&store, None).await?;
            tokio::task::block_in_place(|| store.close());
            println!("{code}");
            Ok(())
        }
        Command::Seed {
            rooms,
            messages,
            users,
        } => {
            if rooms == 0 {
                anyhow::bail!("--rooms must be at least 1");
            }
            let store = open_store(&config)?;
            let hasher = Hasher::new(1);
            let password_hash = hasher.hash("seed password".to_owned()).await;
            let started = std::time::Instant::now();
            let (u, r, m) = securechat_server::seed::seed(
                &store,
                securechat_server::seed::SeedOpts {
                    rooms,
                    messages,
                    users,
                    password_hash,
                },
            )
            .await?;
            let secs = started.elapsed().as_secs_f64();
            let (total, index) = store.read(securechat_server::seed::sizes).await?;
            tokio::task::block_in_place(|| store.close());
            println!(
                "seeded {m} messages in {r} rooms for {u} users in {secs:.1} s; \
                 {total} messages in the database; the search index {:.1} MiB, {:.0} bytes a message",
                index as f64 / 1048576.0,
                index as f64 / total.max(1) as f64
            );
            Ok(())
        }
        Command::Migrate { to } => {
            let _lock = securechat_server::datadir::DataDirLock::acquire(&config.data_dir)
                .context("the server must be stopped while its database moves")?;
            let from = config.db_path();
            anyhow::ensure!(from.exists(), "no database at {}", from.display());
            let started = std::time::Instant::now();
            let copied = tokio::task::spawn_blocking(move || {
                securechat_server::migrate::to_postgres(&from, &to)
            })
            .await??;
            for t in &copied {
                println!("{:<15} {:>10} rows  sha256 {}", t.table, t.rows, t.sha256);
            }
            let rows: u64 = copied.iter().map(|t| t.rows).sum();
            println!(
                "migrated {rows} rows in {} tables to PostgreSQL in {:.1} s, every table verified; \
                 files stay in {}; start the server with --database (the same URL)",
                copied.len(),
                started.elapsed().as_secs_f64(),
                config.data_dir.join("files").display()
            );
            Ok(())
        }
        Command::Export { dest, user } => cmd::data::export(&config, &dest, user.as_deref()).await,
        Command::ImportSlack { file } => cmd::data::import_slack(&config, &file).await,
        Command::Backup { dest } => {
            let started = std::time::Instant::now();
            let into = dest.clone();
            let m = tokio::task::spawn_blocking(move || {
                securechat_server::backup::backup(&config, &into)
            })
            .await??;
            for hash in &m.missing_files {
                eprintln!("warning: file {hash} was missing or damaged on disk: not in the backup");
            }
            println!(
                "backed up {} users, {} rooms, {} messages and {} files ({:.1} MiB) into {} in {:.1} s{}",
                m.users,
                m.rooms,
                m.messages,
                m.files,
                (m.database_bytes + m.file_bytes) as f64 / 1048576.0,
                dest.display(),
                started.elapsed().as_secs_f64(),
                if m.tls { ", with the built-in CA" } else { "" }
            );
            Ok(())
        }
        Command::Restore { src } => {
            let dir = config.data_dir.clone();
            let m = tokio::task::spawn_blocking(move || {
                securechat_server::backup::restore(&config, &src)
            })
            .await??;
            println!(
                "restored {} users, {} rooms, {} messages and {} files into {}; start the server on it",
                m.users,
                m.rooms,
                m.messages,
                m.files,
                dir.display()
            );
            Ok(())
        }
        Command::Stats => {
            let store = open_store(&config)?;
            let (users, disabled, rooms, messages) =
                securechat_server::http::admin::stored_counts(&store).await?;
            tokio::task::block_in_place(|| store.close());
            println!("users:    {users} ({disabled} disabled)");
            println!("rooms:    {rooms}");
            println!("messages: {messages}");
            Ok(())
        }
        Command::Cert(CertCmd::Fingerprint) => {
            let tls = securechat_server::tls::Tls::load(&config)?;
            println!("{}", tls.pin_fingerprint());
            Ok(())
        }
        Command::Config(ConfigCmd::Check) => {
            print!("{}", config.to_toml());
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<()> {
    let bind = config.bind;
    let plain_bind = config.plain_bind;
    let mut prepared = Prepared::new(config)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    if let Some(plain) = plain_bind {
        let plain = tokio::net::TcpListener::bind(plain)
            .await
            .with_context(|| format!("cannot listen on {plain} (plain_bind)"))?;
        println!(
            "Plain HTTP for the reverse proxy on http://{}",
            plain.local_addr()?
        );
        prepared = prepared.with_plain_listener(plain);
    }
    let tls = &prepared.state.tls;
    println!("SecureChat is listening on {}", server::url_for(addr));
    println!(
        "Certificate fingerprint (SHA-256): {}",
        tls.pin_fingerprint()
    );
    if let Some(domain) = &prepared.state.config.acme_domain {
        println!(
            "Public certificate for {domain} from {} (ACME, renewed by itself); \
             until it arrives, the built-in CA's",
            prepared.state.config.acme_directory
        );
    } else if tls.ca_pem().is_some() {
        println!(
            "Browsers: trust {}/ca.pem, or the file {}",
            server::url_for(addr),
            prepared.state.config.tls_dir().join("ca.pem").display()
        );
    }
    if let Some(plain) = prepared.state.config.redirect_http_bind {
        let redirects = tokio::net::TcpListener::bind(plain)
            .await
            .with_context(|| format!("cannot listen on {plain} (redirect_http_bind)"))?;
        println!(
            "Plain HTTP on http://{} redirects to https:// on port {}",
            redirects.local_addr()?,
            addr.port()
        );
        tokio::spawn(securechat_server::redirect::serve(
            redirects,
            addr.port(),
            prepared.state.config.handshake_timeout(),
            1024,
            prepared.state.acme.clone(),
            prepared.state.shutdown.clone(),
        ));
    }
    tracing::info!(%addr, registration = ?prepared.state.config.registration, "serving");
    server::serve(listener, prepared, server::shutdown_signal()).await;
    Ok(())
}

pub(crate) fn open_store(config: &Config) -> Result<Store> {
    securechat_server::datadir::create_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    Ok(config.open_store()?)
}
