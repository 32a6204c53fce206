//! Tenants: creation, suspension, activation, deletion and erasure (see the module
//! documentation of `lifecycle` for what each does to the tenant's tokens).
//!
//! Suspension revokes nothing: while suspended, a tenant's tokens introspect inactive and
//! its grants fail, and activation brings back the tokens that have neither expired nor
//! been revoked. Deletion is final: in **one transaction** of set-based updates it marks
//! the tenant deleted and revokes every access token, refresh token and client of it, and
//! returns the counts as a receipt. Rows stay, for the audit trail, until the tenant is
//! erased.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::audit::AuditEvent;
use crate::db::models::client::{revoke_clients, NewClient};
use crate::db::models::event::record_event;
use crate::db::models::session::end_sessions;
use crate::db::models::tenant::{Erasure, NewTenant, Tenant};
use crate::db::models::token::erase::delete_token_batch;
use crate::db::models::token::revoke::revoke_platform_staff_tokens;
use crate::db::models::token::revoke_tokens;
use crate::db::DbConnection;
use crate::domain::{
    Actor, AuditAction, BrowserRegistration, ClientId, Name, RevocationTarget, Scope,
    SecurityEvent, Slug, TenantId, TenantStatus,
};

/// The name every tenant's personal-access client gets.
const PERSONAL_ACCESS_CLIENT_NAME: &str = "Personal Access Client";

/// Token rows deleted per transaction by [`Lifecycle::erase_tenant`].
pub const ERASE_BATCH: i64 = 10_000;

/// What a deletion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionReceipt {
    pub id: TenantId,
    pub deleted_at: NaiveDateTime,
    pub revoked_access_tokens: usize,
    pub revoked_refresh_tokens: usize,
    pub revoked_clients: usize,
}

