//! The token endpoint's grants (RFC 6749 §4.1, §4.3, §4.4, §6; RFC 8693), one file each,
//! behind one entry point, [`OAuthServer::exchange`].

mod authorization_code;
mod client_credentials;
pub(crate) mod password;
mod refresh_token;
pub mod token_exchange;

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::client_auth::PresentedCredentials;
use super::form::Form;
use super::issuance::{IssuedTokens, TokenGrant};
use super::{OAuthError, OAuthServer};
use crate::db::blocking;
use crate::db::models::client::Client;
use crate::domain::{GrantType, Refusal, Scope};
use token_exchange::{ExchangeRequest, ACCESS_TOKEN_TYPE};

/// A token request, parsed by `grant_type` (kanidm's shape): each variant holds exactly
/// what its grant needs.
#[derive(Debug)]
pub enum TokenRequest {
    ClientCredentials {
        scope: Option<Scope>,
    },
    Password {
        username: String,
        password: String,
        scope: Option<Scope>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<Scope>,
    },
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    TokenExchange(ExchangeRequest),
}

impl TokenRequest {
    /// The `grant_type` this request was made with.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::Password { .. } => GrantType::Password,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::TokenExchange(_) => GrantType::TokenExchange,
        }
    }

    /// Reads the grant's parameters; unknown parameters are ignored (RFC 6749 §3.2).
    pub fn parse(form: &mut Form) -> Result<Self, OAuthError> {
        let grant_type = form
            .get("grant_type")
            .ok_or(OAuthError::invalid_request("grant_type is missing"))?;
        let grant_type: GrantType = grant_type.parse().map_err(|_| {
            OAuthError::new(
                super::ErrorCode::UnsupportedGrantType,
                "the grant type is not supported",
            )
        })?;
        let scope = form
            .get("scope")
            .map(str::parse)
            .transpose()
            .map_err(|_| OAuthError::invalid_scope("the scope is malformed"))?;
        let mut required = |name: &'static str, missing: &'static str| {
            form.take(name).ok_or(OAuthError::invalid_request(missing))
        };
        Ok(match grant_type {
            GrantType::ClientCredentials => Self::ClientCredentials { scope },
            GrantType::Password => Self::Password {
                username: required("username", "username is missing")?,
                password: required("password", "password is missing")?,
                scope,
            },
            GrantType::RefreshToken => Self::RefreshToken {
                refresh_token: required("refresh_token", "refresh_token is missing")?,
                scope,
            },
            GrantType::AuthorizationCode => Self::AuthorizationCode {
                code: required("code", "code is missing")?,
                redirect_uri: form.take("redirect_uri"),
                code_verifier: form.take("code_verifier"),
            },
            GrantType::TokenExchange => Self::TokenExchange(Self::parse_exchange(form, scope)?),
        })
    }

    /// RFC 8693 §2.1's parameters: a subject token that is an access token, no actor token
    /// (the authenticated client is the actor), an access token asked for if anything, and
    /// one `audience`, which decides the use; `resource` is not supported (§2.2.2:
    /// `invalid_target`).
    fn parse_exchange(
        form: &mut Form,
        scope: Option<Scope>,
    ) -> Result<ExchangeRequest, OAuthError> {
        let subject_token = form
            .take("subject_token")
            .ok_or(OAuthError::invalid_request("subject_token is missing"))?;
        match form.get("subject_token_type") {
            None => return Err(OAuthError::invalid_request("subject_token_type is missing")),
            Some(ACCESS_TOKEN_TYPE) => {}
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "only access tokens can be exchanged (subject_token_type)",
                ))
            }
        }
        if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
            return Err(OAuthError::invalid_request(
                "actor_token is not supported: the authenticated client is the actor",
            ));
        }
        if form
            .get("requested_token_type")
            .is_some_and(|requested| requested != ACCESS_TOKEN_TYPE)
        {
            return Err(OAuthError::invalid_request(
                "only access tokens can be issued (requested_token_type)",
            ));
        }
        if form.get("resource").is_some() {
            return Err(OAuthError::invalid_target(
                "resource is not supported; name the audience",
            ));
        }
        let audience = form
            .get("audience")
            .ok_or(OAuthError::invalid_request("audience is missing"))?
            .parse()
            .map_err(|_| {
                OAuthError::invalid_target(
                    "the audience must be urn:tenauth:tenant:<id> or a client id",
                )
            })?;
        Ok(ExchangeRequest {
            subject_token,
            audience,
            scope,
        })
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// Token exchange only (RFC 8693 §2.2.1): `urn:ietf:params:oauth:token-type:access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(issued: IssuedTokens) -> Self {
        issued.log();
        Self {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token.map(|token| token.expose().to_owned()),
            scope: issued.scope.to_string(),
            issued_token_type: (issued.kind == crate::domain::TokenKind::Exchanged)
                .then_some(ACCESS_TOKEN_TYPE),
        }
    }
}

