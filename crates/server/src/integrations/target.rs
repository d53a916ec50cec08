//! Where an outgoing webhook may POST. A webhook URL is chosen by a user,
//! and the server sends from inside the operator's network: without a rule
//! it could be made to reach the database, a cloud metadata service or an
//! admin page on loopback. So:
//!
//! - `https://` to public addresses only;
//! - private, loopback, link-local, shared (CGNAT), multicast and
//!   unspecified addresses only if `webhook_allow` lists them, and then
//!   `http://` too;
//! - checked when the webhook is made and again at each delivery, on the
//!   addresses the name resolves to then (the HTTP client connects only to
//!   addresses that pass, see [`Guard`]); redirects are not followed.

use crate::proxy::Trusted;
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6.segments()[0] == 0x2001 && v6.segments()[1] == 0xdb8)
        }
    }
}

/// The rule for the addresses a webhook may reach.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Arc<Trusted>,
}

impl Guard {
    pub fn new(allow: Trusted) -> Guard {
        Guard {
            allow: Arc::new(allow),
        }
    }

    /// Whether a delivery may connect to `ip` (over `https` if `tls`).
    pub fn permits(&self, ip: IpAddr, tls: bool) -> bool {
        self.allow.contains(ip) || tls && is_public(ip)
    }

    /// Checks a webhook URL as given: its form, and where its host
    /// resolves now. The error says what is wrong.
    pub async fn check(&self, url: &str) -> Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let tls = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err("a webhook URL starts with https://".into()),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("a webhook URL has no user name or password in it".into());
        }
        if url.len() > 2048 {
            return Err("a webhook URL has at most 2048 characters".into());
        }
        let addrs = self.resolve(&parsed).await?;
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip(), tls)) {
            return Err(if tls {
                format!(
                    "{} is a private address: webhooks reach it only if the server's \
                     webhook_allow lists it",
                    bad.ip()
                )
            } else {
                format!(
                    "http:// is allowed only to addresses in the server's webhook_allow \
                     ({} is not): use https://",
                    bad.ip()
                )
            });
        }
        Ok(parsed)
    }

    /// The addresses `url`'s host stands for now.
    async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, String> {
        let host = url.host_str().ok_or("a webhook URL names a host")?;
        let port = url.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        if found.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        Ok(found)
    }
}

/// The HTTP client's resolver: a name's addresses, less those a webhook
/// may not reach (public https ones, and `webhook_allow`'s). An `http://`
/// URL is checked whole by [`Guard::check`] before each delivery.
impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| guard.permits(a.ip(), true)).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no address a webhook may reach").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow: &[&str]) -> Guard {
        let list: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        Guard::new(Trusted::parse(&list).unwrap())
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_against_the_rule() {
        let none = guard(&[]);
        assert!(none.check("https://127.0.0.1/x").await.is_err());
        assert!(none.check("https://[::1]:8443/x").await.is_err());
        assert!(none.check("https://localhost/x").await.is_err());
        assert!(none.check("http://1.1.1.1/x").await.is_err());
        assert!(none.check("https://1.1.1.1/x").await.is_ok());
        assert!(none.check("ftp://1.1.1.1/x").await.is_err());
        assert!(none.check("https://u:p@1.1.1.1/x").await.is_err());
        let local = guard(&["127.0.0.0/8"]);
        assert!(local.check("http://127.0.0.1:9/x").await.is_ok());
        assert!(local.check("http://10.0.0.1/x").await.is_err());
        assert!(local.check("http://1.1.1.1/x").await.is_err());
    }
}
