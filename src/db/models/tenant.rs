use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::tenants;
use crate::db::{load_unique, DbConnection, DbError};
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
}

impl TryFrom<TenantRow> for Tenant {
    type Error = DbError;

    fn try_from(row: TenantRow) -> Result<Self, DbError> {
        let status = row.status.parse().map_err(|_| {
            DbError::Query(diesel::result::Error::DeserializationError(
                format!("tenant {} has an unknown status", row.id).into(),
            ))
        })?;
        Ok(Self {
            id: TenantId::new(row.id),
            slug: row.slug,
            name: row.name,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            suspended_at: row.suspended_at,
            deleted_at: row.deleted_at,
        })
    }
}

impl Tenant {
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
