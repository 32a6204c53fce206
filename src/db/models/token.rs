use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::oauth_access_tokens;
use crate::db::{DbConnection, DbError};
use crate::domain::{TenantId, TokenKind};

/// An access token about to be stored. Its `id` is the JWT's `jti`: the row, not the
/// signature, is the authority on whether the token is still valid.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    pub id: &'a str,
    pub tenant_id: TenantId,
    pub client_id: &'a str,
    pub user_id: Option<i64>,
    pub kind: TokenKind,
    pub name: Option<&'a str>,
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
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
}

impl NewAccessToken<'_> {
    /// Stores the token. Fails with a foreign-key violation when its tenant, client or
    /// user does not exist, or when the client or user belongs to another tenant.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        diesel::insert_into(oauth_access_tokens::table)
            .values(AccessTokenInsert {
                id: self.id,
                tenant_id: self.tenant_id.get(),
                client_id: self.client_id,
                user_id: self.user_id,
                kind: self.kind.as_str(),
                name: self.name,
                scopes: self.scopes,
                created_at: self.created_at,
                expires_at: self.expires_at,
            })
            .execute(conn)?;
        Ok(())
    }
}
