//! wss:// connections and the load message format.
//!
//! - [`connect`]: a SecureChat connection on tungstenite with small
//!   buffers, for the scenarios that speak SecureChat's protocol (durable,
//!   connect, storm, idle, the stalled receiver of `slow`);
//! - [`connect_any`]: `fanout`'s load connection to SecureChat or a peer,
//!   on the [`crate::lean`] client, through each protocol's handshake;
//! - [`delivery`]: finds a load message in a frame's bytes without parsing
//!   JSON (by its `"body":"` field, or the peer protocol's equivalent); each
//!   body carries the message's intended send time.

use crate::lean::Lean;
use crate::target::{IRC_CHANNEL, Proto, Target};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use memchr::memmem;
use rustls_pki_types::ServerName;
use securechat_proto::ServerMsg;
use securechat_proto::ws::Welcome;
use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// Source addresses are spread over 127.0.0.1–127.0.0.16, so that many
/// connections never run out of ephemeral ports towards one server port.
static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);
const SOURCES: usize = 16;

/// Opens `/ws` with `token`, reads the `welcome`, and sends a first frame
/// so the server starts live delivery at once.
pub async fn connect(target: &Target, token: &str) -> Result<(Ws, Welcome)> {
    connect_with(target, token, None).await
}

/// A SecureChat connection that will not read: its TCP receive buffer is
/// 4 KiB, so the server's sends back up at once (a slow consumer).
pub async fn connect_stalled(target: &Target, token: &str) -> Result<Ws> {
    Ok(connect_with(target, token, Some(4096)).await?.0)
}

async fn connect_with(target: &Target, token: &str, rcvbuf: Option<u32>) -> Result<(Ws, Welcome)> {
    let node = target.next_node();
    let tls = tls_to(target, node, rcvbuf).await?;
    let mut req = format!("wss://localhost:{}/ws", node.port()).into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, tls, Some(config()))
        .await
        .context("WebSocket upgrade")?;
    let welcome = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => break welcome(t.as_str())?,
            Some(Ok(_)) => continue,
            other => bail!("connection ended before welcome: {other:?}"),
        }
    };
    ws.send(Message::text(HELLO)).await?;
    Ok((ws, welcome))
}

/// A load connection of `fanout` (see [`crate::lean`]).
pub type Load = Lean<TlsStream<TcpStream>>;

/// Opens a connection for load, ready to send and receive: for SecureChat
/// as [`connect`] does; for a peer through its own handshake.
pub async fn connect_any(target: &Target, token: &str) -> Result<Load> {
    let node = target.next_node();
    let port = node.port();
    let (path, header) = match target.proto {
        Proto::Securechat => ("/ws", format!("Authorization: Bearer {token}\r\n")),
        Proto::Broadcast => ("/", String::new()),
        Proto::Socketio => ("/socket.io/?EIO=4&transport=websocket", String::new()),
        // InspIRCd admits WebSocket clients by Origin.
        Proto::Irc => ("/", format!("Origin: https://localhost:{port}\r\n")),
    };
    let tls = tls_to(target, node, None).await?;
    let mut ws = Lean::upgrade(tls, &format!("localhost:{port}"), path, &header)
        .await
        .context("WebSocket upgrade")?;
    match target.proto {
        Proto::Securechat => {
            let first = ws
                .next_text()
                .await?
                .context("connection ended before welcome")?;
            welcome(&first)?;
            ws.writer.text(HELLO).await?;
        }
        Proto::Socketio => {
            // engine.io `open`, then socket.io CONNECT to "/" and its answer.
            next_text(&mut ws, |t| t.starts_with('0')).await?;
            ws.writer.text("40").await?;
            next_text(&mut ws, |t| t.starts_with("40")).await?;
        }
        Proto::Irc => {
            let nick = irc_nick();
            for line in [
                "CAP REQ :echo-message".to_owned(),
                format!("NICK {nick}"),
                format!("USER {nick} 0 * :bench"),
                "CAP END".to_owned(),
            ] {
                ws.writer.text(&line).await?;
            }
            next_text(&mut ws, |t| t.split(' ').nth(1) == Some("001")).await?;
            ws.writer.text(&format!("JOIN {IRC_CHANNEL}")).await?;
            // 366: end of the channel's member list, so the join is done.
            next_text(&mut ws, |t| t.split(' ').nth(1) == Some("366")).await?;
        }
        Proto::Broadcast => {}
    }
    Ok(ws)
}

