//! Connections: [`DbConnection`], one diesel `MultiConnection` over both backends, and the
//! r2d2 manager that opens them (with SQLite's PRAGMAs) and makes checkouts fail fast
//! while the database is unreachable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use crate::config::DatabaseUrl;

/// How long SQLite waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// Pages are read through a memory map rather than `pread` calls. Each write invalidates
/// the other connections' page caches (WAL), so under issuance load readers re-read pages
/// all the time; through the map that costs no system call.
const SQLITE_MMAP_BYTES: u64 = 256 * 1024 * 1024;

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Opens connections of the one backend the URL names; never falls back to another.
#[derive(Debug)]
pub(super) struct ConnectionManager {
    pub(super) url: DatabaseUrl,
    pub(super) failures: Arc<ConnectFailures>,
}

/// When opening a connection last failed. While the database is unreachable, waiting out
/// the acquire timeout on every request (r2d2 retries the connect until then) would make
/// each answer take seconds; instead a request that finds no idle connection fails at
/// once for a moment after a failed connect, and probes with a short timeout for a while
/// after, so that answers stay prompt and service resumes as soon as a connect succeeds.
#[derive(Debug)]
pub(super) struct ConnectFailures {
    started: std::time::Instant,
    /// Milliseconds after `started`; 0: never.
    last_ms: AtomicU64,
}

impl ConnectFailures {
    /// No connect is tried within this long of a failed one.
    pub(super) const FAIL_FAST: Duration = Duration::from_secs(1);
    /// Within this long of a failure, a connect is given [`Self::PROBE_TIMEOUT`].
    pub(super) const RECENT: Duration = Duration::from_secs(30);
    pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            started: std::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn record(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now.max(1), Ordering::Relaxed);
    }

    /// A connect succeeded: the database is back, and requests wait for a connection
    /// again. Without this, for a second after the last failed connect a request that
    /// found no idle connection was refused even though connects succeeded again (the
    /// outage test's flake: an introspection answered 503 after the first token issued
    /// following the outage).
    fn clear(&self) {
        self.last_ms.store(0, Ordering::Relaxed);
    }

    /// How long ago a connect last failed, if one did.
    pub(super) fn since_last(&self) -> Option<Duration> {
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
        match &connected {
            Ok(_) => self.failures.clear(),
            Err(_) => self.failures.record(),
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

pub(super) type DbPool = r2d2::Pool<ConnectionManager>;