impl OAuthServer {
    /// `POST /oauth/token` (RFC 6749 §3.2): authenticates the client, then runs its grant,
    /// on the blocking pool (database writes, and Argon2 for the password grant).
    ///
    /// The client credentials grant is one database write with nothing slow before it, so
    /// it runs as that write: the client is authenticated, the token signed and stored in
    /// one piece of work on the writer (SQLite's writer thread, a pooled connection on
    /// PostgreSQL), two thread hand-offs in all instead of four (BENCHMARKS.md, seventh
    /// session). A refresh-token rotation is one write too. The password grant (Argon2)
    /// and the authorization code grant still take the blocking pool.
    pub async fn exchange(
        self: &Arc<Self>,
        credentials: PresentedCredentials,
        request: TokenRequest,
        now: NaiveDateTime,
    ) -> Result<TokenResponse, OAuthError> {
        let server = Arc::clone(self);
        let via_basic = credentials.via_basic;
        let issued = match request {
            TokenRequest::ClientCredentials { scope } => {
                self.db
                    .write_single_statement_async(move |conn| {
                        let client = server.authenticate_caller(conn, &credentials)?.client;
                        let grant = client_credentials::grant(&server, &client, scope)?;
                        issue_grant_on(&server, conn, grant, now)
                    })
                    .await
            }
            // A rotation is one write too: the lookup of the presented token included.
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => self
                .db
                .write_single_statement_async(move |conn| {
                    let client = server.authenticate_caller(conn, &credentials)?.client;
                    refresh_token::rotate(&server, conn, &client, &refresh_token, scope, now)
                })
                .await
                .and_then(refresh_token::finish),
            TokenRequest::Password {
                username,
                password,
                scope,
            } => {
                blocking(move || {
                    let client = server.authenticated_client(&credentials)?;
                    password::issue(&server, &client, &username, password, scope, now)
                })
                .await
            }
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                blocking(move || {
                    let client = server.authenticated_client(&credentials)?;
                    let presented = authorization_code::Presented {
                        code: &code,
                        redirect_uri: redirect_uri.as_deref(),
                        code_verifier: code_verifier.as_deref(),
                    };
                    authorization_code::redeem(&server, &client, presented, now)
                })
                .await
            }
            // Checks, the insert and the two audit events in one write transaction.
            TokenRequest::TokenExchange(request) => {
                self.db
                    .write_async(move |conn| {
                        let client = server.authenticate_caller(conn, &credentials)?.client;
                        token_exchange::exchange(&server, conn, &client, request, now)
                    })
                    .await
            }
        };
        issued
            .map(TokenResponse::from)
            .map_err(|error| error.with_basic_challenge(via_basic))
    }

    /// The authenticated client, read on the calling (blocking) thread.
    fn authenticated_client(
        &self,
        credentials: &PresentedCredentials,
    ) -> Result<Client, OAuthError> {
        Ok(self
            .db
            .read(|conn| self.authenticate_caller(conn, credentials))?
            .client)
    }
}

