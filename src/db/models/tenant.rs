//! Tenants: the `tenants` rows, parsed, and their queries (status changes and erasure
//! included; what a status change means for tokens is `lifecycle::tenants`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::tenants;
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{TenantId, TenantStatus};

/// A row of `tenants`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub suspended_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
    pub platform_access: bool,
}

/// A tenant, parsed from its row.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub suspended_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
    /// Whether platform staff may act inside the tenant (token exchange, RFC 8693); its
    /// admins decide.
    pub platform_access: bool,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = DbError;

    fn try_from(row: TenantRow) -> Result<Self, DbError> {
        let status = parse_column(&row.status, "tenant status")?;
        Ok(Self {
            id: TenantId::new(row.id),
            slug: row.slug,
            name: row.name,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            suspended_at: row.suspended_at,
            deleted_at: row.deleted_at,
            platform_access: row.platform_access,
        })
    }
}

impl Tenant {
    /// Whether the tenant lets platform staff act inside it (`false` for no such tenant).
    pub fn platform_access(conn: &mut DbConnection, id: TenantId) -> Result<bool, DbError> {
        Ok(load_unique(
            tenants::table
                .find(id.get())
                .select(tenants::platform_access),
            conn,
        )?
        .unwrap_or(false))
    }

    /// The tenant with this id, whatever its status.
    pub fn find(conn: &mut DbConnection, id: TenantId) -> Result<Option<Tenant>, DbError> {
        load_unique(
            tenants::table.find(id.get()).select(TenantRow::as_select()),
            conn,
        )?
        .map(Tenant::try_from)
        .transpose()
    }
}

/// A tenant about to be stored.
#[derive(Debug)]
pub struct NewTenant<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub now: NaiveDateTime,
}

impl NewTenant<'_> {
    /// Stores the tenant (active) and returns its id. A duplicate slug is a unique
    /// violation ([`DbError::is_unique_violation`]).
    pub fn insert(&self, conn: &mut DbConnection) -> Result<TenantId, DbError> {
        let insert = diesel::insert_into(tenants::table).values((
            tenants::slug.eq(self.slug),
            tenants::name.eq(self.name),
            tenants::status.eq(TenantStatus::Active.as_str()),
            tenants::created_at.eq(self.now),
            tenants::updated_at.eq(self.now),
        ));
        // RETURNING does not compile on a MultiConnection: run it on the concrete backend.
        let id: i64 = match conn {
            DbConnection::Sqlite(conn) => insert.returning(tenants::id).get_result(conn)?,
            DbConnection::Postgres(conn) => insert.returning(tenants::id).get_result(conn)?,
        };
        Ok(TenantId::new(id))
    }
}

impl Tenant {
    /// Tenants in id order, after `after` (a cursor), at most `limit`.
    pub fn list(
        conn: &mut DbConnection,
        after: Option<TenantId>,
        limit: i64,
    ) -> Result<Vec<Tenant>, DbError> {
        tenants::table
            .filter(tenants::id.gt(after.map_or(0, TenantId::get)))
            .order(tenants::id.asc())
            .limit(limit)
            .select(TenantRow::as_select())
            .load(conn)?
            .into_iter()
            .map(Tenant::try_from)
            .collect()
    }

    /// Reads the tenant for a change of the tenant itself, locking its row on PostgreSQL
    /// until the transaction ends (`FOR NO KEY UPDATE`): issuance reads it `FOR SHARE`, so
    /// the two serialize and no token is written after the change that should have covered
    /// it; foreign-key checks (`KEY SHARE`) are not held up. On SQLite the single writer
    /// serializes them already.
    pub fn lock_for_update(
        conn: &mut DbConnection,
        id: TenantId,
    ) -> Result<Option<Tenant>, DbError> {
        Self::lock(conn, id, false)
    }

    /// Reads the tenant for a change inside it (a client, a user, some tokens), locking its
    /// row `FOR SHARE` on PostgreSQL: the change then serializes with changes of the tenant
    /// itself ([`Tenant::lock_for_update`], e.g. its deletion), but not with issuance.
    pub fn lock_for_share(
        conn: &mut DbConnection,
        id: TenantId,
    ) -> Result<Option<Tenant>, DbError> {
        Self::lock(conn, id, true)
    }

