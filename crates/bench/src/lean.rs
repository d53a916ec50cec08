//! The load connections of `fanout`: a minimal WebSocket client over TLS.
//!
//! At a million deliveries a second the generator's core goes to reading
//! frames. tungstenite zero-fills its read buffer before every read, checks
//! each text frame's UTF-8 and copies each frame into a buffer of its own;
//! with tokio-tungstenite's waker bridging, that was a quarter of the
//! generator's samples at N = 1000. This client reads into spare capacity
//! (no zeroing), parses frames in place and hands out borrowed payloads:
//! the receivers look for a delivery in the bytes and never need a `str`.
//!
//! What it does not do, because none of the servers under test needs it:
//! fragmented messages (refused with an error, so they cannot be miscounted),
//! extensions, and checking `Sec-WebSocket-Accept` (the status must be 101).
//! It answers pings with pongs on connections that own their writer.

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use bytes::{Buf, BytesMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

/// Largest frame accepted: a load frame is a few hundred bytes; a welcome
/// with a long room list is the largest a server sends here.
const MAX_FRAME: usize = 1 << 20;
/// Spare room kept for each socket read.
const READ_CHUNK: usize = 4096;
/// Largest HTTP response head accepted during the upgrade.
const MAX_HEAD: usize = 16 * 1024;

/// A frame's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

/// A frame, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Frame<'a> {
    pub op: Op,
    pub payload: &'a [u8],
}

/// The reading half: frames parsed in place from one buffer.
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    /// Bytes of the frame handed out last, dropped at the next call.
    consumed: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(io: R) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
            consumed: 0,
        }
    }

    /// Reads once from the socket into spare capacity (never zeroed):
    /// false at the end of the stream.
    pub async fn fill(&mut self) -> Result<bool> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(self.io.read_buf(&mut self.buf).await? > 0)
    }

    /// The next frame already in the buffer, if a whole one is there.
    pub fn buffered(&mut self) -> Result<Option<Frame<'_>>> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        let Some((op, start, len)) = header(&self.buf)? else {
            return Ok(None);
        };
        let end = start + len;
        if self.buf.len() < end {
            self.buf.reserve(end - self.buf.len());
            return Ok(None);
        }
        self.consumed = end;
        Ok(Some(Frame {
            op,
            payload: &self.buf[start..end],
        }))
    }

    /// The next frame, reading as needed: `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Frame<'_>>> {
        loop {
            // Checked first without borrowing, so the frame can be
            // returned from outside the loop.
            if self.whole_frame_buffered()? {
                return self.buffered();
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    fn whole_frame_buffered(&mut self) -> Result<bool> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        Ok(header(&self.buf)?.is_some_and(|(_, start, len)| self.buf.len() >= start + len))
    }

    /// Reads an HTTP response head (up to the blank line) and leaves what
    /// follows it (the first frames) in the buffer.
    async fn response_head(&mut self) -> Result<String> {
        loop {
            if let Some(end) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.advance(end + 4);
                return Ok(head);
            }
            ensure!(self.buf.len() < MAX_HEAD, "HTTP response head too long");
            ensure!(self.fill().await?, "connection closed during the upgrade");
        }
    }
}

/// Parses a frame header: (op, payload start, payload length), or `None`
/// if the header is not all here yet.
fn header(buf: &[u8]) -> Result<Option<(Op, usize, usize)>> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    ensure!(b0 & 0x80 != 0, "fragmented messages are not supported");
    ensure!(
        b0 & 0x70 == 0,
        "a frame with reserved bits set (an extension)"
    );
    ensure!(b1 & 0x80 == 0, "a masked frame from the server");
    let op = match b0 & 0x0f {
        1 => Op::Text,
        2 => Op::Binary,
        8 => Op::Close,
        9 => Op::Ping,
        10 => Op::Pong,
        other => bail!("unexpected opcode {other}"),
    };
    let (start, len) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (4, u16::from_be_bytes([b[0], b[1]]) as usize),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                (10, usize::try_from(len).unwrap_or(usize::MAX))
            }
            None => return Ok(None),
        },
        n => (2, n as usize),
    };
    ensure!(
        len <= MAX_FRAME,
        "a frame of {len} bytes (the limit is {MAX_FRAME})"
    );
    Ok(Some((op, start, len)))
}

