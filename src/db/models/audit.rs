//! The audit trail: `audit_events`, written in the same transaction as the change each
//! event records.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::{DbConnection, DbError};
use crate::domain::{Actor, AuditAction, TenantId};

/// An audit event about to be stored.
#[derive(Debug)]
pub struct NewAuditEvent<'a> {
    pub tenant_id: TenantId,
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub subject: Option<&'a str>,
    /// JSON with whatever the action needs to be understood later (counts, names).
    pub details: Option<serde_json::Value>,
    pub created_at: NaiveDateTime,
}

impl NewAuditEvent<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        diesel::insert_into(audit_events::table)
            .values((
                audit_events::tenant_id.eq(self.tenant_id.get()),
                audit_events::actor.eq(self.actor.to_string()),
                audit_events::action.eq(self.action.as_str()),
                audit_events::subject.eq(self.subject),
                audit_events::details.eq(self.details.as_ref().map(ToString::to_string)),
                audit_events::created_at.eq(self.created_at),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// A stored audit event. Its actor and action are shown as stored: an event outlives the
/// code that wrote it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub tenant_id: TenantId,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    /// JSON text.
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditEventRow {
    id: i64,
    tenant_id: i64,
    actor: String,
    action: String,
    subject: Option<String>,
    details: Option<String>,
    created_at: NaiveDateTime,
}

impl AuditEvent {
    /// The tenant's events, newest first, older than `before` (a cursor), at most `limit`.
    pub fn list(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, DbError> {
        Ok(audit_events::table
            .filter(audit_events::tenant_id.eq(tenant_id.get()))
            .filter(audit_events::id.lt(before.unwrap_or(i64::MAX)))
            .order(audit_events::id.desc())
            .limit(limit)
            .select(AuditEventRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|row| AuditEvent {
                id: row.id,
                tenant_id: TenantId::new(row.tenant_id),
                actor: row.actor,
                action: row.action,
                subject: row.subject,
                details: row.details,
                created_at: row.created_at,
            })
            .collect())
    }
}
