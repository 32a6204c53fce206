//! Token introspection (RFC 7662) for resource servers.
//!
//! A token is active only if every check of [`bearer`](super::bearer) holds (for a refresh
//! token: the same tenant, client and user checks, and it is neither used nor revoked nor
//! expired) **and** the caller belongs to the token's tenant — or to the platform tenant.
//! Every "no" is the same `{"active": false}`; the reason goes to the log. Nothing is
//! cached: each call reads the database, so a revocation is visible to the next request
//! on every instance.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::bearer::{ActiveToken, InactiveReason};
use super::client_auth::PresentedCredentials;
use super::jwt::ActorClaim;
use super::{OAuthError, OAuthServer};
use crate::db::models::client::ClientWithTenant;
use crate::db::models::token::{AccessTokenState, RefreshTokenState};
use crate::db::DbConnection;
use crate::domain::{subject, ClientId, TenantId, TokenId};

/// The answer of the introspection endpoint: `{"active": false}` alone for every token
/// that is not active, whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// Present only when `active` is true.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenDescription>,
}

/// What an active token is (RFC 7662 §2.2), plus `tenant_id` and `token_kind`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenDescription {
    pub scope: String,
    #[schema(value_type = String)]
    pub client_id: ClientId,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[schema(value_type = i64)]
    pub tenant_id: TenantId,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    pub token_type: &'static str,
    /// tenauth's extension: `access`, `personal`, `exchanged` or `refresh`.
    pub token_kind: &'static str,
    /// The token's audience (RFC 7662 §2.2), for a token from token exchange made for one
    /// client; other tokens are for the issuer's resource servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Who acts with a token from token exchange (RFC 8693 §4.1 `act`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<ActorClaim>,
    pub exp: i64,
    pub iat: i64,
    #[schema(value_type = String)]
    pub jti: TokenId,
    pub iss: String,
}

impl Introspection {
    pub const INACTIVE: Introspection = Introspection {
        active: false,
        token: None,
    };
}

/// Which kind of token to look for first (`token_type_hint`, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

impl TokenTypeHint {
    /// The hint, or a guess from the token's shape (a JWT has two dots); an unknown hint
    /// is ignored, as the search covers every type anyway.
    pub fn resolve(hint: Option<&str>, token: &str) -> Self {
        match hint {
            Some("access_token") => Self::AccessToken,
            Some("refresh_token") => Self::RefreshToken,
            _ if token.bytes().filter(|&b| b == b'.').count() == 2 => Self::AccessToken,
            _ => Self::RefreshToken,
        }
    }

    /// Both types, the hinted one first.
    pub fn search_order(self) -> [Self; 2] {
        match self {
            Self::AccessToken => [Self::AccessToken, Self::RefreshToken],
            Self::RefreshToken => [Self::RefreshToken, Self::AccessToken],
        }
    }
}

/// A token found, active or not: the search stops at the first type that knows it.
enum Found {
    Active(Box<TokenDescription>),
    Inactive(InactiveReason),
    Unknown,
}

