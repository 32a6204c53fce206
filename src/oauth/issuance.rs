//! Token issuance, shared by every grant: sign first, then store the rows atomically with
//! a re-check of the tenant, the client and the user (see
//! [`IssuanceState`](crate::db::models::token::IssuanceState)).

use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound};

use super::jwt::{self, AccessTokenClaims};
use super::{OAuthError, OAuthServer};
use crate::db::models::token::{IssuanceState, NewAccessToken, NewRefreshToken, NewTokens};
use crate::db::{DbConnection, DbError};
use crate::domain::{new_token_id, ClientId, PlainSecret, Scope, TenantId, TokenKind};

/// What a grant decided to issue.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<i64>,
    pub kind: TokenKind,
    pub scope: Scope,
    /// Personal access tokens carry their owner's name for them.
    pub name: Option<String>,
    pub lifetime: Duration,
    pub refresh: RefreshPlan,
}

/// Whether the grant also issues a refresh token, and in which family.
#[derive(Debug, Clone)]
pub enum RefreshPlan {
    None,
    /// A new grant: a new family, whose refresh tokens keep `scope` (RFC 6749 §6).
    NewFamily {
        scope: Scope,
    },
    /// A rotation: the next refresh token of an existing family, with the family's scope.
    Rotate {
        family_id: String,
        scope: Scope,
    },
}

/// A refresh token to be stored beside the access token.
#[derive(Debug)]
struct PreparedRefresh {
    id: String,
    token: PlainSecret,
    hash: String,
    family_id: String,
    /// The family's scope, as stored.
    scopes: String,
    expires_at: NaiveDateTime,
}

/// Signed tokens, not yet stored.
#[derive(Debug)]
pub struct PreparedTokens {
    grant: TokenGrant,
    jti: String,
    access_token: String,
    access_token_hash: String,
    /// The access token's scope, as stored.
    scopes: String,
    issued_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    refresh: Option<PreparedRefresh>,
}

/// Tokens stored and ready to hand out.
#[derive(Debug)]
pub struct IssuedTokens {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<i64>,
    pub jti: String,
    pub access_token: String,
    pub kind: TokenKind,
    pub scope: Scope,
    pub expires_in: u64,
    pub expires_at: NaiveDateTime,
    pub refresh_token: Option<PlainSecret>,
}

impl IssuedTokens {
    /// The audit log line for a committed issuance: who, for whom, which `jti` — never
    /// a token value.
    pub fn log(&self) {
        log::info!(
            target: "tenauth::tokens",
            "issued {} token jti={} tenant={} client={} user={} refresh={}",
            self.kind.as_str(),
            self.jti,
            self.tenant_id,
            self.client_id,
            self.user_id.map_or_else(|| "-".to_owned(), |id| id.to_string()),
            self.refresh_token.is_some(),
        );
    }
}

/// Why the issuing transaction refused: the state changed, or was never right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueRefusal {
    /// The tenant is not active, or the client is revoked or not in it.
    ClientInactive,
    /// The user is disabled, deleted, or not in the tenant.
    UserInactive,
}

impl OAuthServer {
    /// Generates the ids and signs the access token, outside any transaction, so the
    /// writer holds its lock only for the inserts.
    pub fn prepare_tokens(
        &self,
        grant: TokenGrant,
        now: NaiveDateTime,
    ) -> Result<PreparedTokens, OAuthError> {
        // JWT times are whole seconds: store the same instants the claims carry.
        let now = now.trunc_subsecs(0);
        let jti = new_token_id();
        let expires_at = now + grant.lifetime;
        let subject = match grant.user_id {
            Some(user_id) => user_id.to_string(),
            None => grant.client_id.to_string(),
        };
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: subject,
            aud: self.issuer.clone(),
            client_id: grant.client_id.to_string(),
            tenant_id: grant.tenant_id.get(),
            scope: grant.scope.to_string(),
            jti: jti.clone(),
            iat: now.and_utc().timestamp(),
            exp: expires_at.and_utc().timestamp(),
        };
        let access_token = jwt::encode(&self.keys.snapshot(), self.keys.publish_delay(), &claims)
            .map_err(|error| {
            log::error!("signing an access token failed: {error}");
            OAuthError::server_error()
        })?;
        let refresh = match &grant.refresh {
            RefreshPlan::None => None,
            RefreshPlan::NewFamily { scope } => Some((new_token_id(), scope.clone())),
            RefreshPlan::Rotate { family_id, scope } => Some((family_id.clone(), scope.clone())),
        }
        .map(|(family_id, scope)| {
            let token = PlainSecret::generate();
            PreparedRefresh {
                id: new_token_id(),
                hash: self.hasher.hash_refresh_token(token.expose()),
                token,
                family_id,
                scopes: scope.to_string(),
                expires_at: now + self.lifetimes.refresh,
            }
        });
        Ok(PreparedTokens {
            scopes: grant.scope.to_string(),
            grant,
            jti,
            access_token_hash: self.hasher.hash_access_token(&access_token),
            access_token,
            issued_at: now,
            expires_at,
            refresh,
        })
    }
}

