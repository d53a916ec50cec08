//! Plain HTTP where HTTPS is served: an answer that sends the browser to
//! `https://`, instead of the bytes of a TLS alert it cannot read.
//!
//! - On the HTTPS port itself: a TLS connection starts with a handshake
//!   record (byte 0x16); a plain HTTP request starts with its method's
//!   capital letters. [`is_plain_http`] tells them apart from the first
//!   byte, peeked, so `http://host:8443` typed in a browser lands on
//!   `https://host:8443`.
//! - On a port of its own (`redirect_http_bind`, e.g. port 80): every
//!   request is sent to the same host on the HTTPS port ([`serve`]).
//!
//! Either way the answer is `308 Permanent Redirect` to the same path and
//! query, read from a request head of at most [`MAX_HEAD`] bytes within the
//! handshake timeout; a request without a usable `Host` gets 400. The one
//! other thing served over plain HTTP, on the port of its own, is a
//! pending ACME HTTP-01 challenge's answer (`acme_domain`, see
//! `tls::acme`).

use crate::tls::acme::Challenges;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read before answering.
pub const MAX_HEAD: usize = 8 * 1024;

/// Whether a connection whose first byte is `first` speaks plain HTTP
/// (a method such as `GET`), not TLS (a handshake record, 0x16).
pub fn is_plain_http(first: u8) -> bool {
    first.is_ascii_uppercase()
}

/// Reads one request head from `stream` and answers it with a redirect to
/// `https://` on the same host: on `port` when given (from another port),
/// else on the port the request's `Host` names, else on the port it came
/// in on. Closes the connection.
pub async fn answer(
    mut stream: TcpStream,
    port: Option<u16>,
    timeout: Duration,
    challenges: Option<&Challenges>,
) {
    let here = stream.local_addr().map(|a| a.port()).ok();
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(timeout, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let challenge = challenges.and_then(|c| c.answer(target(&head)?));
    let response = match location(&head, port, here) {
        _ if challenge.is_some() => {
            let body = challenge.unwrap_or_default();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Some(to) => format!(
            "HTTP/1.1 308 Permanent Redirect\r\nLocation: {to}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{to}\n",
            to.len() + 1
        ),
        None => {
            let body = "This server speaks HTTPS only: use https:// and its name.\n";
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    };
    let _ = tokio::time::timeout(timeout, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A request head's target (`/path?query`).
fn target(head: &[u8]) -> Option<&str> {
    let line = head.split(|b| *b == b'\r').next()?;
    std::str::from_utf8(line).ok()?.split(' ').nth(1)
}

/// Where a request head should go: `https://HOST[:PORT]/path?query` (the
/// port: `port`, else the `Host`'s, else `here`; none for 443), or `None`
/// if the head, its target or its `Host` is not usable.
pub fn location(head: &[u8], port: Option<u16>, here: Option<u16>) -> Option<String> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (_method, target) = (request.next()?, request.next()?);
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let host = lines.take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("host").then(|| value.trim())
    })?;
    let (name, named_port) = split_host(host)?;
    let port = port.or(named_port).or(here).filter(|p| *p != 443);
    Some(match port {
        Some(p) => format!("https://{name}:{p}{target}"),
        None => format!("https://{name}{target}"),
    })
}

/// `host[:port]` (a DNS name, an IPv4 address or a bracketed IPv6 one)
/// into its parts, or `None` if it is anything else.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let end = rest.find(']')?;
        let name = &host[..end + 2];
        name[1..name.len() - 1].parse::<std::net::Ipv6Addr>().ok()?;
        (name, &rest[end + 1..])
    } else {
        match host.split_once(':') {
            Some((name, _)) => (name, &host[name.len()..]),
            None => (host, ""),
        }
    };
    if !name.starts_with('[')
        && (name.is_empty()
            || name.len() > 253
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
    {
        return None;
    }
    let port = match port.strip_prefix(':') {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None if port.is_empty() => None,
        None => return None,
    };
    Some((name, port))
}

/// Answers every connection on `listener` with a redirect to `https_port`
/// (or a pending ACME challenge's answer) until `stop` turns true; at most
/// `max_open` at a time.
pub async fn serve(
    listener: TcpListener,
    https_port: u16,
    timeout: Duration,
    max_open: usize,
    challenges: Arc<Challenges>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let open = std::sync::Arc::new(tokio::sync::Semaphore::new(max_open));
    loop {
        let stream = tokio::select! {
            _ = async { drop(stop.wait_for(|s| *s).await) } => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            continue; // dropped: too many at once
        };
        let challenges = challenges.clone();
        tokio::spawn(async move {
            answer(stream, Some(https_port), timeout, Some(&challenges)).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(head: &str, port: Option<u16>) -> Option<String> {
        location(head.as_bytes(), port, None)
    }

    #[test]
    fn requests_go_to_the_same_place_over_https() {
        let get =
            |target: &str, host: &str| format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(
            go(&get("/", "chat.example.com:8443"), None).as_deref(),
            Some("https://chat.example.com:8443/")
        );
        assert_eq!(
            go(&get("/a/b?c=d", "chat.example.com"), Some(443)).as_deref(),
            Some("https://chat.example.com/a/b?c=d")
        );
        assert_eq!(
            go(&get("/x", "chat.example.com:80"), Some(8443)).as_deref(),
            Some("https://chat.example.com:8443/x")
        );
        assert_eq!(
            go(&get("/", "[::1]:8443"), None).as_deref(),
            Some("https://[::1]:8443/")
        );
        assert_eq!(
            go(&get("/", "127.0.0.1"), Some(8443)).as_deref(),
            Some("https://127.0.0.1:8443/")
        );
        assert_eq!(
            go("GET / HTTP/1.1\r\nhOsT:  localhost:9\r\n\r\n", None).as_deref(),
            Some("https://localhost:9/")
        );
        // No port in Host: the one the request came in on (none for 443).
        let bare = "GET /x HTTP/1.1\r\nHost: chat.example.com\r\n\r\n";
        assert_eq!(
            location(bare.as_bytes(), None, Some(8443)).as_deref(),
            Some("https://chat.example.com:8443/x")
        );
        assert_eq!(
            location(bare.as_bytes(), None, Some(443)).as_deref(),
            Some("https://chat.example.com/x")
        );
    }

    #[test]
    fn unusable_requests_get_none() {
        for head in [
            "GET / HTTP/1.1\r\n\r\n",                     // no Host
            "GET / HTTP/1.1\r\nHost: evil.com/x\r\n\r\n", // not a host
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: host:99999\r\n\r\n", // no such port
            "GET / HTTP/1.1\r\nHost: [zz]:1\r\n\r\n",
            "GET http://evil.com/ HTTP/1.1\r\nHost: host\r\n\r\n", // absolute target
            "GET /\u{7f} HTTP/1.1\r\nHost: host\r\n\r\n",
            "GET",
        ] {
            assert_eq!(go(head, None), None, "{head:?}");
        }
    }

    #[test]
    fn tls_and_http_are_told_apart_by_the_first_byte() {
        assert!(!is_plain_http(0x16));
        for method in ["GET", "POST", "HEAD", "PUT", "OPTIONS"] {
            assert!(is_plain_http(method.as_bytes()[0]));
        }
    }
}
