//! `export` and `import-slack`: the server's data out as JSON and files,
//! and a Slack export in.

use anyhow::{Context, Result};
use securechat_server::config::Config;
use std::path::Path;

/// `export DEST [--user NAME]`.
pub async fn export(config: &Config, dest: &Path, user: Option<&str>) -> Result<()> {
    let store = config.open_store()?;
    let blobs = securechat_server::files::Blobs::new(&config.data_dir);
    let who = match user {
        Some(name) => Some(
            securechat_server::accounts::find_user(&store, name)
                .await?
                .with_context(|| format!("no user called {name}"))?,
        ),
        None => None,
    };
    let started = std::time::Instant::now();
    let mut sink = securechat_server::export::DirSink::create(dest)?;
    let counts = securechat_server::export::export(&store, &blobs, who.as_ref(), &mut sink).await?;
    tokio::task::block_in_place(|| store.close());
    println!(
        "exported {} users, {} rooms, {} events and {} files{} into {} in {:.1} s",
        counts.users,
        counts.rooms,
        counts.events,
        counts.files,
        who.map(|u| format!(" (what {} wrote)", u.username))
            .unwrap_or_default(),
        dest.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `import-slack FILE.zip`.
pub async fn import_slack(config: &Config, file: &Path) -> Result<()> {
    securechat_server::datadir::create_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store = config.open_store()?;
    let blobs = securechat_server::files::Blobs::new(&config.data_dir);
    let started = std::time::Instant::now();
    let r = securechat_server::import::slack(
        &store,
        &blobs,
        file,
        config.max_message_bytes,
        config.max_upload_bytes,
    )
    .await
    .with_context(|| format!("cannot import {}", file.display()))?;
    tokio::task::block_in_place(|| store.close());
    println!(
        "imported {} messages ({} reactions, {} files) in {:.1} s; users: {} new, {} already here; \
         rooms: {} new, {} already here; {} messages were there from a run before; {} skipped \
         (joins, topic changes, empty)",
        r.messages,
        r.reactions,
        r.files,
        started.elapsed().as_secs_f64(),
        r.users_created,
        r.users_matched,
        r.rooms_created,
        r.rooms_matched,
        r.already,
        r.skipped
    );
    if !r.new_people.is_empty() {
        eprintln!(
            "{} people were made without a password: send each a reset link \
             (securechat-server user reset-link NAME): {}",
            r.new_people.len(),
            r.new_people.join(", ")
        );
    }
    Ok(())
}
