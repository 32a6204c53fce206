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
//! [`Database::read_async`], on a fixed set of pool threads ([`pool_threads`]), and writes
//! through [`Database::write_async`], on SQLite's writer thread (on PostgreSQL on the
//! pool threads as well); any other blocking work goes through [`blocking`], on tokio's
//! blocking thread pool. The services (`oauth`, `lifecycle`) make that choice; HTTP
//! handlers only await them.
//!
//! # Files
//! - [`connection`]: the `MultiConnection`, the r2d2 manager, fail-fast during outages;
//! - [`database`]: [`Database`], the pools and where each call runs;
//! - `error`: [`DbError`];
//! - [`sqlite_file`]: noticing the SQLite file replaced under a running server;
//! - [`prepared`]: keeping statements prepared;
//! - [`pool_threads`], [`writer`]: the pool threads and SQLite's single writer;
//! - [`schema`] and [`models`]: the tables, and the rows with the queries that own them.

pub mod connection;
mod database;
mod error;
pub mod models;
mod pool_threads;
mod prepared;
pub mod schema;
mod sqlite_file;
mod writer;

pub use connection::DbConnection;
pub use database::{blocking, Backend, Database, MigrationReport, PoolState};
pub(crate) use error::parse_column;
pub use error::DbError;
pub(crate) use prepared::{load_unique, Prepared};
