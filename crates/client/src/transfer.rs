//! File transfer: streamed uploads and resumable, verified downloads.
//! Progress is reported through a callback, so the binary can draw a bar
//! and the library needs no terminal.

use crate::ClientError;
use crate::api::Api;
use futures_util::StreamExt;
use securechat_proto::http::UploadResponse;
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

/// Downloads file `id` to `dest` (or the file's own name in the current
/// directory). Bytes go to `DEST.part` first; a `.part` left by a broken
/// download is resumed with an HTTP Range request. The result is checked
/// against the SHA-256 the server sends, then renamed into place.
pub async fn download(
    api: &Api,
    id: FileId,
    dest: Option<&Path>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(PathBuf, u64, String), ClientError> {
    // Learn the name (for a default destination) without the body.
    let probe = api.download(id, Some(0)).await?;
    let name = probe.name.clone();
    drop(probe);
    let dest = dest
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&name));
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut res = api.download(id, Some(have)).await?;
    let resumed = res.partial;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .await
        .map_err(io(&part))?;
    let mut done = if resumed { have } else { 0 };
    let total = done + res.length;
    progress(done, total);
    while let Some(chunk) = res.body.next().await {
        let chunk = chunk.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        file.write_all(&chunk).await.map_err(io(&part))?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    file.flush().await.map_err(io(&part))?;
    file.sync_all().await.map_err(io(&part))?;
    drop(file);
    // Verify the whole file, resumed parts included.
    let mut hasher = Sha256::new();
    let mut f = tokio::fs::File::open(&part).await.map_err(io(&part))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).await.map_err(io(&part))?;
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
        let _ = tokio::fs::remove_file(&part).await;
        return Err(ClientError::Protocol(format!(
            "the downloaded file does not match its SHA-256 ({sha} != {}); removed, try again",
            res.sha256
        )));
    }
    tokio::fs::rename(&part, &dest).await.map_err(io(&dest))?;
    Ok((dest, done, sha))
}
