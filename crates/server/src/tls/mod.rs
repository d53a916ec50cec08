//! TLS for the one HTTPS/wss:// port.
//!
//! - [`ca`]: the built-in certificate authority (made once, name-constrained
//!   to the server's own names) and the short-lived leaf it signs;
//! - [`files`]: reading and writing PEM files with safe permissions;
//! - [`acme`]: a public certificate from an ACME CA (`acme_domain`),
//!   obtained and renewed in the background and swapped in;
//! - this file: [`Tls`], which owns the rustls config, a resolver whose
//!   certificate can be swapped while serving, and the renewal check.

pub mod acme;
pub mod ca;
pub mod files;

use crate::config::Config;
use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use thiserror::Error;
use time::OffsetDateTime;

/// TLS set-up failed.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{0}")]
    Ca(String),
}

pub use securechat_proto::digest::fingerprint;

/// Serves whichever certificate was stored last.
#[derive(Debug)]
struct SwappableCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// The server's TLS state.
pub struct Tls {
    resolver: Arc<SwappableCert>,
    /// The built-in CA that issues (and re-issues) the leaf; `None` when an
    /// operator-provided certificate is served as is.
    local_ca: Option<ca::LocalCa>,
    /// The certificate clients pin: the CA's, or the configured leaf's.
    pin_der: CertificateDer<'static>,
    /// The CA certificate served at `/ca.pem` (built-in CA only).
    ca_pem: Option<String>,
    /// When the current leaf stops being valid.
    leaf_not_after: RwLock<OffsetDateTime>,
    leaf_not_before: RwLock<OffsetDateTime>,
    /// A certificate from an ACME CA is served: the built-in CA no longer
    /// renews the leaf.
    external: AtomicBool,
}

