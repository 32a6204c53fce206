//! The lifecycle of tenants, clients, users and tokens: every change an admin (through the
//! admin API) or an operator (through the CLI) can make, with every cascade it implies, in
//! one place, one file per resource:
//!
//! - [`tenants`]: create, suspend, activate, delete, erase;
//! - [`clients`]: create, delete (revoke), rotate the secret;
//! - [`users`]: create, change the password, disable, delete;
//! - [`tokens`]: bulk revocation, listing, and the purge of long-dead tokens.
//!
//! # What happens to a tenant's tokens
//! The question this module exists to answer in one place. For refresh tokens and access
//! tokens alike:
//! - **suspension** revokes nothing: every read refuses the tenant's tokens while it is not
//!   active (`domain::Standing`, asked by introspection, the bearer guard and issuance),
//!   and activation brings back what has neither expired nor been revoked;
//! - **deletion** marks the tenant deleted and revokes all its access tokens, refresh
//!   tokens and clients in one transaction ([`tenants`]), after taking the tenant's row
//!   lock so that no issuance in flight can slip a token past it;
//! - **erasure** (a deleted tenant only) deletes every row of it, tokens first, in batches;
//! - **purge** deletes any token, of any tenant, once it has been expired or revoked for
//!   the retention period ([`tokens`]).
//!
//! Deleting a client or a user, and changing a user's password, revoke their tokens the
//! same way (one transaction, `db::models::token::revoke`).
//!
//! # Locks
//! Every change starts by locking its live tenant (`lock_live_tenant`): a change of the
//! tenant itself (status, deletion, revoking all its tokens) takes its row so that
//! issuance in flight and the change serialize; a change inside the tenant takes it shared,
//! so that it cannot interleave with the tenant's deletion yet does not hold up issuance.
//! Revoking a client's or a user's tokens then locks that row only.
//!
//! # Shape
//! [`Lifecycle`] is the service the admin API's handlers and the CLI call: async entry
//! points that run their database work off the caller's thread (reads on the reader
//! threads, writes and password hashing on the blocking pool), so no handler chooses a
//! thread pool. Each change runs in one transaction that also writes its audit event.

pub mod clients;
pub mod streams;
pub mod tenants;
pub mod tokens;
pub mod users;

use chrono::NaiveDateTime;

use crate::db::models::audit::NewAuditEvent;
use crate::db::models::tenant::Tenant;
use crate::db::models::token::RevocationCounts;
use crate::db::{Database, DbConnection, DbError};
use crate::domain::{Actor, AuditAction, TenantId};
use crate::secrets::SecretHasher;

/// Why a change was refused. The messages are safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The request breaks a rule (400).
    #[error("{0}")]
    Invalid(&'static str),
    /// It would duplicate something that exists (409).
    #[error("{0}")]
    Conflict(&'static str),
    /// What it names does not exist, or not in this tenant (404).
    #[error("{0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// The entry points for changing and reading tenants, clients, users and tokens. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    db: Database,
    hasher: SecretHasher,
}

impl Lifecycle {
    pub fn new(db: Database, hasher: SecretHasher) -> Self {
        Self { db, hasher }
    }
}

/// How a change locks its tenant's row (on PostgreSQL; SQLite's single writer serializes
/// every write anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantLock {
    /// A change of the tenant itself, or of all its tokens: it waits for every issuance in
    /// flight in the tenant, and they for it (`Tenant::lock_for_update`).
    Tenant,
    /// A change inside the tenant (a client, a user, their tokens): it waits for changes
    /// of the tenant itself, such as its deletion, but not for issuance
    /// (`Tenant::lock_for_share`).
    Within,
}

/// The tenant, its row locked as `lock` says until the transaction ends, unless it is
/// unknown or deleted. The one way every change of or in a tenant starts.
fn lock_live_tenant(
    conn: &mut DbConnection,
    id: TenantId,
    lock: TenantLock,
) -> Result<Tenant, LifecycleError> {
    let tenant = match lock {
        TenantLock::Tenant => Tenant::lock_for_update(conn, id)?,
        TenantLock::Within => Tenant::lock_for_share(conn, id)?,
    };
    match tenant {
        Some(tenant) if tenant.status.is_live() => Ok(tenant),
        _ => Err(LifecycleError::NotFound("no such tenant")),
    }
}

/// Writes the audit event of a change, in its transaction.
fn audit(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    actor: &Actor,
    action: AuditAction,
    subject: Option<&str>,
    details: Option<serde_json::Value>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    NewAuditEvent {
        tenant_id,
        actor,
        action,
        subject,
        details,
        created_at: now,
    }
    .insert(conn)
}

/// The audit details of a change that revoked tokens.
fn revocation_details(counts: RevocationCounts) -> serde_json::Value {
    serde_json::json!({
        "revoked_access_tokens": counts.access_tokens,
        "revoked_refresh_tokens": counts.refresh_tokens,
    })
}
