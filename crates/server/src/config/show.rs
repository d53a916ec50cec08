//! What an operator reads about the configuration: [`Config::to_toml`]
//! (`config check`: the effective settings as TOML, secrets redacted) and
//! [`explain`] (a file or variable that does not parse, as one line per
//! problem, named the way the operator wrote it).

use super::Config;
use figment::error::Kind;

/// What a secret is shown as.
pub const REDACTED: &str = "REDACTED";

impl Config {
    /// The effective configuration as TOML: every option, with passwords,
    /// tokens and the metrics token replaced by [`REDACTED`]; options left
    /// unset are named in a comment.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database = shown.database.as_deref().map(redact_url);
        shown.broker = shown.broker.as_deref().map(redact_url);
        if shown.metrics_token.is_some() {
            shown.metrics_token = Some(REDACTED.into());
        }
        let unset: Vec<&str> = [
            ("redirect_http_bind", shown.redirect_http_bind.is_none()),
            ("plain_bind", shown.plain_bind.is_none()),
            ("database", shown.database.is_none()),
            ("broker", shown.broker.is_none()),
            ("node_id", shown.node_id.is_none()),
            ("tls_cert", shown.tls_cert.is_none()),
            ("tls_key", shown.tls_key.is_none()),
            ("metrics_token", shown.metrics_token.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, none)| none.then_some(name))
        .collect();
        let body = toml::to_string(&shown).expect("the configuration serializes as TOML");
        let mut out = String::from(
            "# The effective configuration: defaults, then the config file, then\n\
             # SECURECHAT_* variables, then flags. Secrets are shown as REDACTED.\n",
        );
        if !unset.is_empty() {
            out.push_str(&format!("# Unset: {}.\n", unset.join(", ")));
        }
        out.push_str(&body);
        out
    }
}

/// `url` with its password (or a lone token before `@`) and any
/// `password=…` parameter replaced by [`REDACTED`]; a user name stays.
pub fn redact_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            match authority.rfind('@') {
                Some(at) => {
                    let userinfo = match authority[..at].split_once(':') {
                        Some((user, _)) => format!("{user}:{REDACTED}"),
                        // NATS takes a token alone; PostgreSQL a user name.
                        None if scheme.starts_with("nats") => REDACTED.to_owned(),
                        None => authority[..at].to_owned(),
                    };
                    format!("{scheme}://{userinfo}{}", &rest[at..])
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // `?password=…` in a URL, `password=…` in a key=value string.
    let mut from = 0;
    while let Some(i) = out[from..].find("password=") {
        let start = from + i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, REDACTED);
        from = start + REDACTED.len();
    }
    out
}

/// A configuration that does not parse, one line per problem: where
/// (the file, or the variable), which option, and what is wrong.
pub fn explain(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| one(&e))
        .collect::<Vec<_>>()
        .join("\n")
}

fn one(e: &figment::Error) -> String {
    let option = e.path.join(".");
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let file = e
        .metadata
        .as_ref()
        .and_then(|m| m.source.as_ref())
        .map(|s| s.to_string());
    if let Kind::UnknownField(name, _) = &e.kind {
        let place = if from_env {
            "the environment".to_owned()
        } else {
            file.unwrap_or_else(|| "the configuration".into())
        };
        return format!(
            "{place}: unknown option `{name}` (docs/config.example.toml lists every option)"
        );
    }
    let place = match (from_env, file) {
        (true, _) => format!("SECURECHAT_{}", option.to_ascii_uppercase()),
        (false, Some(file)) => format!("{file}: `{option}`"),
        (false, None) => format!("`{option}`"),
    };
    let what = match &e.kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("expected {}, found {actual}", plain(expected))
        }
        Kind::UnknownVariant(name, known) => {
            format!("`{name}` is not one of {}", known.join(", "))
        }
        other => other.to_string(),
    };
    format!("{place}: {what}")
}

/// Rust's type names as an operator would say them.
fn plain(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn secrets_in_urls_are_redacted_and_the_rest_kept() {
        for (url, shown) in [
            (
                "postgres://sc:hunter2@db:5432/chat",
                "postgres://sc:REDACTED@db:5432/chat",
            ),
            ("postgres://sc@db/chat", "postgres://sc@db/chat"),
            (
                "postgres://db/chat?user=sc&password=hunter2&sslmode=require",
                "postgres://db/chat?user=sc&password=REDACTED&sslmode=require",
            ),
            (
                "host=db user=sc password=hunter2 dbname=chat",
                "host=db user=sc password=REDACTED dbname=chat",
            ),
            (
                "nats://s3cr3t-token@127.0.0.1:4222",
                "nats://REDACTED@127.0.0.1:4222",
            ),
            (
                "nats://u:pw@127.0.0.1:4222",
                "nats://u:REDACTED@127.0.0.1:4222",
            ),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn the_effective_config_is_toml_that_loads_back_without_secrets() {
        let config = Config {
            database: Some("postgres://sc:hunter2@db/chat".into()),
            broker: Some("nats://tok3n-secret@127.0.0.1:4222".into()),
            metrics_token: Some("a-metrics-token-of-some-length".into()),
            burst: 7,
            ..Config::default()
        };
        let text = config.to_toml();
        for secret in ["hunter2", "tok3n-secret", "a-metrics-token"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("burst = 7"), "{text}");
        assert!(
            text.contains("# Unset: redirect_http_bind, plain_bind, node_id, tls_cert, tls_key."),
            "{text}"
        );
        assert!(text.contains("metrics_token = \"REDACTED\""), "{text}");
        // Without the (redacted) metrics token, it loads back as it is.
        let text = text.replace("metrics_token = \"REDACTED\"\n", "");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, &text).unwrap();
        let back = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(back.burst, 7);
        assert_eq!(
            back.database.as_deref(),
            Some("postgres://sc:REDACTED@db/chat")
        );
    }

    #[test]
    fn errors_name_the_option_where_it_was_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "burst = \"ten\"\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "c.toml: `burst`: expected a whole number (0 or more), found string \"ten\""
            ),
            "{err}"
        );
        assert!(
            !err.contains("default."),
            "no internal profile names: {err}"
        );
        assert!(!err.contains("u32"), "no Rust type names: {err}");
        assert_eq!(err.lines().count(), 1, "said once: {err}");

        std::fs::write(&file, "bogus = 1\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "c.toml: unknown option `bogus` (docs/config.example.toml lists every option)"
            ),
            "{err}"
        );
    }
}
