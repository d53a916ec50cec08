//! The two backends under [`Store`](super::Store): how each opens its
//! connections, runs the writer's batches (one transaction each) and pools
//! its readers. Everything above this file sees only [`Db`].

use super::sql::{Db, PgConn};
use super::{JobError, StoreError, schema, schema_pg};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use tokio::sync::mpsc;

/// A callback told whether a job's batch committed.
pub(super) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What a job hands back after running.
pub(super) struct Ran {
    pub finish: Finish,
    /// The job failed partway through its writes: the batch must not commit.
    pub broken: bool,
}

pub(super) type Job = Box<dyn FnOnce(&Db<'_>) -> Ran + Send>;

/// What the writer thread receives.
pub(super) enum Cmd {
    Run(Job),
    /// Commit what is queued and stop; `write` fails from then on.
    Close,
}

/// Most jobs committed together in one transaction.
const MAX_BATCH: usize = 2048;
/// Idle read connections kept.
const IDLE_READERS: usize = 8;

/// Where the database is.
#[derive(Debug, Clone)]
pub(super) enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

/// The writer's connection.
pub(super) enum Writer {
    Sqlite(Connection),
    /// Reconnected before the next batch if the server dropped it.
    Postgres {
        url: String,
        conn: Option<Box<PgConn>>,
    },
}

impl Writer {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(at: &Location) -> Result<Writer, StoreError> {
        match at {
            Location::Sqlite(path) => {
                let open_err = |source| StoreError::Open {
                    path: path.to_owned(),
                    source,
                };
                // Made 0600 before SQLite opens it; its -wal and -shm files
                // get the same mode.
                crate::datadir::create_private_file(path).map_err(|source| StoreError::Create {
                    path: path.to_owned(),
                    source,
                })?;
                let mut conn = Connection::open(path).map_err(open_err)?;
                conn.pragma_update(None, "journal_mode", "WAL")
                    .map_err(open_err)?;
                configure(&conn)?;
                schema::migrate(&mut conn)?;
                Ok(Writer::Sqlite(conn))
            }
            Location::Postgres(url) => {
                schema_pg::migrate(&mut pg_connect(url)?)?;
                Ok(Writer::Postgres {
                    url: url.clone(),
                    conn: Some(Box::new(pg_writer(url)?)),
                })
            }
        }
    }
}

fn pg_connect(url: &str) -> Result<postgres::Client, StoreError> {
    postgres::Client::connect(url, postgres::NoTls).map_err(|e| StoreError::Connect(e.to_string()))
}

/// The PostgreSQL writer: a send locks its room's row until its batch
/// commits, so batches on two nodes that take two rooms in opposite
/// orders wait on each other. PostgreSQL would break that deadlock after
/// a second (`deadlock_timeout`); a job that waits longer than
/// [`PG_LOCK_WAIT`] fails instead (alone, in its savepoint: the client
/// retries it), its batch commits and the other goes on. Batches are
/// smaller than SQLite's ([`PG_MAX_BATCH`]) so no lock is held long.
fn pg_writer(url: &str) -> Result<PgConn, StoreError> {
    let mut client = pg_connect(url)?;
    client.batch_execute(&format!("SET lock_timeout = '{PG_LOCK_WAIT}ms'"))?;
    Ok(PgConn::new(client))
}

/// Longest a write waits for a row another node's batch holds.
const PG_LOCK_WAIT: u64 = 200;
/// Most jobs in one PostgreSQL transaction.
const PG_MAX_BATCH: usize = 128;

/// Settings of the SQLite writer connection.
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    tune(conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Settings of every SQLite connection. The bundled SQLite is built with
/// STAT4, which by default compiles a join again each time a parameter is
/// bound (it plans with the value); the query planner stability guarantee
/// keeps one plan per cached statement. Without it every stored message
/// cost two full re-compiles on the writer thread.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // PostgreSQL's two-argument GREATEST and LEAST (SQLite spells them max
    // and min), so one query text serves both.
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, pick) in [
        ("greatest", i64::max as fn(i64, i64) -> i64),
        ("least", i64::min),
    ] {
        conn.create_scalar_function(name, 2, flags, move |ctx| {
            let a: Option<i64> = ctx.get(0)?;
            let b: Option<i64> = ctx.get(1)?;
            // NULLs are ignored, as in PostgreSQL.
            Ok(match (a, b) {
                (Some(a), Some(b)) => Some(pick(a, b)),
                (a, b) => a.or(b),
            })
        })?;
    }
    Ok(())
}

