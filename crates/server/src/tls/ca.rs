//! The built-in certificate authority, as mkcert makes one: an ECDSA P-256
//! CA whose name constraints permit only the server's own names, kept in
//! `DATA_DIR/tls/ca.pem` + `ca-key.pem` (0600), and leaf certificates it
//! signs, written to `cert.pem` + `key.pem` (0600).
//!
//! Clients pin the CA, so re-issuing the leaf never breaks a pin.

use super::{TlsError, files};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// How long the CA itself is valid.
const CA_VALIDITY: Duration = Duration::days(3650);

/// The CA, loaded from or written to the data directory.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A freshly issued leaf certificate.
pub struct Leaf {
    /// Leaf then CA.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl LocalCa {
    /// Loads the CA from `dir`, or creates one constrained to `names`.
    pub fn open_or_create(dir: &Path, names: &[String]) -> Result<LocalCa, TlsError> {
        files::private_dir(dir)?;
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca-key.pem");
        if !cert_path.exists() || !key_path.exists() {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params(names)?.self_signed(&key)?;
            files::write_file(&key_path, &key.serialize_pem(), 0o600)?;
            files::write_file(&cert_path, &cert.pem(), 0o600)?;
            tracing::info!(path = %cert_path.display(), "created a new certificate authority");
        }
        let cert_pem = files::read_file(&cert_path)?;
        let key = KeyPair::from_pem(&files::read_file(&key_path)?)?;
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| TlsError::Pem {
                path: cert_path.clone(),
                message: e.to_string(),
            })?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            cert_pem,
            cert_der,
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Fails with advice if some of `names` lie outside the CA's name
    /// constraints (hostnames were added after the CA was made).
    pub fn check_names(&self, names: &[String]) -> Result<(), TlsError> {
        let permitted = permitted_names(&self.cert_der)?;
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !permitted.iter().any(|p| name_within(n, p)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(TlsError::Ca(format!(
            "the certificate authority in {} does not cover {:?}; remove ca.pem and \
             ca-key.pem there to make a new one (clients will have to trust its new \
             fingerprint)",
            self.dir.display(),
            missing
        )))
    }

    /// Signs a new leaf for `names` valid `days` days from `now`, and writes
    /// it to `cert.pem` / `key.pem`.
    pub fn issue_leaf(&self, days: u32, now: OffsetDateTime) -> Result<Leaf, TlsError> {
        let names = permitted_names(&self.cert_der)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        dn.push(DnType::OrganizationName, "SecureChat");
        params.distinguished_name = dn;
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(i64::from(days));
        params.serial_number = Some(random_serial());
        // No basicConstraints at all: rcgen's explicit `cA: FALSE` encodes a
        // DEFAULT value, which DER forbids and strict parsers reject.
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        files::write_file(&self.dir.join("key.pem"), &key.serialize_pem(), 0o600)?;
        files::write_file(
            &self.dir.join("cert.pem"),
            &format!("{}{}", cert.pem(), self.cert_pem),
            0o600,
        )?;
        Ok(Leaf {
            chain: vec![cert.der().clone(), self.cert_der.clone()],
            key: PrivateKeyDer::try_from(key.serialize_der())
                .map_err(|e| TlsError::Ca(e.to_string()))?,
            not_before: params.not_before,
            not_after: params.not_after,
        })
    }
}

fn ca_params(names: &[String]) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "SecureChat local CA");
    dn.push(DnType::OrganizationName, "SecureChat");
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial());
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let permitted_subtrees = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => {
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, bits))
            }
            Err(_) => GeneralSubtree::DnsName(n.clone()),
        })
        .collect();
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees,
        excluded_subtrees: Vec::new(),
    });
    Ok(params)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

/// The names (DNS names and single IPs) a CA's name constraints permit.
fn permitted_names(der: &CertificateDer<'_>) -> Result<Vec<String>, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| TlsError::Ca(format!("cannot parse CA certificate: {e}")))?;
    let mut names = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::NameConstraints(nc) = ext.parsed_extension() {
            for sub in nc.permitted_subtrees.iter().flatten() {
                match &sub.base {
                    GeneralName::DNSName(d) => names.push(d.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        // address followed by mask, 8 or 32 bytes
                        let half = bytes.len() / 2;
                        let ip = match half {
                            4 => <[u8; 4]>::try_from(&bytes[..4]).map(IpAddr::from).ok(),
                            16 => <[u8; 16]>::try_from(&bytes[..16]).map(IpAddr::from).ok(),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(names)
}

/// Whether `name` is covered by a permitted subtree `base` (same name, or a
/// subdomain of a DNS base).
fn name_within(name: &str, base: &str) -> bool {
    name.eq_ignore_ascii_case(base)
        || (base.parse::<IpAddr>().is_err()
            && name
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", base.to_ascii_lowercase())))
}

/// A certificate's validity period.
pub fn validity(der: &CertificateDer<'_>) -> Result<(OffsetDateTime, OffsetDateTime), TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| TlsError::Ca(format!("cannot parse certificate: {e}")))?;
    Ok((
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["localhost", "127.0.0.1", "::1", "chat.example.com"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn ca_is_created_once_and_constrained() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::open_or_create(dir.path(), &names()).unwrap();
        let again = LocalCa::open_or_create(dir.path(), &names()).unwrap();
        assert_eq!(
            ca.cert_der(),
            again.cert_der(),
            "the CA is reused, not remade"
        );
        assert_eq!(permitted_names(ca.cert_der()).unwrap(), names());
        ca.check_names(&names()).unwrap();
        let err = ca
            .check_names(&["other.example.org".to_string()])
            .unwrap_err();
        assert!(err.to_string().contains("other.example.org"));
        let mode = |f: &str| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("ca-key.pem"), 0o600);
    }

    #[test]
    fn leaf_is_short_lived_and_chains_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::open_or_create(dir.path(), &names()).unwrap();
        let now = OffsetDateTime::now_utc();
        let leaf = ca.issue_leaf(90, now).unwrap();
        let (nb, na) = validity(&leaf.chain[0]).unwrap();
        assert!(na - nb <= Duration::days(366));
        assert!(nb <= now && na > now + Duration::days(89));
        assert_eq!(leaf.chain[1], *ca.cert_der());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("key.pem"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
    }
}
