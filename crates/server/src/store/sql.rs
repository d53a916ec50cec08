//! The one SQL interface the queries are written against, over either
//! backend: [`Db`] is a connection (or the writer's open transaction) of
//! SQLite or PostgreSQL, [`Row`] a result row, [`Param`] a bound value.
//!
//! The queries use the SQL both engines accept (`?N` placeholders, which
//! become `$N` for PostgreSQL; `ON CONFLICT`, `RETURNING`, `CASE`, `CAST`,
//! `string_agg`) and branch on [`Db::backend`] only where the engines truly
//! differ (full-text search, pragmas). Values cross as four kinds —
//! integer, real, text, bytes — and each backend converts them to the
//! column's type (a `bool` is an integer 0/1 in both schemas), so a query
//! reads and binds the same Rust types on both.

use super::StoreError;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use std::cell::RefCell;
use std::collections::HashMap;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL connection with its prepared statements, used by one
/// thread at a time (the writer, or a reader taken from the pool).
pub struct PgConn {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> Self {
        PgConn {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        }
    }

    /// Whether the server closed the connection (a pooled one is then
    /// dropped rather than reused).
    pub fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.borrow_mut().prepare(&dollar_params(sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

/// `?1` → `$1`, outside string literals.
pub fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// A connection, or the writer's open transaction, of either backend.
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a PgConn),
}

/// A value as it crosses to and from either engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// What a query can bind.
pub trait Param: Sync {
    fn value(&self) -> Value<'_>;
}

/// A list of bound values: `params![a, b]`, an array of one type, or `()`.
pub trait Params {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> Value<'_>;
}

impl Params for &[&dyn Param] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> Value<'_> {
        self[i].value()
    }
}

/// No values.
impl Params for () {
    fn count(&self) -> usize {
        0
    }
    fn at(&self, _: usize) -> Value<'_> {
        Value::Null
    }
}

impl<T: Param, const N: usize> Params for [T; N] {
    fn count(&self) -> usize {
        N
    }
    fn at(&self, i: usize) -> Value<'_> {
        self[i].value()
    }
}

/// `Err(NotFound)` as `Ok(None)`, as with rusqlite's `optional`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalExtension<T> for Result<T, StoreError> {
    fn optional(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A statement of a [`Db`], as rusqlite's `prepare_cached` gives one (both
/// backends cache the prepared form per connection).
pub struct Stmt<'d, 'a> {
    db: &'d Db<'a>,
    sql: &'d str,
}

impl Stmt<'_, '_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize, StoreError> {
        self.db.execute(self.sql, params)
    }
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.query_row(self.sql, params, f)
    }
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.db.query_map(self.sql, params, f)
    }
    pub fn exists(&mut self, params: impl Params) -> Result<bool, StoreError> {
        self.db.exists(self.sql, params)
    }
}

/// Binds a list of values: `params![a, b]`.
macro_rules! params {
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::sql::Param),+] as &[&dyn $crate::store::sql::Param] };
}
pub(crate) use params;

impl<'a> Db<'a> {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A statement to run (prepared once per connection).
    pub fn prepare_cached<'d>(&'d self, sql: &'d str) -> Result<Stmt<'d, 'a>, StoreError> {
        Ok(Stmt { db: self, sql })
    }

    /// Same as [`prepare_cached`](Self::prepare_cached).
    pub fn prepare<'d>(&'d self, sql: &'d str) -> Result<Stmt<'d, 'a>, StoreError> {
        Ok(Stmt { db: self, sql })
    }

    /// Runs a statement; how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(lite(&params))?),
            Db::Postgres(c) => {
                let stmt = c.statement(sql)?;
                let values = pg_values(&params);
                let n = c.client.borrow_mut().execute(&stmt, &pg_refs(&values))?;
                Ok(n as usize)
            }
        }
    }

    /// Runs an `INSERT` into a table with an `id` key and returns the new
    /// row's id, or `None` if it inserted nothing (`ON CONFLICT DO NOTHING`).
    /// SQLite reads `last_insert_rowid` (no `RETURNING`: it costs more than
    /// the insert there); PostgreSQL appends `RETURNING id`.
    pub fn insert(&self, sql: &str, params: impl Params) -> Result<Option<i64>, StoreError> {
        self.insert_returning(sql, "id", params)
    }

    /// [`insert`](Self::insert) into a table whose key is `key`.
    pub fn insert_returning(
        &self,
        sql: &str,
        key: &str,
        params: impl Params,
    ) -> Result<Option<i64>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let n = c.prepare_cached(sql)?.execute(lite(&params))?;
                Ok((n > 0).then(|| c.last_insert_rowid()))
            }
            Db::Postgres(_) => {
                let sql = format!("{sql} RETURNING {key}");
                self.query_opt(&sql, params, |r| r.get(0))
            }
        }
    }

    /// The rows of a query, each made by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(lite(&params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                let stmt = c.statement(sql)?;
                let values = pg_values(&params);
                let rows = c.client.borrow_mut().query(&stmt, &pg_refs(&values))?;
                rows.iter().map(|r| f(&Row::Postgres(r))).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(lite(&params))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Sqlite(r))?)),
                    None => Ok(None),
                }
            }
            Db::Postgres(c) => {
                let stmt = c.statement(sql)?;
                let values = pg_values(&params);
                let rows = c.client.borrow_mut().query(&stmt, &pg_refs(&values))?;
                rows.first().map(|r| f(&Row::Postgres(r))).transpose()
            }
        }
    }

    /// The first row of a query; `NotFound` if there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?.ok_or(StoreError::NotFound)
    }

    /// Whether a query returns a row.
    pub fn exists(&self, sql: &str, params: impl Params) -> Result<bool, StoreError> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// Runs statements with no parameters (DDL, savepoints).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => Ok(c.client.borrow_mut().batch_execute(sql)?),
        }
    }

    /// Runs one parameterless statement through the statement cache.
    pub(crate) fn run_cached(&self, sql: &str) -> Result<(), StoreError> {
        self.execute(sql, ()).map(|_| ())
    }
}

