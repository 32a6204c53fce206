//! Resource owner password credentials grant (RFC 6749 §4.3). Legacy: OAuth 2.1 and
//! RFC 9700 §2.4 say not to use it, so no client has it unless an admin grants it.
//!
//! The user is looked up in the client's tenant only. An unknown user, a wrong password,
//! a disabled user and a user of another tenant all get the one `invalid_grant`, after
//! the same Argon2 work (a dummy hash stands in for a missing user).

use chrono::NaiveDateTime;

use super::{issue_grant, resolve_scope};
use crate::db::models::client::Client;
use crate::db::models::user::User;
use crate::domain::{GrantType, Password, Scope, TokenKind, Username};
use crate::oauth::issuance::{IssuedTokens, RefreshPlan, TokenGrant};
use crate::oauth::{OAuthError, OAuthServer};
use crate::secrets::verify_password;

const BAD_CREDENTIALS: &str = "the resource owner credentials are invalid";

/// Checks a user's username and password in the client's tenant, under the failed-login
/// throttle (per tenant and username, and per client): the password grant's check, and
/// the sign-in page's. Every failure is the one `invalid_grant` after the same work (or
/// 429 while throttled). Runs Argon2: call it on a blocking thread.
pub(crate) fn check_credentials(
    server: &OAuthServer,
    client: &Client,
    username: &str,
    password: String,
) -> Result<User, OAuthError> {
    let username = username
        .parse::<Username>()
        .map_err(|_| OAuthError::invalid_grant(BAD_CREDENTIALS))?;
    // Before any password is checked: a throttled user or client costs no Argon2 work.
    server
        .limits
        .admit_login(client.tenant_id, &username, &client.id)?;
    // The attempt already counts as a failure; only a success takes it back.
    let failed = || OAuthError::invalid_grant(BAD_CREDENTIALS);
    let password = Password::attempt(password).ok_or_else(failed)?;
    let user = server
        .db
        .read(|conn| User::find_by_username(conn, client.tenant_id, &username))?;
    let password_matches = verify_password(
        &password,
        user.as_ref().map(|user| user.password_hash.as_str()),
    );
    let user = match user {
        Some(user) if password_matches && !user.disabled => user,
        _ => {
            log::info!(target: "tenauth::security", "sign-in refused for client {}: unknown user, wrong password or disabled user", client.id);
            return Err(failed());
        }
    };
    server
        .limits
        .login_succeeded(client.tenant_id, &username, &client.id);
    Ok(user)
}

pub(super) fn issue(
    server: &OAuthServer,
    client: &Client,
    username: &str,
    password: String,
    requested: Option<Scope>,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    if !client.allows(GrantType::Password) {
        return Err(OAuthError::unauthorized_client());
    }
    let scope = resolve_scope(requested, client)?;
    let user = check_credentials(server, client, username, password)?;
    let refresh = if client.allows(GrantType::RefreshToken) {
        RefreshPlan::NewFamily {
            scope: scope.clone(),
        }
    } else {
        RefreshPlan::None
    };
    issue_grant(
        server,
        TokenGrant {
            tenant_id: client.tenant_id,
            client_id: client.id.clone(),
            user_id: Some(user.id),
            kind: TokenKind::Password,
            scope,
            name: None,
            lifetime: server.lifetimes.access,
            refresh,
            exchange: None,
        },
        now,
    )
}
