//! Authorization codes (RFC 6749 §4.1.2): the `oauth_authorization_codes` rows, stored
//! only as the code's keyed hash and bound to everything the token request must match.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::token::family::advisory_lock;
use crate::db::prepared::Prepared;
use crate::db::schema::oauth_authorization_codes as codes;
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{ClientId, FamilyId, RevocationTarget, Scope, TenantId, TokenId, UserId};
use crate::secrets::{AuthorizationCodeHash, SecretHash};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = codes)]
struct CodeRow {
    code_hash: String,
    tenant_id: i64,
    client_id: String,
    user_id: i64,
    redirect_uri: String,
    redirect_uri_given: bool,
    pkce: String,
    scopes: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    access_token_id: Option<String>,
    family_id: Option<String>,
}

/// An authorization code, parsed from its row.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub code_hash: AuthorizationCodeHash,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: UserId,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named it (then the token request must too).
    pub redirect_uri_given: bool,
    /// The PKCE challenge, in oxide-auth's encoding (`Pkce::challenge`).
    pub pkce: String,
    pub scopes: Scope,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// What was issued from the code, once redeemed.
    pub issued: Option<RevocationTarget>,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = DbError;

    fn try_from(row: CodeRow) -> Result<Self, DbError> {
        let issued = match (row.family_id, row.access_token_id) {
            (Some(family), _) => Some(RevocationTarget::Family(parse_column::<FamilyId>(
                &family,
                "family id",
            )?)),
            (None, Some(jti)) => Some(RevocationTarget::AccessToken(parse_column::<TokenId>(
                &jti, "token id",
            )?)),
            (None, None) => None,
        };
        Ok(Self {
            code_hash: SecretHash::from_stored(row.code_hash),
            tenant_id: TenantId::new(row.tenant_id),
            client_id: parse_column(&row.client_id, "client id")?,
            user_id: UserId::new(row.user_id),
            redirect_uri: row.redirect_uri,
            redirect_uri_given: row.redirect_uri_given,
            pkce: row.pkce,
            scopes: parse_column(&row.scopes, "code scopes")?,
            expires_at: row.expires_at,
            used_at: row.used_at,
            issued,
        })
    }
}

impl AuthorizationCode {
    /// The code whose hash this is: a match proves the code is one we issued.
    pub fn find_by_hash(
        conn: &mut DbConnection,
        code_hash: &AuthorizationCodeHash,
    ) -> Result<Option<Self>, DbError> {
        load_unique(
            codes::table
                .filter(codes::code_hash.eq(code_hash.as_str()))
                .select(CodeRow::as_select()),
            conn,
        )?
        .map(Self::try_from)
        .transpose()
    }

    /// Serializes every redemption of this code until the transaction ends (PostgreSQL:
    /// a winner's inserts and a loser's revocation of them must not interleave, for the
    /// reason `lock_family` gives).
    pub fn lock(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        advisory_lock(conn, self.code_hash.as_str())
    }

    /// Marks the code used by the tokens issued from it, if, and only if, nobody used it
    /// before: of several concurrent redemptions exactly one sees `true`.
    pub fn redeem(
        &self,
        conn: &mut DbConnection,
        now: NaiveDateTime,
        access_token_id: &TokenId,
        family_id: Option<&FamilyId>,
    ) -> Result<bool, DbError> {
        let updated = Prepared(
            diesel::update(
                codes::table
                    .filter(codes::code_hash.eq(self.code_hash.as_str()))
                    .filter(codes::used_at.is_null()),
            )
            .set((
                codes::used_at.eq(now),
                codes::access_token_id.eq(access_token_id.as_str()),
                codes::family_id.eq(family_id.map(FamilyId::as_str)),
            )),
        )
        .execute(conn)?;
        Ok(updated == 1)
    }
}

/// A code about to be stored.
#[derive(Debug)]
pub struct NewAuthorizationCode<'a> {
    pub code_hash: &'a AuthorizationCodeHash,
    pub tenant_id: TenantId,
    pub client_id: &'a ClientId,
    pub user_id: UserId,
    pub redirect_uri: &'a str,
    pub redirect_uri_given: bool,
    pub pkce: &'a str,
    pub scopes: &'a Scope,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewAuthorizationCode<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        diesel::insert_into(codes::table)
            .values((
                codes::code_hash.eq(self.code_hash.as_str()),
                codes::tenant_id.eq(self.tenant_id.get()),
                codes::client_id.eq(self.client_id.as_str()),
                codes::user_id.eq(self.user_id.get()),
                codes::redirect_uri.eq(self.redirect_uri),
                codes::redirect_uri_given.eq(self.redirect_uri_given),
                codes::pkce.eq(self.pkce),
                codes::scopes.eq(self.scopes.to_string()),
                codes::created_at.eq(self.now),
                codes::expires_at.eq(self.expires_at),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// Deletes the codes that expired before `cutoff` (used or not: a used one's tokens were
/// issued long ago, and a replay after its expiry is refused as expired anyway).
pub fn purge_expired_codes(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::delete(codes::table.filter(codes::expires_at.lt(cutoff))).execute(conn)?)
}
