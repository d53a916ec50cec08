//! `securechat-server migrate --to postgres://…`: moves a SQLite
//! installation into an empty PostgreSQL database, all or nothing.
//!
//! Every table is copied row by row with its ids (so sessions, links and
//! clients' seqs stay valid), in one PostgreSQL transaction, inside one
//! SQLite read transaction (a consistent snapshot; the data directory is
//! locked, so no server writes meanwhile). Before committing, each table
//! is read back from both databases in key order and compared by row count
//! and a SHA-256 over every value, through the same [`Db`] code on both
//! sides; any difference rolls everything back. The identity counters are
//! then set past the copied ids. Files stay where they are, in the data
//! directory's `files/` (see the deployment guide).

use crate::store::sql::{Db, FromValue, Param, PgConn, Value};
use crate::store::{StoreError, schema, schema_pg};
use sha2::{Digest, Sha256};
use std::path::Path;
use thiserror::Error;

/// The tables, parents before children, each with its identity column,
/// if any. Not copied: the search index and its progress (SQLite's own;
/// PostgreSQL indexes each row as it is stored).
const TABLES: &[(&str, Option<&str>)] = &[
    ("users", Some("id")),
    ("sessions", Some("id")),
    ("rooms", Some("id")),
    ("webhooks", Some("id")),
    ("members", None),
    ("files", Some("id")),
    ("events", Some("id")),
    ("invites", Some("rowid")),
    ("settings", None),
    ("reactions", None),
    ("mentions", None),
    ("thread_follows", None),
    ("devices", None),
    ("one_time_keys", None),
    ("to_device", None),
    ("room_key_shares", None),
    ("key_backup_info", None),
    ("key_backup", None),
    ("password_resets", None),
];

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target database is not empty ({0}); migrate into a new database")]
    NotEmpty(String),
    #[error(
        "table {table}: {what} differ after the copy (SQLite {from}, PostgreSQL {to}); nothing was committed"
    )]
    Mismatch {
        table: &'static str,
        what: &'static str,
        from: String,
        to: String,
    },
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
}

/// One table's figures, as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    pub rows: u64,
    pub sha256: String,
}

/// A column value owned, to carry from one database to the other.
#[derive(Debug, Clone)]
enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl FromValue for Owned {
    fn from_value(v: Value<'_>) -> Option<Self> {
        Some(match v {
            Value::Null => Owned::Null,
            Value::Int(i) => Owned::Int(i),
            Value::Real(r) => Owned::Real(r),
            Value::Text(t) => Owned::Text(t.to_owned()),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
        })
    }
}

impl Param for Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(i) => Value::Int(*i),
            Owned::Real(r) => Value::Real(*r),
            Owned::Text(t) => Value::Text(t),
            Owned::Bytes(b) => Value::Bytes(b),
        }
    }
}

/// Copies the SQLite database at `from` into the PostgreSQL database at
/// `to` and verifies it. Blocking.
pub fn to_postgres(from: &Path, to: &str) -> Result<Vec<Copied>, MigrateError> {
    let mut lite = rusqlite::Connection::open(from).map_err(StoreError::from)?;
    schema::migrate(&mut lite)?;
    let mut client = postgres::Client::connect(to, postgres::NoTls)
        .map_err(|e| MigrateError::Connect(e.to_string()))?;
    schema_pg::migrate(&mut client)?;
    let pg = PgConn::new(client);
    let (src, dst) = (Db::Sqlite(&lite), Db::Postgres(&pg));
    src.batch("BEGIN")?;
    dst.batch("BEGIN")?;
    let result = copy_all(&src, &dst);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    dst.batch(end)?;
    src.batch("ROLLBACK")?;
    result
}

fn copy_all(src: &Db<'_>, dst: &Db<'_>) -> Result<Vec<Copied>, MigrateError> {
    refuse_unless_empty(dst)?;
    // The new database's own `general` room makes way for the copied one.
    dst.batch("DELETE FROM rooms")?;
    let mut report = Vec::new();
    for &(table, identity) in TABLES {
        let columns = columns(src, table, identity)?;
        copy_table(src, dst, table, &columns)?;
        let (rows, from_sum) = checksum(src, table, &columns)?;
        let (to_rows, to_sum) = checksum(dst, table, &columns)?;
        if rows != to_rows {
            return Err(mismatch(table, "row counts", rows, to_rows));
        }
        if from_sum != to_sum {
            return Err(mismatch(table, "checksums", &from_sum, &to_sum));
        }
        report.push(Copied {
            table,
            rows,
            sha256: from_sum,
        });
    }
    for &(table, identity) in TABLES {
        if let Some(col) = identity {
            dst.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{col}'),
                                   COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)"
                ),
                (),
                |_| Ok(()),
            )?;
        }
    }
    Ok(report)
}