impl Lifecycle {
    /// Creates an active tenant and its personal-access client.
    pub async fn create_tenant(
        &self,
        actor: Actor,
        slug: Slug,
        name: Name,
        now: NaiveDateTime,
    ) -> Result<Tenant, LifecycleError> {
        self.db
            .write_async(move |conn| {
                let tenant_id = NewTenant {
                    slug: slug.as_str(),
                    name: name.as_str(),
                    now,
                }
                .insert(conn)
                .map_err(|error| {
                    if error.is_unique_violation() {
                        LifecycleError::Conflict("a tenant with this slug exists")
                    } else {
                        error.into()
                    }
                })?;
                NewClient {
                    id: &ClientId::generate(),
                    tenant_id,
                    name: PERSONAL_ACCESS_CLIENT_NAME,
                    secret_hash: None,
                    grant_types: &BTreeSet::new(),
                    scopes: &Scope::default(),
                    personal_access: true,
                    browser: &BrowserRegistration::default(),
                    now,
                }
                .insert(conn)?;
                let details = serde_json::json!({ "slug": slug });
                let subject = tenant_id.to_string();
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::TenantCreate,
                    Some(&subject),
                    Some(details),
                    now,
                )?;
                Tenant::find(conn, tenant_id)?.ok_or(LifecycleError::NotFound("no such tenant"))
            })
            .await
    }

    /// The tenant with this id, whatever its status.
    pub async fn find_tenant(&self, id: TenantId) -> Result<Option<Tenant>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| Tenant::find(conn, id))
            .await?)
    }

    /// Tenants in id order, after `after` (a cursor), at most `limit`.
    pub async fn list_tenants(
        &self,
        after: Option<TenantId>,
        limit: i64,
    ) -> Result<Vec<Tenant>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| Tenant::list(conn, after, limit))
            .await?)
    }

    /// The tenant's audit events, newest first, older than `before`, at most `limit`.
    pub async fn list_audit_events(
        &self,
        id: TenantId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| AuditEvent::list(conn, id, before, limit))
            .await?)
    }

    /// Suspends (`TenantStatus::Suspended`) or activates (`TenantStatus::Active`) the
    /// tenant; idempotent. The platform tenant cannot be suspended; deletion is
    /// [`Lifecycle::delete_tenant`].
    pub async fn set_tenant_status(
        &self,
        actor: Actor,
        id: TenantId,
        status: TenantStatus,
        now: NaiveDateTime,
    ) -> Result<Tenant, LifecycleError> {
        match status {
            TenantStatus::Suspended if id.is_platform() => {
                return Err(LifecycleError::Invalid(
                    "the platform tenant cannot be suspended",
                ))
            }
            TenantStatus::Deleted => {
                return Err(LifecycleError::Invalid(
                    "a tenant is deleted with its own call",
                ))
            }
            TenantStatus::Active | TenantStatus::Suspended => {}
        }
        self.db
            .write_async(move |conn| {
                let tenant = lock_live_tenant(conn, id, TenantLock::Tenant)?;
                if tenant.status != status {
                    Tenant::set_status(conn, id, status, now)?;
                    let event = if status == TenantStatus::Suspended {
                        end_sessions(conn, id, None)?;
                        SecurityEvent::TenantSuspended
                    } else {
                        SecurityEvent::TenantActivated
                    };
                    record_event(conn, id, &event, now)?;
                    let action = match status {
                        TenantStatus::Suspended => AuditAction::TenantSuspend,
                        _ => AuditAction::TenantActivate,
                    };
                    audit(conn, id, &actor, action, Some(&id.to_string()), None, now)?;
                }
                Tenant::find(conn, id)?.ok_or(LifecycleError::NotFound("no such tenant"))
            })
            .await
    }

    /// Changes the tenant's settings (a JSON merge patch, RFC 7396: `None` leaves a setting
    /// as it is): `platform_access` allows or refuses platform staff inside the tenant,
    /// audited in the tenant's trail; idempotent. Asked of the platform tenant itself, it is
    /// refused: its own staff need no exchange to act there. A deleted tenant is not found,
    /// whatever the patch.
    pub async fn update_tenant(
        &self,
        actor: Actor,
        id: TenantId,
        platform_access: Option<bool>,
        now: NaiveDateTime,
    ) -> Result<Tenant, LifecycleError> {
        if id.is_platform() && platform_access.is_some() {
            return Err(LifecycleError::Invalid(
                "platform_access is a setting of the other tenants",
            ));
        }
        self.db
            .write_async(move |conn| {
                let tenant = lock_live_tenant(conn, id, TenantLock::Tenant)?;
                if let Some(allowed) =
                    platform_access.filter(|&allowed| allowed != tenant.platform_access)
                {
                    Tenant::set_platform_access(conn, id, allowed, now)?;
                    // Off: platform staff's tokens in the tenant end with it (they would
                    // be refused anyway, `domain::ExchangeStanding`; this marks them), and
                    // turning it on again does not bring them back.
                    let revoked = if allowed {
                        0
                    } else {
                        revoke_platform_staff_tokens(conn, id, now)?
                    };
                    let details = serde_json::json!({
                        "platform_access": allowed,
                        "revoked_access_tokens": revoked,
                    });
                    let action = AuditAction::TenantPlatformAccess;
                    audit(
                        conn,
                        id,
                        &actor,
                        action,
                        Some(&id.to_string()),
                        Some(details),
                        now,
                    )?;
                }
                Tenant::find(conn, id)?.ok_or(LifecycleError::NotFound("no such tenant"))
            })
            .await
    }

    /// Deletes the tenant: one transaction that marks it deleted and revokes all its tokens
    /// and clients. The platform tenant cannot be deleted; a deleted tenant is not found.
    pub async fn delete_tenant(
        &self,
        actor: Actor,
        id: TenantId,
        now: NaiveDateTime,
    ) -> Result<DeletionReceipt, LifecycleError> {
        if id.is_platform() {
            return Err(LifecycleError::Invalid(
                "the platform tenant cannot be deleted",
            ));
        }
        let receipt = self
            .db
            .write_async(move |conn| delete_tenant(conn, &actor, id, now))
            .await?;
        log::info!(
            target: "tenauth::tokens",
            "deleted tenant {id}: revoked {} access tokens, {} refresh tokens, {} clients",
            receipt.revoked_access_tokens, receipt.revoked_refresh_tokens, receipt.revoked_clients
        );
        Ok(receipt)
    }

    /// Erases a **deleted** tenant (the right to erasure): every row of it goes, and one
    /// audit event records that it happened and how much went.
    ///
    /// Its tokens go first, [`ERASE_BATCH`] rows per transaction, so that a tenant of
    /// millions of tokens does not hold SQLite's single writer (every other tenant's
    /// issuance) for seconds; the rest goes in one last transaction with the audit event. A
    /// deleted tenant gets no new token, so the batches only shrink what is left, and an
    /// erasure cut short is finished by running it again.
    pub async fn erase_tenant(
        &self,
        actor: Actor,
        id: TenantId,
        now: NaiveDateTime,
    ) -> Result<Erasure, LifecycleError> {
        require_deleted(
            self.db
                .read_async(move |conn| Tenant::find(conn, id))
                .await?,
        )?;
        let mut erased_tokens = Erasure::default();
        loop {
            let batch = self
                .db
                .write_async(move |conn| delete_token_batch(conn, id, ERASE_BATCH))
                .await?;
            if batch.access_tokens + batch.refresh_tokens == 0 {
                break;
            }
            erased_tokens.refresh_tokens += batch.refresh_tokens;
            erased_tokens.access_tokens += batch.access_tokens;
        }
        self.db
            .write_async(move |conn| {
                require_deleted(Tenant::lock_for_update(conn, id)?)?;
                let mut erasure = Tenant::erase_rows(conn, id, now)?;
                erasure.refresh_tokens += erased_tokens.refresh_tokens;
                erasure.access_tokens += erased_tokens.access_tokens;
                let details = serde_json::json!(erasure);
                audit(
                    conn,
                    id,
                    &actor,
                    AuditAction::TenantErase,
                    Some(&id.to_string()),
                    Some(details),
                    now,
                )?;
                Ok(erasure)
            })
            .await
    }
}

/// The deletion's transaction.
fn delete_tenant(
    conn: &mut DbConnection,
    actor: &Actor,
    id: TenantId,
    now: NaiveDateTime,
) -> Result<DeletionReceipt, LifecycleError> {
    lock_live_tenant(conn, id, TenantLock::Tenant)?;
    Tenant::set_status(conn, id, TenantStatus::Deleted, now)?;
    let tokens = revoke_tokens(conn, id, &RevocationTarget::Tenant, now)?;
    end_sessions(conn, id, None)?;
    record_event(conn, id, &SecurityEvent::TenantDeleted, now)?;
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
    audit(
        conn,
        id,
        actor,
        AuditAction::TenantDelete,
        Some(&id.to_string()),
        Some(details),
        now,
    )?;
    Ok(receipt)
}

/// Only a deleted tenant can be erased.
fn require_deleted(tenant: Option<Tenant>) -> Result<(), LifecycleError> {
    match tenant {
        None => Err(LifecycleError::NotFound("no such tenant")),
        Some(tenant) if tenant.status.is_live() => Err(LifecycleError::Invalid(
            "only a deleted tenant can be erased",
        )),
        Some(_) => Ok(()),
    }
}
