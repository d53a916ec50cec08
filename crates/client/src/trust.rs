//! TLS trust, as ssh does it for host keys.
//!
//! A server is trusted through, in order: a `--ca-file`; a pin saved on
//! first use (the certificate authority the server presented, by SHA-256);
//! or the public web PKI. SecureChat's built-in CA signs short-lived leaf
//! certificates and clients pin the CA, so renewals never change the pin. A
//! pinned server that presents another CA is refused loudly.

use crate::ClientError;
use crate::store::{Pin, Store};
use base64::Engine;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub use securechat_proto::digest::fingerprint;

/// PEM text of a DER certificate.
pub fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// What a connection to one server trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The public web PKI.
    Public,
    /// The certificates of a `--ca-file`.
    CaFile(Vec<CertificateDer<'static>>),
    /// A certificate authority pinned on first use.
    Pinned(CertificateDer<'static>),
}

impl Trust {
    /// The trust for `server` (`host:port`): `ca_file`, else its pin, else
    /// the public PKI.
    pub fn for_server(
        store: &Store,
        server: &str,
        ca_file: Option<&Path>,
    ) -> Result<Trust, ClientError> {
        if let Some(path) = ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ClientError::Usage(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ClientError::Usage(format!(
                    "{}: no certificate",
                    path.display()
                )));
            }
            return Ok(Trust::CaFile(certs));
        }
        match store.pin(server)? {
            Some(pin) => CertificateDer::from_pem_slice(pin.pem.as_bytes())
                .map(Trust::Pinned)
                .map_err(|e| ClientError::Protocol(format!("bad pin for {server}: {e}"))),
            None => Ok(Trust::Public),
        }
    }
}

/// A rustls verifier that remembers the certificate authority the server
/// offered, so a failure can say which one it was.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    offered: Arc<Mutex<Option<CertificateDer<'static>>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The last certificate of the chain is the authority (a lone
        // self-signed certificate is its own).
        let root = intermediates
            .last()
            .unwrap_or(end_entity)
            .clone()
            .into_owned();
        *self.offered.lock().unwrap_or_else(|e| e.into_inner()) = Some(root);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration for one trust, and what the server offered.
pub struct Tls {
    pub config: Arc<ClientConfig>,
    offered: Arc<Mutex<Option<CertificateDer<'static>>>>,
    trust: Trust,
}

impl Tls {
    pub fn new(trust: Trust) -> Result<Tls, ClientError> {
        let provider = Arc::new(ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &trust {
            Trust::Public => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Trust::CaFile(certs) => {
                for c in certs {
                    roots
                        .add(c.clone())
                        .map_err(|e| ClientError::Usage(format!("unusable CA certificate: {e}")))?;
                }
            }
            Trust::Pinned(c) => roots
                .add(c.clone())
                .map_err(|e| ClientError::Protocol(format!("unusable pinned certificate: {e}")))?,
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let offered = Arc::new(Mutex::new(None));
        let verifier = Recording {
            inner,
            offered: offered.clone(),
            provider: provider.clone(),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Protocol(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
            offered,
            trust,
        })
    }

    /// The certificate authority the server offered in the last handshake.
    pub fn offered(&self) -> Option<CertificateDer<'static>> {
        self.offered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Handshakes with `host:port` to check trust. On failure, says whether
    /// the server is new (`Untrusted`, with the fingerprint to confirm) or
    /// its pin changed (`PinMismatch`).
    pub async fn check(&self, host: &str, port: u16) -> Result<(), ClientError> {
        let server = format!("{host}:{port}");
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| ClientError::Unreachable(format!("{server}: {e}")))?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ClientError::Usage(format!("bad host name {host:?}")))?;
        let err = match TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(offered) = self.offered() else {
            return Err(ClientError::Unreachable(format!("{server}: {err}")));
        };
        let offered_fp = fingerprint(&offered);
        match &self.trust {
            Trust::Pinned(pinned) if fingerprint(pinned) != offered_fp => {
                Err(ClientError::PinMismatch {
                    server,
                    pinned: fingerprint(pinned),
                    offered: offered_fp,
                })
            }
            Trust::Public => Err(ClientError::Untrusted {
                fingerprint: offered_fp,
            }),
            _ => Err(ClientError::Unreachable(format!("{server}: {err}"))),
        }
    }

    /// The pin to save for the certificate authority just offered.
    pub fn offered_pin(&self) -> Option<Pin> {
        self.offered().map(|der| Pin {
            fingerprint: fingerprint(&der),
            pem: to_pem(&der),
        })
    }
}
