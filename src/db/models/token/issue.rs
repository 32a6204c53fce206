//! Storing new tokens: an access token and, if its grant has one, its refresh token, only
//! while the tenant, the client and the user stand ([`Standing`]), atomically with the
//! check.
//!
//! On PostgreSQL the tenant, client and user rows are read `FOR SHARE`: tenant deletion,
//! client deletion and user deletion update those rows, so they wait for an issuance in
//! flight (and it for them), and a token can never be written after the revocation that
//! should have covered it. On SQLite the single writer serializes the two already.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::family::RefreshToken;
use crate::db::schema::{oauth_access_tokens, oauth_clients, oauth_refresh_tokens, tenants, users};
use crate::db::{load_unique, parse_column, DbConnection, DbError, Prepared};
use crate::domain::standing::sql;
use crate::domain::{
    ClientId, ClientStanding, Exchange, FamilyId, Standing, TenantId, TokenId, TokenKind, UserId,
    UserStanding,
};
use crate::secrets::{AccessTokenHash, RefreshTokenHash};

/// An access token about to be stored. Its `id` is the JWT's `jti`: the row, not the
/// signature, is the authority on whether the token is still valid.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    pub id: &'a TokenId,
    pub tenant_id: TenantId,
    pub client_id: &'a ClientId,
    pub user_id: Option<UserId>,
    pub kind: TokenKind,
    pub name: Option<&'a str>,
    /// The canonical scope string (`Scope`'s `Display`), as the JWT carries it.
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Keyed hash of the token's exact string (see the migration that added it).
    pub token_hash: &'a AccessTokenHash,
    /// For a token from token exchange: its subject token, actor and audience. Such a
    /// token is stored by [`NewTokens::insert`] after [`load_standing`] in the exchange's
    /// transaction, never by PostgreSQL's one-statement issuance, which writes none of it.
    pub exchange: Option<&'a Exchange>,
}

#[derive(Insertable)]
#[diesel(table_name = oauth_access_tokens)]
struct AccessTokenInsert<'a> {
    id: &'a str,
    tenant_id: i64,
    client_id: &'a str,
    user_id: Option<i64>,
    kind: &'static str,
    name: Option<&'a str>,
    scopes: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    token_hash: &'a str,
    subject_token_id: Option<&'a str>,
    actor_tenant_id: Option<i64>,
    actor_client_id: Option<&'a str>,
    actor_user_id: Option<i64>,
    audience: Option<&'a str>,
}

impl NewAccessToken<'_> {
    /// Stores the token, whatever the standing of its tenant, client and user (issuance
    /// goes through [`NewTokens::insert_if_permitted`]). Fails with a foreign-key violation
    /// when its tenant, client or user does not exist, or when the client or user belongs
    /// to another tenant.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Prepared(
            diesel::insert_into(oauth_access_tokens::table).values(AccessTokenInsert {
                id: self.id.as_str(),
                tenant_id: self.tenant_id.get(),
                client_id: self.client_id.as_str(),
                user_id: self.user_id.map(UserId::get),
                kind: self.kind.as_str(),
                name: self.name,
                scopes: self.scopes,
                created_at: self.created_at,
                expires_at: self.expires_at,
                token_hash: self.token_hash.as_str(),
                subject_token_id: self.exchange.map(|e| e.subject_token_id.as_str()),
                actor_tenant_id: self.exchange.map(|e| e.actor.tenant_id.get()),
                actor_client_id: self.exchange.map(|e| e.actor.client_id.as_str()),
                actor_user_id: self.exchange.and_then(|e| e.actor.user_id).map(UserId::get),
                audience: self
                    .exchange
                    .and_then(|e| e.audience.as_ref())
                    .map(ClientId::as_str),
            }),
        )
        .execute(conn)?;
        Ok(())
    }
}