/// Runs `f` in a savepoint of its own, so its failure undoes only its
/// writes.
pub(super) fn in_savepoint<T, E: JobError>(
    db: &Db<'_>,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let sql = |s: &str| db.run_cached(s).map_err(E::from);
    sql("SAVEPOINT job")?;
    match f(db) {
        Ok(v) => match sql("RELEASE SAVEPOINT job") {
            Ok(()) => Ok(v),
            Err(e) => {
                // A statement of the job failed without failing the job
                // (PostgreSQL then refuses everything until the rollback):
                // undo the job so the batch stays usable.
                let _ = sql("ROLLBACK TO SAVEPOINT job");
                let _ = sql("RELEASE SAVEPOINT job");
                Err(e)
            }
        },
        Err(e) => {
            sql("ROLLBACK TO SAVEPOINT job")?;
            sql("RELEASE SAVEPOINT job")?;
            Err(e)
        }
    }
}

pub(super) fn writer_loop(mut conn: Writer, mut rx: mpsc::Receiver<Cmd>, commits: &AtomicU64) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut open = true;
    while open {
        match rx.blocking_recv() {
            Some(Cmd::Run(job)) => batch.push(job),
            Some(Cmd::Close) | None => break,
        }
        let most = match conn {
            Writer::Sqlite(_) => MAX_BATCH,
            Writer::Postgres { .. } => PG_MAX_BATCH,
        };
        while batch.len() < most {
            match rx.try_recv() {
                Ok(Cmd::Run(job)) => batch.push(job),
                Ok(Cmd::Close) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        let finishers = run_batch(&mut conn, &mut batch);
        commits.fetch_add(1, Ordering::Relaxed);
        for (finish, committed) in finishers {
            finish(committed);
        }
    }
    // Jobs still queued after Close are dropped; their callers get Closed.
    rx.close();
}

type Finished = Vec<(Finish, Result<(), StoreError>)>;

fn run_batch(conn: &mut Writer, batch: &mut Vec<Job>) -> Finished {
    match conn {
        Writer::Sqlite(c) => {
            let txn = match c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
                Ok(t) => t,
                Err(e) => return never_ran(batch, &e.to_string()),
            };
            let ran = run_jobs(&Db::Sqlite(&txn), batch);
            finish(ran, |commit| {
                if commit {
                    txn.commit().map_err(|e| e.to_string())
                } else {
                    drop(txn); // rolls back
                    Ok(())
                }
            })
        }
        Writer::Postgres { url, conn } => {
            if conn.as_ref().is_none_or(|c| c.is_closed()) {
                match pg_writer(url) {
                    Ok(c) => *conn = Some(Box::new(c)),
                    Err(e) => return never_ran(batch, &e.to_string()),
                }
            }
            let Some(c) = conn.as_ref() else {
                return never_ran(batch, "no connection");
            };
            let db = Db::Postgres(c);
            if let Err(e) = db.batch("BEGIN") {
                return never_ran(batch, &e.to_string());
            }
            let ran = run_jobs(&db, batch);
            finish(ran, |commit| {
                // COMMIT of a failed transaction rolls back without an
                // error: ask first, so no job is told it is durable when
                // it is not.
                if commit && let Err(e) = db.batch("SELECT 1") {
                    let _ = db.batch("ROLLBACK");
                    return Err(e.to_string());
                }
                let end = if commit { "COMMIT" } else { "ROLLBACK" };
                db.batch(end).map_err(|e| e.to_string())
            })
        }
    }
}

/// The jobs never ran; dropping them drops their reply channels, which
/// their callers see as an error.
fn never_ran(batch: &mut Vec<Job>, why: &str) -> Finished {
    tracing::error!(error = why, "cannot begin transaction");
    batch.clear();
    Vec::new()
}