/// Reads text frames until one satisfies `done`.
async fn next_text(ws: &mut Load, done: impl Fn(&str) -> bool) -> Result<()> {
    loop {
        match ws.next_text().await? {
            Some(t) if done(&t) => return Ok(()),
            Some(t) if t.starts_with("ERROR") => bail!("refused: {t}"),
            Some(_) => {}
            None => bail!("connection ended during the handshake"),
        }
    }
}

/// The first frame a client sends: the server starts live delivery then.
const HELLO: &str = r#"{"type":"ping","nonce":"bench"}"#;

/// The `welcome` a SecureChat connection starts with.
fn welcome(text: &str) -> Result<Welcome> {
    match serde_json::from_str::<ServerMsg>(text)? {
        ServerMsg::Welcome(w) => Ok(w),
        other => bail!("expected welcome, got {other:?}"),
    }
}

/// A nickname unique to this generator process.
fn irc_nick() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("b{}n{n}", std::process::id() % 10_000)
}

/// Small buffers: the generator holds thousands of connections.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
}

/// TCP from one of the source addresses (with a receive buffer of
/// `rcvbuf` bytes if given), then TLS.
async fn tls_to(
    target: &Target,
    node: SocketAddr,
    rcvbuf: Option<u32>,
) -> Result<TlsStream<TcpStream>> {
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCES;
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(IpAddr::from([127, 0, 0, 1 + n as u8]), 0))?;
    let tcp = socket.connect(node).await.context("TCP connect")?;
    tcp.set_nodelay(true)?;
    TlsConnector::from(target.tls.clone())
        .connect(ServerName::try_from("localhost")?, tcp)
        .await
        .context("TLS handshake")
}

/// The body of a load message: who sent it, its number, when it was meant
/// to be sent (nanoseconds since the run's clock started), a hash of the
/// rest ([`crate::proof::fnv1a`], 16 hex digits), then the padding if any
/// (`:xxx…`): `SENDER:N:T:HASH[PAD]`.
pub fn body(sender: usize, n: u64, intended_ns: u64, pad: &str) -> String {
    let head = format!("{sender}:{n}:{intended_ns}");
    let hash = crate::proof::fnv1a(&[head.as_bytes(), pad.as_bytes()]);
    format!("{head}:{hash:016x}{pad}")
}

/// A load message found in a server frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub sender: usize,
    pub n: u64,
    pub intended_ns: u64,
    /// The hash matches the content.
    pub intact: bool,
}

/// A delivered load message in a server frame. A SecureChat `message`
/// frame carries it in its `body`; a broadcast peer sends the body alone;
/// Socket.IO as the argument of an `m` event; IRC as the text of a
/// `PRIVMSG`. Frames of other kinds give `None`. It works on the frame's
/// bytes: the receivers never need them as a checked `str`.
pub fn delivery(frame: &[u8]) -> Option<Delivery> {
    // The generator reads up to a million frames a second on one core: the
    // searches use a prebuilt finder and memchr rather than `str::find`.
    static BODY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(r#""body":""#));
    static PRIVMSG: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(" PRIVMSG "));
    static TRAILING: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(" :"));
    let body = if frame.starts_with(br#"{"type":"message""#) {
        quoted(&frame[BODY.find(frame)? + 8..])?
    } else if let Some(rest) = frame.strip_prefix(br#"42["m",""#) {
        quoted(rest)?
    } else if frame.starts_with(b":") {
        let rest = &frame[PRIVMSG.find(frame)? + 8..];
        rest[TRAILING.find(rest)? + 2..].trim_ascii_end()
    } else if frame.first().is_some_and(u8::is_ascii_digit) {
        frame
    } else {
        return None;
    };
    let mut parts = body.splitn(4, |&b| b == b':');
    let sender = number(parts.next()?)?;
    let n = number(parts.next()?)?;
    let t = number(parts.next()?)?;
    let rest = parts.next().unwrap_or_default();
    let head = &body[..body.len() - rest.len() - usize::from(!rest.is_empty())];
    let intact = rest.len() >= 16
        && std::str::from_utf8(&rest[..16])
            .ok()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            == Some(crate::proof::fnv1a(&[head, &rest[16..]]));
    Some(Delivery {
        sender: usize::try_from(sender).ok()?,
        n,
        intended_ns: t,
        intact,
    })
}

