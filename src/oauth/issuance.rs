//! Token issuance, shared by every grant: sign first, then store the rows atomically with
//! a re-check of the standing of the tenant, the client and the user
//! ([`Standing`]).

use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound};

use super::jwt::{self, AccessTokenClaims};
use super::{OAuthError, OAuthServer};
use crate::db::models::token::issue::load_standing;
use crate::db::models::token::{NewAccessToken, NewRefreshToken, NewTokens, RefreshToken, Rotated};
use crate::db::{DbConnection, DbError};
use crate::domain::{
    subject, ClientId, Exchange, FamilyId, PlainSecret, Refusal, Scope, Standing, TenantId,
    TokenId, TokenKind, UserId,
};
use crate::secrets::{AccessTokenHash, RefreshTokenHash};

/// What a grant decided to issue.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub kind: TokenKind,
    pub scope: Scope,
    /// Personal access tokens carry their owner's name for them.
    pub name: Option<String>,
    pub lifetime: Duration,
    pub refresh: RefreshPlan,
    /// For token exchange (RFC 8693): the subject token, the actor, the audience.
    pub exchange: Option<Exchange>,
}

impl TokenGrant {
    /// The one check every issued token passes, whatever the grant: neither the access
    /// token nor the refresh family carries a scope its tenant's tokens may not carry
    /// (a client created before a scope was reserved, or a family from then, included).
    fn check_scopes(&self) -> Result<(), OAuthError> {
        let family_scope = match &self.refresh {
            RefreshPlan::None => None,
            RefreshPlan::NewFamily { scope } | RefreshPlan::Rotate { scope, .. } => Some(scope),
        };
        let refusal = std::iter::once(&self.scope)
            .chain(family_scope)
            .find_map(|scope| scope.refusal_in(self.tenant_id));
        match refusal {
            None => Ok(()),
            Some(refusal) => {
                log::info!(target: "tenauth::security", "issuance refused for client {}: {refusal}", self.client_id);
                Err(OAuthError::invalid_scope(refusal.description()))
            }
        }
    }
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
        family_id: FamilyId,
        scope: Scope,
    },
}

/// A refresh token to be stored beside the access token.
#[derive(Debug)]
struct PreparedRefresh {
    id: TokenId,
    token: PlainSecret,
    hash: RefreshTokenHash,
    family_id: FamilyId,
    /// The family's scope, as stored.
    scopes: String,
    expires_at: NaiveDateTime,
}

/// Signed tokens, not yet stored.
#[derive(Debug)]
pub struct PreparedTokens {
    grant: TokenGrant,
    jti: TokenId,
    access_token: String,
    access_token_hash: AccessTokenHash,
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
    pub user_id: Option<UserId>,
    pub jti: TokenId,
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

impl OAuthServer {
    /// Generates the ids and signs the access token, outside any transaction, so the
    /// writer holds its lock only for the inserts.
    pub fn prepare_tokens(
        &self,
        grant: TokenGrant,
        now: NaiveDateTime,
    ) -> Result<PreparedTokens, OAuthError> {
        grant.check_scopes()?;
        // JWT times are whole seconds: store the same instants the claims carry.
        let now = now.trunc_subsecs(0);
        let jti = TokenId::generate();
        let expires_at = now + grant.lifetime;
        let refresh = match &grant.refresh {
            RefreshPlan::None => None,
            RefreshPlan::NewFamily { scope } => Some((FamilyId::generate(), scope.clone())),
            RefreshPlan::Rotate { family_id, scope } => Some((family_id.clone(), scope.clone())),
        }
        .map(|(family_id, scope)| {
            let token = PlainSecret::generate();
            PreparedRefresh {
                id: TokenId::generate(),
                hash: self.hasher.hash_refresh_token(&token),
                token,
                family_id,
                scopes: scope.to_string(),
                expires_at: now + self.lifetimes.refresh,
            }
        });
        let exchange = grant.exchange.as_ref();
        let (aud, act) = jwt::exchange_claims(&self.issuer, exchange);
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: subject(grant.user_id, &grant.client_id, exchange),
            aud,
            client_id: grant.client_id.to_string(),
            tenant_id: grant.tenant_id.get(),
            scope: grant.scope.to_string(),
            jti: jti.to_string(),
            iat: now.and_utc().timestamp(),
            exp: expires_at.and_utc().timestamp(),
            sid: refresh
                .as_ref()
                .map(|refresh: &PreparedRefresh| refresh.family_id.to_string()),
            act,
        };
        let access_token = jwt::encode(&self.keys.snapshot(), self.keys.publish_delay(), &claims)
            .map_err(|error| {
            log::error!("signing an access token failed: {error}");
            OAuthError::server_error()
        })?;
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
    /// The access token's id.
    pub fn jti(&self) -> &TokenId {
        &self.jti
    }

    /// The tenant the tokens are for.
    pub fn tenant_id(&self) -> TenantId {
        self.grant.tenant_id
    }

