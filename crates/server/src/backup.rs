//! Backup and restore of an installation on SQLite, while it runs.
//!
//! [`backup`] writes a new directory:
//!
//! - `securechat.db`: `VACUUM INTO` from a read-only connection, one
//!   consistent snapshot (every transaction committed before it began, so
//!   every acknowledged message, and nothing half-written), taken while
//!   the server goes on writing;
//! - `files/ab/abcdef…`: the blobs the snapshot's file rows use, each one
//!   checked against its SHA-256 name as it is copied. While a backup
//!   runs, a marker file in `DATA_DIR/files` holds back the server's sweep
//!   of unused blobs, so none the snapshot names disappears under it;
//! - `tls/`: the built-in CA and its certificate (the CA key is what
//!   clients pinned: without it, every client would have to trust a new
//!   one);
//! - `backup.json`: the [`Manifest`], with the database's SHA-256.
//!
//! [`restore`] checks all of that (the manifest, the database's hash and
//! `PRAGMA integrity_check`, every blob's hash) before it writes anything
//! into the data directory, which must hold no database yet; it takes the
//! data directory's lock, so no server runs on it meanwhile.
//!
//! PostgreSQL installations back up their database with `pg_dump`, and
//! copy `files/` and `tls/` by hand (docs/deployment.md).

use crate::config::Config;
use crate::datadir::{self, DIR_MODE, FILE_MODE};
use crate::files::Blobs;
use crate::store::{Db, StoreError, events, files, rooms, users};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// The manifest's name in a backup.
pub const MANIFEST: &str = "backup.json";
/// The prefix of the marker files that hold back the blob sweep.
pub const SWEEP_HOLD_PREFIX: &str = ".backup-running-";
/// A marker older than this is left over from a backup that died: the
/// sweep no longer waits for it.
pub const SWEEP_HOLD_MAX_AGE: Duration = Duration::from_secs(6 * 3600);
const DB_FILE: &str = "securechat.db";
const READ_WRITE: rusqlite::OpenFlags =
    rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE.union(rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX);
const READ_ONLY: rusqlite::OpenFlags =
    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY.union(rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX);
const FORMAT: u32 = 1;

/// Why a backup or a restore failed.
#[derive(Debug, Error)]
pub enum BackupError {
    #[error(
        "this installation keeps its database in PostgreSQL: back it up with \
         `pg_dump --format=custom` (and restore with `pg_restore`), and copy \
         the data directory's files/ and tls/ as they are (see docs/deployment.md)"
    )]
    Postgres,
    #[error("no database at {0}: is --data-dir right?")]
    NoDatabase(PathBuf),
    #[error("{0} already exists and is not empty: back up into a new directory")]
    DestinationNotEmpty(PathBuf),
    #[error(
        "{0} already holds a database: restore into a new, empty data directory \
         (or move this one away first)"
    )]
    DataDirInUse(PathBuf),
    #[error("{0} is not a SecureChat backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("the backup is damaged: {0}; nothing was restored")]
    Damaged(String),
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(path.to_owned(), e)
}

/// What a backup holds, in `backup.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's format (1).
    pub format: u32,
    /// The server version that wrote it.
    pub version: String,
    /// When the snapshot began, in Unix milliseconds.
    pub created_at_ms: u64,
    /// SHA-256 (hex) of `securechat.db`.
    pub database_sha256: String,
    pub database_bytes: u64,
    pub users: u64,
    pub rooms: u64,
    pub messages: u64,
    /// Blobs copied (`files/`), and their bytes.
    pub files: u64,
    pub file_bytes: u64,
    /// Blobs the snapshot names that were missing or damaged on disk: the
    /// rows are kept, the bytes could not be.
    #[serde(default)]
    pub missing_files: Vec<String>,
    /// Whether `tls/` (the built-in CA) is in it.
    pub tls: bool,
}

