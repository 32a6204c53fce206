//! Users: the `users` rows, parsed, and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::{load_unique, DbConnection, DbError};
use crate::domain::{TenantId, UserId, Username};

/// A user, parsed from its row.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    /// The normalized username, or a deleted user's tombstone name.
    pub username: String,
    /// Argon2id, as a PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    tenant_id: i64,
    username: String,
    password_hash: String,
    disabled: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: UserId::new(row.id),
            tenant_id: TenantId::new(row.tenant_id),
            username: row.username,
            password_hash: row.password_hash,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        }
    }
}

impl User {
    /// On PostgreSQL, locks the user's row until the transaction ends (see
    /// `Client::lock_row`). Whether the user exists in the tenant.
    pub fn lock_row(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: UserId,
    ) -> Result<bool, DbError> {
        let found: Option<i64> = match conn {
            DbConnection::Sqlite(conn) => load_unique(
                users::table
                    .filter(users::tenant_id.eq(tenant_id.get()))
                    .filter(users::id.eq(id.get()))
                    .select(users::id),
                conn,
            )?,
            DbConnection::Postgres(conn) => load_unique(
                users::table
                    .filter(users::tenant_id.eq(tenant_id.get()))
                    .filter(users::id.eq(id.get()))
                    .select(users::id)
                    .for_no_key_update(),
                conn,
            )?,
        };
        Ok(found.is_some())
    }

    /// The user of this tenant with this (normalized) username.
    pub fn find_by_username(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        username: &Username,
    ) -> Result<Option<User>, DbError> {
        Ok(load_unique(
            users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::username.eq(username.as_str()))
                .select(UserRow::as_select()),
            conn,
        )?
        .map(User::from))
    }
}

/// A user about to be stored.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub tenant_id: TenantId,
    pub username: &'a Username,
    pub password_hash: &'a str,
    pub now: NaiveDateTime,
}

impl NewUser<'_> {
    /// Stores the user and returns its id.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<UserId, DbError> {
        let insert = diesel::insert_into(users::table).values((
            users::tenant_id.eq(self.tenant_id.get()),
            users::username.eq(self.username.as_str()),
            users::password_hash.eq(self.password_hash),
            users::disabled.eq(false),
            users::created_at.eq(self.now),
            users::updated_at.eq(self.now),
        ));
        // RETURNING does not compile on a MultiConnection: run it on the concrete backend.
        let id = match conn {
            DbConnection::Sqlite(conn) => insert.returning(users::id).get_result(conn)?,
            DbConnection::Postgres(conn) => insert.returning(users::id).get_result(conn)?,
        };
        Ok(UserId::new(id))
    }
}

impl User {
    /// Disables the user: its tokens stop introspecting active at once, and it can no
    /// longer log in. Returns false when the tenant has no such user.
    pub fn disable(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: UserId,
        now: NaiveDateTime,
    ) -> Result<bool, DbError> {
        let updated = diesel::update(
            users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::id.eq(id.get())),
        )
        .set((users::disabled.eq(true), users::updated_at.eq(now)))
        .execute(conn)?;
        Ok(updated == 1)
    }
}

impl User {
    /// The tenant's users that are not deleted, in id order.
    pub fn list(conn: &mut DbConnection, tenant_id: TenantId) -> Result<Vec<User>, DbError> {
        Ok(users::table
            .filter(users::tenant_id.eq(tenant_id.get()))
            .filter(users::deleted_at.is_null())
            .order(users::id.asc())
            .select(UserRow::as_select())
            .load(conn)?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// The user with this id **in this tenant**, unless deleted.
    pub fn find_in_tenant(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: UserId,
    ) -> Result<Option<User>, DbError> {
        Ok(load_unique(
            users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::id.eq(id.get()))
                .filter(users::deleted_at.is_null())
                .select(UserRow::as_select()),
            conn,
        )?
        .map(User::from))
    }

    pub fn set_password_hash(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: UserId,
        password_hash: &str,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::update(
            users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::id.eq(id.get())),
        )
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(())
    }

    /// Marks the user deleted: disabled, and renamed to a tombstone no real username can
    /// be (it has spaces), so the name is free again. The row stays: tokens reference it.
    pub fn mark_deleted(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: UserId,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::update(
            users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::id.eq(id.get())),
        )
        .set((
            users::username.eq(format!("deleted user {id}")),
            users::disabled.eq(true),
            users::updated_at.eq(now),
            users::deleted_at.eq(now),
        ))
        .execute(conn)?;
        Ok(())
    }
}
