//! Refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! Every use returns a new refresh token and marks the old one used. Presenting a used
//! token is taken as theft: the whole family — every refresh token descended from the
//! original grant and every access token issued with one of them — is revoked. Which of
//! several concurrent uses wins is decided by a conditional `UPDATE … WHERE used_at IS
//! NULL` whose row count is checked, in the same transaction that writes the new tokens;
//! the losers are reuses, so they revoke the family too (the winner's new tokens included:
//! a client that races itself cannot be told apart from a thief racing it).

use chrono::NaiveDateTime;

use super::refusal_error;
use crate::db::models::client::Client;
use crate::db::models::event::revoke_and_report;
use crate::db::models::token::RefreshToken;
use crate::db::DbConnection;
use crate::domain::{GrantType, RevocationTarget, Scope, TokenKind};
use crate::oauth::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};

const INVALID: &str = "the refresh token is invalid";

/// How the rotating transaction ended.
pub(super) enum Rotation {
    Issued(IssuedTokens),
    /// The token had been used already: the family is revoked, and that must commit.
    ReuseDetected(Box<RefreshToken>),
}

/// Rotates `presented` inside the caller's write: finds it, checks it, revokes its family
/// on reuse (returned as `Ok`, so that the revocation commits), or marks it used and
/// stores its successor. [`finish`] turns the outcome into the answer. Each write here is
/// atomic on its own (the rotation: `PreparedTokens::store_rotating`; a reuse's family
/// revocation: `revoke_and_report`), so on PostgreSQL the caller runs it outside a
/// transaction.
pub(super) fn rotate(
    server: &OAuthServer,
    conn: &mut DbConnection,
    client: &Client,
    presented: &str,
    requested: Option<Scope>,
    now: NaiveDateTime,
) -> Result<Rotation, OAuthError> {
    if !client.allows(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client());
    }
    let hash = server
        .hasher
        .hash_presented_refresh_token(presented)
        .ok_or(OAuthError::invalid_grant(INVALID))?;
    let stored =
        RefreshToken::find_by_hash(conn, &hash)?.ok_or(OAuthError::invalid_grant(INVALID))?;
    let tenant_id = stored.tenant_id;
    if stored.client_id != client.id || tenant_id != client.tenant_id {
        if tenant_id != client.tenant_id {
            log::warn!(target: "tenauth::security", "cross-tenant refresh attempt: client {} of tenant {} presented a refresh token of tenant {}", client.id, client.tenant_id, tenant_id);
        } else {
            log::warn!(target: "tenauth::security", "client {} presented a refresh token of client {}", client.id, stored.client_id);
        }
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if stored.revoked_at.is_some() || stored.expires_at <= now {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    let family = RevocationTarget::Family(stored.family_id.clone());
    if stored.used_at.is_some() {
        revoke_and_report(conn, tenant_id, &family, now)?;
        return Ok(Rotation::ReuseDetected(Box::new(stored)));
    }

    let family_scope: Scope = stored
        .scopes
        .parse()
        .map_err(|_| OAuthError::server_error())?;
    let scope = match requested {
        Some(requested) if !requested.is_subset_of(&family_scope) => {
            return Err(OAuthError::invalid_scope(
                "the requested scope exceeds the original grant",
            ))
        }
        Some(requested) => requested,
        None => family_scope.clone(),
    };
    let prepared = server.prepare_tokens(
        TokenGrant {
            tenant_id,
            client_id: client.id.clone(),
            user_id: stored.user_id,
            kind: TokenKind::Refresh,
            scope,
            name: None,
            lifetime: server.lifetimes.access,
            refresh: RefreshPlan::Rotate {
                family_id: stored.family_id.clone(),
                scope: family_scope,
            },
            exchange: None,
        },
        now,
    )?;
    match prepared
        .store_rotating(conn, &stored, now)?
        .map_err(refusal_error)?
    {
        Some(issued) => Ok(Rotation::Issued(issued)),
        // Used by a concurrent rotation: a reuse like any other.
        None => {
            revoke_and_report(conn, tenant_id, &family, now)?;
            Ok(Rotation::ReuseDetected(Box::new(stored)))
        }
    }
}

/// The answer to a committed rotation: the new tokens, or `invalid_grant` for a reuse
/// (whose family revocation has committed).
pub(super) fn finish(rotation: Rotation) -> Result<IssuedTokens, OAuthError> {
    match rotation {
        Rotation::Issued(issued) => Ok(issued),
        Rotation::ReuseDetected(stored) => {
            log_reuse(&stored);
            Err(OAuthError::invalid_grant(INVALID))
        }
    }
}

fn log_reuse(stored: &RefreshToken) {
    log::warn!(
        target: "tenauth::security",
        "refresh token reuse: revoked family {} (tenant {}, client {}, refresh token {})",
        stored.family_id,
        stored.tenant_id,
        stored.client_id,
        stored.id
    );
}
