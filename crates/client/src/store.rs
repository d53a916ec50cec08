//! The client's files, in one directory (`$XDG_CONFIG_HOME/securechat` or
//! `~/.config/securechat` unless `--config-dir` says otherwise):
//!
//! - `session.json`: server URL, username and session token (mode 0600);
//! - `known_servers.json`: per `host:port`, the pinned certificate
//!   authority (its SHA-256 fingerprint and PEM);
//! - `e2e.json`: this login's end-to-end encryption device (its secrets
//!   sealed with a key kept beside them: the file is as private as the
//!   session token, mode 0600).

use crate::ClientError;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    pub url: String,
    pub username: String,
    pub token: String,
}

/// A pinned certificate authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub fingerprint: String,
    pub pem: String,
}

/// The client's directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::File {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// `dir`, or the default config directory.
    pub fn new(dir: Option<PathBuf>) -> Result<Store, ClientError> {
        let dir = match dir {
            Some(d) => d,
            None => {
                let base = std::env::var_os("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                    .ok_or_else(|| ClientError::Usage("set HOME or --config-dir".into()))?;
                base.join("securechat")
            }
        };
        Ok(Store { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the JSON file `name` of this directory, if it exists.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ClientError> {
        self.read(name)
    }

    /// Writes the JSON file `name` whole, mode 0600.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ClientError> {
        self.write(name, value)
    }

    fn read<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ClientError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Protocol(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_err(&path)(e)),
        }
    }

    /// Writes `name` whole (temp file + rename), readable by the owner only.
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ClientError> {
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(file_err(&self.dir))?;
        }
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(file_err(&tmp))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(file_err(&tmp))?;
        let json = serde_json::to_vec_pretty(value).expect("serializable");
        f.write_all(&json).map_err(file_err(&tmp))?;
        f.sync_all().map_err(file_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(file_err(&path))
    }

    pub fn session(&self) -> Result<Option<SavedSession>, ClientError> {
        self.read("session.json")
    }

    pub fn save_session(&self, s: &SavedSession) -> Result<(), ClientError> {
        self.write("session.json", s)
    }

    pub fn clear_session(&self) -> Result<(), ClientError> {
        let path = self.dir.join("session.json");
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(file_err(&path)(e)),
            _ => Ok(()),
        }
    }

    fn pins(&self) -> Result<BTreeMap<String, Pin>, ClientError> {
        Ok(self.read("known_servers.json")?.unwrap_or_default())
    }

    /// The pin for `server` (`host:port`).
    pub fn pin(&self, server: &str) -> Result<Option<Pin>, ClientError> {
        Ok(self.pins()?.remove(server))
    }

    pub fn save_pin(&self, server: &str, pin: Pin) -> Result<(), ClientError> {
        let mut pins = self.pins()?;
        pins.insert(server.to_owned(), pin);
        self.write("known_servers.json", &pins)
    }

    /// Removes the pin for `server`; false if there was none.
    pub fn forget(&self, server: &str) -> Result<bool, ClientError> {
        let mut pins = self.pins()?;
        let had = pins.remove(server).is_some();
        self.write("known_servers.json", &pins)?;
        Ok(had)
    }
}
