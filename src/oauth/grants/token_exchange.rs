//! Token exchange (RFC 8693): a confidential client presents a user's access token (the
//! subject token) and gets a new access token that says who acts with it (`act`, §4.1).
//! Two uses, chosen by the `audience` (§2.1), and nothing else:
//!
//! 1. **Platform staff in a tenant** (`audience=urn:tenauth:tenant:<id>`): a platform
//!    client exchanges a platform user's token holding `platform:act-in-tenant` for a
//!    token of the target tenant, with scopes that tenant's clients may hold, while the
//!    tenant allows platform access. The token's `sub` and `act.sub` are the platform
//!    user; its row's client is the tenant's personal-access client (a token row always
//!    names a client of its own tenant), and the exchanging client is in `act`.
//! 2. **Delegation inside a tenant** (`audience=<client id>`): a client exchanges a user
//!    token of its own tenant for one with at most its scopes, for another client of the
//!    tenant (`aud`), with the exchanging client as `act`.
//!
//! The new token lives at most `TENAUTH_EXCHANGE_TOKEN_TTL` and never past its subject
//! token, has no refresh token (§2.2.1 leaves it optional), cannot itself be exchanged (no
//! chains), and stays active only while what it came from does
//! (`domain::ExchangeStanding`). Every exchange writes an audit event in the token's
//! tenant's trail and one in the platform's, in the issuing transaction.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::refusal_error;
use crate::db::models::audit::NewAuditEvent;
use crate::db::models::client::Client;
use crate::db::models::tenant::Tenant;
use crate::db::models::token::issue::load_standing;
use crate::db::DbConnection;
use crate::domain::{
    Actor, AuditAction, Exchange, ExchangeAudience, ExchangeStanding, GrantType, Refusal, Scope,
    TenantId, TokenActor, TokenKind, ACT_IN_TENANT_SCOPE,
};
use crate::oauth::bearer::ActiveToken;
use crate::oauth::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};

/// The only token type tenauth exchanges and issues (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A token-exchange request's parameters, parsed (RFC 8693 §2.1).
#[derive(Debug)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub audience: ExchangeAudience,
    pub scope: Option<Scope>,
}

/// Why the subject token cannot be exchanged: one answer outside, the reason in the log.
const SUBJECT_NOT_ACTIVE: OAuthError =
    OAuthError::invalid_grant("the subject token is not active or may not be exchanged");
/// Why the audience cannot be reached: one answer outside, the reason in the log.
const AUDIENCE_REFUSED: OAuthError =
    OAuthError::invalid_target("the audience cannot be reached with this token");