/// Writes a backup of `config`'s installation into `dest` (new or empty).
pub fn backup(config: &Config, dest: &Path) -> Result<Manifest, BackupError> {
    if config.database.is_some() {
        return Err(BackupError::Postgres);
    }
    let source = config.db_path();
    if !source.exists() {
        return Err(BackupError::NoDatabase(source));
    }
    if dest.exists() && fs::read_dir(dest).map_err(io_at(dest))?.next().is_some() {
        return Err(BackupError::DestinationNotEmpty(dest.to_owned()));
    }
    // Private before anything lands in it.
    datadir::create_private(dest)?;
    let _hold = SweepHold::new(&config.data_dir.join("files"))?;

    let created_at_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let snapshot = dest.join(DB_FILE);
    {
        // Read-write (never created) so a WAL database opens whether or not
        // a server runs; VACUUM INTO only reads it.
        let conn = rusqlite::Connection::open_with_flags(&source, READ_WRITE)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.execute("VACUUM INTO ?1", [snapshot.to_string_lossy().as_ref()])?;
        // One self-contained file (no -wal beside it), readable from
        // read-only media.
        let out = rusqlite::Connection::open_with_flags(&snapshot, READ_WRITE)?;
        let _: String = out.query_row("PRAGMA journal_mode=DELETE", (), |r| r.get(0))?;
    }
    datadir::create_private(dest)?; // the new file: 0600 whatever the umask
    let (users, rooms, messages, hashes) = read_snapshot(&snapshot)?;

    // The blobs the snapshot uses, checked as they are copied.
    let from = Blobs::new(&config.data_dir);
    let to = Blobs::new(dest);
    let mut hashes: Vec<String> = hashes.into_iter().collect();
    hashes.sort();
    let (mut files, mut file_bytes, mut missing_files) = (0, 0, Vec::new());
    for hash in hashes {
        match copy_checked(&from.path(&hash), &to.path(&hash), Some(&hash)) {
            Ok(n) => {
                files += 1;
                file_bytes += n;
            }
            Err(e) => {
                tracing::warn!(sha256 = %hash, error = %e, "a file the database names is missing or damaged: not in the backup");
                missing_files.push(hash);
            }
        }
    }

    let tls = copy_dir(&config.tls_dir(), &dest.join("tls"))?;
    // An ACME account and certificate, if any.
    copy_dir(&config.acme_dir(), &dest.join("acme"))?;
    let (database_sha256, database_bytes) = hash_file(&snapshot)?;
    let manifest = Manifest {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at_ms,
        database_sha256,
        database_bytes,
        users,
        rooms,
        messages,
        files,
        file_bytes,
        missing_files,
        tls,
    };
    let path = dest.join(MANIFEST);
    let mut out = private_file(&path)?;
    out.write_all(&serde_json::to_vec_pretty(&manifest).expect("a manifest serializes"))
        .and_then(|()| out.sync_all())
        .map_err(io_at(&path))?;
    sync_dir(dest)?;
    Ok(manifest)
}

/// Puts the backup in `src` into `config`'s data directory, which must
/// hold no database; checks everything first.
pub fn restore(config: &Config, src: &Path) -> Result<Manifest, BackupError> {
    if config.database.is_some() {
        return Err(BackupError::Postgres);
    }
    let manifest = read_manifest(src)?;
    let snapshot = src.join(DB_FILE);
    let (sha, bytes) = hash_file(&snapshot)?;
    if sha != manifest.database_sha256 || bytes != manifest.database_bytes {
        return Err(BackupError::Damaged(format!(
            "securechat.db does not match the SHA-256 in {MANIFEST}"
        )));
    }
    let check: String = rusqlite::Connection::open_with_flags(&snapshot, READ_ONLY)?.query_row(
        "PRAGMA integrity_check",
        (),
        |r| r.get(0),
    )?;
    if check != "ok" {
        return Err(BackupError::Damaged(format!(
            "securechat.db fails SQLite's integrity check: {check}"
        )));
    }
    let (_, _, _, hashes) = read_snapshot(&snapshot)?;
    let from = Blobs::new(src);
    for hash in &hashes {
        if manifest.missing_files.contains(hash) {
            continue;
        }
        let (got, _) = hash_file(&from.path(hash))
            .map_err(|_| BackupError::Damaged(format!("file {hash} is missing")))?;
        if &got != hash {
            return Err(BackupError::Damaged(format!(
                "file {hash} does not match its SHA-256"
            )));
        }
    }

    datadir::create_private(&config.data_dir)?;
    let _lock = datadir::DataDirLock::acquire(&config.data_dir)?;
    let target = config.db_path();
    if target.exists() {
        return Err(BackupError::DataDirInUse(config.data_dir.clone()));
    }
    // The database last, under a temporary name: a restore that stops
    // half-way leaves no database behind, and can simply be run again.
    let to = Blobs::new(&config.data_dir);
    for hash in &hashes {
        if !manifest.missing_files.contains(hash) {
            copy_checked(&from.path(hash), &to.path(hash), Some(hash))?;
        }
    }
    if manifest.tls {
        copy_dir(&src.join("tls"), &config.tls_dir())?;
    }
    copy_dir(&src.join("acme"), &config.acme_dir())?;
    let partial = config.data_dir.join("securechat.db.restoring");
    copy_checked(&snapshot, &partial, None)?;
    fs::rename(&partial, &target).map_err(io_at(&target))?;
    sync_dir(&config.data_dir)?;
    Ok(manifest)
}