impl PreparedTokens {
    /// Stores the tokens if the tenant is still active, the client not revoked and the user
    /// (if any) enabled, atomically with that check (on PostgreSQL in one statement, which
    /// needs no transaction around it: see [`NewTokens::insert_if_permitted`]).
    pub fn store(
        self,
        conn: &mut DbConnection,
    ) -> Result<Result<IssuedTokens, IssueRefusal>, DbError> {
        if self.rows().insert_if_permitted(conn)? {
            return Ok(Ok(self.issued()));
        }
        // Refused: only now look up why. Should the state have changed back meanwhile,
        // the answer is still a refusal.
        Ok(Err(self
            .check(conn)?
            .err()
            .unwrap_or(IssueRefusal::ClientInactive)))
    }

    /// Re-checks, inside the caller's transaction, that the tenant is active, the client
    /// is not revoked and the user (if any) is enabled — reading those rows `FOR SHARE` on
    /// PostgreSQL (see `IssuanceState`). Call it before touching any token row, so that
    /// every transaction takes the tenant, client and user locks first and in the same
    /// order: a revocation that locks the client (or user) and then its tokens can then
    /// never deadlock with an issuance.
    pub fn check(&self, conn: &mut DbConnection) -> Result<Result<(), IssueRefusal>, DbError> {
        let grant = &self.grant;
        let state = IssuanceState::load(
            conn,
            grant.tenant_id,
            grant.client_id.as_str(),
            grant.user_id,
        )?;
        // One predicate (`IssuanceState::permits`) for both answers: is the tenant and
        // client side permitted, and then the user side too?
        Ok(match state {
            Some(state) if state.permits(grant.user_id.is_some()) => Ok(()),
            Some(state) if state.permits(false) => Err(IssueRefusal::UserInactive),
            _ => Err(IssueRefusal::ClientInactive),
        })
    }

    /// Inserts the access token and its refresh token; only after [`PreparedTokens::check`],
    /// in the same transaction.
    pub fn insert(self, conn: &mut DbConnection) -> Result<IssuedTokens, DbError> {
        let rows = self.rows();
        rows.access.insert(conn)?;
        if let Some(refresh) = &rows.refresh {
            refresh.insert(conn)?;
        }
        Ok(self.issued())
    }

    /// The rows that store these tokens.
    fn rows(&self) -> NewTokens<'_> {
        let grant = &self.grant;
        NewTokens {
            access: NewAccessToken {
                id: &self.jti,
                tenant_id: grant.tenant_id,
                client_id: grant.client_id.as_str(),
                user_id: grant.user_id,
                kind: grant.kind,
                name: grant.name.as_deref(),
                scopes: &self.scopes,
                created_at: self.issued_at,
                expires_at: self.expires_at,
                token_hash: &self.access_token_hash,
            },
            refresh: self.refresh.as_ref().map(|refresh| NewRefreshToken {
                id: &refresh.id,
                token_hash: &refresh.hash,
                tenant_id: grant.tenant_id.get(),
                client_id: grant.client_id.as_str(),
                user_id: grant.user_id,
                access_token_id: &self.jti,
                family_id: &refresh.family_id,
                scopes: &refresh.scopes,
                created_at: self.issued_at,
                expires_at: refresh.expires_at,
            }),
        }
    }

    /// What the caller hands out, once the rows are stored.
    fn issued(self) -> IssuedTokens {
        let grant = self.grant;
        IssuedTokens {
            tenant_id: grant.tenant_id,
            client_id: grant.client_id,
            user_id: grant.user_id,
            jti: self.jti,
            access_token: self.access_token,
            kind: grant.kind,
            scope: grant.scope,
            expires_in: grant.lifetime.as_secs(),
            expires_at: self.expires_at,
            refresh_token: self.refresh.map(|refresh| refresh.token),
        }
    }
}
