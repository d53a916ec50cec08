//! A public certificate from an ACME CA (Let's Encrypt) for
//! `acme_domain`, through `instant-acme`.
//!
//! At start, a certificate obtained before (`DATA_DIR/acme/cert.pem` and
//! `key.pem`) is served if it is still valid; otherwise the built-in CA's
//! leaf is served until the first order completes. [`run`] orders one when
//! none is served or the one served is within [`RENEW_BEFORE`] of its end,
//! proving the name with HTTP-01: the CA fetches
//! `http://NAME/.well-known/acme-challenge/TOKEN`, which the plain-HTTP
//! port (`redirect_http_bind`) answers from [`Challenges`]. The new
//! certificate is written to the data directory (key 0600) and swapped in
//! without a restart. A failed order is tried again after 1 minute,
//! doubling up to 6 hours; the account's key is kept in `account.json`.

use super::{Tls, TlsError, files};
use crate::config::Config;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;
use time::OffsetDateTime;

/// A certificate is renewed this long before it ends (or once two thirds
/// of its life have passed, whichever comes first).
pub const RENEW_BEFORE: time::Duration = time::Duration::days(30);
/// Where the CA looks for an HTTP-01 answer.
pub const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";
/// How often the served certificate is checked.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);
/// The first wait after a failed order; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// HTTP-01 answers in flight: token → key authorization.
#[derive(Debug, Default)]
pub struct Challenges(RwLock<HashMap<String, String>>);

impl Challenges {
    /// The answer for a request to `path`, if it is a pending challenge's.
    pub fn answer(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(CHALLENGE_PATH)?;
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    fn put(&self, token: String, key_authorization: String) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, key_authorization);
    }

    fn take(&self, token: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }
}

fn cert_path(config: &Config) -> std::path::PathBuf {
    config.acme_dir().join("cert.pem")
}

fn key_path(config: &Config) -> std::path::PathBuf {
    config.acme_dir().join("key.pem")
}

/// The certificate obtained before, if there is one that has not ended.
pub fn stored(config: &Config) -> Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path(config))
        .ok()?
        .collect::<Result<_, _>>()
        .ok()?;
    let key = PrivateKeyDer::from_pem_file(key_path(config)).ok()?;
    let (_, not_after) = super::ca::validity(chain.first()?).ok()?;
    (not_after > OffsetDateTime::now_utc()).then_some((chain, key))
}

/// Keeps a certificate from the ACME CA served, until shutdown.
pub async fn run(
    config: Config,
    tls: std::sync::Arc<Tls>,
    challenges: std::sync::Arc<Challenges>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Some(domain) = config.acme_domain.clone() else {
        return;
    };
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wait = if tls.acme_due(OffsetDateTime::now_utc()) {
            match obtain(&config, &domain, &challenges).await {
                Ok((chain, key)) => match save_and_install(&config, &tls, &chain, &key) {
                    Ok(()) => {
                        tracing::info!(%domain, not_after = %tls.leaf_not_after(), "certificate from the ACME CA installed");
                        backoff = FIRST_BACKOFF;
                        CHECK_EVERY
                    }
                    Err(e) => {
                        tracing::error!(%domain, error = %e, "the ACME certificate cannot be used");
                        backoff
                    }
                },
                Err(e) => {
                    tracing::warn!(%domain, error = %e, retry_in_s = backoff.as_secs(), "no certificate from the ACME CA");
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            }
        } else {
            CHECK_EVERY
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => return,
        }
    }
}

fn save_and_install(config: &Config, tls: &Tls, chain: &str, key: &str) -> Result<(), TlsError> {
    let pem = |e: rustls_pki_types::pem::Error| TlsError::Ca(format!("the CA's answer: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(pem)?;
    let private = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(pem)?;
    files::private_dir(&config.acme_dir())?;
    files::write_file(&key_path(config), key, 0o600)?;
    files::write_file(&cert_path(config), chain, 0o600)?;
    tls.install(certs, private)
}

/// The account: the one stored, or a new one (stored).
async fn account(config: &Config) -> Result<Account, String> {
    let builder = || match &config.acme_ca_file {
        Some(ca) => Account::builder_with_root(ca),
        None => Account::builder(),
    };
    let path = config.acme_dir().join("account.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let credentials: AccountCredentials =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return builder()
            .map_err(|e| e.to_string())?
            .from_credentials(credentials)
            .await
            .map_err(|e| format!("the stored ACME account: {e}"));
    }
    let contact = config.acme_email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()
        .map_err(|e| e.to_string())?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.acme_directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("creating the ACME account: {e}"))?;
    let text = serde_json::to_string(&credentials).map_err(|e| e.to_string())?;
    files::private_dir(&config.acme_dir()).map_err(|e| e.to_string())?;
    files::write_file(&path, &text, 0o600).map_err(|e| e.to_string())?;
    tracing::info!(directory = %config.acme_directory, "ACME account made");
    Ok(account)
}

/// Orders a certificate for `domain`: (chain PEM, private key PEM).
async fn obtain(
    config: &Config,
    domain: &str,
    challenges: &Challenges,
) -> Result<(String, String), String> {
    let account = account(config).await?;
    let ids = [Identifier::Dns(domain.to_owned())];
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let mut tokens = Vec::new();
    let proven = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("the authorization is {other:?}")),
            }
            let mut challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or("the CA offers no HTTP-01 challenge")?;
            let token = challenge.token.clone();
            challenges.put(
                token.clone(),
                challenge.key_authorization().as_str().to_owned(),
            );
            tokens.push(token);
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        let retries = RetryPolicy::default().timeout(Duration::from_secs(90));
        match order.poll_ready(&retries).await {
            Ok(OrderStatus::Ready) => Ok(()),
            Ok(other) => Err(format!(
                "the order is {other:?}: is {domain} on port 80 this server's?"
            )),
            Err(e) => Err(format!("waiting for the CA: {e}")),
        }
    }
    .await;
    for token in &tokens {
        challenges.take(token);
    }
    proven?;
    let key = order
        .finalize()
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .map_err(|e| format!("certificate: {e}"))?;
    Ok((chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_tokens_are_answered() {
        let c = Challenges::default();
        c.put("abc".into(), "abc.thumb".into());
        assert_eq!(
            c.answer("/.well-known/acme-challenge/abc").as_deref(),
            Some("abc.thumb")
        );
        assert_eq!(c.answer("/.well-known/acme-challenge/abd"), None);
        assert_eq!(c.answer("/abc"), None);
        c.take("abc");
        assert_eq!(c.answer("/.well-known/acme-challenge/abc"), None);
    }
}