    /// The refresh-token family these tokens start or continue, if any.
    pub fn family_id(&self) -> Option<&FamilyId> {
        self.refresh.as_ref().map(|refresh| &refresh.family_id)
    }

    /// Stores the tokens if the tenant is still active, the client not revoked and the user
    /// (if any) enabled, atomically with that check (on PostgreSQL in one statement, which
    /// needs no transaction around it: see [`NewTokens::insert_if_permitted`]).
    pub fn store(self, conn: &mut DbConnection) -> Result<Result<IssuedTokens, Refusal>, DbError> {
        if self.rows().insert_if_permitted(conn)? {
            return Ok(Ok(self.issued()));
        }
        // Refused: only now look up why. Should the state have changed back meanwhile,
        // the answer is still a refusal.
        Ok(Err(self
            .check(conn)?
            .err()
            .unwrap_or(Refusal::ClientInactive)))
    }

    /// Stores these tokens as the successor of `old` in its family
    /// ([`NewTokens::rotate_if_permitted`]: standing, the once-only mark of `old`, the rows,
    /// atomically; one statement on PostgreSQL). `Ok(None)`: `old` was used (or revoked)
    /// meanwhile, a reuse; nothing is stored.
    pub fn store_rotating(
        self,
        conn: &mut DbConnection,
        old: &RefreshToken,
        now: NaiveDateTime,
    ) -> Result<Result<Option<IssuedTokens>, Refusal>, DbError> {
        Ok(match self.rows().rotate_if_permitted(conn, old, now)? {
            Rotated::Stored => Ok(Some(self.issued())),
            Rotated::AlreadyUsed => Ok(None),
            Rotated::NotPermitted => {
                Err(self.check(conn)?.err().unwrap_or(Refusal::ClientInactive))
            }
        })
    }

    /// Re-checks the standing of the tenant, the client and the user inside the caller's
    /// transaction, reading those rows `FOR SHARE` on PostgreSQL (see
    /// [`load_standing`], which also says why this comes before any token row).
    pub fn check(&self, conn: &mut DbConnection) -> Result<Result<(), Refusal>, DbError> {
        let grant = &self.grant;
        let standing = load_standing(conn, grant.tenant_id, &grant.client_id, grant.user_id)?;
        Ok(match Standing::refusal_of(standing.as_ref()) {
            None => Ok(()),
            Some(refusal) => Err(refusal),
        })
    }

    /// Inserts the access token and its refresh token; only after [`PreparedTokens::check`],
    /// in the same transaction.
    pub fn insert(self, conn: &mut DbConnection) -> Result<IssuedTokens, DbError> {
        self.rows().insert(conn)?;
        Ok(self.issued())
    }

    /// The rows that store these tokens.
    fn rows(&self) -> NewTokens<'_> {
        let grant = &self.grant;
        NewTokens {
            access: NewAccessToken {
                id: &self.jti,
                tenant_id: grant.tenant_id,
                client_id: &grant.client_id,
                user_id: grant.user_id,
                kind: grant.kind,
                name: grant.name.as_deref(),
                scopes: &self.scopes,
                created_at: self.issued_at,
                expires_at: self.expires_at,
                token_hash: &self.access_token_hash,
                exchange: grant.exchange.as_ref(),
            },
            refresh: self.refresh.as_ref().map(|refresh| NewRefreshToken {
                id: &refresh.id,
                token_hash: &refresh.hash,
                tenant_id: grant.tenant_id,
                client_id: &grant.client_id,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    fn grant(tenant_id: TenantId, scope: &str, refresh: RefreshPlan) -> TokenGrant {
        TokenGrant {
            tenant_id,
            client_id: ClientId::generate(),
            user_id: None,
            kind: TokenKind::ClientCredentials,
            scope: scope.parse().unwrap(),
            name: None,
            lifetime: Duration::from_secs(60),
            refresh,
            exchange: None,
        }
    }

    #[test]
    fn no_token_carries_a_scope_its_tenant_may_not_hold() {
        let tenant = TenantId::new(2);
        let family = |scope: &str| RefreshPlan::NewFamily {
            scope: scope.parse().unwrap(),
        };
        let cases = [
            (grant(tenant, "read tenant:admin", RefreshPlan::None), true),
            (grant(tenant, "read", family("read write")), true),
            (
                grant(TenantId::PLATFORM, "admin platform:x", RefreshPlan::None),
                true,
            ),
            (grant(tenant, "admin", RefreshPlan::None), false),
            (grant(tenant, "Admin", RefreshPlan::None), false),
            (grant(TenantId::PLATFORM, "*", RefreshPlan::None), false),
            (grant(tenant, "read", family("read tenant:admin:x")), false),
        ];
        for (grant, allowed) in cases {
            let checked = grant.check_scopes().map_err(|error| error.code);
            let expected = if allowed {
                Ok(())
            } else {
                Err(ErrorCode::InvalidScope)
            };
            assert_eq!(checked, expected, "{grant:?}");
        }
    }
}
