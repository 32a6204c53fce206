//! Personal access tokens: long-lived tokens a user creates for themself with a token they
//! already hold, issued through their tenant's personal-access client. No refresh token.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::bearer::ActiveToken;
use super::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use super::{ErrorCode, OAuthServer};
use crate::db::models::client::Client;
use crate::db::models::event::revoke_and_report;
use crate::db::models::token::AccessTokenSummary;
use crate::db::DbError;
use crate::domain::{Name, Refusal, RevocationTarget, Scope, TokenId, TokenKind};

/// Why a personal access token request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PersonalTokenError {
    #[error("only a user's token can manage personal access tokens")]
    NotAUser,
    #[error("the name must be 1 to 255 characters")]
    InvalidName,
    #[error("the scopes exceed the caller's token")]
    ScopeTooWide,
    /// A scope no token of the tenant may carry (`Scope::refusal_in`).
    #[error("{0}")]
    ScopeRefused(&'static str),
    #[error("the tenant, its personal-access client or the user is not active")]
    Inactive,
    #[error("no such personal access token")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("token signing failed")]
    Signing,
}

impl OAuthServer {
    /// Creates a personal access token for the caller's user, with at most the caller's
    /// scopes. One write, as the client credentials grant: the tenant's personal-access
    /// client read, the token signed and stored in one piece of work on the writer
    /// (`write_single_statement_async`: one writing statement on PostgreSQL).
    pub async fn create_personal_token(
        self: &Arc<Self>,
        caller: ActiveToken,
        name: String,
        scope: Scope,
        now: NaiveDateTime,
    ) -> Result<IssuedTokens, PersonalTokenError> {
        let user_id = caller.user_id.ok_or(PersonalTokenError::NotAUser)?;
        // A token from token exchange derives nothing longer-lived than itself (no chains).
        if !caller.kind.may_be_exchanged() {
            return Err(PersonalTokenError::NotAUser);
        }
        let name: Name = name.parse().map_err(|_| PersonalTokenError::InvalidName)?;
        if !scope.is_subset_of(&caller.scope) {
            return Err(PersonalTokenError::ScopeTooWide);
        }
        let server = Arc::clone(self);
        let tenant_id = caller.tenant_id;
        let issued = self
            .db
            .write_single_statement_async(move |conn| {
                let client = Client::find_personal_access(conn, tenant_id)?
                    .ok_or(PersonalTokenError::Inactive)?;
                let grant = TokenGrant {
                    tenant_id,
                    client_id: client.id,
                    user_id: Some(user_id),
                    kind: TokenKind::Personal,
                    scope,
                    name: Some(name.to_string()),
                    lifetime: server.lifetimes.personal,
                    refresh: RefreshPlan::None,
                    exchange: None,
                };
                let prepared =
                    server
                        .prepare_tokens(grant, now)
                        .map_err(|error| match error.code {
                            ErrorCode::InvalidScope => {
                                PersonalTokenError::ScopeRefused(error.description)
                            }
                            _ => PersonalTokenError::Signing,
                        })?;
                prepared
                    .store(conn)?
                    .map_err(|_: Refusal| PersonalTokenError::Inactive)
            })
            .await?;
        issued.log();
        Ok(issued)
    }

    /// The caller's personal access tokens, newest first.
    pub async fn list_personal_tokens(
        &self,
        caller: &ActiveToken,
    ) -> Result<Vec<AccessTokenSummary>, PersonalTokenError> {
        let user_id = caller.user_id.ok_or(PersonalTokenError::NotAUser)?;
        let tenant_id = caller.tenant_id;
        Ok(self
            .db
            .read_async(move |conn| AccessTokenSummary::list_personal(conn, tenant_id, user_id))
            .await?)
    }

    /// Revokes one of the caller's personal access tokens; anyone else's is "not found".
    pub async fn revoke_personal_token(
        &self,
        caller: &ActiveToken,
        id: TokenId,
        now: NaiveDateTime,
    ) -> Result<(), PersonalTokenError> {
        let user_id = caller.user_id.ok_or(PersonalTokenError::NotAUser)?;
        let tenant_id = caller.tenant_id;
        let token_id = id.clone();
        let revoked = self
            .db
            .write_async(move |conn| {
                // Revoking one's own already-revoked token succeeds and changes nothing.
                if !AccessTokenSummary::is_personal_token_of(conn, tenant_id, user_id, &token_id)? {
                    return Ok(false);
                }
                revoke_and_report(
                    conn,
                    tenant_id,
                    &RevocationTarget::AccessToken(token_id),
                    now,
                )?;
                Ok::<_, DbError>(true)
            })
            .await?;
        if !revoked {
            return Err(PersonalTokenError::NotFound);
        }
        log::info!(target: "tenauth::tokens", "revoked personal token jti={id} tenant={} user={user_id}", caller.tenant_id);
        Ok(())
    }
}
