//! Reading a Slack export zip: `users.json`, `channels.json` and one folder
//! per channel of `YYYY-MM-DD.json` message files, as Slack's export writes
//! them; file bytes, when the export has them, under
//! `__uploads/FILE_ID/NAME`. Every entry is read with a size limit (no zip
//! bomb), and at most [`MAX_ENTRIES`] entries.

use super::ImportError;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Entries an export may have.
pub const MAX_ENTRIES: usize = 200_000;
/// The largest JSON entry read.
const MAX_JSON: u64 = 64 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub topic: Option<Text>,
    #[serde(default)]
    pub purpose: Option<Text>,
    #[serde(default)]
    pub is_archived: bool,
}

#[derive(Debug, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub text: String,
    pub ts: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    #[serde(default)]
    pub files: Vec<File>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reaction {
    pub name: String,
    #[serde(default)]
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
}

/// Slack's `ts` (`"1512085950.000216"`: seconds, a dot, microseconds) as
/// milliseconds, and as a key that sorts in time order.
pub fn ts_millis(ts: &str) -> Option<(i64, (i64, i64))> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    Some((secs * 1000 + micros / 1000, (secs, micros)))
}

/// An opened export.
pub struct Export {
    zip: zip::ZipArchive<std::fs::File>,
    /// Every entry's name.
    names: Vec<String>,
    pub users: Vec<User>,
    pub channels: Vec<Channel>,
}

impl Export {
    pub fn open(path: &Path) -> Result<Export, ImportError> {
        let file = std::fs::File::open(path).map_err(|e| ImportError::Io(path.into(), e))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| ImportError::NotSlack(format!("not a zip file: {e}")))?;
        if zip.len() > MAX_ENTRIES {
            return Err(ImportError::NotSlack(format!(
                "{} entries: more than {MAX_ENTRIES}",
                zip.len()
            )));
        }
        let users = json(&mut zip, "users.json")?
            .ok_or_else(|| ImportError::NotSlack("users.json is missing".into()))?;
        let channels = json(&mut zip, "channels.json")?
            .ok_or_else(|| ImportError::NotSlack("channels.json is missing".into()))?;
        let names = zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .collect();
        Ok(Export {
            zip,
            names,
            users,
            channels,
        })
    }

    /// A channel's messages, oldest first.
    pub fn messages(&mut self, channel: &str) -> Result<Vec<Message>, ImportError> {
        let prefix = format!("{channel}/");
        let mut names: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.starts_with(&prefix) && n.ends_with(".json"))
            .cloned()
            .collect();
        names.sort();
        let mut all: Vec<Message> = Vec::new();
        for name in names {
            let day: Vec<Message> = json(&mut self.zip, &name)?.unwrap_or_default();
            all.extend(day);
        }
        all.sort_by_key(|m| ts_millis(&m.ts).map(|(_, key)| key));
        Ok(all)
    }

    /// An uploaded file's bytes, if the export has them (at most `limit`).
    pub fn upload(&mut self, id: &str, limit: u64) -> Result<Option<Vec<u8>>, ImportError> {
        let prefix = format!("__uploads/{id}/");
        let Some(name) = self
            .names
            .iter()
            .find(|n| n.starts_with(&prefix) && n.len() > prefix.len())
            .cloned()
        else {
            return Ok(None);
        };
        read(&mut self.zip, &name, limit).map(Some)
    }
}

fn read(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ImportError> {
    let entry = zip
        .by_name(name)
        .map_err(|e| ImportError::NotSlack(format!("{name}: {e}")))?;
    let mut bytes = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::NotSlack(format!("{name}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(ImportError::NotSlack(format!(
            "{name} is larger than {limit} bytes"
        )));
    }
    Ok(bytes)
}

fn json<T: serde::de::DeserializeOwned>(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
) -> Result<Option<T>, ImportError> {
    if zip.index_for_name(name).is_none() {
        return Ok(None);
    }
    let bytes = read(zip, name, MAX_JSON)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ImportError::NotSlack(format!("{name}: {e}")))
}

/// A Slack name as a SecureChat username (lower case; letters, digits,
/// `.`, `_`, `-`; 3 to 32), or `None` if nothing usable is left.
pub fn username(name: &str) -> Option<String> {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned
        .trim_matches('-')
        .chars()
        .take(32)
        .collect::<String>();
    securechat_proto::validate::normalize_username(&cleaned).ok()
}

/// Users by Slack id, for the importer.
pub type UserMap = HashMap<String, (securechat_proto::UserId, String)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_names() {
        assert_eq!(
            ts_millis("1512085950.000216"),
            Some((1_512_085_950_000, (1_512_085_950, 216)))
        );
        assert_eq!(
            ts_millis("1512085950.5").map(|t| t.0),
            Some(1_512_085_950_500)
        );
        assert!(ts_millis("x").is_none());
        assert_eq!(username("Ann.Lee").as_deref(), Some("ann.lee"));
        assert_eq!(username("José Ramírez").as_deref(), Some("jos--ram-rez"));
        assert_eq!(username("x"), None);
    }
}
