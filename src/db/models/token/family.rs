//! Refresh tokens and their families: finding a refresh token by the hash of its value,
//! rotation (marking it used, once), and the lock that serializes everything done to one
//! family.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::oauth_refresh_tokens;
use crate::db::{load_unique, parse_column, DbConnection, DbError, Prepared};
use crate::domain::{ClientId, FamilyId, TenantId, TokenId, UserId};
use crate::secrets::RefreshTokenHash;

/// A stored refresh token (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: TokenId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    /// The access token issued with it.
    pub access_token_id: TokenId,
    pub family_id: FamilyId,
    /// The family's scope, as stored.
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A row of `oauth_refresh_tokens` as stored (every column but the hash).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_refresh_tokens)]
pub(crate) struct RefreshTokenRow {
    id: String,
    tenant_id: i64,
    client_id: String,
    user_id: Option<i64>,
    access_token_id: String,
    family_id: String,
    scopes: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl TryFrom<RefreshTokenRow> for RefreshToken {
    type Error = DbError;

    fn try_from(row: RefreshTokenRow) -> Result<Self, DbError> {
        Ok(Self {
            id: parse_column(&row.id, "token id")?,
            tenant_id: TenantId::new(row.tenant_id),
            client_id: parse_column(&row.client_id, "client id")?,
            user_id: row.user_id.map(UserId::new),
            access_token_id: parse_column(&row.access_token_id, "token id")?,
            family_id: parse_column(&row.family_id, "family id")?,
            scopes: row.scopes,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
        })
    }
}

impl RefreshToken {
    /// The refresh token whose hash this is: a match proves the token is one we issued.
    pub fn find_by_hash(
        conn: &mut DbConnection,
        token_hash: &RefreshTokenHash,
    ) -> Result<Option<RefreshToken>, DbError> {
        load_unique(
            oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::token_hash.eq(token_hash.as_str()))
                .select(RefreshTokenRow::as_select()),
            conn,
        )?
        .map(RefreshToken::try_from)
        .transpose()
    }

    /// Takes the family's lock (see [`lock_family`]), then marks the token used if, and
    /// only if, it is still unused and unrevoked. Of several concurrent rotations exactly
    /// one sees `true`: the row count decides the winner.
    pub fn mark_used(&self, conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, DbError> {
        lock_family(conn, &self.family_id)?;
        let updated = Prepared(
            diesel::update(
                oauth_refresh_tokens::table
                    .filter(oauth_refresh_tokens::id.eq(self.id.as_str()))
                    .filter(oauth_refresh_tokens::used_at.is_null())
                    .filter(oauth_refresh_tokens::revoked_at.is_null()),
            )
            .set(oauth_refresh_tokens::used_at.eq(now)),
        )
        .execute(conn)?;
        Ok(updated == 1)
    }
}

/// Serializes everything done to one refresh-token family until the transaction ends:
/// its rotation and its revocation (on reuse, or through the revocation endpoint).
///
/// Without it, on PostgreSQL, concurrent refreshes of one token deadlocked: the winner
/// locks the old refresh row and inserts the new tokens, while each loser revokes the
/// family (access rows, then refresh rows), and row locks taken in different orders by
/// three such transactions formed a cycle (found by the 128-way refresh race test). A
/// transaction-scoped advisory lock on the family id orders them all. SQLite's single
/// writer already runs one transaction at a time.
pub fn lock_family(conn: &mut DbConnection, family_id: &FamilyId) -> Result<(), DbError> {
    advisory_lock(conn, family_id.as_str())
}

/// A transaction-scoped advisory lock on `key` (PostgreSQL; SQLite's single writer
/// already runs one transaction at a time): whoever takes it second waits for the first
/// transaction to end.
pub(crate) fn advisory_lock(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
    if let DbConnection::Postgres(conn) = conn {
        Prepared(
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(key),
        )
        .execute(conn)?;
    }
    Ok(())
}
