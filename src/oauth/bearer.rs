//! Validation of access tokens: the one place that decides whether a token is active. The
//! bearer-token guard of tenauth's own endpoints uses it, and so will introspection.
//!
//! A token is active only if: it is exactly a token we issued (its keyed hash matches the
//! one stored at issuance, which stands in for verifying its signature); it is not
//! expired; its row exists and is not revoked; its tenant is active; its client exists in
//! that tenant and is not revoked; its user, if it has one, exists in that tenant and is
//! enabled; and the claims agree with the row. All state comes from one indexed query by
//! `(tenant_id, jti)`.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::jwt::{self, AccessTokenClaims, ActorClaim};
use super::OAuthServer;
use crate::db::models::token::AccessTokenState;
use crate::db::{DbConnection, DbError};
use crate::domain::{
    subject, Actor, ClientId, Exchange, ExchangeStanding, Refusal, Scope, TenantId, TokenId,
    TokenKind, UserId,
};
use crate::secrets::AccessTokenHash;

/// An active access token: what a protected endpoint may rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    pub jti: TokenId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub username: Option<String>,
    pub subject: String,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub scope: Scope,
    pub issued_at: i64,
    pub expires_at: i64,
    pub issuer: String,
    /// For a token from token exchange: its subject token, actor and audience.
    pub exchange: Option<Exchange>,
}

impl ActiveToken {
    /// The `act` claim of a token from token exchange (RFC 8693 §4.1).
    pub fn act(&self) -> Option<ActorClaim> {
        self.exchange
            .as_ref()
            .map(|exchange| ActorClaim::from(&exchange.actor))
    }

    /// Who the audit trail names for a change made with this token: its user, the
    /// platform user acting in the tenant through token exchange, or else its client.
    pub fn actor(&self) -> Actor {
        match (self.user_id, self.exchange.as_ref()) {
            (Some(user_id), _) => Actor::User(user_id),
            (None, Some(exchange)) => exchange.audit_actor(),
            (None, None) => Actor::Client(self.client_id.clone()),
        }
    }

    /// The one client a delegation made the token for (its `aud`); `None`: the issuer's
    /// resource servers, as for every other token.
    pub fn audience_client(&self) -> Option<&ClientId> {
        self.exchange.as_ref()?.audience.as_ref()
    }
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
    /// Its tenant, client or user does not stand (`domain::Standing`).
    #[error("{0}")]
    NotInStanding(Refusal),
    #[error("claims disagree with the stored token")]
    Mismatch,
    /// Made for another audience (a delegation to a client, RFC 8693): not for tenauth's
    /// own endpoints (RFC 9068 §4: a resource server refuses a token not meant for it).
    #[error("meant for another audience")]
    WrongAudience,
}

impl OAuthServer {
    /// The bearer-token guard (RFC 6750) of tenauth's own protected endpoints: whether
    /// `token` is an active access token at `now`, decided exactly as introspection
    /// decides it, and meant for tenauth's resource servers (its `aud` the issuer: a
    /// delegation to one client is that client's alone). `Err` only when the database
    /// could not answer: never "inactive" for an outage. Reads only: runs on a reader
    /// thread.
    pub async fn authenticate_bearer(
        self: &Arc<Self>,
        token: String,
        now: NaiveDateTime,
    ) -> Result<Result<ActiveToken, InactiveReason>, DbError> {
        let server = Arc::clone(self);
        let validated = self
            .db
            .read_async(move |conn| server.validate_access_token(conn, &token, now))
            .await?;
        Ok(validated.and_then(|active| match active.audience_client() {
            Some(_) => Err(InactiveReason::WrongAudience),
            None => Ok(active),
        }))
    }