impl Tls {
    /// Loads the configured certificate, or sets up the built-in CA and
    /// issues a fresh leaf from it.
    pub fn load(config: &Config) -> Result<Tls, TlsError> {
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Self::configured(cert.clone(), key.clone())?,
            _ => Self::built_in(config)?,
        };
        // A certificate an ACME CA issued before, if it is still good.
        if config.acme_domain.is_some()
            && let Some((chain, key)) = acme::stored(config)
            && let Err(e) = tls.install(chain, key)
        {
            tracing::warn!(error = %e, "the stored ACME certificate is unusable");
        }
        Ok(tls)
    }

    /// Serves `chain` (leaf first) with `key` from now on, instead of the
    /// built-in CA's leaf, which is no longer renewed.
    pub fn install(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), TlsError> {
        let first = chain
            .first()
            .cloned()
            .ok_or_else(|| TlsError::Ca("an empty certificate chain".into()))?;
        let (not_before, not_after) = ca::validity(&first)?;
        let certified = certified_key(chain, key)?;
        *self.resolver.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        *self
            .leaf_not_after
            .write()
            .unwrap_or_else(|e| e.into_inner()) = not_after;
        *self
            .leaf_not_before
            .write()
            .unwrap_or_else(|e| e.into_inner()) = not_before;
        self.external.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether an ACME certificate should be ordered at `now`: none is
    /// served yet, or the one served is within [`acme::RENEW_BEFORE`] of
    /// its end (or two thirds through its life).
    pub fn acme_due(&self, now: OffsetDateTime) -> bool {
        if !self.external.load(Ordering::Acquire) {
            return true;
        }
        let not_before = *self
            .leaf_not_before
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let not_after = self.leaf_not_after();
        now >= not_after - acme::RENEW_BEFORE || renewal_due(not_before, not_after, now)
    }

    /// The certificate being served, leaf first (for tests and `cert`
    /// commands).
    pub fn served_leaf(&self) -> CertificateDer<'static> {
        self.resolver
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .cert[0]
            .clone()
    }

    fn configured(cert_path: PathBuf, key_path: PathBuf) -> Result<Tls, TlsError> {
        let pem_err = |path: &PathBuf| {
            let path = path.clone();
            move |e: rustls_pki_types::pem::Error| TlsError::Pem {
                path,
                message: e.to_string(),
            }
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
            .map_err(pem_err(&cert_path))?
            .collect::<Result<_, _>>()
            .map_err(pem_err(&cert_path))?;
        let Some(first) = chain.first().cloned() else {
            return Err(TlsError::Pem {
                path: cert_path,
                message: "no certificate in file".into(),
            });
        };
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(pem_err(&key_path))?;
        let (not_before, not_after) = ca::validity(&first)?;
        let certified = certified_key(chain, key)?;
        Ok(Tls {
            resolver: Arc::new(SwappableCert(RwLock::new(Arc::new(certified)))),
            local_ca: None,
            pin_der: first,
            ca_pem: None,
            leaf_not_after: RwLock::new(not_after),
            leaf_not_before: RwLock::new(not_before),
            external: AtomicBool::new(false),
        })
    }

    fn built_in(config: &Config) -> Result<Tls, TlsError> {
        let local = ca::LocalCa::open_or_create(&config.tls_dir(), &config.cert_names())?;
        local.check_names(&config.cert_names())?;
        let leaf = local.issue_leaf(config.cert_validity_days, OffsetDateTime::now_utc())?;
        let certified = certified_key(leaf.chain.clone(), leaf.key.clone_key())?;
        Ok(Tls {
            resolver: Arc::new(SwappableCert(RwLock::new(Arc::new(certified)))),
            pin_der: local.cert_der().clone(),
            ca_pem: Some(local.cert_pem().to_owned()),
            leaf_not_after: RwLock::new(leaf.not_after),
            leaf_not_before: RwLock::new(leaf.not_before),
            local_ca: Some(local),
            external: AtomicBool::new(false),
        })
    }

    /// The rustls server configuration (TLS 1.2 and 1.3, ring's AEAD
    /// forward-secret suites only, HTTP/1.1 by ALPN).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut cfg =
            rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .with_no_client_auth()
                .with_cert_resolver(self.resolver.clone());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// SHA-256 fingerprint of the certificate clients pin.
    pub fn pin_fingerprint(&self) -> String {
        fingerprint(&self.pin_der)
    }

    /// The built-in CA's certificate in PEM, for `/ca.pem`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// When the served leaf certificate expires.
    pub fn leaf_not_after(&self) -> OffsetDateTime {
        *self
            .leaf_not_after
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Issues (valid from the real current time) and swaps in a new leaf if
    /// a third or less of the current one's lifetime remains at `now`.
    /// Returns whether it renewed.
    pub fn renew_if_due(&self, config: &Config, now: OffsetDateTime) -> Result<bool, TlsError> {
        let Some(local) = &self.local_ca else {
            return Ok(false);
        };
        if self.external.load(Ordering::Acquire) {
            return Ok(false);
        }
        let not_before = *self
            .leaf_not_before
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if !renewal_due(not_before, self.leaf_not_after(), now) {
            return Ok(false);
        }
        let leaf = local.issue_leaf(config.cert_validity_days, OffsetDateTime::now_utc())?;
        let certified = certified_key(leaf.chain, leaf.key)?;
        *self.resolver.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(certified);
        *self
            .leaf_not_after
            .write()
            .unwrap_or_else(|e| e.into_inner()) = leaf.not_after;
        *self
            .leaf_not_before
            .write()
            .unwrap_or_else(|e| e.into_inner()) = leaf.not_before;
        Ok(true)
    }
}

/// A leaf is renewed once two thirds of its lifetime have passed.
pub fn renewal_due(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    let lifetime = not_after - not_before;
    now >= not_after - lifetime / 3
}

fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, TlsError> {
    let signing = ring::sign::any_supported_type(&key)?;
    Ok(CertifiedKey::new(chain, signing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn renewal_is_due_in_the_last_third() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let end = start + Duration::days(90);
        assert!(!renewal_due(start, end, start + Duration::days(59)));
        assert!(renewal_due(start, end, start + Duration::days(60)));
        assert!(renewal_due(start, end, end + Duration::days(1)));
    }
}
