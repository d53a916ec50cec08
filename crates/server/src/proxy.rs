//! Behind a reverse proxy: which connections come from a proxy the operator
//! trusts (`trusted_proxies`), and the client address it reports.
//!
//! A request whose TCP peer is a trusted proxy is treated as coming from
//! the address the proxy names: the right-most address in `Forwarded`
//! (`for=`) or, without it, `X-Forwarded-For`, that is not itself a trusted
//! proxy. Addresses further left were written by the client and are never
//! believed; a request from anyone else keeps its TCP peer, whatever it
//! sends. Throttles, socket caps and `/metrics`' loopback check all see
//! the address chosen here (it is the request's `ConnectInfo`).

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The proxies whose forwarding headers are believed: addresses or CIDR
/// ranges.
#[derive(Debug, Clone, Default)]
pub struct Trusted(Vec<(IpAddr, u8)>);

impl Trusted {
    /// Parses `10.0.0.0/8`, `127.0.0.1`, `::1`, `fd00::/8`, …; the error
    /// names the entry that is not one.
    pub fn parse(list: &[String]) -> Result<Trusted, String> {
        Self::parse_named(list, "trusted proxy")
    }

    /// [`Trusted::parse`] for another list of addresses, whose entries the
    /// errors call `what`.
    pub fn parse_named(list: &[String], what: &str) -> Result<Trusted, String> {
        list.iter()
            .map(|entry| {
                let (addr, len) = match entry.split_once('/') {
                    Some((a, l)) => (a, Some(l)),
                    None => (entry.as_str(), None),
                };
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("{what} {entry:?} is not an address or a CIDR range"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let len = match len {
                    None => max,
                    Some(l) => l
                        .parse::<u8>()
                        .ok()
                        .filter(|l| *l <= max)
                        .ok_or_else(|| format!("{what} {entry:?} has a bad prefix length"))?,
                };
                Ok((addr, len))
            })
            .collect::<Result<_, _>>()
            .map(Trusted)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, len)| within(ip, net, len))
    }

    /// The client a request from `peer` comes from.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.contains(peer.ip()) {
            return peer;
        }
        let Some(chain) = forwarded_for(headers) else {
            return peer;
        };
        // Right to left: each proxy appended the address it saw.
        let client = chain
            .iter()
            .rev()
            .find(|ip| !self.contains(**ip))
            .or(chain.first())
            .copied();
        client.map_or(peer, |ip| SocketAddr::new(ip, 0))
    }
}

fn within(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net.to_canonical()) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The addresses a request passed through, left to right, from
/// `Forwarded` or else `X-Forwarded-For` (every line of it, in order);
/// `None` if absent or if any entry is not an address (a header that does
/// not parse is not believed at all).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .map(|v| v.to_str().ok())
        .collect::<Option<_>>()?;
    if !forwarded.is_empty() {
        let mut out = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let value = element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))?;
            out.push(node_ip(value)?);
        }
        return (!out.is_empty()).then_some(out);
    }
    let mut out = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        for part in line.to_str().ok()?.split(',') {
            out.push(node_ip(part.trim())?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn node_ip(value: &str) -> Option<IpAddr> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    let inner = value.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(list: &[&str]) -> Trusted {
        Trusted::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn client(t: &Trusted, peer: &str, pairs: &[(&'static str, &str)]) -> String {
        t.client(peer.parse().unwrap(), &headers(pairs))
            .ip()
            .to_string()
    }

    #[test]
    fn ranges_match_what_they_cover() {
        let t = trusted(&["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
        assert!(t.contains("10.200.3.4".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
        assert!(t.contains("127.0.0.1".parse().unwrap()));
        assert!(!t.contains("127.0.0.2".parse().unwrap()));
        assert!(
            t.contains("::ffff:10.1.1.1".parse().unwrap()),
            "IPv4-mapped"
        );
        assert!(t.contains("fd12::1".parse().unwrap()));
        assert!(!t.contains("fe80::1".parse().unwrap()));
        assert!(trusted(&["0.0.0.0/0"]).contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/x", "::1/129"] {
            assert!(Trusted::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        // One proxy: it appended the client.
        assert_eq!(
            client(&t, "127.0.0.1:5000", &[("x-forwarded-for", "203.0.113.9")]),
            "203.0.113.9"
        );
        // The client tried to pass as someone else: ignored.
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]
            ),
            "203.0.113.9"
        );
        // Two proxies of ours in a row.
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]
            ),
            "203.0.113.9"
        );
        // Several header lines, in order.
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-forwarded-for", "198.51.100.7")
                ]
            ),
            "198.51.100.7"
        );
        // Forwarded wins over X-Forwarded-For; ports and brackets are fine.
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[
                    (
                        "forwarded",
                        "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https"
                    ),
                    ("x-forwarded-for", "9.9.9.9")
                ]
            ),
            "2001:db8::7"
        );
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[("forwarded", "For=198.51.100.8:1234")]
            ),
            "198.51.100.8"
        );
        // Only proxies in the chain: the left-most.
        assert_eq!(
            client(
                &t,
                "127.0.0.1:5000",
                &[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]
            ),
            "10.0.0.9"
        );
    }

    #[test]
    fn headers_from_anyone_else_or_that_do_not_parse_are_not_believed() {
        let t = trusted(&["127.0.0.1"]);
        assert_eq!(
            client(&t, "198.51.100.1:5000", &[("x-forwarded-for", "1.2.3.4")]),
            "198.51.100.1"
        );
        assert_eq!(
            client(
                &Trusted::default(),
                "127.0.0.1:5000",
                &[("x-forwarded-for", "1.2.3.4")]
            ),
            "127.0.0.1"
        );
        for bad in ["unknown", "1.2.3.4, evil", "", "1.2.3.4,,5.6.7.8"] {
            assert_eq!(
                client(&t, "127.0.0.1:5000", &[("x-forwarded-for", bad)]),
                "127.0.0.1",
                "{bad:?}"
            );
        }
        assert_eq!(
            client(&t, "127.0.0.1:5000", &[("forwarded", "for=unknown")]),
            "127.0.0.1"
        );
        assert_eq!(
            client(&t, "127.0.0.1:5000", &[("forwarded", "proto=https")]),
            "127.0.0.1"
        );
        // No header at all: the proxy itself.
        assert_eq!(client(&t, "127.0.0.1:5000", &[]), "127.0.0.1");
    }
}
