//! File transfer: streamed uploads and resumable, verified downloads;
//! in encrypted conversations, files sealed before upload and opened after
//! download (`securechat_crypto::attachment`).
//! Progress is reported through a callback, so the binary can draw a bar
//! and the library needs no terminal.

use crate::ClientError;
use crate::api::Api;
use futures_util::StreamExt;
use securechat_proto::e2e::FileSecrets;
use securechat_proto::http::UploadResponse;
use securechat_proto::validate::{sanitize_file_name, sniff_image};
use securechat_proto::{FileId, RoomId};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 64 * 1024;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::File {
        path: path.to_owned(),
        source,
    }
}

/// Uploads `path` to `room`; `progress(done, total)` is called as bytes go.
pub async fn upload(
    api: &Api,
    room: RoomId,
    path: &Path,
    caption: Option<&str>,
    progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<UploadResponse, ClientError> {
    let file = tokio::fs::File::open(path).await.map_err(io(path))?;
    let total = file.metadata().await.map_err(io(path))?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let chunks = futures_util::stream::unfold(
        (file, 0u64, progress),
        move |(mut file, done, mut progress)| async move {
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let done = done + n as u64;
                    progress(done, total);
                    Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from(buf)),
                        (file, done, progress),
                    ))
                }
                Err(e) => Some((Err(e), (file, done, progress))),
            }
        },
    );
    let mut query = vec![("name", name)];
    if let Some(c) = caption {
        query.push(("caption", c.to_owned()));
    }
    api.upload(room, &query, total, reqwest::Body::wrap_stream(chunks))
        .await
}

/// Seals `path` for encrypted `room` (in memory: files are limited by the
/// server's upload size) and uploads the ciphertext with no name; returns
/// the stored file and the secrets its encrypted message must carry (see
/// [`crate::conn::Connection::send_file`]).
pub async fn upload_encrypted(
    api: &Api,
    room: RoomId,
    path: &Path,
    progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<(UploadResponse, FileSecrets), ClientError> {
    let plain = tokio::fs::read(path).await.map_err(io(path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let media_type = sniff_image(&plain).unwrap_or("application/octet-stream");
    let (sealed, secrets) = securechat_crypto::encrypt_file(&plain, &name, media_type)
        .map_err(|e| ClientError::Crypto(e.to_string()))?;
    drop(plain);
    let total = sealed.len() as u64;
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = sealed
        .chunks(CHUNK)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let mut progress = progress;
    let mut done = 0;
    let stream = futures_util::stream::iter(chunks).inspect(move |c| {
        if let Ok(c) = c {
            done += c.len() as u64;
            progress(done, total);
        }
    });
    let up = api
        .upload(room, &[], total, reqwest::Body::wrap_stream(stream))
        .await?;
    Ok((up, secrets))
}

/// Where a download goes: `dest` as a file, or inside `dest` under the
/// file's own name when `dest` is a directory (or ends with `/`), or the
/// file's own name here when there is no `dest`. The server's name is used
/// as a name only (its last path component).
pub fn destination(dest: Option<&Path>, name: &str) -> PathBuf {
    let own = Path::new(name)
        .file_name()
        .map_or_else(|| PathBuf::from("file"), PathBuf::from);
    match dest {
        None => own,
        Some(d) if d.is_dir() || d.as_os_str().to_string_lossy().ends_with('/') => d.join(own),
        Some(d) => d.to_path_buf(),
    }
}

/// Downloads file `id` to `dest` (see [`destination`]). An existing file
/// is refused unless `force`. Bytes go to `DEST.part` first; a `.part`
/// left by a transfer that broke off is resumed with an HTTP Range request.
/// The result is checked against the SHA-256 the server sends, then renamed
/// into place. On any other error nothing is left behind.
///
/// An encrypted file comes with `secrets` (from its message): it is named
/// by them, its ciphertext checked against their SHA-256, and opened before
/// it is put in place.
pub async fn download(
    api: &Api,
    id: FileId,
    dest: Option<&Path>,
    force: bool,
    secrets: Option<&FileSecrets>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(PathBuf, u64, String), ClientError> {
    let name = match secrets {
        Some(s) => sanitize_file_name(&s.name),
        None => {
            // Learn the name (for a default destination) without the body.
            let probe = api.download(id, Some(0)).await?;
            probe.name.clone()
        }
    };
    let dest = destination(dest, &name);
    if dest.is_dir() {
        return Err(ClientError::Usage(format!(
            "{} is a directory",
            dest.display()
        )));
    }
    if !force && tokio::fs::try_exists(&dest).await.unwrap_or(false) {
        return Err(ClientError::Usage(format!(
            "{} exists: use --force to overwrite it",
            dest.display()
        )));
    }
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(ClientError::Usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    match fetch(api, id, &dest, &part, have, secrets, &mut progress).await {
        Err(e @ ClientError::Unreachable(_)) => Err(e), // `.part` kept: it resumes
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(e)
        }
        ok => ok,
    }
}

/// The transfer itself, into `part`, then renamed to `dest`.
async fn fetch(
    api: &Api,
    id: FileId,
    dest: &Path,
    part: &Path,
    have: u64,
    secrets: Option<&FileSecrets>,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(PathBuf, u64, String), ClientError> {
    let mut res = api.download(id, Some(have)).await?;
    let resumed = res.partial;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .await
        .map_err(io(part))?;
    let mut done = if resumed { have } else { 0 };
    let total = done + res.length;
    progress(done, total);
    while let Some(chunk) = res.body.next().await {
        let chunk = chunk.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        file.write_all(&chunk).await.map_err(io(part))?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    file.flush().await.map_err(io(part))?;
    file.sync_all().await.map_err(io(part))?;
    drop(file);
    // Verify the whole file, resumed parts included.
    let mut hasher = Sha256::new();
    let mut f = tokio::fs::File::open(part).await.map_err(io(part))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).await.map_err(io(part))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let sha: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha != res.sha256 {
        return Err(ClientError::Protocol(format!(
            "the downloaded file does not match its SHA-256 ({sha} != {}); removed, try again",
            res.sha256
        )));
    }
    if let Some(secrets) = secrets {
        // Checked against the sender's own hash too, then opened in place.
        let sealed = tokio::fs::read(part).await.map_err(io(part))?;
        let plain = securechat_crypto::decrypt_file(&sealed, secrets)
            .map_err(|e| ClientError::Crypto(e.to_string()))?;
        tokio::fs::write(part, &plain).await.map_err(io(part))?;
        done = plain.len() as u64;
    }
    tokio::fs::rename(part, dest).await.map_err(io(dest))?;
    Ok((dest.to_path_buf(), done, sha))
}
