//! A tenant's tokens as admins see them: bulk revocation (all of them, a client's or a
//! user's), listing, and the purge that deletes tokens long expired or revoked.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, revocation_details, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::code::purge_expired_codes;
use crate::db::models::event::{purge_events, revoke_and_report};
use crate::db::models::session::purge_ended_sessions;
use crate::db::models::token::{
    purge_batch, AccessTokenSummary, PurgeCursor, RevocationCounts, TokenQuery,
};
use crate::db::{Database, DbError};
use crate::domain::session::SESSION_IDLE;
use crate::domain::{Actor, AuditAction, RevocationTarget, TenantId};

/// How long expired and revoked tokens are kept before purge deletes them.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// Rows examined per table per transaction by the purge.
pub const PURGE_BATCH: i64 = 1_000;

impl Lifecycle {
    /// Revokes the tenant's tokens — all of them (`RevocationTarget::Tenant`), a client's
    /// or a user's — in one transaction. Other targets (one token, one family) are the
    /// OAuth endpoints' to revoke, not an admin's.
    pub async fn revoke_tenant_tokens(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        target: RevocationTarget,
        now: NaiveDateTime,
    ) -> Result<RevocationCounts, LifecycleError> {
        let (lock, filter) = match &target {
            RevocationTarget::Tenant => (TenantLock::Tenant, serde_json::json!("all")),
            RevocationTarget::Client(client_id) => (
                TenantLock::Within,
                serde_json::json!({ "client_id": client_id }),
            ),
            RevocationTarget::User(user_id) => (
                TenantLock::Within,
                serde_json::json!({ "user_id": user_id }),
            ),
            RevocationTarget::AccessToken(_) | RevocationTarget::Family(_) => {
                return Err(LifecycleError::Invalid(
                    "revoke all tokens, a client's or a user's",
                ))
            }
        };
        self.db
            .write_async(move |conn| {
                lock_live_tenant(conn, tenant_id, lock)?;
                let counts = revoke_and_report(conn, tenant_id, &target, now)?;
                let mut details = revocation_details(counts);
                details["filter"] = filter;
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::TokensRevoke,
                    None,
                    Some(details),
                    now,
                )?;
                Ok(counts)
            })
            .await
    }

    /// The tenant's access tokens matching `query`, oldest first.
    pub async fn list_tokens(
        &self,
        tenant_id: TenantId,
        query: TokenQuery,
        now: NaiveDateTime,
    ) -> Result<Vec<AccessTokenSummary>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| AccessTokenSummary::list(conn, tenant_id, &query, now))
            .await?)
    }

    /// Deletes the tokens, of every tenant, that expired or were revoked before
    /// `now - retention`, [`PURGE_BATCH`] rows per table per transaction (each its own
    /// transaction, so that other writes get the writer between them); the totals.
    pub async fn purge_tokens(
        &self,
        retention: Duration,
        now: NaiveDateTime,
    ) -> Result<RevocationCounts, LifecycleError> {
        let db = self.db.clone();
        Ok(crate::db::blocking(move || purge_tokens(&db, retention, now)).await?)
    }

    /// Runs the purge every `interval`, for as long as the returned future is polled: the
    /// server runs it beside the HTTP workers and drops it when it stops (a thread of its
    /// own outlived the server, and a test's database, and kept connecting to it until the
    /// process exited: r2d2's connecting thread then crashed the exit). Failures are logged
    /// and retried at the next tick.
    pub async fn run_purge_schedule(self, interval: Duration, retention: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            match self.purge_tokens(retention, crate::domain::now()).await {
                Ok(deleted) => log::info!(
                    "purge: deleted {} access and {} refresh tokens expired or revoked over {} days ago",
                    deleted.access_tokens,
                    deleted.refresh_tokens,
                    retention.as_secs() / 86_400
                ),
                Err(error) => log::warn!("purge failed, retrying at the next interval: {error}"),
            }
        }
    }
}

/// The purge, batch by batch, on the calling thread; then expired codes and ended sessions.
fn purge_tokens(
    db: &Database,
    retention: Duration,
    now: NaiveDateTime,
) -> Result<RevocationCounts, DbError> {
    let cutoff = now - retention;
    let mut total = RevocationCounts::default();
    let mut cursor = PurgeCursor::default();
    while !cursor.is_done() {
        let (deleted, moved) = db.write(move |conn| {
            let deleted = purge_batch(conn, cutoff, PURGE_BATCH, &mut cursor)?;
            Ok::<_, DbError>((deleted, cursor))
        })?;
        cursor = moved;
        total.access_tokens += deleted.access_tokens;
        total.refresh_tokens += deleted.refresh_tokens;
    }
    // The browser flow's short-lived rows and the outbox's old events, in one statement
    // each: codes live a minute and sessions hours, so few are ever past their end at once.
    db.write(move |conn| {
        purge_expired_codes(conn, cutoff)?;
        purge_events(conn, cutoff)?;
        purge_ended_sessions(conn, now, now - SESSION_IDLE)
    })?;
    Ok(total)
}
