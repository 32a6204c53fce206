//! What the admin API and the personal-token endpoints list: token metadata, never a value.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::oauth_access_tokens;
use crate::db::{parse_column, DbConnection, DbError};
use crate::domain::{ClientId, TenantId, TokenId, TokenKind, UserId};

/// An access token's metadata for the admin API (never its value).
#[derive(Debug, Clone)]
pub struct AccessTokenSummary {
    pub id: TokenId,
    pub kind: TokenKind,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_access_tokens)]
struct AccessTokenSummaryRow {
    id: String,
    kind: String,
    client_id: String,
    user_id: Option<i64>,
    name: Option<String>,
    scopes: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

impl TryFrom<AccessTokenSummaryRow> for AccessTokenSummary {
    type Error = DbError;

    fn try_from(row: AccessTokenSummaryRow) -> Result<Self, DbError> {
        Ok(Self {
            id: parse_column(&row.id, "token id")?,
            kind: parse_column(&row.kind, "token kind")?,
            client_id: parse_column(&row.client_id, "client id")?,
            user_id: row.user_id.map(UserId::new),
            name: row.name,
            scopes: row.scopes,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

impl AccessTokenSummary {
    /// Whether the token is usable at `now` as far as its own row says (not revoked, not
    /// expired); its tenant, client and user are not looked at.
    pub fn is_active(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Which access tokens a listing shows.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    /// `Some(true)`: only unrevoked, unexpired ones at `now`; `Some(false)`: only the others.
    pub active: Option<bool>,
    pub client_id: Option<ClientId>,
    pub user_id: Option<UserId>,
    /// Cursor: tokens with a greater id (ids are time-ordered UUIDv7s).
    pub after: Option<TokenId>,
    pub limit: i64,
}

impl AccessTokenSummary {
    /// The tenant's access tokens matching `query`, oldest first.
    pub fn list(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        query: &TokenQuery,
        now: NaiveDateTime,
    ) -> Result<Vec<AccessTokenSummary>, DbError> {
        let mut select = oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .select(AccessTokenSummaryRow::as_select())
            .order(oauth_access_tokens::id.asc())
            .limit(query.limit)
            .into_boxed();
        match query.active {
            Some(true) => {
                select = select
                    .filter(oauth_access_tokens::revoked_at.is_null())
                    .filter(oauth_access_tokens::expires_at.gt(now))
            }
            Some(false) => {
                select = select.filter(
                    oauth_access_tokens::revoked_at
                        .is_not_null()
                        .or(oauth_access_tokens::expires_at.le(now)),
                )
            }
            None => {}
        }
        if let Some(client_id) = &query.client_id {
            select =
                select.filter(oauth_access_tokens::client_id.eq(client_id.as_str().to_owned()));
        }
        if let Some(user_id) = query.user_id {
            select = select.filter(oauth_access_tokens::user_id.eq(user_id.get()));
        }
        if let Some(after) = &query.after {
            select = select.filter(oauth_access_tokens::id.gt(after.as_str().to_owned()));
        }
        select
            .load(conn)?
            .into_iter()
            .map(AccessTokenSummary::try_from)
            .collect()
    }
}

impl AccessTokenSummary {
    /// The user's personal access tokens, newest first.
    pub fn list_personal(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        user_id: UserId,
    ) -> Result<Vec<AccessTokenSummary>, DbError> {
        oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .filter(oauth_access_tokens::user_id.eq(user_id.get()))
            .filter(oauth_access_tokens::kind.eq(TokenKind::Personal.as_str()))
            .order(oauth_access_tokens::created_at.desc())
            .select(AccessTokenSummaryRow::as_select())
            .load(conn)?
            .into_iter()
            .map(AccessTokenSummary::try_from)
            .collect()
    }

    /// Whether the user has a personal access token with this id (in any state).
    pub fn is_personal_token_of(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        user_id: UserId,
        id: &TokenId,
    ) -> Result<bool, DbError> {
        let found: i64 = oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .filter(oauth_access_tokens::user_id.eq(user_id.get()))
            .filter(oauth_access_tokens::kind.eq(TokenKind::Personal.as_str()))
            .filter(oauth_access_tokens::id.eq(id.as_str()))
            .count()
            .get_result(conn)?;
        Ok(found > 0)
    }
}

/// How many access tokens the tenant holds, in any state.
pub fn count_access_tokens(conn: &mut DbConnection, tenant_id: TenantId) -> Result<i64, DbError> {
    Ok(oauth_access_tokens::table
        .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
        .count()
        .get_result(conn)?)
}