    /// Decides whether `token` is an active access token at `now`, on `conn`.
    pub fn validate_access_token(
        &self,
        conn: &mut DbConnection,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<Result<ActiveToken, InactiveReason>, DbError> {
        let (claims, jti) = match self.access_token_claims(token, now) {
            Ok(claims) => claims,
            Err(reason) => return Ok(Err(reason)),
        };
        let state = AccessTokenState::find(conn, TenantId::new(claims.tenant_id), &jti)?;
        Ok(self.judge_access_token(token, claims, state, now))
    }

    /// The claims of `token` and its `jti`, if it can be one of our active access tokens
    /// at all: it decodes, names us as issuer, has not expired and names a well-formed
    /// `jti`. Its stored state decides the rest ([`OAuthServer::judge_access_token`]).
    pub fn access_token_claims(
        &self,
        token: &str,
        now: NaiveDateTime,
    ) -> Result<(AccessTokenClaims, TokenId), InactiveReason> {
        let claims = jwt::decode_claims(token).map_err(InactiveReason::Unverifiable)?;
        if claims.iss != self.issuer {
            return Err(InactiveReason::WrongIssuer);
        }
        if claims.exp <= now.and_utc().timestamp() {
            return Err(InactiveReason::Expired);
        }
        let jti = claims.jti.parse().map_err(|_| InactiveReason::Unknown)?;
        Ok((claims, jti))
    }

    /// Whether `token` is exactly an access token we issued, given the hash stored with
    /// its row: a keyed hash match (one HMAC, constant-time) stands in for the signature
    /// check; rows from before the hash column fall back to verifying the signature. The
    /// one such check, for validation, introspection and revocation alike.
    pub fn is_issued_access_token(&self, token: &str, stored: Option<&AccessTokenHash>) -> bool {
        match stored {
            Some(stored) => self.hasher.access_token_matches(token, stored),
            None => jwt::verify(&self.keys.snapshot(), token).is_ok(),
        }
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
        if !self.is_issued_access_token(token, state.token_hash.as_ref()) {
            return Err(InactiveReason::Unverifiable(jwt::JwtError::BadSignature));
        }
        judge(claims, state, now)
    }
}

/// The decision for a genuine token whose claims passed the cheap checks, given its
/// stored state: pure, so its table of cases is unit-tested below.
fn judge(
    claims: AccessTokenClaims,
    state: AccessTokenState,
    now: NaiveDateTime,
) -> Result<ActiveToken, InactiveReason> {
    if let Some(reason) = stored_refusal(&state, now) {
        return Err(reason);
    }
    let (audience, act) = jwt::exchange_claims(&claims.iss, state.exchange.as_ref());
    if claims.client_id != state.client_id.as_str()
        || claims.sub != subject(state.user_id, &state.client_id, state.exchange.as_ref())
        || claims.scope != state.scopes
        || claims.aud != audience
        || claims.act != act
    {
        return Err(InactiveReason::Mismatch);
    }
    let scope = state.scopes.parse().map_err(|_| InactiveReason::Mismatch)?;
    Ok(ActiveToken {
        jti: state.id,
        tenant_id: state.tenant_id,
        client_id: state.client_id,
        user_id: state.user_id,
        username: state.username,
        subject: claims.sub,
        kind: state.kind,
        name: state.name,
        scope,
        issued_at: claims.iat,
        expires_at: claims.exp,
        issuer: claims.iss,
        exchange: state.exchange,
    })
}

/// Why the stored token is not active at `now`, whatever its claims: revoked, expired, its
/// tenant, client or user not standing, or, for a token from token exchange, what it was
/// exchanged from ([`ExchangeStanding`]).
fn stored_refusal(state: &AccessTokenState, now: NaiveDateTime) -> Option<InactiveReason> {
    if state.revoked_at.is_some() {
        return Some(InactiveReason::Revoked);
    }
    if state.expires_at <= now {
        return Some(InactiveReason::Expired);
    }
    if let Some(refusal) = state.standing.refusal() {
        return Some(InactiveReason::NotInStanding(refusal));
    }
    let exchange = state.exchange.as_ref()?;
    let dependencies = state.exchange_dependencies.as_ref();
    let standing = ExchangeStanding {
        // The subject token must be active itself, and not exchanged (no chains).
        subject_token_active: dependencies
            .and_then(|dependencies| dependencies.subject.as_deref())
            .is_some_and(|subject| {
                subject.kind.may_be_exchanged() && stored_refusal(subject, now).is_none()
            }),
        actor: dependencies.and_then(|dependencies| dependencies.actor),
        cross_tenant: exchange.acts_across_tenants(state.tenant_id),
        platform_access: dependencies.is_some_and(|dependencies| dependencies.platform_access),
    };
    standing.refusal().map(InactiveReason::NotInStanding)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::domain::{ClientStanding, Standing, TenantStatus, UserStanding};

    fn at(seconds: i64) -> NaiveDateTime {
        DateTime::from_timestamp(seconds, 0).unwrap().naive_utc()
    }

    const NOW: i64 = 1_000_000;

    /// A user token's claims and its stored state, agreeing, active at `NOW`.
    fn user_token() -> (AccessTokenClaims, AccessTokenState) {
        let claims = AccessTokenClaims {
            iss: "https://issuer".into(),
            sub: "7".into(),
            aud: "https://issuer".into(),
            client_id: "the-client".into(),
            tenant_id: 2,
            scope: "read write".into(),
            jti: "the-jti".into(),
            iat: NOW - 10,
            exp: NOW + 3600,
            sid: None,
            act: None,
        };
        let state = AccessTokenState {
            id: "the-jti".parse().unwrap(),
            tenant_id: TenantId::new(2),
            client_id: "the-client".parse().unwrap(),
            user_id: Some(UserId::new(7)),
            kind: TokenKind::Password,
            name: None,
            scopes: "read write".into(),
            created_at: at(NOW - 10),
            expires_at: at(NOW + 3600),
            revoked_at: None,
            token_hash: None,
            standing: Standing {
                tenant: TenantStatus::Active,
                client: ClientStanding::Active,
                user: UserStanding::Enabled,
            },
            username: Some("alice".into()),
            exchange: None,
            exchange_dependencies: None,
        };
        (claims, state)
    }

    #[test]
    fn a_genuine_token_is_active_only_while_its_row_its_standing_and_its_claims_agree() {
        type Change = fn(&mut AccessTokenClaims, &mut AccessTokenState);
        let cases: [(&str, Change, Result<(), InactiveReason>); 11] = [
            ("as issued", |_, _| {}, Ok(())),
            (
                "revoked",
                |_, state| state.revoked_at = Some(at(NOW - 1)),
                Err(InactiveReason::Revoked),
            ),
            (
                "expired row",
                |_, state| state.expires_at = at(NOW),
                Err(InactiveReason::Expired),
            ),
            (
                "suspended tenant",
                |_, state| state.standing.tenant = TenantStatus::Suspended,
                Err(InactiveReason::NotInStanding(Refusal::TenantInactive)),
            ),
            (
                "revoked client",
                |_, state| state.standing.client = ClientStanding::Revoked,
                Err(InactiveReason::NotInStanding(Refusal::ClientInactive)),
            ),
            (
                "disabled user",
                |_, state| state.standing.user = UserStanding::Disabled,
                Err(InactiveReason::NotInStanding(Refusal::UserInactive)),
            ),
            (
                "user gone",
                |_, state| state.standing.user = UserStanding::Missing,
                Err(InactiveReason::NotInStanding(Refusal::UserInactive)),
            ),
            (
                "another client",
                |claims, _| claims.client_id = "other".into(),
                Err(InactiveReason::Mismatch),
            ),
            (
                "another subject",
                |claims, _| claims.sub = "8".into(),
                Err(InactiveReason::Mismatch),
            ),
            (
                "another scope",
                |claims, _| claims.scope = "read".into(),
                Err(InactiveReason::Mismatch),
            ),
            (
                "a client's own token claiming a user",
                |_, state| {
                    state.user_id = None;
                    state.standing.user = UserStanding::NoUser;
                },
                Err(InactiveReason::Mismatch),
            ),
        ];
        for (case, change, expected) in cases {
            let (mut claims, mut state) = user_token();
            change(&mut claims, &mut state);
            let judged = judge(claims, state, at(NOW)).map(|_| ());
            assert_eq!(judged, expected, "{case}");
        }
    }

    #[test]
    fn an_active_token_says_who_and_what() {
        let (claims, state) = user_token();
        let active = judge(claims, state, at(NOW)).unwrap();
        assert_eq!(active.subject, "7");
        assert_eq!(active.username.as_deref(), Some("alice"));
        assert_eq!(active.scope.to_string(), "read write");
        assert_eq!(
            (active.issued_at, active.expires_at),
            (NOW - 10, NOW + 3600)
        );

        let (mut claims, mut state) = user_token();
        (state.user_id, state.standing.user, state.username) = (None, UserStanding::NoUser, None);
        claims.sub = "the-client".into();
        let client_token = judge(claims, state, at(NOW)).unwrap();
        assert_eq!(
            (client_token.subject.as_str(), client_token.username),
            ("the-client", None)
        );
    }
}