/// A result row of either backend.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let value = match self {
            Row::Sqlite(r) => match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                rusqlite::types::ValueRef::Real(v) => Value::Real(v),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::Text(std::str::from_utf8(t).map_err(|_| bad(i, "text"))?)
                }
                rusqlite::types::ValueRef::Blob(b) => Value::Bytes(b),
            },
            Row::Postgres(r) => r.try_get::<_, PgValue<'_>>(i)?.0,
        };
        T::from_value(value).ok_or_else(|| bad(i, std::any::type_name::<T>()))
    }
}

fn bad(column: usize, want: &str) -> StoreError {
    StoreError::Batch(format!("column {column} is not {want}"))
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value<'_>) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
}

impl FromValue for u64 {
    fn from_value(v: Value<'_>) -> Option<Self> {
        i64::from_value(v).and_then(|i| u64::try_from(i).ok())
    }
}

impl FromValue for usize {
    fn from_value(v: Value<'_>) -> Option<Self> {
        i64::from_value(v).and_then(|i| usize::try_from(i).ok())
    }
}

impl FromValue for u32 {
    fn from_value(v: Value<'_>) -> Option<Self> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
}

impl FromValue for bool {
    fn from_value(v: Value<'_>) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Real(r) => Some(r),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Text(t) => Some(t.to_owned()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Bytes(b) => Some(b.to_vec()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl Param for i32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Param for u32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
/// Beyond `i64::MAX` (which no seq or size reaches) reads as `i64::MAX`.
impl Param for u64 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl Param for usize {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Param for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl<const N: usize> Param for [u8; N] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
}
impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: Param + ?Sized> Param for Box<T> {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(v) => v.value(),
            None => Value::Null,
        }
    }
}

// ---- SQLite -------------------------------------------------------------

struct Lite<'a>(Value<'a>);

impl rusqlite::ToSql for Lite<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(r) => ValueRef::Real(r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn lite<P: Params>(params: &P) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter((0..params.count()).map(|i| Lite(params.at(i))))
}

// ---- PostgreSQL ---------------------------------------------------------

/// A bound value, converted to whatever type PostgreSQL inferred for its
/// placeholder.
#[derive(Debug)]
struct PgParam<'a>(Value<'a>);

fn pg_values<P: Params>(params: &P) -> Vec<PgParam<'_>> {
    (0..params.count()).map(|i| PgParam(params.at(i))).collect()
}

fn pg_refs<'a>(values: &'a [PgParam<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let mismatch = || -> BoxError { format!("cannot bind {:?} as {ty}", self.0).into() };
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (r as f32).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(t) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    t.to_sql(ty, out)
                }
                _ => Err(mismatch()),
            },
            Value::Bytes(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(mismatch()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column read from PostgreSQL, whatever its type.
struct PgValue<'a>(Value<'a>);

impl<'a> FromSql<'a> for PgValue<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(PgValue(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Bytes(<&[u8]>::from_sql(ty, raw)?),
            _ => Value::Text(<&str>::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        // Everything but NUMERIC (cast sums to BIGINT in the query).
        *ty != Type::NUMERIC
    }
}

/// What PostgreSQL said (its message and code, never the statement's
/// values), or why the connection failed.
pub(crate) fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        match e.code() {
            Some(c)
                if *c == postgres::error::SqlState::UNIQUE_VIOLATION
                    || *c == postgres::error::SqlState::FOREIGN_KEY_VIOLATION
                    || *c == postgres::error::SqlState::CHECK_VIOLATION
                    || *c == postgres::error::SqlState::NOT_NULL_VIOLATION =>
            {
                StoreError::Conflict
            }
            _ => StoreError::Postgres(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_strings() {
        assert_eq!(
            dollar_params("SELECT '?' || ?1 FROM t WHERE a = ?2"),
            "SELECT '?' || $1 FROM t WHERE a = $2"
        );
    }
}
