//! Client credentials grant (RFC 6749 §4.4): a confidential client gets a token for
//! itself (`sub` = its client id), and no refresh token (§4.4.3).

use chrono::NaiveDateTime;

use super::{issue_grant, resolve_scope};
use crate::db::models::client::Client;
use crate::domain::{GrantType, Scope, TokenKind};
use crate::oauth::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};

pub(super) fn issue(
    server: &OAuthServer,
    client: &Client,
    requested: Option<Scope>,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    if !client.is_confidential() || !client.allows(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client());
    }
    let scope = resolve_scope(requested, client)?;
    issue_grant(
        server,
        TokenGrant {
            tenant_id: client.tenant_id,
            client_id: client.id.clone(),
            user_id: None,
            kind: TokenKind::ClientCredentials,
            scope,
            name: None,
            lifetime: server.lifetimes.access,
            refresh: RefreshPlan::None,
        },
        now,
    )
}
