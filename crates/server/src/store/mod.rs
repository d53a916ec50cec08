//! Storage: SQLite (bundled, WAL, `synchronous=FULL`) in the data directory,
//! or PostgreSQL (`--database postgres://…`).
//!
//! - this file: [`Store`], the handle. Writes go to one writer thread that
//!   runs them in batches, one transaction and one fsync per batch (group
//!   commit), each job in its own savepoint so one failure does not undo the
//!   others (or, for a job that checks before it writes, none: a storage
//!   error in it rolls back its batch); nothing is answered before its batch
//!   commits. Reads run on a small pool of read-only connections on the
//!   blocking thread pool. Every connection compiles a cached statement once
//!   (the query planner stability guarantee; see `tune`).
//! - `backend`: how each engine opens connections, runs a batch and pools
//!   its readers (PostgreSQL: a savepoint for every job, row locks waited
//!   for at most 200 ms, batches of at most 128);
//! - [`sql`]: [`Db`], the one SQL interface the queries use on both;
//! - [`schema`]: SQLite's embedded migrations; [`schema_pg`]: PostgreSQL's;
//! - [`users`], [`profiles`], [`invites`], [`resets`] (password reset
//!   links), [`settings`], [`sessions`] (logins and API tokens),
//!   [`webhooks`], [`retention`] (expiring old events),
//!   [`rooms`], [`events`] (rows read by [`event_rows`]), [`collab`] (reactions,
//!   pins, threads, mentions, notification settings), [`e2e`] (devices,
//!   keys, to-device messages, room key shares), [`files`], [`search`]
//!   (FTS5, kept a little behind the events by [`search_index`];
//!   `search_pg` on PostgreSQL): the queries, plain functions over a
//!   `&Db`, so they compose inside one transaction.

mod backend;
pub mod collab;
pub mod e2e;
pub mod event_rows;
pub mod events;
pub mod files;
pub mod invites;
pub mod profiles;
pub mod resets;
pub mod retention;
pub mod rooms;
pub mod schema;
pub mod schema_pg;
pub mod search;
pub mod search_index;
mod search_pg;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod users;
pub mod webhooks;

use backend::{Cmd, Finish, Job, Location, Ran, ReaderPool, Writer, in_savepoint, writer_loop};
pub(crate) use sql::params;
pub use sql::{Backend, Db, OptionalExtension, Params, Row};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// A wire seq as an SQLite integer: seqs beyond `i64::MAX` (which no room
/// reaches) mean "everything", so they are clamped rather than refused.
pub fn sql_seq(seq: securechat_proto::Seq) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

/// Jobs waiting for the writer before `write` callers wait for room.
const QUEUE: usize = 4096;

/// A storage failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness or foreign-key rule was broken (e.g. username taken).
    #[error("constraint violated")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("database error: {}", sql::pg_message(.0))]
    Postgres(postgres::Error),
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create database {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("transaction failed: {0}")]
    Batch(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("the store is shut down")]
    Closed,
    #[error("database schema version {0} is newer than this server knows")]
    TooNew(i64),
}

impl StoreError {
    /// A write that lost to another node's writer (it waited too long for a
    /// row, or was chosen to break a deadlock): it rolled back alone and
    /// may simply run again.
    pub fn is_contention(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            StoreError::Postgres(e) => e.code().is_some_and(|c| {
                *c == SqlState::LOCK_NOT_AVAILABLE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
            }),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict
            }
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            other => StoreError::Sqlite(other),
        }
    }
}

/// Errors a write job may fail with: storage errors, or a caller's own
/// (domain) errors, which roll the job back just the same.
pub trait JobError: From<StoreError> + Send + 'static {}
impl<E: From<StoreError> + Send + 'static> JobError for E {}

/// Handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Cmd>,
    readers: Arc<ReaderPool>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    commits: Arc<AtomicU64>,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and
    /// migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::start(Location::Sqlite(path.to_owned()))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`) and
    /// migrates it.
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        Store::start(Location::Postgres(url.to_owned()))
    }

    fn start(at: Location) -> Result<Store, StoreError> {
        let backend = match at {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        };
        let (jobs, rx) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        // The writer thread opens its own connection (PostgreSQL's client
        // runs a runtime of its own, which cannot start on an async
        // thread) and says how that went before taking jobs.
        let (opened_tx, opened) = std::sync::mpsc::channel();
        let location = at.clone();
        let writer = std::thread::Builder::new()
            .name("securechat-store-writer".into())
            .spawn(move || match Writer::open(&location) {
                Ok(conn) => {
                    let _ = opened_tx.send(Ok(()));
                    writer_loop(conn, rx, &counter);
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|e| StoreError::Batch(format!("cannot start writer thread: {e}")))?;
        opened.recv().map_err(|_| StoreError::Closed)??;
        Ok(Store {
            jobs,
            readers: Arc::new(ReaderPool::new(&at)),
            writer: Arc::new(Mutex::new(Some(writer))),
            commits,
            backend,
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` in the writer's next batch and returns its result once the
    /// batch is durable.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_then(f, |_| {}).await
    }

    /// Like [`write`](Self::write), and runs `after_commit` on the writer
    /// thread right after the commit, in commit order. Fan-out hooks in here
    /// so that events leave in the order their seqs were assigned.
    pub async fn write_then<T, E, F, A>(&self, f: F, after_commit: A) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        self.submit_then(f, after_commit).await?.await
    }

    /// Queues a [`write_then`](Self::write_then) job and returns once it is
    /// queued, with a future of its result. Jobs run in the order they were
    /// queued, so one connection can keep several writes in flight and
    /// still have them committed in the order it sent them. A job once
    /// queued runs even if the returned future is dropped.
    pub async fn submit_then<T, E, F, A>(
        &self,
        f: F,
        after_commit: A,
    ) -> Result<impl Future<Output = Result<T, E>> + Send + 'static, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        self.submit(move |txn| (in_savepoint(txn, f), false), after_commit)
            .await
    }

    /// Like [`submit_then`](Self::submit_then), for a job that makes every
    /// check before its first write, and so needs no savepoint of its own
    /// (a savepoint copies each page the job touches: a third of the cost
    /// of a small insert). Its `Ok(Err(_))` must leave nothing written; a
    /// storage error from it (`Err`) rolls back the whole batch, and every
    /// job in the batch fails, as when a commit fails.
    pub async fn submit_unguarded_then<T, E, F, A>(
        &self,
        f: F,
        after_commit: A,
    ) -> Result<impl Future<Output = Result<T, E>> + Send + 'static, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&Db<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        // Writers on other nodes take row locks too: a deadlock (or any
        // storage error) should fail this job alone, so on PostgreSQL every
        // job gets its savepoint.
        let guard = self.backend == Backend::Postgres;
        let job = move |txn: &Db<'_>| {
            if guard {
                return (in_savepoint(txn, |db| f(db).map_err(E::from)?), false);
            }
            match f(txn) {
                Ok(result) => (result, false),
                Err(e) => {
                    tracing::error!(error = %e, "a write failed; rolling back its batch");
                    (Err(E::from(e)), true)
                }
            }
        };
        self.submit(job, after_commit).await
    }

    /// Queues `job` (which says whether it broke its batch) and returns the
    /// future of its committed result.
    async fn submit<T, E, J, A>(
        &self,
        job: J,
        after_commit: A,
    ) -> Result<impl Future<Output = Result<T, E>> + Send + 'static, E>
    where
        T: Send + 'static,
        E: JobError,
        J: FnOnce(&Db<'_>) -> (Result<T, E>, bool) + Send + 'static,
        A: FnOnce(&T) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let (result, broken) = job(txn);
            let finish: Finish = Box::new(move |committed: Result<(), StoreError>| {
                let result = committed.map_err(E::from).and(result);
                if let Ok(value) = &result {
                    after_commit(value);
                }
                let _ = tx.send(result);
            });
            Ran { finish, broken }
        });
        self.jobs
            .send(Cmd::Run(job))
            .await
            .map_err(|_| E::from(StoreError::Closed))?;
        Ok(async move { rx.await.map_err(|_| E::from(StoreError::Closed))? })
    }

    /// Runs a read-only query on a pooled connection off the async runtime.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: JobError,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|_| E::from(StoreError::Closed))?
    }

    /// Brings the search index up to every message stored before this
    /// call (see [`search_index`]): a read when nothing waits.
    pub async fn catch_up_search(&self) -> Result<(), StoreError> {
        if !self.read(search_index::behind).await? {
            return Ok(());
        }
        while self.write(search_index::catch_up).await? {}
        Ok(())
    }

    /// Transactions committed so far (each holds one batch of writes).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Stops the writer after it has committed every job queued before
    /// this call, and waits for it. Blocking. Later writes fail with
    /// `Closed`, whatever clones of the handle still exist.
    pub fn close(&self) {
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = self.jobs.blocking_send(Cmd::Close);
            let _ = handle.join();
        }
    }
}

/// For unit tests of the queries: a migrated database in a temp dir with
/// one user, `ann` (the dir must outlive the connection).
#[cfg(test)]
pub(crate) fn scratch() -> (
    tempfile::TempDir,
    rusqlite::Connection,
    securechat_proto::UserId,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = rusqlite::Connection::open(dir.path().join("t.db")).expect("open");
    backend::configure(&conn).expect("configure");
    schema::migrate(&mut conn).expect("migrate");
    let ann = users::insert(&Db::Sqlite(&conn), "ann", "x", None, 0)
        .expect("user")
        .id;
    (dir, conn, ann)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a temp dir, with one table made by `ddl`.
    async fn store_with(ddl: &'static str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .write(move |tx| -> Result<_, StoreError> { tx.batch(ddl) })
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_each_job_is_isolated() {
        let (_dir, store) = store_with("CREATE TABLE t (v INTEGER UNIQUE)").await;
        let before = store.commits();
        let jobs: Vec<_> = (0..400)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    // Every 10th job breaks the UNIQUE rule: it fails alone.
                    let v = if i % 10 == 9 { 0 } else { i };
                    store
                        .write(move |tx| -> Result<_, StoreError> {
                            tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
                        })
                        .await
                })
            })
            .collect();
        let mut failed = 0;
        for j in jobs {
            if let Err(e) = j.await.unwrap() {
                assert!(matches!(e, StoreError::Conflict), "{e}");
                failed += 1;
            }
        }
        let commits = store.commits() - before;
        eprintln!("group commit: 400 concurrent writes in {commits} transactions");
        assert!(
            commits < 400,
            "group commit: {commits} commits for 400 writes"
        );
        let rows: i64 = store
            .read(|c| c.query_row("SELECT COUNT(*) FROM t", (), |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(rows + failed, 400);
        assert_eq!(
            failed, 40,
            "41 zeros (job 0 and every 10th): one stored, 40 refused"
        );
        tokio::task::block_in_place(|| store.close());
        let after: Result<(), StoreError> = store.write(|_| Ok(())).await;
        assert!(matches!(after, Err(StoreError::Closed)));
    }

    /// An unguarded job that fails with a storage error after writing
    /// rolls back its whole batch: every job in it fails and nothing any of
    /// them wrote is stored; the next batch is unaffected.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broken_unguarded_job_rolls_back_its_batch() {
        let (_dir, store) = store_with("CREATE TABLE t (v INTEGER)").await;
        let insert = |v: i64| {
            move |tx: &Db<'_>| -> Result<(), StoreError> {
                tx.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Ok(())
            }
        };
        // Hold the writer so the next three land in one batch.
        let (started, running) = std::sync::mpsc::channel();
        let blocker = store
            .submit_then(
                move |_| -> Result<(), StoreError> {
                    started.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    Ok(())
                },
                |_| {},
            )
            .await
            .unwrap();
        tokio::task::block_in_place(|| running.recv()).unwrap();
        let a = store.submit_then(insert(1), |_| {}).await.unwrap();
        let b = store
            .submit_unguarded_then(
                move |tx| -> Result<Result<(), StoreError>, StoreError> {
                    insert(2)(tx)?;
                    Err(StoreError::Batch("disk on fire".into()))
                },
                |_| {},
            )
            .await
            .unwrap();
        let ok = store
            .submit_unguarded_then(move |tx| Ok(insert(3)(tx)), |_| {})
            .await
            .unwrap();
        blocker.await.unwrap();
        assert!(a.await.is_err());
        assert!(b.await.is_err());
        assert!(ok.await.is_err());
        store.write(insert(4)).await.unwrap();
        let stored: Vec<i64> = store
            .read(|c| c.query_map("SELECT v FROM t ORDER BY v", (), |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(stored, vec![4]);
    }
}
