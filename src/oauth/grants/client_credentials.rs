//! Client credentials grant (RFC 6749 §4.4): a confidential client gets a token for
//! itself (`sub` = its client id), and no refresh token (§4.4.3).

use chrono::NaiveDateTime;

use super::{refusal_error, resolve_scope};
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
    let prepared = server.prepare_tokens(
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
    )?;
    server
        .db
        .write(move |conn| prepared.store(conn))?
        .map_err(refusal_error)
}