/// Exchanges the subject token for `caller`, inside the caller's write transaction: checks,
/// signs, stores under the standing check, and writes the two audit events.
pub(super) fn exchange(
    server: &OAuthServer,
    conn: &mut DbConnection,
    caller: &Client,
    request: ExchangeRequest,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    if !caller.is_confidential() || !caller.allows(GrantType::TokenExchange) {
        return Err(OAuthError::unauthorized_client());
    }
    let subject = match server.validate_access_token(conn, &request.subject_token, now)? {
        Ok(subject) => subject,
        Err(reason) => {
            log::info!(target: "tenauth::security", "token exchange by client {} refused: subject token {reason}", caller.id);
            return Err(SUBJECT_NOT_ACTIVE);
        }
    };
    let refuse_subject = |why: &str| {
        log::info!(target: "tenauth::security", "token exchange by client {} refused: subject token jti={} {why}", caller.id, subject.jti);
        SUBJECT_NOT_ACTIVE
    };
    if !subject.kind.may_be_exchanged() {
        return Err(refuse_subject(
            "comes from token exchange itself (no chains)",
        ));
    }
    let Some(user_id) = subject.user_id else {
        return Err(refuse_subject("is not a user's token"));
    };
    let grant = match request.audience {
        ExchangeAudience::Tenant(target) => {
            platform_staff_grant(server, conn, caller, &subject, target, request.scope, now)?
        }
        ExchangeAudience::Client(audience) => {
            if subject.tenant_id != caller.tenant_id {
                log::warn!(target: "tenauth::security", "cross-tenant token exchange: client {} presented a subject token of another tenant (jti={})", caller.id, subject.jti);
                return Err(SUBJECT_NOT_ACTIVE);
            }
            let audience_client = Client::find_in_tenant(conn, caller.tenant_id, &audience)?;
            if audience_client.is_none() && Client::find_with_tenant(conn, &audience)?.is_some() {
                log::warn!(target: "tenauth::security", "cross-tenant token exchange: client {} asked for an audience of another tenant", caller.id);
            }
            let audience_stands = audience_client
                .is_some_and(|client| client.revoked_at.is_none() && client.id != caller.id);
            if !audience_stands {
                log::info!(target: "tenauth::security", "token exchange by client {} refused: audience {audience} is not another active client of its tenant", caller.id);
                return Err(AUDIENCE_REFUSED);
            }
            let scope = match request.scope {
                Some(scope) if !scope.is_subset_of(&subject.scope) => {
                    return Err(OAuthError::invalid_scope(
                        "the requested scope exceeds the subject token's",
                    ))
                }
                Some(scope) => scope,
                None => subject.scope.clone(),
            };
            TokenGrant {
                tenant_id: caller.tenant_id,
                client_id: caller.id.clone(),
                user_id: Some(user_id),
                kind: TokenKind::Exchanged,
                scope,
                name: None,
                lifetime: lifetime(server, &subject, now),
                refresh: RefreshPlan::None,
                exchange: Some(Exchange {
                    subject_token_id: subject.jti.clone(),
                    actor: TokenActor {
                        tenant_id: caller.tenant_id,
                        client_id: caller.id.clone(),
                        user_id: None,
                    },
                    audience: Some(audience),
                }),
            }
        }
    };
    let exchange = grant
        .exchange
        .clone()
        .expect("an exchange grant names its exchange");
    let cross_tenant = exchange.acts_across_tenants(grant.tenant_id);
    let prepared = server.prepare_tokens(grant, now)?;
    // Under the locks of the standing reads (`FOR SHARE` on PostgreSQL: a deletion or
    // suspension of the tenant, a change of its `platform_access`, a deletion of the client
    // or the user waits for this transaction, or this sees it), the rules that keep the
    // token active afterwards: its own standing, then the exchange's.
    prepared.check(conn)?.map_err(|refusal| {
        if cross_tenant {
            // The target tenant (or its personal-access client) does not stand.
            log::info!(target: "tenauth::security", "token exchange by client {} refused: {refusal} in the target tenant", caller.id);
            AUDIENCE_REFUSED
        } else {
            refusal_error(refusal)
        }
    })?;
    let actor = &exchange.actor;
    let standing = ExchangeStanding {
        // Validated above, in this transaction.
        subject_token_active: true,
        actor: load_standing(conn, actor.tenant_id, &actor.client_id, actor.user_id)?,
        cross_tenant,
        platform_access: !cross_tenant || Tenant::platform_access(conn, prepared.tenant_id())?,
    };
    match standing.refusal() {
        None => {}
        Some(Refusal::PlatformAccessRefused) => {
            log::info!(target: "tenauth::security", "token exchange by client {} refused: the tenant refuses platform access", caller.id);
            return Err(AUDIENCE_REFUSED);
        }
        Some(refusal) => {
            log::info!(target: "tenauth::security", "token exchange by client {} refused: {refusal}", caller.id);
            return Err(OAuthError::invalid_grant("the grant is invalid"));
        }
    }
    let issued = prepared.insert(conn)?;
    record_exchange(conn, &subject, &exchange, &issued, now)?;
    Ok(issued)
}