/// Reads and checks `src/backup.json`.
pub fn read_manifest(src: &Path) -> Result<Manifest, BackupError> {
    let path = src.join(MANIFEST);
    let text = fs::read(&path)
        .map_err(|e| BackupError::NotABackup(src.to_owned(), format!("no {MANIFEST} ({e})")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::NotABackup(src.to_owned(), format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(BackupError::NotABackup(
            src.to_owned(),
            format!("format {} is not known to this version", manifest.format),
        ));
    }
    Ok(manifest)
}

/// Users, rooms, messages, and the blobs the file rows use, in a snapshot.
fn read_snapshot(
    path: &Path,
) -> Result<(u64, u64, u64, std::collections::HashSet<String>), BackupError> {
    let conn = rusqlite::Connection::open_with_flags(path, READ_ONLY)?;
    let db = Db::Sqlite(&conn);
    let (users, _) = users::counts(&db)?;
    Ok((
        users,
        rooms::count(&db)?,
        events::count_messages(&db)?,
        files::live_hashes(&db)?,
    ))
}

/// A marker in `files/` that holds back the blob sweep while it exists.
struct SweepHold(PathBuf);

impl SweepHold {
    fn new(files: &Path) -> Result<SweepHold, BackupError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(files)
            .map_err(io_at(files))?;
        let path = files.join(format!("{SWEEP_HOLD_PREFIX}{}", std::process::id()));
        private_file(&path)?;
        Ok(SweepHold(path))
    }
}

impl Drop for SweepHold {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether a backup holds back the sweep of `files` now.
pub fn sweep_held(files: &Path) -> bool {
    let Ok(entries) = fs::read_dir(files) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with(SWEEP_HOLD_PREFIX)
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < SWEEP_HOLD_MAX_AGE)
    })
}

fn private_file(path: &Path) -> Result<File, BackupError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_at(path))
}

/// Copies `from` to `to` (0600, parents 0700, synced), hashing it; with
/// `want`, the copy must have that SHA-256 or it is deleted and refused.
fn copy_checked(from: &Path, to: &Path, want: Option<&str>) -> Result<u64, BackupError> {
    if let Some(parent) = to.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(parent)
            .map_err(io_at(parent))?;
    }
    let mut input = File::open(from).map_err(io_at(from))?;
    let mut out = private_file(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io_at(from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_at(to))?;
        total += n as u64;
    }
    out.sync_all().map_err(io_at(to))?;
    if let Some(want) = want
        && securechat_proto::digest::hex(&hasher.finalize()) != want
    {
        let _ = fs::remove_file(to);
        return Err(BackupError::Damaged(format!(
            "{} does not match its SHA-256",
            from.display()
        )));
    }
    Ok(total)
}

/// Copies the regular files of `from` into `to`; false if `from` is absent.
fn copy_dir(from: &Path, to: &Path) -> Result<bool, BackupError> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(BackupError::Io(from.to_owned(), e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_at(from))?;
        if entry.file_type().map_err(io_at(from))?.is_file() {
            copy_checked(&entry.path(), &to.join(entry.file_name()), None)?;
        }
    }
    Ok(true)
}

/// SHA-256 (hex) and size of a file.
fn hash_file(path: &Path) -> Result<(String, u64), BackupError> {
    let mut input = File::open(path).map_err(io_at(path))?;
    let mut hasher = Sha256::new();
    let n = io::copy(&mut input, &mut hasher).map_err(io_at(path))?;
    Ok((securechat_proto::digest::hex(&hasher.finalize()), n))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_backup_holds_back_the_sweep_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        assert!(!sweep_held(&files), "no directory yet");
        let hold = SweepHold::new(&files).unwrap();
        assert!(sweep_held(&files));
        drop(hold);
        assert!(!sweep_held(&files));
        // A marker left by a backup that died long ago holds nothing.
        let stale = files.join(format!("{SWEEP_HOLD_PREFIX}1"));
        let f = private_file(&stale).unwrap();
        f.set_modified(SystemTime::now() - SWEEP_HOLD_MAX_AGE - Duration::from_secs(60))
            .unwrap();
        assert!(!sweep_held(&files));
    }
}