/// The room seq of a SecureChat `message` frame.
pub fn seq_of(frame: &[u8]) -> Option<u64> {
    static SEQ: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(r#""seq":"#));
    let rest = &frame[SEQ.find(frame)? + 6..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    number(&rest[..end])
}

/// The bytes up to the next `"`.
fn quoted(rest: &[u8]) -> Option<&[u8]> {
    Some(&rest[..memchr::memchr(b'"', rest)?])
}

/// Decimal digits (at least one) as a number.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

/// Whether a frame is the `ack` of a send.
pub fn is_ack(frame: &[u8]) -> bool {
    frame.starts_with(br#"{"type":"ack""#)
}

/// Whether a frame refuses a send for the rate limit.
pub fn is_rate_limited(frame: &[u8]) -> bool {
    frame.starts_with(br#"{"type":"error""#) && memmem::find(frame, b"rate_limited").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use securechat_proto::{MessageId, RoomId, Timestamp, ws::MessageEvent};

    #[test]
    fn finds_deliveries_in_real_server_frames() {
        let d = |frame: &str| delivery(frame.as_bytes()).map(|d| (d.sender, d.n, d.intended_ns));
        let ok = |frame: &str| delivery(frame.as_bytes()).is_some_and(|d| d.intact);
        let event = MessageEvent {
            room: RoomId(3),
            seq: 9,
            id: MessageId(12),
            from: "bench".into(),
            body: body(4, 17, 123_456_789, ""),
            ts: Timestamp(0),
            edited: false,
            deleted: false,
            file: None,
            ..Default::default()
        };
        let frame = ServerMsg::Message(event).to_json();
        assert_eq!(d(&frame), Some((4, 17, 123_456_789)), "{frame}");
        assert!(ok(&frame));
        assert_eq!(seq_of(frame.as_bytes()), Some(9));
        assert_eq!(d(r#"{"type":"presence","user":"x","online":true}"#), None);
        let plain = body(4, 17, 99, "");
        let padded = body(4, 17, 99, ":xxxx");
        assert_eq!(d(&plain), Some((4, 17, 99)));
        assert!(ok(&plain) && ok(&padded), "{plain} {padded}");
        assert_eq!(d(&format!(r#"42["m","{plain}"]"#)), Some((4, 17, 99)));
        assert_eq!(d("2"), None, "an engine.io ping");
        let irc = format!(":b1n2!b1n2@127.0.0.1 PRIVMSG #bench :{padded}\r\n");
        assert_eq!(d(&irc), Some((4, 17, 99)));
        assert!(ok(&irc));
        assert_eq!(d(":b1n2!b1n2@127.0.0.1 JOIN :#bench"), None);
        // Changed content, a changed number, a missing hash: found, not intact.
        assert!(!ok(&padded.replace(":xxxx", ":xxxy")));
        assert!(!ok(&plain.replacen(":17:", ":18:", 1)));
        assert!(!ok("4:17:99"));
        assert_eq!(d("4::99"), None);
        assert_eq!(d("4:1x:99"), None);
        assert_eq!(d("4:99999999999999999999:1"), None, "overflow");
    }
}
