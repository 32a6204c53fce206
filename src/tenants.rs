//! The tenant lifecycle: suspension, activation and deletion.
//!
//! Suspension revokes nothing: while suspended, a tenant's tokens introspect inactive and
//! its grants fail, and activation brings back the tokens that have neither expired nor
//! been revoked. Deletion is final: in **one transaction** of set-based updates it marks
//! the tenant deleted and revokes every access token, refresh token and client of it, and
//! returns the counts as a receipt. Rows stay, for the audit trail, until the tenant is
//! erased. Every change writes its audit event in the same transaction.

use chrono::NaiveDateTime;

use crate::db::models::audit::NewAuditEvent;
use crate::db::models::client::revoke_clients;
use crate::db::models::tenant::{Erasure, Tenant};
use crate::db::models::token::{revoke_tokens, Revocation};
use crate::db::{Database, DbError};
use crate::domain::{TenantId, TenantStatus};

/// Why a lifecycle change was refused. The messages are safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("no such tenant")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbError),
}

/// What a deletion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionReceipt {
    pub id: TenantId,
    pub deleted_at: NaiveDateTime,
    pub revoked_access_tokens: usize,
    pub revoked_refresh_tokens: usize,
    pub revoked_clients: usize,
}

/// Suspends the tenant (idempotent). The platform tenant cannot be suspended.
pub fn suspend_tenant(
    db: &Database,
    actor: &str,
    id: TenantId,
    now: NaiveDateTime,
) -> Result<Tenant, LifecycleError> {
    if id.is_platform() {
        return Err(LifecycleError::Invalid(
            "the platform tenant cannot be suspended",
        ));
    }
    change_status(db, actor, id, TenantStatus::Suspended, now)
}

/// Activates a suspended tenant (idempotent).
pub fn activate_tenant(
    db: &Database,
    actor: &str,
    id: TenantId,
    now: NaiveDateTime,
) -> Result<Tenant, LifecycleError> {
    change_status(db, actor, id, TenantStatus::Active, now)
}

fn change_status(
    db: &Database,
    actor: &str,
    id: TenantId,
    status: TenantStatus,
    now: NaiveDateTime,
) -> Result<Tenant, LifecycleError> {
    let actor = actor.to_owned();
    db.write(move |conn| {
        let tenant = live_tenant(conn, id)?;
        if tenant.status != status {
            Tenant::set_status(conn, id, status, now)?;
            let action = match status {
                TenantStatus::Suspended => "tenant.suspend",
                _ => "tenant.activate",
            };
            audit(conn, id, &actor, action, None, now)?;
        }
        Tenant::find(conn, id)?.ok_or(LifecycleError::NotFound)
    })
}

/// Deletes the tenant: one transaction that marks it deleted and revokes all its tokens
/// and clients. The platform tenant cannot be deleted; a deleted tenant is not found.
pub fn delete_tenant(
    db: &Database,
    actor: &str,
    id: TenantId,
    now: NaiveDateTime,
) -> Result<DeletionReceipt, LifecycleError> {
    if id.is_platform() {
        return Err(LifecycleError::Invalid(
            "the platform tenant cannot be deleted",
        ));
    }
    let actor = actor.to_owned();
    let receipt = db.write(move |conn| {
        live_tenant(conn, id)?;
        Tenant::set_status(conn, id, TenantStatus::Deleted, now)?;
        let tokens = revoke_tokens(conn, id, Revocation::Tenant, now)?;
        let clients = revoke_clients(conn, id, None, now)?;
        let receipt = DeletionReceipt {
            id,
            deleted_at: now,
            revoked_access_tokens: tokens.access_tokens,
            revoked_refresh_tokens: tokens.refresh_tokens,
            revoked_clients: clients,
        };
        let details = serde_json::json!({
            "revoked_access_tokens": receipt.revoked_access_tokens,
            "revoked_refresh_tokens": receipt.revoked_refresh_tokens,
            "revoked_clients": receipt.revoked_clients,
        });
        audit(conn, id, &actor, "tenant.delete", Some(details), now)?;
        Ok::<_, LifecycleError>(receipt)
    })?;
    log::info!(
        target: "tenauth::tokens",
        "deleted tenant {id}: revoked {} access tokens, {} refresh tokens, {} clients",
        receipt.revoked_access_tokens, receipt.revoked_refresh_tokens, receipt.revoked_clients
    );
    Ok(receipt)
}

/// The tenant, locked for the change, unless it does not exist or is deleted.
fn live_tenant(conn: &mut crate::db::DbConnection, id: TenantId) -> Result<Tenant, LifecycleError> {
    match Tenant::lock_for_update(conn, id)? {
        Some(tenant) if tenant.status != TenantStatus::Deleted => Ok(tenant),
        _ => Err(LifecycleError::NotFound),
    }
}

fn audit(
    conn: &mut crate::db::DbConnection,
    tenant_id: TenantId,
    actor: &str,
    action: &str,
    details: Option<serde_json::Value>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    NewAuditEvent {
        tenant_id,
        actor,
        action,
        subject: Some(&tenant_id.to_string()),
        details,
        created_at: now,
    }
    .insert(conn)
}

/// Token rows deleted per transaction by [`erase_tenant`].
pub const ERASE_BATCH: i64 = 10_000;

/// Erases a **deleted** tenant (the right to erasure): every row of it goes, and one
/// audit event records that it happened and how much went.
///
/// Its tokens go first, [`ERASE_BATCH`] rows per transaction, so that a tenant of millions
/// of tokens does not hold SQLite's single writer (every other tenant's issuance) for
/// seconds; the rest goes in one last transaction with the audit event. A deleted tenant
/// gets no new token, so the batches only shrink what is left, and an erasure cut short
/// is finished by running it again.
pub fn erase_tenant(
    db: &Database,
    actor: &str,
    id: TenantId,
    now: NaiveDateTime,
) -> Result<Erasure, LifecycleError> {
    let actor = actor.to_owned();
    let require_deleted = |tenant: Option<Tenant>| match tenant {
        None => Err(LifecycleError::NotFound),
        Some(tenant) if tenant.status != TenantStatus::Deleted => Err(LifecycleError::Invalid(
            "only a deleted tenant can be erased",
        )),
        Some(_) => Ok(()),
    };
    require_deleted(db.read(|conn| Tenant::find(conn, id))?)?;
    let (mut refresh_tokens, mut access_tokens) = (0, 0);
    loop {
        let (refresh, access) =
            db.write(move |conn| Tenant::erase_token_batch(conn, id, ERASE_BATCH))?;
        if refresh + access == 0 {
            break;
        }
        refresh_tokens += refresh;
        access_tokens += access;
    }
    db.write(move |conn| {
        match Tenant::lock_for_update(conn, id)? {
            None => return Err(LifecycleError::NotFound),
            Some(tenant) if tenant.status != TenantStatus::Deleted => {
                return Err(LifecycleError::Invalid(
                    "only a deleted tenant can be erased",
                ))
            }
            Some(_) => {}
        }
        let mut erasure = Tenant::erase_rows(conn, id, now)?;
        erasure.refresh_tokens += refresh_tokens;
        erasure.access_tokens += access_tokens;
        audit(
            conn,
            id,
            &actor,
            "tenant.erase",
            Some(serde_json::json!(erasure)),
            now,
        )?;
        Ok(erasure)
    })
}