/// A refresh token about to be stored: only its hash is kept.
#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    pub id: &'a TokenId,
    pub token_hash: &'a RefreshTokenHash,
    pub tenant_id: TenantId,
    pub client_id: &'a ClientId,
    pub user_id: Option<UserId>,
    pub access_token_id: &'a TokenId,
    pub family_id: &'a FamilyId,
    /// The family's canonical scope string.
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = oauth_refresh_tokens)]
struct RefreshTokenInsert<'a> {
    id: &'a str,
    token_hash: &'a str,
    tenant_id: i64,
    client_id: &'a str,
    user_id: Option<i64>,
    access_token_id: &'a str,
    family_id: &'a str,
    scopes: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl NewRefreshToken<'_> {
    /// Stores the refresh token (after its access token, which it references).
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Prepared(
            diesel::insert_into(oauth_refresh_tokens::table).values(RefreshTokenInsert {
                id: self.id.as_str(),
                token_hash: self.token_hash.as_str(),
                tenant_id: self.tenant_id.get(),
                client_id: self.client_id.as_str(),
                user_id: self.user_id.map(UserId::get),
                access_token_id: self.access_token_id.as_str(),
                family_id: self.family_id.as_str(),
                scopes: self.scopes,
                created_at: self.created_at,
                expires_at: self.expires_at,
            }),
        )
        .execute(conn)?;
        Ok(())
    }
}

/// The standing of a token to be issued to `client_id` in `tenant_id`, for `user_id` if
/// any, read inside the issuing transaction (`FOR SHARE` on PostgreSQL: see the module
/// documentation). `None` when the client is not one of the tenant's.
///
/// Call it before touching any token row, so that every transaction takes the tenant,
/// client and user locks first and in the same order: a revocation that locks the client
/// (or user) and then its tokens can then never deadlock with an issuance.
pub fn load_standing(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    client_id: &ClientId,
    user_id: Option<UserId>,
) -> Result<Option<Standing>, DbError> {
    standing(conn, tenant_id, client_id, user_id, true)
}

/// [`load_standing`] for a read that decides nothing it writes (a token exchange's actor,
/// at validation): no locks.
pub fn read_standing(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    client_id: &ClientId,
    user_id: Option<UserId>,
) -> Result<Option<Standing>, DbError> {
    standing(conn, tenant_id, client_id, user_id, false)
}

fn standing(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    client_id: &ClientId,
    user_id: Option<UserId>,
    lock: bool,
) -> Result<Option<Standing>, DbError> {
    let tenant_and_client = tenants::table
        .inner_join(
            oauth_clients::table.on(oauth_clients::tenant_id
                .eq(tenants::id)
                .and(oauth_clients::id.eq(client_id.as_str()))),
        )
        .filter(tenants::id.eq(tenant_id.get()))
        .select((tenants::status, oauth_clients::revoked_at.is_not_null()));
    let row: Option<(String, bool)> = match &mut *conn {
        DbConnection::Postgres(conn) if lock => load_unique(tenant_and_client.for_share(), conn)?,
        conn => load_unique(tenant_and_client, conn)?,
    };
    let Some((status, client_revoked)) = row else {
        return Ok(None);
    };
    let user_disabled = match user_id {
        None => None,
        Some(user_id) => {
            let user = users::table
                .filter(users::tenant_id.eq(tenant_id.get()))
                .filter(users::id.eq(user_id.get()))
                .select(users::disabled);
            match &mut *conn {
                DbConnection::Postgres(conn) if lock => load_unique(user.for_share(), conn)?,
                conn => load_unique(user, conn)?,
            }
        }
    };
    Ok(Some(Standing {
        tenant: parse_column(&status, "tenant status")?,
        client: ClientStanding::of(client_revoked),
        user: UserStanding::of(user_id.is_some(), user_disabled),
    }))
}

/// An access token and, if the grant has one, its refresh token, to be stored together
/// only while their tenant, client and user stand.
#[derive(Debug)]
pub struct NewTokens<'a> {
    pub access: NewAccessToken<'a>,
    pub refresh: Option<NewRefreshToken<'a>>,
}

