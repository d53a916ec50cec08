//! Search queries: what a user types (`deploy "release notes" fix*
//! from:bob in:#ops before:2026-12-01 after:2026-11-01 has:file`), parsed
//! into words, phrases and prefixes (quoted for FTS5, so no FTS syntax a
//! user types is ever interpreted) and filters.

use securechat_proto::validate::{normalize_room_name, normalize_username};
use thiserror::Error;

/// Longest query, in characters.
pub const MAX_QUERY: usize = 500;
/// Most words, phrases and prefixes in one query.
pub const MAX_TERMS: usize = 16;

/// Why a query was refused (the words are for people).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("type something to search for")]
    Empty,
    #[error("a search may be at most {MAX_QUERY} characters")]
    TooLong,
    #[error("a search may have at most {MAX_TERMS} words")]
    TooManyTerms,
    #[error("{0}")]
    BadFilter(String),
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The FTS5 expression (every term quoted), or `None` for a query of
    /// filters only.
    pub fts: Option<String>,
    /// The same terms, each a word or phrase and whether it is a prefix
    /// (`deploy*`), for PostgreSQL's full-text search.
    pub terms: Vec<(String, bool)>,
    pub from: Option<String>,
    pub room: Option<String>,
    /// Milliseconds since the epoch: messages before (exclusive) and at or
    /// after (inclusive).
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub has_file: bool,
}

/// A `YYYY-MM-DD` date as the millisecond its day starts (UTC).
fn day_start(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(m).ok()?;
    let date = time::Date::from_calendar_date(y, month, d).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Splits `raw` into tokens: `"a phrase"` stays one token (an unclosed
/// quote runs to the end), everything else splits on whitespace.
fn tokens(raw: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            out.push((phrase, true));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push((word, false));
        }
    }
    out
}

/// True if `s` has a letter or digit (something FTS5 can index).
fn indexable(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

pub fn parse(raw: &str) -> Result<Query, QueryError> {
    if raw.chars().count() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    let bad = |s: &str| QueryError::BadFilter(s.to_owned());
    let mut q = Query::default();
    let mut terms = Vec::new();
    for (token, phrase) in tokens(raw) {
        if !phrase && let Some((key, value)) = token.split_once(':') {
            match key.to_ascii_lowercase().as_str() {
                "from" => {
                    let name = value.strip_prefix('@').unwrap_or(value);
                    q.from = Some(
                        normalize_username(name)
                            .map_err(|_| bad(&format!("from: needs a username, not {value:?}")))?,
                    );
                    continue;
                }
                "in" => {
                    let name = value.strip_prefix('#').unwrap_or(value);
                    q.room = Some(
                        normalize_room_name(name)
                            .map_err(|_| bad(&format!("in: needs a room name, not {value:?}")))?,
                    );
                    continue;
                }
                "before" | "after" => {
                    let at = day_start(value).ok_or_else(|| {
                        bad(&format!(
                            "{key}: needs a date like 2026-12-31, not {value:?}"
                        ))
                    })?;
                    if key.eq_ignore_ascii_case("before") {
                        q.before = Some(at);
                    } else {
                        q.after = Some(at);
                    }
                    continue;
                }
                "has" if value.eq_ignore_ascii_case("file") => {
                    q.has_file = true;
                    continue;
                }
                "has" => return Err(bad("has: knows only has:file")),
                // Anything else with a colon (a URL, 10:30) is words.
                _ => {}
            }
        }
        if phrase {
            if indexable(&token) {
                terms.push(quote(&token));
                q.terms.push((token, false));
            }
        } else if let Some(stem) = token.strip_suffix('*') {
            if indexable(stem) {
                terms.push(format!("{}*", quote(stem)));
                q.terms.push((stem.to_owned(), true));
            }
        } else if indexable(&token) {
            terms.push(quote(&token));
            q.terms.push((token, false));
        }
    }
    if terms.len() > MAX_TERMS {
        return Err(QueryError::TooManyTerms);
    }
    if terms.is_empty() && q == Query::default() {
        return Err(QueryError::Empty);
    }
    q.fts = (!terms.is_empty()).then(|| terms.join(" "));
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_prefixes_and_filters() {
        let q = parse(r#"deploy "release notes" fix* from:@Bob in:#Ops has:file after:2026-11-01 before:2026-12-01"#)
            .unwrap();
        assert_eq!(q.fts.as_deref(), Some(r#""deploy" "release notes" "fix"*"#));
        assert_eq!(q.from.as_deref(), Some("bob"));
        assert_eq!(q.room.as_deref(), Some("ops"));
        assert!(q.has_file);
        assert_eq!(q.after, Some(1_793_491_200_000));
        assert_eq!(q.before, Some(1_796_083_200_000));
    }

    #[test]
    fn fts_syntax_is_only_ever_words() {
        let q = parse(r#"a" OR body:x NEAR(b c) -d ^e"#).unwrap();
        assert_eq!(
            q.fts.as_deref(),
            Some(r#""a""" "OR" "body:x" "NEAR(b" "c)" "-d" "^e""#)
        );
        let q = parse(r#"say "she said ""hi"""#).unwrap();
        assert!(q.fts.unwrap().starts_with(r#""say" "she said ""#));
        assert_eq!(parse("   ").unwrap_err(), QueryError::Empty);
        assert_eq!(parse("*** ---").unwrap_err(), QueryError::Empty);
        assert_eq!(parse(&"x".repeat(501)).unwrap_err(), QueryError::TooLong);
        assert_eq!(
            parse(&"w ".repeat(17)).unwrap_err(),
            QueryError::TooManyTerms
        );
        assert!(matches!(
            parse("before:yesterday"),
            Err(QueryError::BadFilter(_))
        ));
        assert!(matches!(parse("from:a"), Err(QueryError::BadFilter(_))));
        assert!(matches!(parse("has:link"), Err(QueryError::BadFilter(_))));
        assert_eq!(parse("from:bob").unwrap().fts, None);
        assert_eq!(
            parse("https://x.y/z 10:30").unwrap().fts.as_deref(),
            Some(r#""https://x.y/z" "10:30""#)
        );
    }
}
