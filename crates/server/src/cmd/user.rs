//! `securechat-server user …`: accounts from the command line, on the
//! data directory (or database) of the configuration, while the server
//! runs or not.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use securechat_server::accounts;
use securechat_server::auth::password::{Hasher, Priority};
use securechat_server::config::Config;
use securechat_server::store::{Store, users};
use std::io::{BufRead, IsTerminal};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user; asks for the password (hidden).
    Add {
        username: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create a bot account (no password) and print its API token.
    AddBot {
        username: String,
        /// Shown instead of the username.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Set a user's password; ends all their sessions.
    Passwd {
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: they cannot log in and their sessions end.
    Disable { username: String },
    /// Re-enable a disabled user.
    Enable { username: String },
    /// Print a one-time link (24 hours) for the user to choose a new
    /// password; an earlier link stops working.
    ResetLink { username: String },
    /// Make a user an administrator.
    Promote { username: String },
    /// Make an administrator an ordinary user (not the last one).
    Demote { username: String },
    /// List users.
    List,
}

/// Runs a `user` subcommand on the store of `config`.
pub async fn run(cmd: UserCmd, config: &Config) -> Result<()> {
    let store = crate::open_store(config)?;
    let hasher = Hasher::new(1);
    let result = match cmd {
        UserCmd::Add {
            username,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            let user = accounts::create_user(
                &store,
                &hasher,
                &username,
                password,
                Some(admin),
                None,
                Priority::Interactive,
            )
            .await?;
            println!(
                "created {}{}",
                user.username,
                if user.is_admin { " (admin)" } else { "" }
            );
            Ok(())
        }
        UserCmd::AddBot {
            username,
            display_name,
        } => {
            let bot = securechat_server::integrations::create_bot(
                &store,
                &username,
                display_name.as_deref(),
            )
            .await?;
            println!("{}", bot.token.token);
            eprintln!(
                "created the bot {}; the line above is its API token (read, write), shown once: \
                 use it as `Authorization: Bearer TOKEN`",
                bot.username
            );
            Ok(())
        }
        UserCmd::Passwd {
            username,
            password_stdin,
        } => {
            let user = find(&store, &username).await?;
            if user.is_bot {
                anyhow::bail!("{} is a bot: it has no password", user.username);
            }
            let password = read_password(password_stdin, true)?;
            let ended = accounts::set_password(&store, &hasher, user.id, password, None).await?;
            println!(
                "password changed for {}; {} session(s) ended",
                user.username,
                ended.len()
            );
            Ok(())
        }
        UserCmd::Disable { username } => {
            let user = find(&store, &username).await?;
            let ended = accounts::set_disabled(&store, user.id, true).await?;
            println!(
                "disabled {}; {} session(s) ended",
                user.username,
                ended.len()
            );
            Ok(())
        }
        UserCmd::Enable { username } => {
            let user = find(&store, &username).await?;
            accounts::set_disabled(&store, user.id, false).await?;
            println!("enabled {}", user.username);
            Ok(())
        }
        UserCmd::ResetLink { username } => {
            let user = find(&store, &username).await?;
            if user.is_bot {
                anyhow::bail!("{} is a bot: it has no password", user.username);
            }
            let (token, expires) = accounts::create_reset_link(&store, user.id, None).await?;
            let host = config
                .hostnames
                .first()
                .map(|h| {
                    if h.contains(':') {
                        format!("[{h}]")
                    } else {
                        h.clone()
                    }
                })
                .unwrap_or_else(|| "localhost".into());
            let port = match config.bind.port() {
                443 => String::new(),
                p => format!(":{p}"),
            };
            println!("https://{host}{port}/#reset={token}");
            eprintln!(
                "a password reset link for {}: it works once, until {}; send it to them privately",
                user.username,
                securechat_proto::Timestamp(expires)
            );
            Ok(())
        }
        UserCmd::Promote { username } => {
            let user = find(&store, &username).await?;
            if user.is_bot {
                anyhow::bail!("{} is a bot: a bot cannot be an admin", user.username);
            }
            accounts::set_admin(&store, user.id, true).await?;
            println!("{} is now an admin", user.username);
            Ok(())
        }
        UserCmd::Demote { username } => {
            let user = find(&store, &username).await?;
            accounts::set_admin(&store, user.id, false).await?;
            println!("{} is no longer an admin", user.username);
            Ok(())
        }
        UserCmd::List => {
            let list = store.read(users::list).await?;
            println!(
                "{:<32} {:<6} {:<9} last seen",
                "username", "admin", "disabled"
            );
            for u in list {
                let seen = u
                    .last_seen
                    .map(|t| securechat_proto::Timestamp(t).to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:<32} {:<6} {:<9} {seen}",
                    u.username,
                    if u.is_admin { "yes" } else { "no" },
                    if u.disabled { "yes" } else { "no" }
                );
            }
            Ok(())
        }
    };
    tokio::task::block_in_place(|| store.close());
    result
}

async fn find(store: &Store, username: &str) -> Result<users::UserRecord> {
    accounts::find_user(store, username)
        .await?
        .with_context(|| format!("no user named {username:?}"))
}

/// Reads a password hidden from the terminal (twice), or one line of stdin.
fn read_password(from_stdin: bool, confirm: bool) -> Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    if confirm && rpassword::prompt_password("Repeat password: ")? != first {
        bail!("the passwords do not match");
    }
    Ok(first)
}
