//! Purge: deleting tokens that expired or were revoked more than a retention period ago.
//!
//! Each run walks both token tables once in primary-key order, [`BATCH`] rows per table
//! per transaction, deleting the stale ones among them: every transaction stays short, so
//! on SQLite other writes get the writer between batches and the database stays
//! responsive however much there is to delete. `tenauth purge` runs it once; `serve` runs
//! it every `TENAUTH_PURGE_INTERVAL` on a background thread.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::models::token::{purge_batch, PurgeCursor, RevocationCounts};
use crate::db::{Database, DbError};

/// How long expired and revoked tokens are kept before purge deletes them.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// Rows examined per table per transaction.
pub const BATCH: i64 = 1_000;

/// Deletes, batch by batch, the tokens that expired or were revoked before
/// `now - retention`; returns the totals.
pub fn purge_tokens(
    db: &Database,
    retention: Duration,
    now: NaiveDateTime,
) -> Result<RevocationCounts, DbError> {
    let cutoff = now - retention;
    let mut total = RevocationCounts::default();
    let mut cursor = PurgeCursor::default();
    while !cursor.is_done() {
        let (deleted, moved) = db.write(move |conn| {
            let deleted = purge_batch(conn, cutoff, BATCH, &mut cursor)?;
            Ok::<_, DbError>((deleted, cursor))
        })?;
        cursor = moved;
        total.access_tokens += deleted.access_tokens;
        total.refresh_tokens += deleted.refresh_tokens;
    }
    Ok(total)
}

/// Runs [`purge_tokens`] every `interval` on a background thread, for as long as the
/// process lives. Failures are logged and retried at the next tick.
pub fn spawn_schedule(db: Database, interval: Duration, retention: Duration) {
    let started = std::thread::Builder::new()
        .name("tenauth-purge".to_owned())
        .spawn(move || loop {
            std::thread::sleep(interval);
            match purge_tokens(&db, retention, crate::domain::now()) {
                Ok(deleted) => log::info!(
                    "purge: deleted {} access and {} refresh tokens expired or revoked over {} days ago",
                    deleted.access_tokens,
                    deleted.refresh_tokens,
                    retention.as_secs() / 86_400
                ),
                Err(error) => log::warn!("purge failed, retrying at the next interval: {error}"),
            }
        });
    if let Err(error) = started {
        log::error!("cannot start the purge schedule: {error}");
    }
}
