//! Users: creation, password changes (which revoke every token of the user), disabling and
//! deletion (which revokes them too). Passwords are hashed (Argon2id) before the
//! transaction, so that the writer is not held during the slow part.

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, revocation_details, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::event::record_event;
use crate::db::models::session::end_sessions;
use crate::db::models::token::revoke::revoke_acted_by_user;
use crate::db::models::token::{revoke_tokens, RevocationCounts};
use crate::db::models::user::{NewUser, User};
use crate::db::{blocking, DbConnection};
use crate::domain::{
    Actor, AuditAction, Password, RevocationTarget, SecurityEvent, TenantId, UserId, Username,
};
use crate::secrets::hash_password;

/// A created user, as shown to its creator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedUser {
    pub id: UserId,
    pub username: Username,
    pub tenant_id: TenantId,
}

impl Lifecycle {
    /// Creates a user in the tenant.
    pub async fn create_user(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        username: Username,
        password: Password,
        now: NaiveDateTime,
    ) -> Result<CreatedUser, LifecycleError> {
        let db = self.db.clone();
        blocking(move || {
            let password_hash = hash_password(&password);
            db.write(move |conn| {
                lock_live_tenant(conn, tenant_id, TenantLock::Within)?;
                let id = NewUser {
                    tenant_id,
                    username: &username,
                    password_hash: &password_hash,
                    now,
                }
                .insert(conn)
                .map_err(|error| {
                    if error.is_unique_violation() {
                        LifecycleError::Conflict("a user with this username exists in the tenant")
                    } else {
                        error.into()
                    }
                })?;
                let details = serde_json::json!({ "username": username });
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::UserCreate,
                    Some(&id.to_string()),
                    Some(details),
                    now,
                )?;
                Ok(CreatedUser {
                    id,
                    username,
                    tenant_id,
                })
            })
        })
        .await
    }

    /// The tenant's users that are not deleted, in id order.
    pub async fn list_users(&self, tenant_id: TenantId) -> Result<Vec<User>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| User::list(conn, tenant_id))
            .await?)
    }

    /// Sets a user's password and revokes every token the user holds, in one transaction.
    pub async fn change_password(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        user_id: UserId,
        password: Password,
        now: NaiveDateTime,
    ) -> Result<RevocationCounts, LifecycleError> {
        let db = self.db.clone();
        blocking(move || {
            let password_hash = hash_password(&password);
            db.write(move |conn| {
                live_user(conn, tenant_id, user_id)?;
                User::set_password_hash(conn, tenant_id, user_id, &password_hash, now)?;
                revoke_user_tokens(
                    conn,
                    &actor,
                    AuditAction::UserPassword,
                    tenant_id,
                    user_id,
                    now,
                )
            })
        })
        .await
    }

    /// Disables a user: it can no longer log in, its browser sessions end, and its tokens
    /// introspect inactive (its standing, not a revocation: they would stand again were it
    /// enabled); only the tokens a platform user acts with in other tenants (token exchange)
    /// are revoked.
    pub async fn disable_user(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        user_id: UserId,
        now: NaiveDateTime,
    ) -> Result<(), LifecycleError> {
        self.db
            .write_async(move |conn| {
                live_user(conn, tenant_id, user_id)?;
                User::disable(conn, tenant_id, user_id, now)?;
                end_sessions(conn, tenant_id, Some(user_id))?;
                // The tokens a platform user acts with elsewhere end for good.
                let acted = revoke_acted_by_user(conn, tenant_id, user_id, now)?;
                record_event(conn, tenant_id, &SecurityEvent::UserDisabled(user_id), now)?;
                let details = revocation_details(RevocationCounts {
                    access_tokens: acted,
                    refresh_tokens: 0,
                });
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::UserDisable,
                    Some(&user_id.to_string()),
                    Some(details),
                    now,
                )?;
                Ok(())
            })
            .await
    }

    /// Deletes a user and revokes every token it holds, in one transaction (see
    /// [`User::mark_deleted`] for what stays).
    pub async fn delete_user(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        user_id: UserId,
        now: NaiveDateTime,
    ) -> Result<RevocationCounts, LifecycleError> {
        self.db
            .write_async(move |conn| {
                live_user(conn, tenant_id, user_id)?;
                User::mark_deleted(conn, tenant_id, user_id, now)?;
                revoke_user_tokens(
                    conn,
                    &actor,
                    AuditAction::UserDelete,
                    tenant_id,
                    user_id,
                    now,
                )
            })
            .await
    }
}

/// The tenant's user, unless the tenant is not live or the user unknown in it or deleted.
fn live_user(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
) -> Result<User, LifecycleError> {
    lock_live_tenant(conn, tenant_id, TenantLock::Within)?;
    User::find_in_tenant(conn, tenant_id, user_id)?.ok_or(LifecycleError::NotFound("no such user"))
}

/// Revokes every token of the user, ends its browser sessions, and audits `action` with
/// the counts.
fn revoke_user_tokens(
    conn: &mut DbConnection,
    actor: &Actor,
    action: AuditAction,
    tenant_id: TenantId,
    user_id: UserId,
    now: NaiveDateTime,
) -> Result<RevocationCounts, LifecycleError> {
    let counts = revoke_tokens(conn, tenant_id, &RevocationTarget::User(user_id), now)?;
    end_sessions(conn, tenant_id, Some(user_id))?;
    let event = match action {
        AuditAction::UserDelete => SecurityEvent::UserDeleted(user_id),
        _ => SecurityEvent::PasswordChanged(user_id),
    };
    record_event(conn, tenant_id, &event, now)?;
    let details = revocation_details(counts);
    audit(
        conn,
        tenant_id,
        actor,
        action,
        Some(&user_id.to_string()),
        Some(details),
        now,
    )?;
    Ok(counts)
}
