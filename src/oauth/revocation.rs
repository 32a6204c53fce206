//! Token revocation (RFC 7009).
//!
//! Revoking an access token revokes every refresh token issued with it; revoking a
//! refresh token revokes its whole family and every access token issued with one of its
//! members. One transaction, set-based updates. A client revokes only its own tokens: a
//! token of another client of its tenant is `unauthorized_client` and left untouched
//! (§2.1); a token of another tenant is answered like an unknown one (200) and left
//! untouched, and logged as a security event.

use chrono::NaiveDateTime;

use super::client_auth::PresentedCredentials;
use super::introspection::TokenTypeHint;
use super::jwt;
use super::{OAuthError, OAuthServer};
use crate::db::models::token::{revoke_tokens, AccessTokenOwner, RefreshToken, Revocation};
use crate::db::DbConnection;
use crate::domain::TenantId;

/// A token of ours, found whatever its state.
enum Target {
    AccessToken {
        tenant_id: TenantId,
        client_id: String,
        jti: String,
    },
    RefreshToken {
        tenant_id: TenantId,
        client_id: String,
        id: String,
        family_id: String,
    },
}

impl Target {
    fn owner(&self) -> (TenantId, &str) {
        match self {
            Self::AccessToken {
                tenant_id,
                client_id,
                ..
            }
            | Self::RefreshToken {
                tenant_id,
                client_id,
                ..
            } => (*tenant_id, client_id),
        }
    }
}

impl OAuthServer {
    /// `POST /oauth/revoke`. Unknown, garbage, expired and already-revoked tokens succeed
    /// and change nothing (RFC 7009 §2.2).
    pub fn revoke(
        &self,
        credentials: &PresentedCredentials,
        token: &str,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<(), OAuthError> {
        let (caller, target) = self.db.read(|conn| {
            let caller = self.authenticate_caller(conn, credentials)?.client;
            let mut target = None;
            for kind in hint.search_order() {
                target = match kind {
                    TokenTypeHint::AccessToken => self.find_access_token_owner(conn, token)?,
                    TokenTypeHint::RefreshToken => self.find_refresh_token_owner(conn, token)?,
                };
                if target.is_some() {
                    break;
                }
            }
            Ok::<_, OAuthError>((caller, target))
        })?;
        let Some(target) = target else {
            return Ok(());
        };
        let (tenant_id, client_id) = target.owner();
        if tenant_id != caller.tenant_id {
            log::warn!(
                target: "tenauth::security",
                "cross-tenant revocation attempt: client {} of tenant {} presented a token of tenant {}",
                caller.id, caller.tenant_id, tenant_id
            );
            return Ok(());
        }
        if client_id != caller.id.as_str() {
            log::warn!(
                target: "tenauth::security",
                "client {} tried to revoke a token of client {} (tenant {})",
                caller.id, client_id, tenant_id
            );
            return Err(OAuthError::new(
                super::ErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            ));
        }
        let counts = match &target {
            Target::AccessToken { jti, .. } => {
                let jti = jti.clone();
                self.db.write(move |conn| {
                    revoke_tokens(conn, tenant_id, Revocation::AccessToken(&jti), now)
                })?
            }
            Target::RefreshToken { family_id, .. } => {
                let family_id = family_id.clone();
                self.db.write(move |conn| {
                    revoke_tokens(conn, tenant_id, Revocation::Family(&family_id), now)
                })?
            }
        };
        let id = match &target {
            Target::AccessToken { jti, .. } => format!("access token jti={jti}"),
            Target::RefreshToken { id, family_id, .. } => {
                format!("refresh token {id} (family {family_id})")
            }
        };
        log::info!(
            target: "tenauth::tokens",
            "revoked {id} tenant={tenant_id} client={}: {} access and {} refresh tokens",
            caller.id, counts.access_tokens, counts.refresh_tokens
        );
        Ok(())
    }

    fn find_access_token_owner(
        &self,
        conn: &mut DbConnection,
        token: &str,
    ) -> Result<Option<Target>, OAuthError> {
        let Ok(claims) = jwt::decode_claims(token) else {
            return Ok(None);
        };
        let tenant_id = TenantId::new(claims.tenant_id);
        let Some(owner) = AccessTokenOwner::find(conn, tenant_id, &claims.jti)? else {
            return Ok(None);
        };
        let genuine = match &owner.token_hash {
            Some(stored) => self.hasher.access_token_matches(token, stored),
            None => jwt::verify(&self.keys.snapshot(), token).is_ok(),
        };
        Ok(genuine.then_some(Target::AccessToken {
            tenant_id,
            client_id: owner.client_id,
            jti: owner.id,
        }))
    }

    fn find_refresh_token_owner(
        &self,
        conn: &mut DbConnection,
        token: &str,
    ) -> Result<Option<Target>, OAuthError> {
        if token.len() > 512 {
            return Ok(None);
        }
        let hash = self.hasher.hash_refresh_token(token);
        Ok(
            RefreshToken::find_by_hash(conn, &hash)?.map(|stored| Target::RefreshToken {
                tenant_id: TenantId::new(stored.tenant_id),
                client_id: stored.client_id,
                id: stored.id,
                family_id: stored.family_id,
            }),
        )
    }
}