impl OAuthServer {
    /// `POST /oauth/introspect` (RFC 7662 §2). The caller must be a confidential client.
    /// Reads only: runs on a pool thread.
    pub async fn introspect(
        self: &Arc<Self>,
        credentials: PresentedCredentials,
        token: String,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<Introspection, OAuthError> {
        let server = Arc::clone(self);
        self.db
            .read_async(move |conn| server.introspect_with(conn, &credentials, &token, hint, now))
            .await
    }

    fn introspect_with(
        &self,
        conn: &mut DbConnection,
        credentials: &PresentedCredentials,
        token: &str,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<Introspection, OAuthError> {
        let mut access_outcome = None;
        let caller = match self.caller_and_access_token(conn, credentials, token, hint, now)? {
            Some((found, outcome)) => {
                access_outcome = Some(outcome);
                self.check_caller(credentials, found)?
            }
            None => self.authenticate_caller(conn, credentials)?,
        }
        .client;
        if !caller.is_confidential() {
            log::info!(target: "tenauth::security", "introspection refused: client {} is public", caller.id);
            return Err(OAuthError::invalid_client().with_basic_challenge(credentials.via_basic));
        }
        let mut outcome = Found::Unknown;
        for kind in hint.search_order() {
            outcome = match kind {
                TokenTypeHint::AccessToken => match access_outcome.take() {
                    Some(outcome) => outcome,
                    None => self.find_access_token(conn, token, now)?,
                },
                TokenTypeHint::RefreshToken => self.find_refresh_token(conn, token, now)?,
            };
            if !matches!(outcome, Found::Unknown) {
                break;
            }
        }
        Ok(match outcome {
            Found::Active(description)
                if description.tenant_id == caller.tenant_id || caller.tenant_id.is_platform() =>
            {
                Introspection {
                    active: true,
                    token: Some(*description),
                }
            }
            Found::Active(description) => {
                log::warn!(
                    target: "tenauth::security",
                    "cross-tenant introspection: client {} of tenant {} asked about jti={} of tenant {}",
                    caller.id, caller.tenant_id, description.jti, description.tenant_id
                );
                Introspection::INACTIVE
            }
            Found::Inactive(reason) => {
                log::debug!("introspection by client {}: inactive ({reason})", caller.id);
                Introspection::INACTIVE
            }
            Found::Unknown => Introspection::INACTIVE,
        })
    }

    /// The common case, a token to be looked up as an access token first that has claims
    /// worth looking up: the caller's client row and the token's state come from one
    /// query (one round trip on PostgreSQL instead of two). `None` otherwise; the first
    /// of the pair is `None` when there is no such client.
    fn caller_and_access_token(
        &self,
        conn: &mut DbConnection,
        credentials: &PresentedCredentials,
        token: &str,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<Option<(Option<ClientWithTenant>, Found)>, OAuthError> {
        if hint != TokenTypeHint::AccessToken {
            return Ok(None);
        }
        let (Some(caller_id), Ok((claims, jti))) = (
            credentials.client_id(),
            self.access_token_claims(token, now),
        ) else {
            return Ok(None);
        };
        let tenant_id = TenantId::new(claims.tenant_id);
        let Some((caller, state)) =
            AccessTokenState::find_with_caller(conn, &caller_id, tenant_id, &jti)?
        else {
            return Ok(Some((None, Found::Unknown)));
        };
        let judged = self.judge_access_token(token, claims, state, now);
        Ok(Some((Some(caller), self.access_token_outcome(judged))))
    }

    fn find_access_token(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Found, OAuthError> {
        let judged = self.validate_access_token(conn, token, now)?;
        Ok(self.access_token_outcome(judged))
    }

    fn access_token_outcome(&self, judged: Result<ActiveToken, InactiveReason>) -> Found {
        match judged {
            Ok(active) => Found::Active(Box::new(self.describe_access_token(active))),
            Err(InactiveReason::Unverifiable(_) | InactiveReason::Unknown) => Found::Unknown,
            Err(reason) => Found::Inactive(reason),
        }
    }

    fn describe_access_token(&self, active: ActiveToken) -> TokenDescription {
        let act = active.act();
        let aud = active.audience_client().map(ToString::to_string);
        TokenDescription {
            aud,
            act,
            scope: active.scope.to_string(),
            client_id: active.client_id,
            sub: active.subject,
            username: active.username,
            tenant_id: active.tenant_id,
            token_type: "Bearer",
            token_kind: active.kind.access_token_kind(),
            exp: active.expires_at,
            iat: active.issued_at,
            jti: active.jti,
            iss: active.issuer,
        }
    }

    fn find_refresh_token(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Found, OAuthError> {
        let Some(hash) = self.hasher.hash_presented_refresh_token(token) else {
            return Ok(Found::Unknown);
        };
        let Some(state) = RefreshTokenState::find_by_hash(conn, &hash)? else {
            return Ok(Found::Unknown);
        };
        let stored = &state.token;
        // A used (rotated) refresh token is as dead as a revoked one.
        let reason = if stored.revoked_at.is_some() || stored.used_at.is_some() {
            Some(InactiveReason::Revoked)
        } else if stored.expires_at <= now {
            Some(InactiveReason::Expired)
        } else {
            state.standing.refusal().map(InactiveReason::NotInStanding)
        };
        if let Some(reason) = reason {
            return Ok(Found::Inactive(reason));
        }
        Ok(Found::Active(Box::new(TokenDescription {
            scope: stored.scopes.clone(),
            client_id: stored.client_id.clone(),
            sub: subject(stored.user_id, &stored.client_id, None),
            username: state.username,
            tenant_id: stored.tenant_id,
            token_type: "refresh_token",
            token_kind: "refresh",
            aud: None,
            act: None,
            exp: stored.expires_at.and_utc().timestamp(),
            iat: stored.created_at.and_utc().timestamp(),
            jti: stored.id.clone(),
            iss: self.issuer.clone(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenTypeHint::{self, AccessToken, RefreshToken};

    #[test]
    fn the_hint_decides_which_kind_is_looked_up_first_and_the_shape_decides_without_one() {
        let jwt = "header.claims.signature";
        let opaque = "dGhpcyBpcyBvcGFxdWU";
        let cases: [(Option<&str>, &str, TokenTypeHint); 7] = [
            (Some("access_token"), opaque, AccessToken),
            (Some("refresh_token"), jwt, RefreshToken),
            (None, jwt, AccessToken),
            (None, opaque, RefreshToken),
            (None, "a.b.c.d", RefreshToken),
            // RFC 7662 §2.1: an unknown hint is ignored; the search covers every kind.
            (Some("id_token"), jwt, AccessToken),
            (Some("id_token"), opaque, RefreshToken),
        ];
        for (hint, token, expected) in cases {
            assert_eq!(
                TokenTypeHint::resolve(hint, token),
                expected,
                "{hint:?} {token}"
            );
        }
        assert_eq!(AccessToken.search_order(), [AccessToken, RefreshToken]);
        assert_eq!(RefreshToken.search_order(), [RefreshToken, AccessToken]);
    }
}