impl NewTokens<'_> {
    /// Stores the tokens if, and only if, their [`Standing`] permits it, atomically with
    /// that check; `false` when it does not (nothing is stored, and [`load_standing`] can
    /// then tell why).
    ///
    /// On PostgreSQL this is **one statement** ([`IssueIfPermitted`]), atomic on its own:
    /// run outside an explicit transaction it costs one round trip instead of four
    /// (`BEGIN`, check, insert, `COMMIT`). On SQLite (inside the single writer's savepoint)
    /// the check and the inserts are separate statements.
    pub fn insert_if_permitted(&self, conn: &mut DbConnection) -> Result<bool, DbError> {
        debug_assert!(
            self.access.exchange.is_none(),
            "an exchanged token is stored by `insert` after `load_standing`"
        );
        match conn {
            DbConnection::Postgres(conn) => {
                let (_, stored) = IssueIfPermitted {
                    tokens: self,
                    user_id: self.access.user_id.map(UserId::get),
                    rotating: None,
                }
                .get_result::<(i64, i64)>(conn)?;
                Ok(stored == 1)
            }
            DbConnection::Sqlite(_) => {
                if !self.permitted(conn)? {
                    return Ok(false);
                }
                self.insert(conn)?;
                Ok(true)
            }
        }
    }

    /// A refresh-token rotation's write: stores these tokens, the successor of `old` in
    /// its family, if, and only if, their [`Standing`] permits it **and** `old` can be
    /// marked used (once: of several concurrent rotations exactly one marks it, the row
    /// count decides), under the family's lock ([`super::family::lock_family`]), atomically.
    ///
    /// On PostgreSQL one statement ([`IssueIfPermitted`] with `rotating`): three round
    /// trips fewer than the lock, the standing check, the mark and the inserts, and no
    /// transaction around it. On SQLite those steps inside the writer's savepoint.
    pub fn rotate_if_permitted(
        &self,
        conn: &mut DbConnection,
        old: &RefreshToken,
        now: NaiveDateTime,
    ) -> Result<Rotated, DbError> {
        match conn {
            DbConnection::Postgres(conn) => {
                let (permitted, stored) = IssueIfPermitted {
                    tokens: self,
                    user_id: self.access.user_id.map(UserId::get),
                    rotating: Some(Rotating {
                        old: old.id.as_str(),
                        family: old.family_id.as_str(),
                        now,
                    }),
                }
                .get_result::<(i64, i64)>(conn)?;
                Ok(match (permitted, stored) {
                    (0, _) => Rotated::NotPermitted,
                    (_, 0) => Rotated::AlreadyUsed,
                    _ => Rotated::Stored,
                })
            }
            DbConnection::Sqlite(_) => {
                if !self.permitted(conn)? {
                    return Ok(Rotated::NotPermitted);
                }
                if !old.mark_used(conn, now)? {
                    return Ok(Rotated::AlreadyUsed);
                }
                self.insert(conn)?;
                Ok(Rotated::Stored)
            }
        }
    }

    /// Inserts both rows, inside the caller's transaction, after the caller has checked
    /// their standing there with [`load_standing`] (the refresh grant, which marks the old
    /// refresh token used in between).
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        self.access.insert(conn)?;
        if let Some(refresh) = &self.refresh {
            refresh.insert(conn)?;
        }
        Ok(())
    }

    fn permitted(&self, conn: &mut DbConnection) -> Result<bool, DbError> {
        let access = &self.access;
        let standing = load_standing(conn, access.tenant_id, access.client_id, access.user_id)?;
        Ok(Standing::refusal_of(standing.as_ref()).is_none())
    }
}

/// How a rotation's write ([`NewTokens::rotate_if_permitted`]) ended; nothing is stored
/// unless `Stored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    Stored,
    /// The tenant, the client or the user no longer stands ([`load_standing`] tells which).
    NotPermitted,
    /// The old refresh token was used (or revoked) meanwhile: a reuse.
    AlreadyUsed,
}

/// PostgreSQL's issuing statement: a data-modifying `WITH` that reads the tenant, client
/// and user rows `FOR SHARE` (the locks [`load_standing`] takes, in the same order) and
/// inserts the access row, and the refresh row after it, only if they stand by
/// [`crate::domain::standing::sql`]. It answers whether they stood (0 or 1) and how many
/// access rows it stored (0 or 1).
///
/// For a rotation (`rotating`) it first takes the family's lock (the advisory lock of
/// [`super::family::lock_family`], as a one-time filter of the standing read, so before any row lock, as
/// in the transaction this replaces), and marks the old refresh token used (only if
/// unused and unrevoked) once the standing holds; the new rows are inserted only if that
/// mark was made.
///
/// Written as a query fragment rather than `sql_query`, because diesel never prepares a
/// `sql_query`, and PostgreSQL would parse and plan this statement on every token. Its
/// text depends only on which of the user, the refresh token and the rotation are
/// present, so each connection prepares at most a few variants once.
struct IssueIfPermitted<'a, 'b> {
    tokens: &'b NewTokens<'a>,
    /// The access token's user id, as bound.
    user_id: Option<i64>,
    rotating: Option<Rotating<'b>>,
}

