//! `securechat`: the SecureChat terminal client.
//!
//! A thin binary over the `securechat_client` library: parse the command,
//! establish trust (pinning on first use), and run one command. Errors go
//! to stderr in plain words; the exit code says what kind of error it was.

mod cli_keys;

use clap::{Parser, Subcommand};
use securechat_client::api::{Api, Server};
use securechat_client::conn::{Connection, Event, Status};
use securechat_client::format::{self, ago, truncate};
use securechat_client::store::{SavedSession, Store};
use securechat_client::trust::{Tls, Trust};
use securechat_client::{ClientError, install_crypto_provider};
use securechat_proto::ServerMsg;
use securechat_proto::http::{LoginRequest, PasswordChange, RegisterRequest};
use securechat_proto::ws::Ack;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

/// SecureChat in the terminal.
///
/// Start with `securechat register https://HOST:PORT` (or `login`). The
/// first time, the server's certificate fingerprint is shown: compare it
/// with the one `securechat-server` printed, then it is remembered.
#[derive(Parser)]
#[command(name = "securechat", version, about, long_about)]
struct Cli {
    /// Where the session and known servers are kept
    /// [default: $XDG_CONFIG_HOME/securechat or ~/.config/securechat].
    #[arg(long, global = true)]
    config_dir: Option<PathBuf>,
    /// Trust servers whose certificates this CA (PEM) signed, instead of
    /// pinning.
    #[arg(long, global = true)]
    ca_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and log in.
    Register(LoginArgs),
    /// Log in to a server.
    Login(LoginArgs),
    /// End the session (on the server too).
    Logout,
    /// Change your password (other sessions end).
    Passwd {
        /// Read the current password, then the new one, from the first two
        /// lines of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Send a message: `securechat send general "hello"`, or the text from
    /// standard input when none is given.
    Send {
        /// Room name (`general`, `#dev`), `@user` for a direct message (the
        /// encrypted one when there is one), or id.
        room: String,
        /// The text; read from standard input if absent.
        text: Vec<String>,
    },
    /// Print new messages of a room as they arrive (edits and deletions
    /// too), reconnecting forever.
    Tail {
        room: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send a file to a room, with a progress bar (in an end-to-end
    /// encrypted room, sealed here first: the server gets ciphertext).
    Upload {
        room: String,
        file: PathBuf,
        /// Text to go with the file.
        #[arg(long)]
        caption: Option<String>,
    },
    /// Fetch a file by id (shown with the message as `[file ID: …]`), with
    /// a progress bar; a broken download resumes where it stopped; an
    /// end-to-end encrypted file is checked and decrypted here.
    Download {
        id: i64,
        /// Where to save it: a file, or a directory to save it in under its
        /// own name [default: the file's name, here].
        path: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print earlier messages of a room, each once as it is now (edited or
    /// deleted), with membership and room changes.
    History {
        room: String,
        /// How many events (at most 200).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Search messages in your rooms: words, "phrases", prefix*, and
    /// from:USER in:#ROOM before:YYYY-MM-DD after:YYYY-MM-DD has:file.
    Search {
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Best match first (default: newest first).
        #[arg(long)]
        best: bool,
        /// How many results (at most 100).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON object per result.
        #[arg(long)]
        json: bool,
    },
    /// List your rooms and the public ones.
    Rooms,
    /// List users with presence.
    Users,
    /// The full-screen chat: rooms, messages, and an input line.
    ///
    /// Keys: Enter sends, Alt-Enter adds a line; ←/→ Home/End Ctrl-A/E
    /// Ctrl-W Ctrl-U Ctrl-K edit; Tab / Shift-Tab (or Ctrl-N / Ctrl-P)
    /// switch rooms, Alt-A goes to the next unread; Ctrl-↑/↓ recall sent
    /// lines; PgUp / PgDn scroll (older history loads by itself); Esc
    /// clears the line; Ctrl-C quits. Commands: /join ROOM, /leave, /create
    /// NAME [private], /dm USER, /invite USER, /edit, /delete, /help, /quit.
    /// Exits with 4 when the session ends.
    Chat,
    /// Remove a server's pinned certificate authority (`host:port`).
    Forget { server: String },
    /// Open your end-to-end encrypted direct messages with USER (a room of
    /// its own; `@USER` means it from then on).
    Dm { user: String },
    /// End-to-end encryption: key backup and restore, devices, safety codes.
    #[command(subcommand)]
    Keys(cli_keys::KeysCommand),
}

#[derive(clap::Args)]
struct LoginArgs {
    /// The server, e.g. https://chat.example.com:8443
    url: String,
    /// Username (asked if absent).
    #[arg(long, short)]
    username: Option<String>,
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    password_stdin: bool,
    /// Accept the server's certificate authority if its SHA-256 fingerprint
    /// is this (for scripts; otherwise you are asked).
    #[arg(long)]
    trust: Option<String>,
    /// Invite code, when the server's registration needs one.
    #[arg(long)]
    invite: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("securechat: {e}");
        std::process::exit(e.exit_code());
    }
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    let store = Store::new(cli.config_dir.clone())?;
    let ca_file = cli.ca_file.clone();
    match cli.command {
        Command::Register(args) => sign_in(&store, ca_file, args, true).await,
        Command::Login(args) => sign_in(&store, ca_file, args, false).await,
        Command::Forget { server } => {
            let key = Server::parse(&server)?.key();
            if store.forget(&key)? {
                println!("forgot the certificate authority of {key}");
            } else {
                println!("no pin for {key}");
            }
            Ok(())
        }
        other => {
            let session = store.session()?.ok_or(ClientError::NotLoggedIn)?;
            let server = Server::parse(&session.url)?;
            let tls = Tls::new(Trust::for_server(
                &store,
                &server.key(),
                ca_file.as_deref(),
            )?)?;
            tls.check(&server.host, server.port).await?;
            let api = Api::new(&server, &tls, Some(session.token.clone()))?;
            let result = command(other, &store, &server, &tls, &api, &session).await;
            if matches!(result, Err(ClientError::SessionEnded)) {
                store.clear_session()?;
            }
            result
        }
    }
}

async fn command(
    cmd: Command,
    store: &Store,
    server: &Server,
    tls: &Tls,
    api: &Api,
    session: &SavedSession,
) -> Result<(), ClientError> {
    match cmd {
        Command::Logout => {
            let _ = api.logout().await;
            store.clear_session()?;
            println!("logged out of {}", session.url);
        }
        Command::Passwd { password_stdin } => {
            let (old, new) = if password_stdin {
                (stdin_line()?, stdin_line()?)
            } else {
                let old = prompt_password("Current password: ")?;
                let new = prompt_password("New password: ")?;
                if prompt_password("Repeat new password: ")? != new {
                    return Err(ClientError::Usage("the new passwords do not match".into()));
                }
                (old, new)
            };
            api.change_password(&PasswordChange {
                old_password: old,
                new_password: new,
            })
            .await?;
            println!("password changed; your other sessions have ended");
        }
        Command::Rooms => {
            let rooms = api.rooms().await?;
            println!("{:<6} {:<8} {:<32} unread", "id", "kind", "name");
            for r in rooms.rooms {
                let kind = serde_json::to_value(r.kind).unwrap_or_default();
                let name = if kind == "dm" {
                    format!("@{}", r.name)
                } else {
                    r.name
                };
                println!(
                    "{:<6} {:<8} {:<32} {}",
                    r.id,
                    kind.as_str().unwrap_or(""),
                    truncate(&name, 32),
                    r.unread
                );
            }
            let others: Vec<_> = rooms.public.into_iter().filter(|p| !p.joined).collect();
            if !others.is_empty() {
                println!("\npublic rooms you can join:");
                for p in others {
                    println!(
                        "{:<6} {:<8} {:<32} {} members",
                        p.id,
                        "public",
                        truncate(&p.name, 32),
                        p.members
                    );
                }
            }
        }
        Command::Users => {
            let now = securechat_proto::Timestamp::now();
            for u in api.users().await?.users {
                let state = if u.online {
                    "online".to_string()
                } else {
                    u.last_seen.map_or("never seen".into(), |t| {
                        format!("last seen {}", ago(&t, &now))
                    })
                };
                println!("{:<32} {state}", u.username);
            }
        }
        Command::Search {
            query,
            best,
            limit,
            json,
        } => {
            let found = api
                .search(&query.join(" "), best, limit.clamp(1, 100))
                .await?;
            let bold = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let mut out = std::io::stdout().lock();
            for hit in &found.results {
                let line = if json {
                    serde_json::to_string(hit).expect("serializable")
                } else {
                    format::hit_line(hit, bold)
                };
                let _ = writeln!(out, "{line}");
            }
            if !json && found.results.is_empty() {
                eprintln!("nothing found");
            }
        }
        Command::History { room, limit, json } => {
            let info = api.resolve_room(&room).await?;
            let page = api.history(info.id, None, limit.clamp(1, 200)).await?;
            let crypto = if info.encrypted {
                cli_keys::device(store, api.clone(), &session.username).await
            } else {
                None
            };
            // Each message once, as it is now: edits and deletions are
            // already in the message they change.
            for mut ev in page.events {
                if let Some(c) = &crypto {
                    let mut c = c.lock().await;
                    if !c.open_event(&mut ev) {
                        c.give_up(&mut ev).await;
                    }
                }
                if let Some(said) = format::said(&ev) {
                    print_event(&ev, &said, json);
                }
            }
        }
        Command::Send { room, text } => {
            let body = if text.is_empty() {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| ClientError::Usage(format!("reading standard input: {e}")))?;
                s.trim_end_matches('\n').to_owned()
            } else {
                text.join(" ")
            };
            if body.trim().is_empty() {
                return Err(ClientError::Usage("nothing to send".into()));
            }
            let info = api.resolve_room(&room).await?;
            let crypto = if info.encrypted {
                cli_keys::device(store, api.clone(), &session.username).await
            } else {
                None
            };
            let mut conn = Connection::spawn_with(
                server.clone(),
                tls.config.clone(),
                session.token.clone(),
                BTreeMap::new(),
                crypto,
            );
            let id = conn.send(info.id, body);
            let ack = acked(&mut conn, &id).await?;
            println!("sent to {} as #{} (seq {})", room, ack.id, ack.seq);
        }
        Command::Tail { room, json } => {
            let info = api.resolve_room(&room).await?;
            let mut since = BTreeMap::new();
            since.insert(info.id, info.last_seq);
            let crypto = cli_keys::device(store, api.clone(), &session.username).await;
            let mut conn = Connection::spawn_with(
                server.clone(),
                tls.config.clone(),
                session.token.clone(),
                since,
                crypto,
            );
            while let Some(event) = conn.events.recv().await {
                match event {
                    Event::Server(msg)
                        if msg.stream_position().is_some_and(|(r, _)| r == info.id) =>
                    {
                        if let Some(said) = format::live(&msg) {
                            print_event(&msg, &said, json);
                        }
                    }
                    Event::Status(Status::Reconnecting { retry_in }) => {
                        eprintln!(
                            "disconnected; reconnecting in {:.1} s",
                            retry_in.as_secs_f64()
                        );
                    }
                    Event::Status(Status::Connected) => eprintln!("connected to {}", server.url()),
                    Event::Notice(n) => eprintln!("{n}"),
                    Event::Status(Status::SessionEnded) => return Err(ClientError::SessionEnded),
                    _ => {}
                }
            }
        }
        Command::Upload {
            room,
            file,
            caption,
        } => {
            let info = api.resolve_room(&room).await?;
            let bar = progress_bar();
            let shown = bar.clone();
            let progress = move |done, total| {
                shown.set_length(total);
                shown.set_position(done);
            };
            if !info.encrypted {
                let up = securechat_client::transfer::upload(
                    api,
                    info.id,
                    &file,
                    caption.as_deref(),
                    progress,
                )
                .await;
                bar.finish();
                let up = up?;
                println!(
                    "uploaded {} to {} as file {} (sha256 {})",
                    up.file.name, room, up.file.id, up.file.sha256
                );
                return Ok(());
            }
            // Sealed here, uploaded as ciphertext, then named in an
            // encrypted message.
            let Some(crypto) = cli_keys::device(store, api.clone(), &session.username).await else {
                return Err(ClientError::Crypto(
                    "this conversation is end-to-end encrypted, and this login has no keys".into(),
                ));
            };
            let up =
                securechat_client::transfer::upload_encrypted(api, info.id, &file, progress).await;
            bar.finish();
            let (up, secrets) = up?;
            let name = secrets.name.clone();
            let mut conn = Connection::spawn_with(
                server.clone(),
                tls.config.clone(),
                session.token.clone(),
                BTreeMap::new(),
                Some(crypto),
            );
            let id = conn.send_file(info.id, up.file.id, secrets, caption.unwrap_or_default());
            acked(&mut conn, &id).await?;
            println!(
                "uploaded {name} to {room} as file {} (end-to-end encrypted; sha256 of the ciphertext {})",
                up.file.id, up.file.sha256
            );
        }
        Command::Download { id, path, force } => {
            let id = securechat_proto::FileId(id);
            // An encrypted file opens with the secrets in its message.
            let carrier = api.file_message(id).await?;
            let secrets = match carrier.filter(|m| m.encrypted.is_some()) {
                None => None,
                Some(m) => {
                    let Some(crypto) =
                        cli_keys::device(store, api.clone(), &session.username).await
                    else {
                        return Err(ClientError::Crypto(
                            "this file is end-to-end encrypted, and this login has no keys".into(),
                        ));
                    };
                    let mut c = crypto.lock().await;
                    c.catch_up().await?;
                    c.file_secrets(&m)?
                }
            };
            // The bar appears once the file is found and its bytes come.
            let mut bar: Option<indicatif::ProgressBar> = None;
            let got = securechat_client::transfer::download(
                api,
                id,
                path.as_deref(),
                force,
                secrets.as_ref(),
                |done, total| {
                    let bar = bar.get_or_insert_with(progress_bar);
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await;
            if let Some(bar) = bar {
                bar.finish();
            }
            let (path, size, _) = got?;
            let how = if secrets.is_some() {
                "SHA-256 verified, decrypted"
            } else {
                "SHA-256 verified"
            };
            println!("saved {} ({size} bytes, {how})", path.display());
        }
        Command::Dm { user } => {
            let info = api.open_dm_with(&user, true).await?;
            println!(
                "end-to-end encrypted DM with {} (room {}): send with `securechat send @{} …`",
                info.name, info.id, info.name
            );
        }
        Command::Keys(cmd) => cli_keys::run(cmd, store, api.clone(), &session.username).await?,
        Command::Chat => {
            let crypto = cli_keys::device(store, api.clone(), &session.username).await;
            let conn = Connection::spawn_with(
                server.clone(),
                tls.config.clone(),
                session.token.clone(),
                BTreeMap::new(),
                crypto,
            );
            let api = Api::new(server, tls, Some(session.token.clone()))?;
            securechat_client::tui::run(api, conn, &session.username).await?;
        }
        Command::Register(_) | Command::Login(_) | Command::Forget { .. } => {
            unreachable!("handled before")
        }
    }
    Ok(())
}

/// Waits for the server's answer to the send `id`.
async fn acked(conn: &mut Connection, id: &str) -> Result<Ack, ClientError> {
    loop {
        match conn.events.recv().await {
            Some(Event::Acked(ack)) if ack.client_msg_id == id => return Ok(ack),
            Some(Event::Failed(e)) if e.client_msg_id.as_deref() == Some(id) => {
                return Err(ClientError::Server {
                    code: e.code,
                    message: e.message,
                    retry_after_secs: None,
                });
            }
            Some(Event::Status(Status::SessionEnded)) | None => {
                return Err(ClientError::SessionEnded);
            }
            Some(Event::Status(Status::RateLimited { wait })) => {
                eprintln!("rate limited: sending in {} ms", wait.as_millis());
            }
            Some(Event::Notice(n)) => eprintln!("{n}"),
            _ => {}
        }
    }
}

/// A byte progress bar on stderr: bytes, rate, time left.
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("valid template"),
    );
    bar
}

/// One event as a line of text (the shared formatter's words) or JSON.
fn print_event(ev: &ServerMsg, said: &format::Said, json: bool) {
    let line = if json {
        serde_json::to_string(ev).expect("serializable")
    } else {
        format::line(said)
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A fingerprint in groups of eight bytes, one group of lines that fits
/// 80 columns.
fn grouped(fingerprint: &str) -> String {
    let bytes: Vec<&str> = fingerprint.split(':').collect();
    bytes
        .chunks(8)
        .map(|c| format!("  {}", c.join(":")))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn sign_in(
    store: &Store,
    ca_file: Option<PathBuf>,
    args: LoginArgs,
    register: bool,
) -> Result<(), ClientError> {
    let server = Server::parse(&args.url)?;
    let tls = establish_trust(store, &server, ca_file, args.trust.as_deref()).await?;
    let username = match args.username {
        Some(u) => u,
        None => prompt_line("Username: ")?,
    };
    let password = if args.password_stdin {
        stdin_line()?
    } else {
        prompt_password("Password: ")?
    };
    let api = Api::new(&server, &tls, None)?;
    let auth = if register {
        api.register(&RegisterRequest {
            username,
            password,
            invite_code: args.invite,
        })
        .await?
    } else {
        api.login(&LoginRequest { username, password }).await?
    };
    store.save_session(&SavedSession {
        url: server.url(),
        username: auth.user.username.clone(),
        token: auth.token,
    })?;
    println!(
        "{} as {} on {}",
        if register { "registered" } else { "logged in" },
        auth.user.username,
        server.url()
    );
    Ok(())
}

/// Checks the server's certificate; on first contact shows the fingerprint
/// and asks (or compares with `--trust`), then pins it.
async fn establish_trust(
    store: &Store,
    server: &Server,
    ca_file: Option<PathBuf>,
    expected: Option<&str>,
) -> Result<Tls, ClientError> {
    let tls = Tls::new(Trust::for_server(store, &server.key(), ca_file.as_deref())?)?;
    match tls.check(&server.host, server.port).await {
        Ok(()) => return Ok(tls),
        Err(ClientError::Untrusted { fingerprint }) => {
            let accepted = match expected {
                Some(fp) => fp.eq_ignore_ascii_case(&fingerprint),
                None if std::io::stdin().is_terminal() => {
                    eprintln!("The authenticity of {} can't be established.", server.key());
                    eprintln!(
                        "Its certificate authority's SHA-256 fingerprint is\n{}",
                        grouped(&fingerprint)
                    );
                    eprintln!("Compare it with the one `securechat-server` printed.");
                    let answer = prompt_line("Trust this server and remember it? [y/N] ")?;
                    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
                }
                None => false,
            };
            if !accepted {
                return Err(ClientError::Untrusted { fingerprint });
            }
            let pin = tls
                .offered_pin()
                .ok_or_else(|| ClientError::Protocol("no certificate offered".into()))?;
            store.save_pin(&server.key(), pin)?;
            eprintln!(
                "Pinned {} in {}",
                server.key(),
                store.dir().join("known_servers.json").display()
            );
        }
        Err(e) => return Err(e),
    }
    let tls = Tls::new(Trust::for_server(store, &server.key(), None)?)?;
    tls.check(&server.host, server.port).await?;
    Ok(tls)
}

fn prompt_line(prompt: &str) -> Result<String, ClientError> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    Ok(stdin_line()?.trim().to_owned())
}

/// One line of standard input, without its line ending (a password may
/// start or end with spaces).
pub(crate) fn stdin_line() -> Result<String, ClientError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| ClientError::Usage(format!("reading standard input: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) fn prompt_password(prompt: &str) -> Result<String, ClientError> {
    if !std::io::stdin().is_terminal() {
        return Err(ClientError::Usage(
            "a password is needed: run in a terminal, or use --password-stdin".into(),
        ));
    }
    rpassword::prompt_password(prompt).map_err(|e| ClientError::Usage(e.to_string()))
}
