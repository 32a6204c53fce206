//! Authorization code grant, the token request (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).
//!
//! The code is looked up by its keyed hash and must have been issued to this client, in
//! its tenant, not have expired, and match the redirect URI and the PKCE verifier; any
//! mismatch is one `invalid_grant`. The verifier is checked by oxide-auth's `Pkce`
//! extension (S256 only, required), the same one that encoded the challenge at the
//! authorization endpoint.
//!
//! A code is used once. Which of several concurrent redemptions wins is decided by a
//! conditional `UPDATE … WHERE used_at IS NULL` in the transaction that writes the tokens,
//! under a lock on the code; a code presented again, by anyone, revokes every token issued
//! from it (RFC 6749 §4.1.2, RFC 9700 §4.14): the whole refresh family when one was
//! issued, else the access token. So the losers of a race revoke the winner's tokens, as
//! for refresh-token reuse: a client racing itself cannot be told from a thief racing it.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::primitives::grant::Value;

use super::refusal_error;
use crate::db::models::client::Client;
use crate::db::models::code::AuthorizationCode;
use crate::db::models::event::revoke_and_report;
use crate::domain::GrantType;
use crate::oauth::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};

const INVALID: &str = "the authorization code is invalid";

/// What the token request presented.
pub(super) struct Presented<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// How the redeeming transaction ended.
enum Redemption {
    Issued(IssuedTokens),
    /// The code had been used: what was issued from it is revoked, and that must commit.
    Replayed,
}

pub(super) fn redeem(
    server: &OAuthServer,
    client: &Client,
    presented: Presented<'_>,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client());
    }
    let hash = server
        .hasher
        .hash_presented_authorization_code(presented.code)
        .ok_or(OAuthError::invalid_grant(INVALID))?;
    let stored = server
        .db
        .read(|conn| AuthorizationCode::find_by_hash(conn, &hash))?
        .ok_or(OAuthError::invalid_grant(INVALID))?;
    if stored.client_id != client.id || stored.tenant_id != client.tenant_id {
        log::warn!(target: "tenauth::security", "client {} presented an authorization code issued to another client", client.id);
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if stored.used_at.is_some() {
        revoke_replayed(server, &stored, now)?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if stored.expires_at <= now || !redirect_uri_matches(&stored, presented.redirect_uri) {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    let challenge = Value::private(Some(stored.pkce.clone()));
    if Pkce::required()
        .verify(Some(challenge), presented.code_verifier.map(Cow::Borrowed))
        .is_err()
    {
        log::info!(target: "tenauth::security", "authorization code refused for client {}: PKCE verification failed", client.id);
        return Err(OAuthError::invalid_grant(INVALID));
    }

    let refresh = if client.allows(GrantType::RefreshToken) {
        RefreshPlan::NewFamily {
            scope: stored.scopes.clone(),
        }
    } else {
        RefreshPlan::None
    };
    let grant = TokenGrant {
        tenant_id: stored.tenant_id,
        client_id: client.id.clone(),
        user_id: Some(stored.user_id),
        kind: crate::domain::TokenKind::AuthorizationCode,
        scope: stored.scopes.clone(),
        name: None,
        lifetime: server.lifetimes.access,
        refresh,
        exchange: None,
    };
    let prepared = server.prepare_tokens(grant, now)?;
    let code = stored.clone();
    let redemption = server.db.write(move |conn| {
        code.lock(conn)?;
        // Tenant, client and user first (see `PreparedTokens::check`), then the rows.
        prepared.check(conn)?.map_err(refusal_error)?;
        if !code.redeem(conn, now, prepared.jti(), prepared.family_id())? {
            revoke_issued(conn, &code, now)?;
            return Ok::<_, OAuthError>(Redemption::Replayed);
        }
        Ok(Redemption::Issued(prepared.insert(conn)?))
    })?;
    match redemption {
        Redemption::Issued(issued) => Ok(issued),
        Redemption::Replayed => {
            log_replay(&stored);
            Err(OAuthError::invalid_grant(INVALID))
        }
    }
}

/// RFC 6749 §4.1.3: the `redirect_uri` must be present, and identical, when the
/// authorization request included one; a token request may not name another one either.
fn redirect_uri_matches(stored: &AuthorizationCode, presented: Option<&str>) -> bool {
    match presented {
        Some(presented) => presented == stored.redirect_uri,
        None => !stored.redirect_uri_given,
    }
}

fn revoke_replayed(
    server: &OAuthServer,
    stored: &AuthorizationCode,
    now: NaiveDateTime,
) -> Result<(), OAuthError> {
    let code = stored.clone();
    server.db.write(move |conn| {
        code.lock(conn)?;
        revoke_issued(conn, &code, now)
    })?;
    log_replay(stored);
    Ok(())
}

/// Revokes what was issued from `code`, if anything: read again, under the code's lock,
/// since a concurrent winner may have just written what it issued.
fn revoke_issued(
    conn: &mut crate::db::DbConnection,
    code: &AuthorizationCode,
    now: NaiveDateTime,
) -> Result<(), crate::db::DbError> {
    let current = AuthorizationCode::find_by_hash(conn, &code.code_hash)?;
    if let Some(target) = current.and_then(|current| current.issued) {
        revoke_and_report(conn, code.tenant_id, &target, now)?;
    }
    Ok(())
}

fn log_replay(stored: &AuthorizationCode) {
    log::warn!(
        target: "tenauth::security",
        "authorization code presented again: revoked what was issued from it (tenant {}, client {})",
        stored.tenant_id,
        stored.client_id
    );
}