/// The writing half: masked frames, one write each.
pub struct FrameWriter<W> {
    io: W,
    out: Vec<u8>,
    mask: u64,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub fn new(io: W) -> Self {
        static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
        FrameWriter {
            io,
            out: Vec::with_capacity(256),
            mask: SEED.fetch_add(0x6a09_e667_f3bc_c909, Relaxed) | 1,
        }
    }

    pub async fn text(&mut self, text: &str) -> Result<()> {
        self.send(0x1, text.as_bytes()).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> Result<()> {
        self.send(0xa, payload).await
    }

    /// A client's frames are masked (RFC 6455 §5.3); the key comes from a
    /// xorshift generator, new for every frame.
    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 7;
        self.mask ^= self.mask << 17;
        let key = (self.mask as u32).to_be_bytes();
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            n @ 0..126 => self.out.push(0x80 | n as u8),
            n @ 126..65536 => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&key);
        self.out
            .extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        self.io.write_all(&self.out).await?;
        self.io.flush().await?;
        Ok(())
    }
}

/// A WebSocket connection, split so that one task may read while another
/// writes.
pub struct Lean<S> {
    pub reader: FrameReader<ReadHalf<S>>,
    pub writer: FrameWriter<WriteHalf<S>>,
}

impl<S: AsyncRead + AsyncWrite> Lean<S> {
    /// Upgrades `io` at `path` (`host` names the server; `headers` are
    /// extra request header lines, each ending in CRLF).
    pub async fn upgrade(io: S, host: &str, path: &str, headers: &str) -> Result<Self> {
        let (r, w) = tokio::io::split(io);
        let mut conn = Lean {
            reader: FrameReader::new(r),
            writer: FrameWriter::new(w),
        };
        let key = base64::engine::general_purpose::STANDARD
            .encode(conn.writer.mask.to_le_bytes().repeat(2));
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        conn.writer.io.write_all(request.as_bytes()).await?;
        conn.writer.io.flush().await?;
        let head = conn.reader.response_head().await?;
        let status = head.lines().next().unwrap_or_default();
        ensure!(
            status.split(' ').nth(1) == Some("101"),
            "WebSocket upgrade refused: {status}"
        );
        Ok(conn)
    }

    /// The next text frame's text, answering pings on the way: `None` at
    /// the end of the stream or a close frame.
    pub async fn next_text(&mut self) -> Result<Option<String>> {
        loop {
            let Some(frame) = self.reader.next().await? else {
                return Ok(None);
            };
            match frame.op {
                Op::Text => {
                    let text = std::str::from_utf8(frame.payload).context("a text frame")?;
                    return Ok(Some(text.to_owned()));
                }
                Op::Ping => {
                    let payload = frame.payload.to_vec();
                    self.writer.pong(&payload).await?;
                }
                Op::Close => return Ok(None),
                Op::Binary | Op::Pong => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames as a server sends them: unmasked, FIN set.
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..126 => f.push(n as u8),
            n @ 126..65536 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[tokio::test]
    async fn frames_split_anywhere_across_reads_come_out_whole() {
        let big = vec![b'x'; 70_000];
        let mid = vec![b'y'; 300];
        let mut wire = Vec::new();
        wire.extend(server_frame(1, b"hello"));
        wire.extend(server_frame(9, b"p"));
        wire.extend(server_frame(1, &mid));
        wire.extend(server_frame(2, &big));
        wire.extend(server_frame(1, b""));
        wire.extend(server_frame(8, &[0x03, 0xe8]));
        // Delivered 7 bytes at a time, so headers and payloads straddle
        // reads.
        let (mut a, b) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            for chunk in wire.chunks(7) {
                a.write_all(chunk).await.unwrap();
            }
        });
        let mut r = FrameReader::new(b);
        let mut got = Vec::new();
        while let Some(f) = r.next().await.unwrap() {
            got.push((f.op, f.payload.len(), f.payload.first().copied()));
        }
        writer.await.unwrap();
        assert_eq!(
            got,
            vec![
                (Op::Text, 5, Some(b'h')),
                (Op::Ping, 1, Some(b'p')),
                (Op::Text, 300, Some(b'y')),
                (Op::Binary, 70_000, Some(b'x')),
                (Op::Text, 0, None),
                (Op::Close, 2, Some(0x03)),
            ]
        );
    }

    #[test]
    fn headers_that_the_reader_refuses() {
        assert!(header(&[0x01, 0x01, b'a']).is_err(), "fragment");
        assert!(header(&[0x81, 0x81, 0, 0, 0, 0, b'a']).is_err(), "masked");
        assert!(header(&[0xc1, 0x01, b'a']).is_err(), "compressed");
        assert!(header(&[0x83, 0x00]).is_err(), "reserved opcode");
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(u64::MAX).to_be_bytes());
        assert!(header(&huge).is_err(), "oversized");
        assert_eq!(header(&[0x81]).unwrap().map(|h| h.0), None, "partial");
        assert_eq!(header(&[0x81, 126, 1]).unwrap().map(|h| h.0), None);
    }

