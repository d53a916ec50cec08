//! File bytes on disk: `DATA_DIR/files/ab/abcdef…` named by SHA-256, so the
//! same content is stored once.
//!
//! An upload streams into `DATA_DIR/files/tmp/` while it is hashed and
//! counted; past the size limit, or if the body breaks off, the temporary
//! file is deleted (a guard deletes it on every early return). Only a
//! complete upload is moved into place. A sweep deletes blobs that no file
//! row uses any more (their messages were deleted), except while a backup
//! runs.

use crate::store::{Store, StoreError, files};
use futures_util::{Stream, StreamExt};
pub use securechat_proto::validate::sniff_image;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

/// An upload that failed.
#[derive(Debug, Error)]
pub enum UploadError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload broke off")]
    Interrupted,
    #[error("storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A complete upload, stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub size: u64,
    /// PNG, JPEG, GIF or WebP by its first bytes.
    pub image: Option<&'static str>,
}

/// Where blobs live.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

/// Deletes a temporary file unless it was kept.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates `dir` and its missing parents with mode 0700.
async fn private_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(crate::datadir::DIR_MODE)
        .create(dir)
        .await
}

impl Blobs {
    pub fn new(data_dir: &Path) -> Blobs {
        Blobs {
            root: data_dir.join("files"),
        }
    }

    /// Where the blob with this hash is.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Streams `body` to disk, at most `limit` bytes.
    pub async fn store<S, E>(&self, mut body: S, limit: u64) -> Result<Stored, UploadError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    {
        private_dir(&self.tmp_dir()).await?;
        let name: [u8; 16] = rand::random();
        let tmp_path = self.tmp_dir().join(securechat_proto::digest::hex(&name));
        let mut guard = TempFile(Some(tmp_path.clone()));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::datadir::FILE_MODE)
            .open(&tmp_path)
            .await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head = Vec::with_capacity(16);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| UploadError::Interrupted)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(UploadError::TooLarge { limit });
            }
            if head.len() < 16 {
                head.extend_from_slice(&chunk[..chunk.len().min(16 - head.len())]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        drop(file);
        let sha256: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dest = self.path(&sha256);
        if tokio::fs::try_exists(&dest).await? {
            // Same content stored before: keep one copy.
        } else {
            private_dir(dest.parent().expect("has a parent")).await?;
            tokio::fs::rename(&tmp_path, &dest).await?;
            guard.0 = None;
        }
        Ok(Stored {
            sha256,
            size,
            image: sniff_image(&head),
        })
    }

    /// Deletes blobs that no file row needs; returns how many. Nothing,
    /// while a backup copies blobs (see [`crate::backup`]).
    pub async fn sweep(&self, store: &Store) -> Result<usize, StoreError> {
        if crate::backup::sweep_held(&self.root) {
            return Ok(0);
        }
        let live = store.read(files::live_hashes).await?;
        let root = self.root.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut n = 0;
            let Ok(dirs) = std::fs::read_dir(&root) else {
                return 0;
            };
            for dir in dirs.flatten() {
                if dir.file_name() == "tmp" || !dir.path().is_dir() {
                    continue;
                }
                for blob in std::fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let name = blob.file_name().to_string_lossy().into_owned();
                    if !live.contains(&name) && std::fs::remove_file(blob.path()).is_ok() {
                        n += 1;
                    }
                }
            }
            n
        })
        .await
        .unwrap_or(0);
        Ok(removed)
    }
}
