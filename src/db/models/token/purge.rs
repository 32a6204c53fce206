//! Purge: deleting tokens that expired or were revoked before a cutoff.
//!
//! `revoked_at` is deliberately in no index (see migration 000005), so "revoked before the
//! cutoff" cannot be looked up; each purge walks both tables once in primary-key order,
//! in bounded windows, which visits each row once and keeps every transaction short,
//! however few rows are stale.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::revoke::RevocationCounts;
use crate::db::schema::{oauth_access_tokens, oauth_refresh_tokens};
use crate::db::{DbConnection, DbError};

/// One row of a window: its id, when it expires and when it was revoked.
type WindowRow = (String, NaiveDateTime, Option<NaiveDateTime>);

/// Where a purge has got to in one table.
#[derive(Debug, Clone, Default)]
struct TableCursor {
    after: Option<String>,
    done: bool,
}

impl TableCursor {
    /// Examines the next `window` rows of one table after the cursor (read by `load`),
    /// deletes (with `delete`) those that expired or were revoked before `cutoff`, and
    /// moves past them; how many were deleted.
    fn advance(
        &mut self,
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        window: i64,
        (load, delete): (
            impl FnOnce(&mut DbConnection, Option<String>) -> QueryResult<Vec<WindowRow>>,
            impl FnOnce(&mut DbConnection, Vec<String>) -> QueryResult<usize>,
        ),
    ) -> Result<usize, DbError> {
        if self.done {
            return Ok(0);
        }
        let rows = load(conn, self.after.take())?;
        self.done = rows.len() < window as usize;
        self.after = rows.last().map(|(id, _, _)| id.clone());
        let stale: Vec<String> = rows
            .into_iter()
            .filter(|(_, expires_at, revoked_at)| {
                *expires_at < cutoff || revoked_at.is_some_and(|revoked_at| revoked_at < cutoff)
            })
            .map(|(id, _, _)| id)
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        Ok(delete(conn, stale)?)
    }
}

/// The two queries [`TableCursor::advance`] needs on one token table (both tables have
/// the same `id`, `expires_at` and `revoked_at` columns): load the next window after a
/// cursor, delete rows by id.
macro_rules! table_window {
    ($table:ident, $window:expr) => {
        (
            |conn: &mut DbConnection, after: Option<String>| {
                let mut select = $table::table
                    .select(($table::id, $table::expires_at, $table::revoked_at))
                    .order($table::id)
                    .limit($window)
                    .into_boxed();
                if let Some(after) = after {
                    select = select.filter($table::id.gt(after));
                }
                select.load(conn)
            },
            |conn: &mut DbConnection, ids: Vec<String>| {
                diesel::delete($table::table.filter($table::id.eq_any(ids))).execute(conn)
            },
        )
    };
}

/// Where a purge has got to: it walks each token table once, in primary-key order.
#[derive(Debug, Clone, Default)]
pub struct PurgeCursor {
    access: TableCursor,
    refresh: TableCursor,
}

impl PurgeCursor {
    /// Both tables have been walked to the end.
    pub fn is_done(&self) -> bool {
        self.access.done && self.refresh.done
    }
}

/// Examines the next `window` access tokens and the next `window` refresh tokens after
/// the cursor, deletes those that expired or were revoked before `cutoff`, and moves the
/// cursor past them; returns how many of each were deleted. A used refresh token that
/// has not expired stays: reuse detection needs it until then.
pub fn purge_batch(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    window: i64,
    cursor: &mut PurgeCursor,
) -> Result<RevocationCounts, DbError> {
    Ok(RevocationCounts {
        access_tokens: cursor.access.advance(
            conn,
            cutoff,
            window,
            table_window!(oauth_access_tokens, window),
        )?,
        refresh_tokens: cursor.refresh.advance(
            conn,
            cutoff,
            window,
            table_window!(oauth_refresh_tokens, window),
        )?,
    })
}
