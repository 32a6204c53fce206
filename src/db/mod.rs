//! Storage: the only module that speaks SQL.
//!
//! One binary serves SQLite (embedded, the default) and PostgreSQL (production). The
//! backend is fixed by the scheme of `DATABASE_URL`; [`DbConnection`] is a diesel
//! `MultiConnection`, so queries are written once against the portable [`schema`], and
//! the few statements that differ per backend `match` on the connection variant.
//!
//! # Writes on SQLite: one writer
//! SQLite allows one writer at a time; a second connection that tries to write answers
//! "database is locked" once its busy timeout runs out, and a deferred transaction that
//! read first can fail at once when it upgrades to a write lock. tenauth avoids both by
//! construction: on SQLite every write of the process goes to **one writer thread** that
//! owns the only write connection ([`writer`]). Requests queue on it in arrival order; it
//! runs what has queued up in one `BEGIN IMMEDIATE` transaction, each request in its own
//! savepoint, and answers each caller after the commit. `BEGIN IMMEDIATE` takes the write
//! lock before reading, so another process (a `tenauth purge` beside `serve`) makes the
//! writer wait on the busy timeout instead of failing. Reads use a pool of connections
//! that WAL lets run beside the writer. On PostgreSQL every connection of one pool can
//! write, and each write is an ordinary transaction on the caller's thread.
//!
//! # Blocking
//! Diesel is synchronous. [`Database::read`] and [`Database::write`] block, so actix's
//! async workers never call them: async code runs reads through
//! [`Database::read_async`], on a fixed set of reader threads ([`reader`]), and
//! everything else (writes, password hashing) through [`blocking`], on tokio's blocking
//! thread pool.

pub mod models;
mod reader;
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::query_dsl::methods::LoadQuery;
use diesel::r2d2::{Pool, R2D2Connection};
use diesel::result::QueryResult;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long SQLite waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// Pages are read through a memory map rather than `pread` calls. Each write invalidates
/// the other connections' page caches (WAL), so under issuance load readers re-read pages
/// all the time; through the map that costs no system call.
const SQLITE_MMAP_BYTES: u64 = 256 * 1024 * 1024;
/// How long a request waits for a pooled connection before the database counts as
/// unavailable. Bounded so that an outage answers 503 promptly rather than hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// `/readyz` should answer fast even when the database does not.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);
const SQLITE_READERS: u32 = 8;
/// PostgreSQL pool size unless configured (`TENAUTH_DB_CONNECTIONS`). More connections
/// than the database has cores only add context switches: on the 2-core benchmark machine
/// 16 connections served 20-25% fewer tokens than 6.
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 6;

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Loads the row a lookup by a unique key finds, if any: `.first(conn).optional()`
/// without the `LIMIT ?` that `first` adds. SQLite (3.45+, built with STAT4 as the bundled
/// library is) peeks at a bound LIMIT while planning, so every re-bind expired the cached
/// statement and each lookup was parsed and planned again: 11 µs instead of 2 µs.
pub(crate) fn load_unique<'query, Q, C, T>(query: Q, conn: &mut C) -> QueryResult<Option<T>>
where
    C: Connection,
    Q: RunQueryDsl<C> + LoadQuery<'query, C, T>,
{
    Ok(query.load::<T>(conn)?.into_iter().next())
}

