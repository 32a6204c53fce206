//! Client credentials grant (RFC 6749 §4.4): a confidential client gets a token for
//! itself (`sub` = its client id), and no refresh token (§4.4.3).

use super::resolve_scope;
use crate::db::models::client::Client;
use crate::domain::{GrantType, Scope, TokenKind};
use crate::oauth::issuance::{RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};

/// The grant a client-credentials request asks for, if the client may have it.
pub(super) fn grant(
    server: &OAuthServer,
    client: &Client,
    requested: Option<Scope>,
) -> Result<TokenGrant, OAuthError> {
    if !client.is_confidential() || !client.allows(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client());
    }
    Ok(TokenGrant {
        tenant_id: client.tenant_id,
        client_id: client.id.clone(),
        user_id: None,
        kind: TokenKind::ClientCredentials,
        scope: resolve_scope(requested, client)?,
        name: None,
        lifetime: server.lifetimes.access,
        refresh: RefreshPlan::None,
        exchange: None,
    })
}