/// Use 1: a platform user's token for a token of `target`.
fn platform_staff_grant(
    server: &OAuthServer,
    conn: &mut DbConnection,
    caller: &Client,
    subject: &ActiveToken,
    target: TenantId,
    requested: Option<Scope>,
    now: NaiveDateTime,
) -> Result<TokenGrant, OAuthError> {
    let refuse_target = |why: &str| {
        log::info!(target: "tenauth::security", "token exchange by client {} refused: {why}", caller.id);
        AUDIENCE_REFUSED
    };
    if !caller.tenant_id.is_platform() {
        log::warn!(target: "tenauth::security", "token exchange by client {}: a tenant client asked to act in a tenant", caller.id);
        return Err(AUDIENCE_REFUSED);
    }
    if !subject.tenant_id.is_platform() {
        log::warn!(target: "tenauth::security", "token exchange by client {}: a tenant user's token presented to act in a tenant (jti={})", caller.id, subject.jti);
        return Err(SUBJECT_NOT_ACTIVE);
    }
    if !subject.scope.contains(ACT_IN_TENANT_SCOPE) {
        log::info!(target: "tenauth::security", "token exchange by client {} refused: subject token jti={} lacks {ACT_IN_TENANT_SCOPE}", caller.id, subject.jti);
        return Err(SUBJECT_NOT_ACTIVE);
    }
    if target.is_platform() {
        return Err(refuse_target("the platform tenant is no target"));
    }
    // Whether the tenant is active and allows platform access is checked under its lock,
    // before the token is stored (`exchange`).
    let Some(personal_access) = Client::find_personal_access(conn, target)? else {
        return Err(refuse_target("no such tenant"));
    };
    let Some(scope) = requested else {
        return Err(OAuthError::invalid_request(
            "scope is required to act in a tenant",
        ));
    };
    // Each scope one the tenant's clients may hold; `admin` and `platform:*` never (the
    // issuance check, `Scope::refusal_in`, refuses those in any tenant but the platform).
    let held = Client::scope_tokens_held_in(conn, target)?;
    if !scope.iter().all(|token| held.contains(token)) {
        return Err(OAuthError::invalid_scope(
            "the requested scope is not one the tenant's clients may hold",
        ));
    }
    Ok(TokenGrant {
        tenant_id: target,
        client_id: personal_access.id,
        user_id: None,
        kind: TokenKind::Exchanged,
        scope,
        name: None,
        lifetime: lifetime(server, subject, now),
        refresh: RefreshPlan::None,
        exchange: Some(Exchange {
            subject_token_id: subject.jti.clone(),
            actor: TokenActor {
                tenant_id: TenantId::PLATFORM,
                client_id: caller.id.clone(),
                user_id: subject.user_id,
            },
            audience: None,
        }),
    })
}

/// The exchanged token's lifetime: `TENAUTH_EXCHANGE_TOKEN_TTL`, but never past the
/// subject token's expiry.
fn lifetime(server: &OAuthServer, subject: &ActiveToken, now: NaiveDateTime) -> Duration {
    let left = subject.expires_at - now.and_utc().timestamp();
    let left = Duration::from_secs(u64::try_from(left).unwrap_or(0).max(1));
    server.lifetimes.exchange.min(left)
}

/// The two audit events of an exchange, in its transaction: one in the token's tenant's
/// trail (for platform staff, "a platform user acted in your tenant", naming nothing else
/// of the platform), one in the platform's own trail.
fn record_exchange(
    conn: &mut DbConnection,
    subject: &ActiveToken,
    exchange: &Exchange,
    issued: &IssuedTokens,
    now: NaiveDateTime,
) -> Result<(), OAuthError> {
    let jti = issued.jti.to_string();
    let mut details = serde_json::json!({
        "scope": issued.scope.to_string(),
        "expires_at": issued.expires_at.and_utc().timestamp(),
    });
    let mut platform_details = details.clone();
    platform_details["tenant_id"] = issued.tenant_id.get().into();
    platform_details["client_id"] = exchange.actor.client_id.as_str().into();
    platform_details["subject_token"] = subject.jti.as_str().into();
    if let Some(audience) = &exchange.audience {
        platform_details["audience"] = audience.as_str().into();
    }
    let tenant_actor = exchange.audit_actor();
    // In its own trail the platform user is one of the platform's users.
    let platform_actor = match exchange.actor.user_id {
        Some(user_id) => Actor::User(user_id),
        None => {
            // A delegation inside the tenant: all of it is the tenant's to see.
            details = platform_details.clone();
            tenant_actor.clone()
        }
    };
    NewAuditEvent {
        tenant_id: issued.tenant_id,
        actor: &tenant_actor,
        action: AuditAction::TokenExchange,
        subject: Some(&jti),
        details: Some(details),
        created_at: now,
    }
    .insert(conn)?;
    if issued.tenant_id.is_platform() {
        // A delegation inside the platform tenant: its trail is the platform's.
        return Ok(());
    }
    NewAuditEvent {
        tenant_id: TenantId::PLATFORM,
        actor: &platform_actor,
        action: AuditAction::TokenExchange,
        subject: Some(&jti),
        details: Some(platform_details),
        created_at: now,
    }
    .insert(conn)?;
    Ok(())
}