fn run_jobs(db: &Db<'_>, batch: &mut Vec<Job>) -> Vec<Ran> {
    batch.drain(..).map(|job| job(db)).collect()
}

/// Commits (or, if a job broke the batch, rolls back) and tells each job.
fn finish(ran: Vec<Ran>, end: impl FnOnce(bool) -> Result<(), String>) -> Finished {
    let broken = ran.iter().any(|r| r.broken);
    let committed = match end(!broken) {
        Ok(()) if broken => Err("a write failed; its batch was rolled back".to_owned()),
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "commit failed");
            Err(e)
        }
    };
    ran.into_iter()
        .map(|r| (r.finish, committed.clone().map_err(StoreError::Batch)))
        .collect()
}

/// Idle read connections, opened as needed.
pub(super) enum ReaderPool {
    Sqlite {
        path: PathBuf,
        idle: Mutex<Vec<Connection>>,
    },
    /// At most [`PG_READERS`] connections, open or lent; a reader waits
    /// for one rather than opening more (each is a server process).
    Postgres {
        url: String,
        idle: Mutex<PgReaders>,
        freed: Condvar,
    },
}

/// PostgreSQL read connections: the idle ones, and how many exist.
#[derive(Default)]
pub(super) struct PgReaders {
    idle: Vec<PgConn>,
    open: usize,
}

/// Most PostgreSQL read connections a node holds.
const PG_READERS: usize = 16;

impl ReaderPool {
    pub fn new(at: &Location) -> ReaderPool {
        match at {
            Location::Sqlite(path) => ReaderPool::Sqlite {
                path: path.clone(),
                idle: Mutex::new(Vec::new()),
            },
            Location::Postgres(url) => ReaderPool::Postgres {
                url: url.clone(),
                idle: Mutex::new(PgReaders::default()),
                freed: Condvar::new(),
            },
        }
    }

    /// Runs `f` on an idle connection (or a new one), then keeps it.
    pub fn with<T, E: JobError>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        match self {
            ReaderPool::Sqlite { path, idle } => {
                let conn = match pop(idle) {
                    Some(c) => c,
                    None => open_reader(path)?,
                };
                let result = f(&Db::Sqlite(&conn));
                push(idle, conn);
                result
            }
            ReaderPool::Postgres { url, idle, freed } => {
                let conn = take_pg(url, idle, freed)?;
                let result = f(&Db::Postgres(&conn));
                let mut pool = idle.lock().unwrap_or_else(|e| e.into_inner());
                if conn.is_closed() {
                    pool.open -= 1;
                } else {
                    pool.idle.push(conn);
                }
                freed.notify_one();
                result
            }
        }
    }
}

/// An idle connection, a new one while fewer than [`PG_READERS`] exist, or
/// the next one given back.
fn take_pg(url: &str, pool: &Mutex<PgReaders>, freed: &Condvar) -> Result<PgConn, StoreError> {
    let mut p = pool.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(conn) = p.idle.pop() {
            if !conn.is_closed() {
                return Ok(conn);
            }
            p.open -= 1;
            continue;
        }
        if p.open < PG_READERS {
            p.open += 1;
            drop(p);
            return pg_connect(url).map(PgConn::new).inspect_err(|_| {
                pool.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                freed.notify_one();
            });
        }
        p = freed.wait(p).unwrap_or_else(|e| e.into_inner());
    }
}

/// PostgreSQL's client blocks on its own runtime when dropped, which must
/// not happen on an async thread: the idle connections close on a thread
/// of their own.
impl Drop for ReaderPool {
    fn drop(&mut self) {
        if let ReaderPool::Postgres { idle, .. } = self {
            let conns = std::mem::take(&mut idle.get_mut().unwrap_or_else(|e| e.into_inner()).idle);
            if !conns.is_empty() {
                let _ = std::thread::Builder::new()
                    .name("securechat-store-close".into())
                    .spawn(move || drop(conns));
            }
        }
    }
}

fn pop<C>(idle: &Mutex<Vec<C>>) -> Option<C> {
    idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
}

fn push<C>(idle: &Mutex<Vec<C>>, conn: C) {
    let mut idle = idle.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < IDLE_READERS {
        idle.push(conn);
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    tune(&conn)?;
    Ok(conn)
}
