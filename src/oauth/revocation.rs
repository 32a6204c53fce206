//! Token revocation (RFC 7009).
//!
//! Revoking an access token revokes every refresh token issued with it; revoking a
//! refresh token revokes its whole family and every access token issued with one of its
//! members. One transaction, set-based updates. A client revokes only its own tokens: a
//! token of another client of its tenant is `unauthorized_client` and left untouched
//! (§2.1); a token of another tenant is answered like an unknown one (200) and left
//! untouched, and logged as a security event.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::client_auth::PresentedCredentials;
use super::introspection::TokenTypeHint;
use super::jwt;
use super::{OAuthError, OAuthServer};
use crate::db::models::event::revoke_and_report;
use crate::db::models::token::{AccessTokenOwner, RefreshToken};
use crate::db::DbConnection;
use crate::domain::{ClientId, FamilyId, RevocationTarget, TenantId, TokenId};

/// A token of ours, found whatever its state.
enum Target {
    AccessToken {
        tenant_id: TenantId,
        /// The client it was issued to and that client's tenant: for a token from token
        /// exchange, the exchanging client, whatever tenant the token is of.
        issued_to: (TenantId, ClientId),
        jti: TokenId,
    },
    RefreshToken {
        tenant_id: TenantId,
        client_id: ClientId,
        id: TokenId,
        family_id: FamilyId,
    },
}

impl Target {
    /// The client the token was issued to, and its tenant.
    fn owner(&self) -> (TenantId, &ClientId) {
        match self {
            Self::AccessToken {
                issued_to: (tenant_id, client_id),
                ..
            }
            | Self::RefreshToken {
                tenant_id,
                client_id,
                ..
            } => (*tenant_id, client_id),
        }
    }

    /// The tenant the token is of.
    fn tenant_id(&self) -> TenantId {
        match self {
            Self::AccessToken { tenant_id, .. } | Self::RefreshToken { tenant_id, .. } => {
                *tenant_id
            }
        }
    }
}

impl OAuthServer {
    /// `POST /oauth/revoke` (RFC 7009 §2). Unknown, garbage, expired and already-revoked
    /// tokens succeed and change nothing (§2.2). Runs as one write (authentication, lookup,
    /// revocation and its event), on SQLite straight on the writer thread: two thread
    /// hand-offs, as for the client credentials grant. On PostgreSQL outside an explicit
    /// transaction: the revocation and its event are atomic on their own
    /// (`revoke_and_report`), and the reads before them need none.
    pub async fn revoke(
        self: &Arc<Self>,
        credentials: PresentedCredentials,
        token: String,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<(), OAuthError> {
        let server = Arc::clone(self);
        self.db
            .write_single_statement_async(move |conn| {
                server.revoke_on(conn, &credentials, &token, hint, now)
            })
            .await
    }

    fn revoke_on(
        &self,
        conn: &mut DbConnection,
        credentials: &PresentedCredentials,
        token: &str,
        hint: TokenTypeHint,
        now: NaiveDateTime,
    ) -> Result<(), OAuthError> {
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
        let Some(target) = target else {
            return Ok(());
        };
        let (owner_tenant_id, client_id) = target.owner();
        if owner_tenant_id != caller.tenant_id {
            log::warn!(
                target: "tenauth::security",
                "cross-tenant revocation attempt: client {} of tenant {} presented a token of another tenant",
                caller.id, caller.tenant_id
            );
            return Ok(());
        }
        let tenant_id = target.tenant_id();
        if *client_id != caller.id {
            log::warn!(
                target: "tenauth::security",
                "client {} tried to revoke a token of client {} (tenant {})",
                caller.id, client_id, owner_tenant_id
            );
            return Err(OAuthError::new(
                super::ErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            ));
        }
        let revocation = match &target {
            Target::AccessToken { jti, .. } => RevocationTarget::AccessToken(jti.clone()),
            Target::RefreshToken { family_id, .. } => RevocationTarget::Family(family_id.clone()),
        };
        let counts = revoke_and_report(conn, tenant_id, &revocation, now)?;
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
        let Ok(jti) = claims.jti.parse::<TokenId>() else {
            return Ok(None);
        };
        let tenant_id = TenantId::new(claims.tenant_id);
        let Some(owner) = AccessTokenOwner::find(conn, tenant_id, &jti)? else {
            return Ok(None);
        };
        let genuine = self.is_issued_access_token(token, owner.token_hash.as_ref());
        Ok(genuine.then_some(Target::AccessToken {
            tenant_id,
            issued_to: owner.issued_to,
            jti: owner.id,
        }))
    }

    fn find_refresh_token_owner(
        &self,
        conn: &mut DbConnection,
        token: &str,
    ) -> Result<Option<Target>, OAuthError> {
        let Some(hash) = self.hasher.hash_presented_refresh_token(token) else {
            return Ok(None);
        };
        Ok(
            RefreshToken::find_by_hash(conn, &hash)?.map(|stored| Target::RefreshToken {
                tenant_id: stored.tenant_id,
                client_id: stored.client_id,
                id: stored.id,
                family_id: stored.family_id,
            }),
        )
    }
}
