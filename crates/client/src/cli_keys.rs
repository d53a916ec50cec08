//! `securechat keys …` and `securechat dm`: this login's encryption
//! device, the key backup, verifying other people's devices. (Part of the
//! binary, beside `main.rs`.)

use securechat_client::ClientError;
use securechat_client::api::Api;
use securechat_client::e2e::{Crypto, Shared};
use securechat_client::store::Store;
use securechat_crypto::{RecoveryKey, safety_code};
use securechat_proto::DeviceId;
use securechat_proto::e2e::Devices;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Start a key backup: prints a new recovery key (keep it safe), or
    /// uses a passphrase from standard input. Every room key this device
    /// holds, and every one it gets from now on, is sealed into it.
    Backup {
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Read old messages on this device: restore the room keys of the
    /// backup with the recovery key (or the passphrase from standard
    /// input).
    Restore {
        #[arg(long, conflicts_with = "passphrase_stdin")]
        key: Option<String>,
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Your devices (logins), this one marked.
    Devices,
    /// Remove one of your devices (it is logged out and gets no new keys).
    Remove { device: i64 },
    /// The safety code of each of USER's devices with this one: compare it
    /// with theirs (in person, on a call) before you trust them.
    Verify {
        user: String,
        /// Mark the device as verified (after the codes matched).
        #[arg(long)]
        trust: Option<i64>,
    },
}

/// This login's device, or `None` (with a warning) when it cannot be
/// opened: plain rooms still work.
pub async fn device(store: &Store, api: Api, username: &str) -> Option<Shared> {
    match Crypto::open(store, api, username).await {
        Ok(c) => Some(Arc::new(tokio::sync::Mutex::new(c))),
        Err(e) => {
            eprintln!("securechat: end-to-end encryption is unavailable: {e}");
            None
        }
    }
}

pub async fn run(
    cmd: KeysCommand,
    store: &Store,
    api: Api,
    username: &str,
) -> Result<(), ClientError> {
    let mut c = Crypto::open(store, api.clone(), username).await?;
    match cmd {
        KeysCommand::Backup { passphrase_stdin } => {
            let (key, salt, shown) = if passphrase_stdin {
                let pass = crate::stdin_line()?;
                if pass.chars().count() < 12 {
                    return Err(ClientError::Usage(
                        "a passphrase needs at least 12 characters".into(),
                    ));
                }
                let salt = RecoveryKey::new_salt().map_err(crypto)?;
                (
                    RecoveryKey::from_passphrase(&pass, &salt).map_err(crypto)?,
                    Some(salt),
                    None,
                )
            } else {
                let key = RecoveryKey::generate().map_err(crypto)?;
                let shown = key.to_display();
                (key, None, Some(shown))
            };
            let n = c.new_backup(key, salt).await?;
            if let Some(shown) = shown {
                println!(
                    "Your recovery key (write it down; without it, a new device cannot read old messages):"
                );
                println!();
                println!("    {shown}");
                println!();
            }
            println!("key backup started: {n} room keys sealed");
        }
        KeysCommand::Restore {
            key,
            passphrase_stdin,
        } => {
            let key = match (key, passphrase_stdin) {
                (Some(k), _) => RecoveryKey::parse(&k).map_err(crypto)?,
                (None, true) => {
                    let pass = crate::stdin_line()?;
                    let salt = c.backup_salt().await?.ok_or_else(|| {
                        ClientError::Usage(
                            "the backup was made with a recovery key: pass --key".into(),
                        )
                    })?;
                    RecoveryKey::from_passphrase(&pass, &salt).map_err(crypto)?
                }
                (None, false) => {
                    let typed = crate::prompt_password("Recovery key: ")?;
                    RecoveryKey::parse(&typed).map_err(crypto)?
                }
            };
            let n = c.restore(key).await?;
            println!("restored {n} room keys from the backup");
        }
        KeysCommand::Devices => {
            let mine: Devices = api.devices().await?;
            for d in mine.devices {
                let this = if d.device == c.device() {
                    "  (this device)"
                } else {
                    ""
                };
                println!("device {:<6} ed25519 {}{this}", d.device, d.ed25519);
            }
        }
        KeysCommand::Remove { device } => {
            api.remove_device(DeviceId(device)).await?;
            println!("device {device} removed");
        }
        KeysCommand::Verify { user, trust } => {
            let theirs = api.query_keys(&user).await?;
            if theirs.devices.is_empty() {
                return Err(ClientError::Usage(format!(
                    "{user} has no device with keys"
                )));
            }
            let me = c.machine().device_keys();
            for d in &theirs.devices {
                let code = safety_code(&me, d);
                let changed = c
                    .machine()
                    .known_device(d.device)
                    .is_some_and(|k| k.ed25519 != d.ed25519);
                let mark = if changed {
                    "  KEYS CHANGED since first seen!"
                } else if c.machine().is_verified(d.device) {
                    "  (verified)"
                } else {
                    ""
                };
                println!("{user}'s device {}{mark}", d.device);
                println!("    {}", code.emoji.join(" "));
                println!("    {}", code.digits);
            }
            if let Some(id) = trust {
                c.verify(&theirs.devices, DeviceId(id))?;
                println!("device {id} of {user} marked verified");
            }
        }
    }
    Ok(())
}

fn crypto(e: securechat_crypto::Error) -> ClientError {
    ClientError::Crypto(e.to_string())
}
