//! Validation of access tokens: the one place that decides whether a token is active. The
//! bearer-token guard of tenauth's own endpoints uses it, and so will introspection.
//!
//! A token is active only if: it is exactly a token we issued (its keyed hash matches the
//! one stored at issuance, which stands in for verifying its signature); it is not
//! expired; its row exists and is not revoked; its tenant is active; its client exists in
//! that tenant and is not revoked; its user, if it has one, exists in that tenant and is
//! enabled; and the claims agree with the row. All state comes from one indexed query by
//! `(tenant_id, jti)`.

use chrono::NaiveDateTime;

use super::jwt::{self, AccessTokenClaims};
use super::OAuthServer;
use crate::db::models::token::AccessTokenState;
use crate::db::{DbConnection, DbError};
use crate::domain::{Scope, TenantId, TenantStatus, TokenKind};

/// An active access token: what a protected endpoint may rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    pub jti: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub subject: String,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub scope: Scope,
    pub issued_at: i64,
    pub expires_at: i64,
    pub issuer: String,
}

/// Why a token is not active. For the log only: every one of them looks the same outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InactiveReason {
    #[error("not a token of ours ({0})")]
    Unverifiable(jwt::JwtError),
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired")]
    Expired,
    #[error("unknown token")]
    Unknown,
    #[error("revoked")]
    Revoked,
    #[error("tenant not active")]
    TenantInactive,
    #[error("client revoked")]
    ClientRevoked,
    #[error("user deleted or disabled")]
    UserInactive,
    #[error("claims disagree with the stored token")]
    Mismatch,
}

impl OAuthServer {
    /// Decides whether `token` is an active access token at `now`. `Err` only when the
    /// database could not answer: never "inactive" for an outage.
    pub fn validate_access_token(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Result<ActiveToken, InactiveReason>, DbError> {
        let claims = match self.access_token_claims(token, now) {
            Ok(claims) => claims,
            Err(reason) => return Ok(Err(reason)),
        };
        let state = AccessTokenState::find(conn, TenantId::new(claims.tenant_id), &claims.jti)?;
        Ok(self.judge_access_token(token, claims, state, now))
    }

    /// The claims of `token`, if it can be one of our active access tokens at all: it
    /// decodes, names us as issuer and has not expired. Its stored state decides the rest
    /// ([`OAuthServer::judge_access_token`]).
    pub fn access_token_claims(
        &self,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<AccessTokenClaims, InactiveReason> {
        let claims = jwt::decode_claims(token).map_err(InactiveReason::Unverifiable)?;
        if claims.iss != self.issuer {
            return Err(InactiveReason::WrongIssuer);
        }
        if claims.exp <= now.and_utc().timestamp() {
            return Err(InactiveReason::Expired);
        }
        Ok(claims)
    }

    /// Decides whether `token`, whose `claims` passed [`OAuthServer::access_token_claims`],
    /// is active, given the stored `state` of `(tenant_id, jti)` from its claims.
    pub fn judge_access_token(
        &self,
        token: &str,
        claims: AccessTokenClaims,
        state: Option<AccessTokenState>,
        now: NaiveDateTime,
    ) -> Result<ActiveToken, InactiveReason> {
        let Some(state) = state else {
            return Err(InactiveReason::Unknown);
        };
        // Proof that the string is one we issued: its stored keyed hash matches (~1 µs,
        // constant-time); rows from before the hash column fall back to the signature.
        let genuine = match &state.token_hash {
            Some(stored) => self.hasher.access_token_matches(token, stored),
            None => jwt::verify(&self.keys.snapshot(), token).is_ok(),
        };
        if !genuine {
            return Err(InactiveReason::Unverifiable(jwt::JwtError::BadSignature));
        }
        judge(claims, state, now)
    }
}

fn judge(
    claims: AccessTokenClaims,
    state: AccessTokenState,
    now: NaiveDateTime,
) -> Result<ActiveToken, InactiveReason> {
    if state.revoked_at.is_some() {
        return Err(InactiveReason::Revoked);
    }
    if state.expires_at <= now {
        return Err(InactiveReason::Expired);
    }
    if state.tenant_status != TenantStatus::Active {
        return Err(InactiveReason::TenantInactive);
    }
    if state.client_revoked_at.is_some() {
        return Err(InactiveReason::ClientRevoked);
    }
    let username = match (state.user_id, state.user) {
        (None, _) => None,
        (Some(_), Some((username, false))) => Some(username),
        (Some(_), _) => return Err(InactiveReason::UserInactive),
    };
    let expected_subject = state
        .user_id
        .map_or_else(|| state.client_id.clone(), |id| id.to_string());
    if claims.client_id != state.client_id
        || claims.sub != expected_subject
        || claims.scope != state.scopes
    {
        return Err(InactiveReason::Mismatch);
    }
    let scope = state.scopes.parse().map_err(|_| InactiveReason::Mismatch)?;
    Ok(ActiveToken {
        jti: state.id,
        tenant_id: state.tenant_id,
        client_id: state.client_id,
        user_id: state.user_id,
        username,
        subject: claims.sub,
        kind: state.kind,
        name: state.name,
        scope,
        issued_at: claims.iat,
        expires_at: claims.exp,
        issuer: claims.iss,
    })
}