/// Which database engine is behind a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the connection was lost: the caller should
    /// answer 503 and let the client retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The SQLite file the server opened is no longer at its path.
    #[error("the SQLite database file was removed or replaced while the server was running")]
    FileReplaced,
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(DieselError),
    /// The blocking task died (a panic in a query closure).
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<DieselError> for DbError {
    /// A lost connection or a lock that could not be had is an outage, not a query bug.
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, info) if is_sqlite_busy(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            // Lock order is kept so these should not happen; if PostgreSQL still picks a
            // victim, the client may simply retry.
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                Self::Unavailable(info.message().to_owned())
            }
            _ => Self::Query(error),
        }
    }
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<diesel::r2d2::Error> for DbError {
    fn from(error: diesel::r2d2::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<r2d2::Error> for DbError {
    fn from(error: r2d2::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl DbError {
    /// True when the database could not be reached (as opposed to a failed query).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::FileReplaced)
    }

    /// True when a unique constraint rejected the write (a duplicate name).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// True when a constraint rejected the write because of a missing parent row.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

/// Opens connections of the one backend the URL names; never falls back to another.
#[derive(Debug)]
struct ConnectionManager {
    url: DatabaseUrl,
    failures: Arc<ConnectFailures>,
}

/// When opening a connection last failed. While the database is unreachable, waiting out
/// the acquire timeout on every request (r2d2 retries the connect until then) would make
/// each answer take seconds; instead a request that finds no idle connection fails at
/// once for a moment after a failed connect, and probes with a short timeout for a while
/// after, so that answers stay prompt and service resumes as soon as a connect succeeds.
#[derive(Debug)]
struct ConnectFailures {
    started: std::time::Instant,
    /// Milliseconds after `started`; 0: never.
    last_ms: AtomicU64,
}

impl ConnectFailures {
    /// No connect is tried within this long of a failed one.
    const FAIL_FAST: Duration = Duration::from_secs(1);
    /// Within this long of a failure, a connect is given [`Self::PROBE_TIMEOUT`].
    const RECENT: Duration = Duration::from_secs(30);
    const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

    fn new() -> Arc<Self> {
        Arc::new(Self {
            started: std::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn record(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now.max(1), Ordering::Relaxed);
    }

    /// How long ago a connect last failed, if one did.
    fn since_last(&self) -> Option<Duration> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            last => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last)),
            ),
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let connected = self.open();
        if connected.is_err() {
            self.failures.record();
        }
        connected
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, diesel::r2d2::Error> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    diesel::r2d2::Error::ConnectionError(
                        diesel::ConnectionError::InvalidConnectionUrl(
                            "the SQLite path is not valid UTF-8".to_owned(),
                        ),
                    )
                })?;
                let mut conn = SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    // The busy timeout first: switching to WAL needs a lock that another
                    // process may hold for a moment (the last connection to close
                    // checkpoints the WAL under an exclusive lock).
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES};"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError),
        }
    }
}

type DbPool = Pool<ConnectionManager>;

/// The identity of the SQLite file opened at start-up, to notice it being replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

/// Watches that the SQLite file at the configured path is still the one the pools opened.
/// Connections to a deleted or replaced file keep "working" on the orphaned inode while
/// everything they write is lost; answering 503 is the honest reply. The check is a
/// `stat`, done at most every [`FILE_CHECK_INTERVAL_MS`] and remembered in between.
#[derive(Debug)]
struct SqliteFileGuard {
    path: PathBuf,
    opened: FileIdentity,
    started: std::time::Instant,
    /// Milliseconds since `started` of the last check, and its outcome.
    last_check_ms: AtomicU64,
    present: AtomicBool,
}

const FILE_CHECK_INTERVAL_MS: u64 = 200;

impl SqliteFileGuard {
    /// Fails when the file is gone or replaced; `force` looks now rather than trusting a
    /// look less than [`FILE_CHECK_INTERVAL_MS`] old.
    fn check(&self, force: bool) -> Result<(), DbError> {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if force || now_ms.saturating_sub(last) >= FILE_CHECK_INTERVAL_MS {
            let present = FileIdentity::of(&self.path).as_ref() == Some(&self.opened);
            self.present.store(present, Ordering::Relaxed);
            self.last_check_ms.store(now_ms, Ordering::Relaxed);
        }
        if self.present.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(DbError::FileReplaced)
        }
    }
}

/// One connection pool's figures.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub name: &'static str,
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

/// Where writes go.
#[derive(Clone)]
enum WritePath {
    /// The writer thread (see the module documentation).
    Sqlite(writer::SqliteWriter),
    /// Any connection of the one pool.
    Postgres(DbPool),
}

