//! [`Database`]: the handle every other layer holds. It owns the pools (and on SQLite the
//! writer thread), and is the one place that decides where a database call runs: reads
//! from async code on the pool threads, writes on SQLite's writer thread (on PostgreSQL
//! on the pool threads too), other blocking work on tokio's blocking pool (see the
//! module documentation of `db`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::r2d2::Pool;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{ConnectFailures, ConnectionManager, DbConnection, DbPool};
use super::sqlite_file::{FileIdentity, SqliteFileGuard};
use super::{models, pool_threads, writer, DbError};
use crate::config::{DatabaseUrl, DEFAULT_POSTGRES_CONNECTIONS};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a request waits for a pooled connection before the database counts as
/// unavailable. Bounded so that an outage answers 503 promptly rather than hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// `/readyz` should answer fast even when the database does not.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);
const SQLITE_READERS: u32 = 8;

/// Which database engine is behind a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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
    /// Started on first use, so that a process that never reads from async code (most
    /// CLI commands, the tests' own handles) starts no threads.
    pool_threads: Arc<OnceLock<pool_threads::PoolThreads>>,
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
                    pool_threads: Arc::default(),
                    writer: WritePath::Sqlite(writer),
                    connect_failures: connect_failures.clone(),
                    sqlite_file: Some(Arc::new(SqliteFileGuard::watch(path.clone(), identity))),
                })
            }
            DatabaseUrl::Postgres(_) => {
                let pool = pool(postgres_connections)?;
                // Fail fast when the server cannot be reached.
                drop(pool.get()?);
                Ok(Self {
                    backend: Backend::Postgres,
                    readers: pool.clone(),
                    pool_threads: Arc::default(),
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

    /// Applies every pending migration, then the data changes SQL cannot make (usernames
    /// written before the username profile, brought to its canonical form in one
    /// transaction); reports both.
    pub fn migrate(&self) -> Result<MigrationReport, DbError> {
        self.on_writer_connection(|conn| {
            let applied = match conn {
                DbConnection::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS),
                DbConnection::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
            }
            .map_err(|error| DbError::Migration(error.to_string()))?;
            let applied = applied.iter().map(ToString::to_string).collect();
            let unresolved_usernames = diesel::Connection::transaction(
                conn,
                models::user::User::canonicalize_stored_usernames,
            )?;
            Ok(MigrationReport {
                applied,
                unresolved_usernames,
            })
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

    /// [`Database::read`] for async code: runs `query` on one of the pool threads (one
    /// per reader connection, see [`pool_threads`]) and waits for it without blocking.
    pub async fn read_async<T, E>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.on_pool_thread(move |db| db.read(query)).await
    }

    /// Runs `work` with this database on one of the pool threads, started on first use.
    async fn on_pool_thread<T, E>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let threads = match self.pool_threads.get() {
            Some(threads) => threads,
            None => {
                let started = pool_threads::PoolThreads::start(self.readers.max_size())?;
                self.pool_threads.get_or_init(|| started)
            }
        };
        let db = self.clone();
        threads.run(move || work(&db)).await?
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

    /// [`Database::write`] for async code. On SQLite the work is queued straight to the
    /// writer thread, whose answer wakes the calling task (the file check runs there too:
    /// nothing here touches the file system). On PostgreSQL, where every pooled connection
    /// writes, it runs on the pool threads (one per pooled connection), as reads do:
    /// measured against tokio's blocking pool, 12% more tokens per second and 12% less
    /// server CPU per token, p99 9 → 6 ms (BENCHMARKS.md, eighth session). A write that
    /// waits on a lock holds its thread as it would hold its pooled connection anyway.
    pub async fn write_async<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.writer {
            WritePath::Sqlite(writer) => writer.write_async(self.checked(work)).await,
            WritePath::Postgres(_) => self.on_pool_thread(move |db| db.write(work)).await,
        }
    }

    /// [`Database::write_single_statement`] for async code, as [`Database::write_async`].
    pub async fn write_single_statement_async<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.writer {
            WritePath::Sqlite(writer) => writer.write_async(self.checked(work)).await,
            WritePath::Postgres(_) => {
                self.on_pool_thread(move |db| db.write_single_statement(work))
                    .await
            }
        }
    }

    /// `work`, preceded by the SQLite file check, to run on the writer thread.
    fn checked<T, E, F>(&self, work: F) -> impl FnOnce(&mut DbConnection) -> Result<T, E> + Send
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        E: From<DbError>,
    {
        let guard = self.sqlite_file.clone();
        move |conn| {
            if let Some(guard) = guard {
                guard.check(false)?;
            }
            work(conn)
        }
    }

    /// [`Database::write`] for work whose writes are **one statement**, atomic on its own
    /// (reads may come before or after it): on PostgreSQL it runs outside an explicit
    /// transaction, saving the `BEGIN` and `COMMIT` round trips; on SQLite it is the same
    /// as `write`. Work with two writing statements must use `write`, or run them in a
    /// transaction of its own: here a failure between them would leave the first committed.
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

/// What [`Database::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// The names of the migrations applied, oldest first.
    pub applied: Vec<String>,
    /// Stored usernames left as they were for an administrator (reported on every run
    /// until resolved).
    pub unresolved_usernames: Vec<models::user::UnresolvedUsername>,
}