/// The scope a new grant gets (RFC 6749 §3.3): what was asked for, which must lie within
/// the client's allowed scopes, or by default all of those its tenant's tokens may carry.
/// Issuance checks the result again (`Scope::refusal_in`), whatever the grant.
pub(crate) fn resolve_scope(
    requested: Option<Scope>,
    client: &Client,
) -> Result<Scope, OAuthError> {
    match requested {
        Some(requested) if !requested.is_subset_of(&client.scopes) => Err(
            OAuthError::invalid_scope("the requested scope exceeds what the client may have"),
        ),
        Some(requested) => Ok(requested),
        None => Ok(client.scopes.grantable_in(client.tenant_id)),
    }
}

/// Signs the grant's tokens, then stores them atomically with a re-check of the tenant,
/// the client and the user (on PostgreSQL one statement: no transaction around it).
fn issue_grant(
    server: &OAuthServer,
    grant: TokenGrant,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    let prepared = server.prepare_tokens(grant, now)?;
    server
        .db
        .write_single_statement(move |conn| prepared.store(conn))?
        .map_err(refusal_error)
}

/// [`issue_grant`] inside a write the caller runs: signs, then stores on `conn`.
fn issue_grant_on(
    server: &OAuthServer,
    conn: &mut crate::db::DbConnection,
    grant: TokenGrant,
    now: NaiveDateTime,
) -> Result<IssuedTokens, OAuthError> {
    server
        .prepare_tokens(grant, now)?
        .store(conn)?
        .map_err(refusal_error)
}

/// The OAuth error for a refusal by the issuing transaction: the standing changed between
/// authentication and the write. A tenant or client that no longer stands is the client's
/// failure to authenticate; a user that no longer stands invalidates the grant. Neither
/// says why.
fn refusal_error(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::TenantInactive | Refusal::ClientInactive => OAuthError::invalid_client(),
        Refusal::UserInactive
        | Refusal::SubjectTokenInactive
        | Refusal::ActorInactive
        | Refusal::PlatformAccessRefused => OAuthError::invalid_grant("the grant is invalid"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::{ClientId, TenantId};
    use crate::oauth::ErrorCode;

    fn client(tenant_id: TenantId, scopes: &str) -> Client {
        Client {
            id: ClientId::generate(),
            tenant_id,
            name: "client".into(),
            secret_hash: None,
            grant_types: BTreeSet::from([GrantType::ClientCredentials]),
            scopes: scopes.parse().unwrap(),
            personal_access: false,
            revoked_at: None,
            created_at: crate::domain::now(),
            updated_at: crate::domain::now(),
            browser: Default::default(),
        }
    }

    #[test]
    fn a_grant_gets_what_it_asks_for_within_the_clients_scopes_or_by_default_all_of_them() {
        let tenant = client(TenantId::new(2), "read write");
        let platform = client(TenantId::PLATFORM, "admin read");
        // A tenant client that holds a platform or reserved scope (old data) never gets it
        // by default; asking for it is refused at issuance (`TokenGrant::check_scopes`).
        let legacy = client(TenantId::new(2), "admin platform:x ADMIN * read");
        let cases: [(&Client, Option<&str>, Result<&str, ErrorCode>); 8] = [
            (&tenant, None, Ok("read write")),
            (&tenant, Some("read"), Ok("read")),
            (&tenant, Some("write read"), Ok("read write")),
            (&tenant, Some("delete"), Err(ErrorCode::InvalidScope)),
            (&platform, None, Ok("admin read")),
            (&platform, Some("admin"), Ok("admin")),
            (&legacy, None, Ok("read")),
            (&legacy, Some("nope"), Err(ErrorCode::InvalidScope)),
        ];
        for (client, requested, expected) in cases {
            let requested = requested.map(|scope| scope.parse().unwrap());
            let resolved = resolve_scope(requested, client)
                .map(|scope| scope.to_string())
                .map_err(|error| error.code);
            assert_eq!(
                resolved,
                expected.map(str::to_owned),
                "{} asking {:?}",
                client.scopes,
                expected
            );
        }
    }

    #[test]
    fn a_refusal_by_the_issuing_transaction_is_the_clients_or_the_grants() {
        assert_eq!(
            refusal_error(Refusal::TenantInactive).code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            refusal_error(Refusal::ClientInactive).code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            refusal_error(Refusal::UserInactive).code,
            ErrorCode::InvalidGrant
        );
    }
}
