//! Message search on PostgreSQL: the GIN index on `to_tsvector('securechat',
//! body)` of live messages (see `schema_pg`), with the same filters,
//! orders and membership rule as SQLite's FTS5 search, so the API answers
//! alike on both. Words are matched as PostgreSQL's parser splits them,
//! lowercased and with diacritics folded (no stemming).

use super::StoreError;
use super::search::{HIT_COLUMNS, Hit, MARK_END, MARK_START, Order, page_of_hits};
use super::sql::{Db, Param};
use crate::search::Query;
use securechat_proto::UserId;

/// A `to_tsquery` lexeme for `word`, quoted, as a prefix.
fn prefix_lexeme(word: &str) -> String {
    format!("'{}':*", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// Up to `limit` hits after skipping `offset`, and whether more exist.
pub fn search(
    conn: &Db<'_>,
    user: UserId,
    q: &Query,
    order: Order,
    limit: usize,
    offset: usize,
) -> Result<(Vec<Hit>, bool), StoreError> {
    let mut args: Vec<Box<dyn Param>> = vec![Box::new(user.0)];
    let mut arg = |v: Box<dyn Param>| {
        args.push(v);
        format!("?{}", args.len())
    };
    // Every term must match: a word or phrase in order, or a prefix.
    let tsquery = (!q.terms.is_empty()).then(|| {
        let parts: Vec<String> = q
            .terms
            .iter()
            .map(|(text, prefix)| {
                if *prefix {
                    format!(
                        "to_tsquery('securechat', {})",
                        arg(Box::new(prefix_lexeme(text)))
                    )
                } else {
                    format!(
                        "phraseto_tsquery('securechat', {})",
                        arg(Box::new(text.clone()))
                    )
                }
            })
            .collect();
        format!("({})", parts.join(" && "))
    });
    let snippet = match &tsquery {
        Some(tsq) => format!(
            "ts_headline('securechat', e.body, {tsq},
                'StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=20, MinWords=5')"
        ),
        None => "substr(e.body, 1, 200)".to_owned(),
    };
    let mut sql = format!(
        "{HIT_COLUMNS}, {snippet}, e.file_id
         FROM events e
         JOIN members m ON m.room_id = e.room_id AND m.user_id = ?1
         JOIN rooms r ON r.id = e.room_id
         JOIN users u ON u.id = e.user_id
         WHERE e.kind = 'message' AND e.deleted = 0"
    );
    if let Some(tsq) = &tsquery {
        sql.push_str(&format!(" AND to_tsvector('securechat', e.body) @@ {tsq}"));
    }
    if let Some(from) = &q.from {
        sql.push_str(&format!(
            " AND u.username = {}",
            arg(Box::new(from.clone()))
        ));
    }
    if let Some(room) = &q.room {
        sql.push_str(&format!(
            " AND r.kind != 'dm' AND r.name = {}",
            arg(Box::new(room.clone()))
        ));
    }
    if let Some(before) = q.before {
        sql.push_str(&format!(" AND e.ts < {}", arg(Box::new(before))));
    }
    if let Some(after) = q.after {
        sql.push_str(&format!(" AND e.ts >= {}", arg(Box::new(after))));
    }
    if q.has_file {
        sql.push_str(" AND e.file_id IS NOT NULL");
    }
    match (&tsquery, order) {
        (Some(tsq), Order::Best) => sql.push_str(&format!(
            " ORDER BY ts_rank(to_tsvector('securechat', e.body), {tsq}) DESC, e.id DESC"
        )),
        _ => sql.push_str(" ORDER BY e.id DESC"),
    }
    let page = arg(Box::new(limit as i64 + 1));
    let skip = arg(Box::new(offset as i64));
    sql.push_str(&format!(" LIMIT {page} OFFSET {skip}"));
    page_of_hits(conn, &sql, &args, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_quoted_lexemes() {
        assert_eq!(prefix_lexeme("dep"), "'dep':*");
        assert_eq!(prefix_lexeme("o'k\\"), "'o''k\\\\':*");
    }
}
