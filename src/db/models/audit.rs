use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::{DbConnection, DbError};
use crate::domain::TenantId;

/// An audit event, written in the same transaction as the change it records.
#[derive(Debug)]
pub struct NewAuditEvent<'a> {
    pub tenant_id: TenantId,
    /// Who did it: `cli`, or `client:<id>` / `user:<id>` for API callers.
    pub actor: &'a str,
    pub action: &'a str,
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
                audit_events::actor.eq(self.actor),
                audit_events::action.eq(self.action),
                audit_events::subject.eq(self.subject),
                audit_events::details.eq(self.details.as_ref().map(ToString::to_string)),
                audit_events::created_at.eq(self.created_at),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// A stored audit event.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub tenant_id: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
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
            .select(AuditEvent::as_select())
            .load(conn)?)
    }
}