fn mismatch(
    table: &'static str,
    what: &'static str,
    from: impl ToString,
    to: impl ToString,
) -> MigrateError {
    MigrateError::Mismatch {
        table,
        what,
        from: from.to_string(),
        to: to.to_string(),
    }
}

fn refuse_unless_empty(dst: &Db<'_>) -> Result<(), MigrateError> {
    let users: i64 = dst.query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))?;
    let events: i64 = dst.query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))?;
    let rooms: i64 = dst.query_row("SELECT COUNT(*) FROM rooms", (), |r| r.get(0))?;
    if users > 0 || events > 0 || rooms > 1 {
        return Err(MigrateError::NotEmpty(format!(
            "{users} users, {rooms} rooms, {events} events"
        )));
    }
    Ok(())
}

/// The table's columns, as SQLite has them (the PostgreSQL schema has the
/// same names), with its identity first if SQLite keeps it implicit
/// (`invites.rowid`).
fn columns(src: &Db<'_>, table: &str, identity: Option<&str>) -> Result<Vec<String>, StoreError> {
    let mut names: Vec<String> = src.query_map(
        "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        [table],
        |r| r.get(0),
    )?;
    if let Some(id) = identity
        && !names.iter().any(|n| n == id)
    {
        names.insert(0, id.to_owned());
    }
    Ok(names)
}

fn copy_table(
    src: &Db<'_>,
    dst: &Db<'_>,
    table: &str,
    columns: &[String],
) -> Result<(), StoreError> {
    let list = columns.join(", ");
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
    // Row by row as SQLite reads them: nothing is held but the current row.
    src.query_map(&format!("SELECT {list} FROM {table}"), (), |r| {
        let row = (0..columns.len())
            .map(|i| r.get::<Owned>(i))
            .collect::<Result<Vec<_>, _>>()?;
        let params: Vec<&dyn Param> = row.iter().map(|v| v as &dyn Param).collect();
        dst.execute(&insert, params.as_slice())?;
        Ok(())
    })?;
    Ok(())
}

/// Rows of `table` and a SHA-256 over them: each row hashed (every value
/// with its kind and length), the row hashes sorted (so neither engine's
/// order or collation matters) and hashed together.
fn checksum(db: &Db<'_>, table: &str, columns: &[String]) -> Result<(u64, String), StoreError> {
    let select = format!("SELECT {} FROM {table}", columns.join(", "));
    let mut rows: Vec<[u8; 32]> = db.query_map(&select, (), |r| {
        let mut hash = Sha256::new();
        for i in 0..columns.len() {
            match r.get::<Owned>(i)? {
                Owned::Null => hash.update(b"n"),
                Owned::Int(v) => {
                    hash.update(b"i");
                    hash.update(v.to_be_bytes());
                }
                Owned::Real(v) => {
                    hash.update(b"r");
                    hash.update(v.to_be_bytes());
                }
                Owned::Text(t) => {
                    hash.update(b"t");
                    hash.update((t.len() as u64).to_be_bytes());
                    hash.update(t.as_bytes());
                }
                Owned::Bytes(b) => {
                    hash.update(b"b");
                    hash.update((b.len() as u64).to_be_bytes());
                    hash.update(&b);
                }
            }
        }
        Ok(hash.finalize().into())
    })?;
    rows.sort_unstable();
    let mut all = Sha256::new();
    for row in &rows {
        all.update(row);
    }
    Ok((rows.len() as u64, format!("{:x}", all.finalize())))
}

#[cfg(test)]
mod tests {
    /// Every SQLite table is copied, but for SQLite's own search index.
    #[test]
    fn every_table_is_copied() {
        let (_dir, lite, _) = crate::store::scratch();
        let mut stmt = lite
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'events_fts%' AND name NOT LIKE 'sqlite_%'
                 AND name != 'search_progress' ORDER BY name",
            )
            .unwrap();
        let mut tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        tables.sort();
        let mut copied: Vec<String> = super::TABLES.iter().map(|t| t.0.to_owned()).collect();
        copied.sort();
        assert_eq!(tables, copied);
    }
}
