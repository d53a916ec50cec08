//! The data directory: private to the server's user, and served by one
//! server at a time.
//!
//! - [`create_private`]: the directory is created with mode 0700; an
//!   existing one, and everything in it, is tightened at start (directories
//!   0700, files 0600) with a log line, whatever the umask was. New files
//!   are created 0600 by whoever writes them (the database here, uploads in
//!   [`crate::files`], keys and certificates in [`crate::tls`]); SQLite
//!   gives its `-wal` and `-shm` files the database file's mode.
//! - [`DataDirLock`]: an exclusive lock on `securechat.lock` in the data
//!   directory, held while a server runs; a second server on the same
//!   directory refuses to start and names the holder's pid. Operator
//!   commands (`user add`, …) do not take it: SQLite lets them write while
//!   the server runs.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Mode of every directory the server makes.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the server makes.
pub const FILE_MODE: u32 = 0o600;
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "securechat.lock";

/// The data directory cannot be used.
#[derive(Debug, Error)]
pub enum DataDirError {
    #[error("cannot prepare data directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(
        "data directory {dir} is in use by another securechat-server (pid {pid}); \
         stop it first, or give this one another --data-dir"
    )]
    InUse { dir: PathBuf, pid: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |e| DataDirError::Io(path.to_owned(), e)
}

/// Creates `dir` (and missing parents) with mode 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `dir` private, or tightens an existing one and everything in
/// it; returns how many entries had to be tightened.
pub fn create_private(dir: &Path) -> Result<usize, DataDirError> {
    create_dir(dir).map_err(io(dir))?;
    let fixed = tighten(dir).map_err(io(dir))?;
    if fixed > 0 {
        tracing::warn!(
            dir = %dir.display(),
            entries = fixed,
            "data directory was readable by others: set directories to 0700 and files to 0600"
        );
    }
    Ok(fixed)
}

/// Sets `path` (not following symlinks) and what is under it to the
/// private modes; counts the entries changed.
fn tighten(path: &Path) -> std::io::Result<usize> {
    let meta = fs::symlink_metadata(path)?;
    let want = if meta.is_dir() {
        DIR_MODE
    } else if meta.is_file() {
        FILE_MODE
    } else {
        return Ok(0); // symlinks, sockets: left alone
    };
    let mut fixed = 0;
    if meta.permissions().mode() & 0o777 != want {
        fs::set_permissions(path, Permissions::from_mode(want))?;
        fixed += 1;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            fixed += tighten(&entry?.path())?;
        }
    }
    Ok(fixed)
}

/// Creates `path` empty with mode 0600 if it does not exist yet.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The data directory's exclusive lock; released when dropped (or when the
/// process ends, however it ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock of `dir` and writes this process's pid into it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, DataDirError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(DataDirError::InUse {
                    dir: dir.to_owned(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.into()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        file.set_len(0).map_err(io(&path))?;
        file.rewind().map_err(io(&path))?;
        writeln!(file, "{}", std::process::id()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_open_data_dir_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fs::create_dir_all(dir.join("files/ab")).unwrap();
        fs::write(dir.join("files/ab/abc"), b"x").unwrap();
        fs::write(dir.join("securechat.db"), b"x").unwrap();
        for p in [&dir, &dir.join("files"), &dir.join("files/ab")] {
            fs::set_permissions(p, Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(dir.join("securechat.db"), Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(dir.join("files/ab/abc"), Permissions::from_mode(0o644)).unwrap();
        assert_eq!(create_private(&dir).unwrap(), 5);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("files/ab")), 0o700);
        assert_eq!(mode(&dir.join("securechat.db")), 0o600);
        assert_eq!(mode(&dir.join("files/ab/abc")), 0o600);
        assert_eq!(create_private(&dir).unwrap(), 0, "nothing left to fix");
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again once dropped");
    }
}
