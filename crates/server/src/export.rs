//! Data exports as JSON and files: the whole server
//! (`securechat-server export DEST`), or one user's own data
//! (`export DEST --user NAME`, or `GET /api/me/export` as a zip).
//!
//! Layout (a directory, or the same paths in a zip):
//!
//! - `export.json`: what it is (`scope` `server` or `user`), when, counts;
//! - `users.json`: users with their profiles (never password hashes);
//! - `rooms.json`: rooms with their members;
//! - `rooms/ID.jsonl`: a room's events, oldest first, one per line, each
//!   exactly the frame the WebSocket sends for it (docs/protocol.md); for
//!   a user's export, only their own messages;
//! - `files/SHA256`: the bytes of every file those events carry.
//!
//! Messages of end-to-end encrypted rooms are ciphertext here too.

use crate::store::events::{self, Stored};
use crate::store::users::UserRecord;
use crate::store::{Store, StoreError, profiles, rooms};
use securechat_proto::{RoomId, Seq, ServerMsg, Timestamp, UserId};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Events read per query.
const PAGE: usize = 1000;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("{0} exists and is not empty: export into a new directory")]
    NotEmpty(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an export holds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub users: u64,
    pub rooms: u64,
    pub events: u64,
    pub files: u64,
}

/// Where an export's files go.
pub trait Sink {
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), ExportError>;
    fn put_file(&mut self, path: &str, from: &Path) -> Result<(), ExportError>;
}

/// A new directory.
pub struct DirSink(PathBuf);

impl DirSink {
    pub fn create(dir: &Path) -> Result<DirSink, ExportError> {
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(ExportError::NotEmpty(dir.to_owned()));
        }
        crate::datadir::create_dir(dir).map_err(|e| ExportError::Io(dir.to_owned(), e))?;
        Ok(DirSink(dir.to_owned()))
    }

    fn path(&self, path: &str) -> Result<PathBuf, ExportError> {
        let full = self.0.join(path);
        if let Some(parent) = full.parent() {
            crate::datadir::create_dir(parent)
                .map_err(|e| ExportError::Io(parent.to_owned(), e))?;
        }
        Ok(full)
    }
}

impl Sink for DirSink {
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), ExportError> {
        use std::os::unix::fs::OpenOptionsExt;
        let full = self.path(path)?;
        let io = |e| ExportError::Io(full.clone(), e);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::datadir::FILE_MODE)
            .open(&full)
            .map_err(io)?;
        out.write_all(bytes).map_err(io)
    }

    fn put_file(&mut self, path: &str, from: &Path) -> Result<(), ExportError> {
        let bytes = std::fs::read(from).map_err(|e| ExportError::Io(from.to_owned(), e))?;
        self.put(path, &bytes)
    }
}

/// A zip archive being written.
pub struct ZipSink<W: Write + std::io::Seek>(zip::ZipWriter<W>);

impl<W: Write + std::io::Seek> ZipSink<W> {
    pub fn new(out: W) -> Self {
        ZipSink(zip::ZipWriter::new(out))
    }

    pub fn finish(self) -> Result<W, ExportError> {
        Ok(self.0.finish()?)
    }

    fn start(&mut self, path: &str) -> Result<(), ExportError> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o600);
        Ok(self.0.start_file(path, options)?)
    }
}

impl<W: Write + std::io::Seek> Sink for ZipSink<W> {
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), ExportError> {
        self.start(path)?;
        self.0
            .write_all(bytes)
            .map_err(|e| ExportError::Io(path.into(), e))
    }

    fn put_file(&mut self, path: &str, from: &Path) -> Result<(), ExportError> {
        self.start(path)?;
        let mut input = std::fs::File::open(from).map_err(|e| ExportError::Io(from.into(), e))?;
        std::io::copy(&mut input, &mut self.0).map_err(|e| ExportError::Io(from.into(), e))?;
        Ok(())
    }
}

#[derive(Serialize)]
struct UserOut {
    id: UserId,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    is_admin: bool,
    is_bot: bool,
    disabled: bool,
}

#[derive(Serialize)]
struct RoomOut {
    id: RoomId,
    kind: securechat_proto::ws::RoomKind,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    members: Vec<String>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: u32,
    version: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    created_at: Timestamp,
    counts: &'a Counts,
}

fn json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("plain data serializes")
}

/// Writes an export of everything (`only` unset) or of `only`'s own data
/// into `sink`, with file bytes from `blobs`.
pub async fn export(
    store: &Store,
    blobs: &crate::files::Blobs,
    only: Option<&UserRecord>,
    sink: &mut (dyn Sink + Send),
) -> Result<Counts, ExportError> {
    let mut counts = Counts::default();
    let only_id = only.map(|u| u.id);
    let people = store.read(profiles::everyone).await?;
    let users: Vec<UserOut> = people
        .into_iter()
        .filter(|(u, _)| only_id.is_none_or(|id| id == u.id))
        .map(|(u, p)| UserOut {
            id: u.id,
            username: u.username,
            display_name: p.display_name,
            status: p.status,
            is_admin: u.is_admin,
            is_bot: u.is_bot,
            disabled: u.disabled,
        })
        .collect();
    counts.users = users.len() as u64;
    sink.put("users.json", &json(&users))?;

    let all_rooms = store
        .read(move |c| {
            let ids: Vec<i64> = match only_id {
                None => c.query_map("SELECT id FROM rooms ORDER BY id", (), |r| r.get(0))?,
                Some(u) => c.query_map(
                    "SELECT room_id FROM members WHERE user_id = ?1 ORDER BY room_id",
                    [u.0],
                    |r| r.get(0),
                )?,
            };
            let mut out = Vec::new();
            for id in ids {
                if let Some(row) = rooms::by_id(c, RoomId(id))? {
                    let members = rooms::member_names(c, row.id)?;
                    out.push(RoomOut {
                        id: row.id,
                        kind: row.kind,
                        name: row.name,
                        topic: row.topic,
                        members,
                    });
                }
            }
            Ok::<_, StoreError>(out)
        })
        .await?;
    counts.rooms = all_rooms.len() as u64;
    sink.put("rooms.json", &json(&all_rooms))?;

    let mut hashes = BTreeSet::new();
    let own_name = only.map(|u| u.username.clone());
    for room in &all_rooms {
        let mut lines = Vec::new();
        let mut after: Seq = 0;
        loop {
            let id = room.id;
            let page = store
                .read(move |c| events::range(c, id, after, Seq::MAX, PAGE))
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for Stored { msg, .. } in page {
                if let Some(name) = &own_name {
                    let mine = matches!(&msg, ServerMsg::Message(m) if &m.from == name);
                    if !mine {
                        continue;
                    }
                }
                if let ServerMsg::Message(m) = &msg
                    && let Some(f) = &m.file
                {
                    hashes.insert(f.sha256.clone());
                }
                lines.extend_from_slice(msg.to_json().as_bytes());
                lines.push(b'\n');
                counts.events += 1;
            }
        }
        sink.put(&format!("rooms/{}.jsonl", room.id.0), &lines)?;
    }
    for hash in &hashes {
        let path = blobs.path(hash);
        if path.exists() {
            sink.put_file(&format!("files/{hash}"), &path)?;
            counts.files += 1;
        }
    }
    let manifest = Manifest {
        format: 1,
        version: env!("CARGO_PKG_VERSION"),
        scope: if only.is_some() { "user" } else { "server" },
        user: only.map(|u| u.username.as_str()),
        created_at: Timestamp::now(),
        counts: &counts,
    };
    sink.put("export.json", &json(&manifest))?;
    Ok(counts)
}