    /// A server that reads the request head, then writes `answer` in one
    /// piece; returns the request head and what the client sent after it.
    fn fake_server(
        answer: Vec<u8>,
    ) -> (
        tokio::io::DuplexStream,
        tokio::task::JoinHandle<(String, Vec<u8>)>,
    ) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(async move {
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                server.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            server.write_all(&answer).await.unwrap();
            // Kept open until the client is done.
            let mut after = Vec::new();
            let _ = server.read_to_end(&mut after).await;
            (String::from_utf8(request).unwrap(), after)
        });
        (client, task)
    }

    #[tokio::test]
    async fn frames_sent_with_the_101_are_kept() {
        let mut answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        answer.extend(server_frame(1, b"welcome"));
        answer.extend(server_frame(9, b"hb"));
        answer.extend(server_frame(1, b"second"));
        let (io, server) = fake_server(answer);
        let mut conn = Lean::upgrade(io, "localhost:1", "/ws", "Authorization: Bearer t\r\n")
            .await
            .unwrap();
        assert_eq!(conn.next_text().await.unwrap().as_deref(), Some("welcome"));
        // The ping in between is answered, not returned.
        assert_eq!(conn.next_text().await.unwrap().as_deref(), Some("second"));
        drop(conn);
        let (request, after) = server.await.unwrap();
        assert_eq!(after[0], 0x8a, "a pong");
        assert_eq!(after[1], 0x80 | 2);
        let pong: Vec<u8> = after[6..8]
            .iter()
            .zip(&after[2..6])
            .map(|(b, k)| b ^ k)
            .collect();
        assert_eq!(pong, b"hb", "the ping's payload, masked");
        assert!(request.starts_with("GET /ws HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("\r\nAuthorization: Bearer t\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\nSec-WebSocket-Version: 13\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refused_upgrade_is_an_error() {
        let (io, _server) = fake_server(b"HTTP/1.1 401 Unauthorized\r\n\r\n".to_vec());
        let err = Lean::upgrade(io, "localhost:1", "/ws", "")
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("401"), "{err}");
    }

    #[tokio::test]
    async fn frames_written_are_masked_and_unmask_to_the_text() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = FrameWriter::new(a);
        let long = "z".repeat(200);
        w.text("hi").await.unwrap();
        w.text(&long).await.unwrap();
        drop(w);
        let mut wire = Vec::new();
        b.read_to_end(&mut wire).await.unwrap();
        let unmask = |key: &[u8], data: &[u8]| -> Vec<u8> {
            data.iter()
                .zip(key.iter().cycle())
                .map(|(d, k)| d ^ k)
                .collect()
        };
        assert_eq!(wire[0], 0x81);
        assert_eq!(wire[1], 0x80 | 2);
        assert_eq!(unmask(&wire[2..6], &wire[6..8]), b"hi");
        let second = &wire[8..];
        assert_eq!(second[1], 0x80 | 126);
        assert_eq!(u16::from_be_bytes([second[2], second[3]]), 200);
        assert_ne!(&second[4..8], &wire[2..6], "a new key per frame");
        assert_eq!(unmask(&second[4..8], &second[8..]), long.as_bytes());
    }
}