/// The refresh token a rotation replaces.
struct Rotating<'b> {
    old: &'b str,
    family: &'b str,
    now: NaiveDateTime,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for IssueIfPermitted<'_, '_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        let NewTokens { access, refresh } = self.tokens;
        if let Some(rotating) = &self.rotating {
            out.push_sql(
                "WITH family_lock AS MATERIALIZED \
                 (SELECT pg_advisory_xact_lock(hashtextextended(",
            );
            out.push_bind_param::<Text, _>(rotating.family)?;
            out.push_sql(", 0))), ");
        } else {
            out.push_sql("WITH ");
        }
        out.push_sql(
            "permitted AS MATERIALIZED (SELECT t.id FROM tenants t \
             JOIN oauth_clients c ON c.tenant_id = t.id AND c.id = ",
        );
        out.push_bind_param::<Text, _>(access.client_id.as_str())?;
        if let Some(user_id) = &access.user_id {
            out.push_sql(" JOIN users u ON u.tenant_id = t.id AND u.id = ");
            out.push_bind_param::<BigInt, _>(user_id.as_ref())?;
        }
        out.push_sql(" WHERE t.id = ");
        out.push_bind_param::<BigInt, _>(access.tenant_id.as_ref())?;
        out.push_sql(" AND ");
        out.push_sql(sql::TENANT_ACTIVE);
        out.push_sql(" AND ");
        out.push_sql(sql::CLIENT_ACTIVE);
        if self.rotating.is_some() {
            out.push_sql(" AND EXISTS (SELECT 1 FROM family_lock)");
        }
        if access.user_id.is_some() {
            out.push_sql(" AND ");
            out.push_sql(sql::USER_ENABLED);
            out.push_sql(" FOR SHARE OF t, c, u");
        } else {
            out.push_sql(" FOR SHARE OF t, c");
        }
        out.push_sql(")");
        if let Some(rotating) = &self.rotating {
            out.push_sql(", used AS (UPDATE oauth_refresh_tokens SET used_at = ");
            out.push_bind_param::<Timestamp, _>(&rotating.now)?;
            out.push_sql(" WHERE id = ");
            out.push_bind_param::<Text, _>(rotating.old)?;
            out.push_sql(
                " AND used_at IS NULL AND revoked_at IS NULL \
                 AND EXISTS (SELECT 1 FROM permitted) RETURNING 1)",
            );
        }
        out.push_sql(
            ", access AS (INSERT INTO oauth_access_tokens (id, tenant_id, client_id, \
             user_id, kind, name, scopes, created_at, expires_at, token_hash) SELECT ",
        );
        out.push_bind_param::<Text, _>(access.id.as_str())?;
        out.push_sql(", permitted.id, ");
        out.push_bind_param::<Text, _>(access.client_id.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.kind.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&access.name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.scopes)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&access.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&access.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.token_hash.as_str())?;
        out.push_sql(" FROM permitted");
        if self.rotating.is_some() {
            out.push_sql(" WHERE EXISTS (SELECT 1 FROM used)");
        }
        out.push_sql(" RETURNING id, tenant_id, client_id, user_id, created_at)");
        if let Some(refresh) = refresh {
            out.push_sql(
                ", refresh AS (INSERT INTO oauth_refresh_tokens (id, token_hash, tenant_id, \
                 client_id, user_id, access_token_id, family_id, scopes, created_at, \
                 expires_at) SELECT ",
            );
            out.push_bind_param::<Text, _>(refresh.id.as_str())?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(refresh.token_hash.as_str())?;
            out.push_sql(", access.tenant_id, access.client_id, access.user_id, access.id, ");
            out.push_bind_param::<Text, _>(refresh.family_id.as_str())?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(refresh.scopes)?;
            out.push_sql(", access.created_at, ");
            out.push_bind_param::<Timestamp, _>(&refresh.expires_at)?;
            out.push_sql(" FROM access)");
        }
        out.push_sql(" SELECT (SELECT count(*) FROM permitted), (SELECT count(*) FROM access)");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for IssueIfPermitted<'_, '_> {
    type QueryId = ();
    // Not static (the text has a few variants), so diesel caches it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for IssueIfPermitted<'_, '_> {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::BigInt);
}

impl RunQueryDsl<diesel::pg::PgConnection> for IssueIfPermitted<'_, '_> {}