    fn lock(conn: &mut DbConnection, id: TenantId, share: bool) -> Result<Option<Tenant>, DbError> {
        let tenant = tenants::table.find(id.get());
        // Written out per backend: `as_select()` fixes the backend of the query it is in.
        let row: Option<TenantRow> = match conn {
            DbConnection::Sqlite(conn) => load_unique(tenant.select(TenantRow::as_select()), conn)?,
            DbConnection::Postgres(conn) if share => {
                load_unique(tenant.select(TenantRow::as_select()).for_share(), conn)?
            }
            DbConnection::Postgres(conn) => load_unique(
                tenant.select(TenantRow::as_select()).for_no_key_update(),
                conn,
            )?,
        };
        row.map(Tenant::try_from).transpose()
    }

    /// Allows or refuses platform staff inside the tenant.
    pub fn set_platform_access(
        conn: &mut DbConnection,
        id: TenantId,
        allowed: bool,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::update(tenants::table.find(id.get()))
            .set((
                tenants::platform_access.eq(allowed),
                tenants::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Sets the status (and the timestamp that goes with it).
    pub fn set_status(
        conn: &mut DbConnection,
        id: TenantId,
        status: TenantStatus,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        let target = tenants::table.find(id.get());
        let status_column = tenants::status.eq(status.as_str());
        let updated = tenants::updated_at.eq(now);
        match status {
            TenantStatus::Active => diesel::update(target)
                .set((
                    status_column,
                    updated,
                    tenants::suspended_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?,
            TenantStatus::Suspended => diesel::update(target)
                .set((status_column, updated, tenants::suspended_at.eq(now)))
                .execute(conn)?,
            TenantStatus::Deleted => diesel::update(target)
                .set((status_column, updated, tenants::deleted_at.eq(now)))
                .execute(conn)?,
        };
        Ok(())
    }
}

/// What erasing a tenant removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub access_tokens: usize,
    pub refresh_tokens: usize,
    pub clients: usize,
    pub users: usize,
    pub audit_events: usize,
}

impl Tenant {
    /// Deletes every row that belongs to the tenant (tokens, clients, users, audit events)
    /// and blanks its slug and name; the tenant row itself stays, so that its id is never
    /// reused and the audit line about the erasure has a tenant to point to.
    pub fn erase_rows(
        conn: &mut DbConnection,
        id: TenantId,
        now: NaiveDateTime,
    ) -> Result<Erasure, DbError> {
        use crate::db::schema::{
            audit_events, browser_sessions, event_streams, oauth_authorization_codes,
            oauth_clients, oauth_consents, security_events, users,
        };
        let tenant = id.get();
        let tokens = super::token::erase::delete_all_tokens(conn, id)?;
        // What refers to its clients and users, and counts for nothing in the receipt.
        diesel::delete(
            oauth_authorization_codes::table
                .filter(oauth_authorization_codes::tenant_id.eq(tenant)),
        )
        .execute(conn)?;
        diesel::delete(browser_sessions::table.filter(browser_sessions::tenant_id.eq(tenant)))
            .execute(conn)?;
        diesel::delete(oauth_consents::table.filter(oauth_consents::tenant_id.eq(tenant)))
            .execute(conn)?;
        super::stream::dequeue_tenant(conn, id)?;
        diesel::delete(security_events::table.filter(security_events::tenant_id.eq(tenant)))
            .execute(conn)?;
        // Its own streams, their delivery state and what their queues still hold (the
        // events that concern every tenant) go with them (ON DELETE CASCADE).
        diesel::delete(event_streams::table.filter(event_streams::tenant_id.eq(tenant)))
            .execute(conn)?;
        let erasure = Erasure {
            refresh_tokens: tokens.refresh_tokens,
            access_tokens: tokens.access_tokens,
            clients: diesel::delete(
                oauth_clients::table.filter(oauth_clients::tenant_id.eq(tenant)),
            )
            .execute(conn)?,
            users: diesel::delete(users::table.filter(users::tenant_id.eq(tenant)))
                .execute(conn)?,
            audit_events: diesel::delete(
                audit_events::table.filter(audit_events::tenant_id.eq(tenant)),
            )
            .execute(conn)?,
        };
        diesel::update(tenants::table.find(tenant))
            .set((
                tenants::slug.eq(format!("erased-{tenant}")),
                tenants::name.eq(""),
                tenants::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(erasure)
    }
}