/// Connection pools for one database: cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct Database {
    backend: Backend,
    readers: DbPool,
    /// Started on first use, so that CLI commands, which never read from async code,
    /// start no threads.
    reader_threads: Arc<OnceLock<reader::ReaderThreads>>,
    writer: WritePath,
    sqlite_file: Option<Arc<SqliteFileGuard>>,
    connect_failures: Arc<ConnectFailures>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens the pools, failing (within the acquire timeout) if the database cannot be
    /// reached. Does not run migrations: see [`Database::migrate`].
    /// [`Database::connect_with`] the default PostgreSQL pool size.
    pub fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        Self::connect_with(url, DEFAULT_POSTGRES_CONNECTIONS)
    }

    /// Opens the database: on SQLite the writer and a pool of readers, on PostgreSQL one
    /// pool of `postgres_connections` for reads and writes.
    pub fn connect_with(url: &DatabaseUrl, postgres_connections: u32) -> Result<Self, DbError> {
        let connect_failures = ConnectFailures::new();
        let manager = || ConnectionManager {
            url: url.clone(),
            failures: connect_failures.clone(),
        };
        // min_idle 0: r2d2 never opens connections in the background. With a minimum it
        // replenishes after every checkout on its own thread, and a short-lived command
        // (`tenauth migrate`) could exit while that thread was inside libpq's connect,
        // killing the process at exit. Connections open on demand and then stay idle.
        let pool = |size: u32| {
            Pool::builder()
                // No `SELECT 1` before every use: that doubled the statements of a token
                // request. A connection that fails a query answers 503 once, and diesel
                // reports it broken so r2d2 drops it on return.
                .test_on_check_out(false)
                .max_size(size)
                .min_idle(Some(0))
                .connection_timeout(ACQUIRE_TIMEOUT)
                .build(manager())
                .map_err(DbError::from)
        };
        match url {
            DatabaseUrl::Sqlite(path) => {
                // The writer opens first: it creates the file and switches it to WAL
                // before any reader exists.
                let writer =
                    writer::SqliteWriter::start(r2d2::ManageConnection::connect(&manager())?)?;
                let readers = pool(SQLITE_READERS)?;
                let identity = FileIdentity::of(path).ok_or_else(|| {
                    DbError::Unavailable("the SQLite file was not created".to_owned())
                })?;
                Ok(Self {
                    backend: Backend::Sqlite,
                    readers,
                    reader_threads: Arc::default(),
                    writer: WritePath::Sqlite(writer),
                    connect_failures: connect_failures.clone(),
                    sqlite_file: Some(Arc::new(SqliteFileGuard {
                        path: path.clone(),
                        opened: identity,
                        started: std::time::Instant::now(),
                        last_check_ms: AtomicU64::new(0),
                        present: AtomicBool::new(true),
                    })),
                })
            }
            DatabaseUrl::Postgres(_) => {
                let pool = pool(postgres_connections)?;
                // Fail fast when the server cannot be reached.
                drop(pool.get()?);
                Ok(Self {
                    backend: Backend::Postgres,
                    readers: pool.clone(),
                    reader_threads: Arc::default(),
                    writer: WritePath::Postgres(pool),
                    sqlite_file: None,
                    connect_failures,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn check_file(&self) -> Result<(), DbError> {
        self.sqlite_file
            .as_ref()
            .map_or(Ok(()), |guard| guard.check(false))
    }

    /// Applies every pending migration; returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        self.on_writer_connection(|conn| {
            let applied = match conn {
                DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS),
                DbConnection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
            }
            .map_err(|error| DbError::Migration(error.to_string()))?;
            Ok(applied.iter().map(ToString::to_string).collect())
        })?
    }

    /// Runs `work` on a connection that may write, outside any transaction of ours.
    fn on_writer_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> T + Send + 'static,
    ) -> Result<T, DbError> {
        match &self.writer {
            WritePath::Sqlite(writer) => writer.exclusive(work),
            WritePath::Postgres(pool) => Ok(work(&mut *self.checkout(pool)?)),
        }
    }

    /// Reverts every applied migration, newest first; returns how many were reverted.
    pub fn revert_all_migrations(&self) -> Result<usize, DbError> {
        self.on_writer_connection(|conn| {
            let reverted = match conn {
                DbConnection::Sqlite(conn) => conn.revert_all_migrations(SQLITE_MIGRATIONS),
                DbConnection::Postgres(conn) => conn.revert_all_migrations(POSTGRES_MIGRATIONS),
            }
            .map_err(|error| DbError::Migration(error.to_string()))?;
            Ok(reverted.len())
        })?
    }

    /// Runs `query` on a reader connection, outside any explicit transaction. The error
    /// type is the caller's, so protocol code can fail with its own errors inside.
    pub fn read<T, E: From<DbError>>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        self.check_file()?;
        let mut conn = self.checkout(&self.readers)?;
        query(&mut conn)
    }

    /// [`Database::read`] for async code: runs `query` on one of the reader threads (one
    /// per reader connection, see [`reader`]) and waits for it without blocking.
    pub async fn read_async<T, E>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let threads = match self.reader_threads.get() {
            Some(threads) => threads,
            None => {
                let started = reader::ReaderThreads::start(self.readers.max_size())?;
                self.reader_threads.get_or_init(|| started)
            }
        };
        let db = self.clone();
        threads.run(move || db.read(query)).await?
    }

    /// Runs `work` as one write transaction (on SQLite: a savepoint of the writer's
    /// batch, see the module documentation): its changes are committed if it returns
    /// `Ok`, rolled back otherwise, and this returns only once that is settled.
    pub fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.check_file()?;
        match &self.writer {
            WritePath::Sqlite(writer) => writer.write(work),
            WritePath::Postgres(pool) => {
                let mut conn = self.checkout(pool)?;
                writer::in_transaction(&mut conn, writer::begin_immediate, work)
            }
        }
    }

    /// [`Database::write`] for work whose writes are **one statement**, atomic on its own
    /// (reads may follow it): on PostgreSQL it runs outside an explicit transaction,
    /// saving the `BEGIN` and `COMMIT` round trips; on SQLite it is the same as `write`.
    /// Work with two writing statements must use `write`: here a failure between them
    /// would leave the first committed.
    pub fn write_single_statement<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.check_file()?;
        match &self.writer {
            WritePath::Sqlite(writer) => writer.write(work),
            WritePath::Postgres(pool) => work(&mut *self.checkout(pool)?),
        }
    }

    /// A pooled connection, failing fast while the database is unreachable (see
    /// [`ConnectFailures`]).
    fn checkout(
        &self,
        pool: &DbPool,
    ) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        let timeout = match self.connect_failures.since_last() {
            Some(since) if since < ConnectFailures::FAIL_FAST => {
                if pool.state().idle_connections == 0 {
                    return Err(DbError::Unavailable(
                        "the database cannot be reached".to_owned(),
                    ));
                }
                ConnectFailures::PROBE_TIMEOUT
            }
            Some(since) if since < ConnectFailures::RECENT => ConnectFailures::PROBE_TIMEOUT,
            _ => ACQUIRE_TIMEOUT,
        };
        pool.get_timeout(timeout).map_err(DbError::from)
    }

    /// The connection pools' figures, for the metrics.
    pub fn pool_states(&self) -> Vec<PoolState> {
        let state = |name, pool: &DbPool| {
            let state = pool.state();
            PoolState {
                name,
                connections: state.connections,
                idle: state.idle_connections,
                max: pool.max_size(),
            }
        };
        match &self.writer {
            WritePath::Sqlite(_) => vec![state("readers", &self.readers)],
            WritePath::Postgres(pool) => vec![state("shared", pool)],
        }
    }

    /// Readiness: a connection can be had quickly, the schema answers, and (SQLite) the
    /// file at the configured path is still the one the server opened — connections to
    /// a deleted file keep working while every write is lost.
    pub fn check_ready(&self) -> Result<(), DbError> {
        if let Some(guard) = &self.sqlite_file {
            guard.check(true)?;
        }
        let mut conn = self.readers.get_timeout(READINESS_TIMEOUT)?;
        models::tenant::Tenant::find(&mut conn, crate::domain::TenantId::PLATFORM)?
            .map(|_| ())
            .ok_or_else(|| DbError::Unavailable("the platform tenant is missing".to_owned()))
    }
}

/// Keeps `query`'s prepared statement in diesel's per-connection cache, keyed by its SQL
/// text, where diesel would prepare it afresh on every execution: every `UPDATE`, every
/// `sql_query` and (on PostgreSQL) every insert with an optional value, because such
/// queries *may* take unboundedly many shapes. Re-preparing means PostgreSQL parses and
/// plans the statement each time — a fifth of its CPU on the token paths, measured. Wrap
/// only queries of a few fixed shapes: the cache keeps one statement per shape and
/// connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<Q>(pub Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Prepared<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    // Not static: the cache then keys the statement by its SQL text and bind types,
    // which is right for any shape of `Q`.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}

/// Runs blocking work on tokio's blocking pool; a panic in it becomes an error.
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let context = crate::logging::current();
    tokio::task::spawn_blocking(move || crate::logging::run_with(context, work))
        .await
        .map_err(|error| DbError::Task(error.to_string()))?
}
