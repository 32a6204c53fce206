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

/// A stored username that could not be brought to the username profile's canonical form
/// (RFC 8265 §3.3), left as it was for an administrator to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnresolvedUsername {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub problem: UsernameProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameProblem {
    /// The profile refuses the name (a space, a symbol, a compatibility look-alike...).
    Refused,
    /// Its canonical form is this other user's name in the same tenant.
    SameAs(UserId),
}

impl std::fmt::Display for UnresolvedUsername {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (tenant, user) = (self.tenant_id, self.user_id);
        match self.problem {
            UsernameProblem::Refused => write!(f, "user {user} of tenant {tenant}: the username profile (RFC 8265) refuses its username; it cannot sign in until it is deleted and created again under another name"),
            UsernameProblem::SameAs(other) => write!(f, "user {user} of tenant {tenant}: its username is the same as user {other}'s under the username profile (RFC 8265); it cannot sign in until one of them is deleted"),
        }
    }
}

impl User {
    /// Brings the usernames stored before the username profile to their canonical form,
    /// and marks each row checked. Never merges two users: a row whose name the profile
    /// refuses, or whose canonical form another user of its tenant holds, stays as it was
    /// (unchecked, so it is reported again each time) and is returned. Deleted users'
    /// tombstones are left alone. Run inside one transaction by `Database::migrate`.
    pub fn canonicalize_stored_usernames(
        conn: &mut DbConnection,
    ) -> Result<Vec<UnresolvedUsername>, DbError> {
        let unchecked: Vec<(i64, i64, String, Option<NaiveDateTime>)> = users::table
            .filter(users::username_checked.eq(false))
            .order(users::id)
            .select((
                users::id,
                users::tenant_id,
                users::username,
                users::deleted_at,
            ))
            .load(conn)?;
        let mut unresolved = Vec::new();
        for (id, tenant_id, stored, deleted_at) in unchecked {
            let (tenant_id, user_id) = (TenantId::new(tenant_id), UserId::new(id));
            let problem = match (deleted_at, stored.parse::<Username>()) {
                (Some(_), _) => None,
                (None, Err(_)) => Some(UsernameProblem::Refused),
                (None, Ok(canonical)) if canonical.as_str() == stored => None,
                (None, Ok(canonical)) => {
                    match Self::find_by_username(conn, tenant_id, &canonical)? {
                        Some(holder) => Some(UsernameProblem::SameAs(holder.id)),
                        None => {
                            diesel::update(users::table.find(id))
                                .set(users::username.eq(canonical.as_str()))
                                .execute(conn)?;
                            None
                        }
                    }
                }
            };
            match problem {
                Some(problem) => unresolved.push(UnresolvedUsername {
                    tenant_id,
                    user_id,
                    problem,
                }),
                None => {
                    diesel::update(users::table.find(id))
                        .set(users::username_checked.eq(true))
                        .execute(conn)?;
                }
            }
        }
        Ok(unresolved)
    }
}
