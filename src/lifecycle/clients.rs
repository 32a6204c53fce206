//! Clients: what a client may be ([`ClientSpec`], parsed the same way from the admin API
//! and the CLI), creation, deletion (which revokes it and all its tokens) and secret
//! rotation.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, revocation_details, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::client::{revoke_clients, Client, NewClient};
use crate::db::models::event::record_event;
use crate::db::models::token::{revoke_tokens, RevocationCounts};
use crate::db::DbConnection;
use crate::domain::{
    Actor, AuditAction, BrowserRegistration, ClientId, GrantType, Name, PlainSecret, RedirectUri,
    RevocationTarget, Scope, SecurityEvent, TenantId, REDIRECT_URI_RULE,
};

/// What a new client may do: parsed and checked, ready to be stored.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: Name,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    pub confidential: bool,
    pub browser: BrowserRegistration,
}

/// A client specification as a caller gives it (the admin API's JSON, the CLI's flags),
/// not yet parsed.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest<'a> {
    pub name: &'a str,
    pub grant_types: Vec<&'a str>,
    pub scopes: Vec<&'a str>,
    pub confidential: bool,
    pub redirect_uris: Vec<&'a str>,
    pub post_logout_redirect_uris: Vec<&'a str>,
    pub skip_consent: bool,
}

/// Why a client specification was refused (each message is safe to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidClientSpec {
    Name,
    GrantType,
    /// Answered as `invalid_scope` by the admin API.
    Scope,
    NoGrantType,
    PublicClientCredentials,
    RedirectUri,
    NoRedirectUri,
}

impl InvalidClientSpec {
    pub fn description(self) -> &'static str {
        match self {
            Self::Name => "a name is 1 to 255 characters",
            Self::GrantType => "unknown grant type: the grant types are authorization_code, client_credentials, password and refresh_token",
            Self::Scope => "a scope is malformed",
            Self::NoGrantType => "a client needs at least one grant type",
            Self::PublicClientCredentials => {
                "the client_credentials and token-exchange grants need a confidential client"
            }
            Self::RedirectUri => REDIRECT_URI_RULE,
            Self::NoRedirectUri => "the authorization_code grant needs at least one redirect URI",
        }
    }
}

impl std::fmt::Display for InvalidClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for InvalidClientSpec {}

impl ClientSpec {
    /// Parses a client specification as a caller gives it (grant types and scope tokens
    /// as separate values; the CLI trims its comma-separated flags first). Which tenant
    /// may hold which scopes is checked at creation.
    pub fn parse(request: &ClientRequest<'_>) -> Result<Self, InvalidClientSpec> {
        let grant_types: BTreeSet<GrantType> = request
            .grant_types
            .iter()
            .map(|grant| grant.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| InvalidClientSpec::GrantType)?;
        let scopes = Scope::from_tokens(&request.scopes).map_err(|_| InvalidClientSpec::Scope)?;
        let name = request.name.parse().map_err(|_| InvalidClientSpec::Name)?;
        let uris = |values: &[&str]| {
            values
                .iter()
                .map(|uri| uri.parse::<RedirectUri>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| InvalidClientSpec::RedirectUri)
        };
        let browser = BrowserRegistration {
            redirect_uris: uris(&request.redirect_uris)?,
            post_logout_redirect_uris: uris(&request.post_logout_redirect_uris)?,
            skip_consent: request.skip_consent,
        };
        if grant_types.is_empty() {
            return Err(InvalidClientSpec::NoGrantType);
        }
        if grant_types
            .iter()
            .any(|grant| grant.needs_confidential_client())
            && !request.confidential
        {
            return Err(InvalidClientSpec::PublicClientCredentials);
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && browser.redirect_uris.is_empty() {
            return Err(InvalidClientSpec::NoRedirectUri);
        }
        Ok(Self {
            name,
            grant_types,
            scopes,
            confidential: request.confidential,
            browser,
        })
    }
}

impl Lifecycle {
    /// Creates a client in the tenant. Returns it with its secret (for a confidential
    /// client), which is shown this once and stored only as a keyed hash. Its scopes must be
    /// ones the tenant's tokens may carry (`Scope::refusal_in`).
    pub async fn create_client(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        spec: ClientSpec,
        now: NaiveDateTime,
    ) -> Result<(Client, Option<PlainSecret>), LifecycleError> {
        if let Some(refusal) = spec.scopes.refusal_in(tenant_id) {
            return Err(LifecycleError::Invalid(refusal.description()));
        }
        let id = ClientId::generate();
        let secret = spec.confidential.then(PlainSecret::generate);
        let secret_hash = secret
            .as_ref()
            .map(|secret| self.hasher.hash_client_secret(&id, secret));
        let client = self
            .db
            .write_async(move |conn| {
                lock_live_tenant(conn, tenant_id, TenantLock::Within)?;
                NewClient {
                    id: &id,
                    tenant_id,
                    name: spec.name.as_str(),
                    secret_hash: secret_hash.as_ref(),
                    grant_types: &spec.grant_types,
                    scopes: &spec.scopes,
                    personal_access: false,
                    browser: &spec.browser,
                    now,
                }
                .insert(conn)?;
                let details = serde_json::json!({
                    "name": spec.name,
                    "grant_types": spec.grant_types,
                    "scopes": spec.scopes,
                    "confidential": spec.confidential,
                    "redirect_uris": spec.browser.redirect_uris,
                });
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::ClientCreate,
                    Some(id.as_str()),
                    Some(details),
                    now,
                )?;
                Client::find_in_tenant(conn, tenant_id, &id)?
                    .ok_or(LifecycleError::NotFound("no such client"))
            })
            .await?;
        Ok((client, secret))
    }

    /// The tenant's clients in creation order (any state).
    pub async fn list_clients(&self, tenant_id: TenantId) -> Result<Vec<Client>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| Client::list(conn, tenant_id))
            .await?)
    }

    /// The client with this id **in this tenant**: another tenant's client is not found.
    pub async fn find_client(
        &self,
        tenant_id: TenantId,
        id: ClientId,
    ) -> Result<Option<Client>, LifecycleError> {
        Ok(self
            .db
            .read_async(move |conn| Client::find_in_tenant(conn, tenant_id, &id))
            .await?)
    }

    /// Deletes (revokes) a client and every token it holds, in one transaction. Its row
    /// stays for the audit trail. The tenant's personal-access client cannot be deleted.
    pub async fn delete_client(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        client_id: ClientId,
        now: NaiveDateTime,
    ) -> Result<RevocationCounts, LifecycleError> {
        self.db
            .write_async(move |conn| {
                let client = live_client(conn, tenant_id, &client_id)?;
                if client.personal_access {
                    return Err(LifecycleError::Invalid(
                        "the personal-access client cannot be deleted",
                    ));
                }
                revoke_clients(conn, tenant_id, Some(&client_id), now)?;
                let counts = revoke_tokens(
                    conn,
                    tenant_id,
                    &RevocationTarget::Client(client_id.clone()),
                    now,
                )?;
                let event = SecurityEvent::ClientRevoked(client_id.clone());
                record_event(conn, tenant_id, &event, now)?;
                let details = revocation_details(counts);
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::ClientDelete,
                    Some(client_id.as_str()),
                    Some(details),
                    now,
                )?;
                Ok(counts)
            })
            .await
    }

    /// Gives a confidential client a new secret, returned this once; the old one stops
    /// working at once. Tokens already issued are not affected.
    pub async fn rotate_client_secret(
        &self,
        actor: Actor,
        tenant_id: TenantId,
        client_id: ClientId,
        now: NaiveDateTime,
    ) -> Result<PlainSecret, LifecycleError> {
        let secret = PlainSecret::generate();
        let secret_hash = self.hasher.hash_client_secret(&client_id, &secret);
        self.db
            .write_async(move |conn| {
                let client = live_client(conn, tenant_id, &client_id)?;
                if !client.is_confidential() {
                    return Err(LifecycleError::Invalid("a public client has no secret"));
                }
                Client::set_secret_hash(conn, tenant_id, &client_id, &secret_hash, now)?;
                audit(
                    conn,
                    tenant_id,
                    &actor,
                    AuditAction::ClientSecretRotate,
                    Some(client_id.as_str()),
                    None,
                    now,
                )?;
                Ok(())
            })
            .await?;
        Ok(secret)
    }
}

/// The tenant's client, unless the tenant is not live, or the client is unknown in this
/// tenant or already revoked.
fn live_client(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    client_id: &ClientId,
) -> Result<Client, LifecycleError> {
    lock_live_tenant(conn, tenant_id, TenantLock::Within)?;
    match Client::find_in_tenant(conn, tenant_id, client_id)? {
        Some(client) if client.revoked_at.is_none() => Ok(client),
        _ => Err(LifecycleError::NotFound("no such client")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_spec_parses_names_grants_scopes_and_redirects_or_says_what_is_wrong() {
        let spec = ClientSpec::parse(&ClientRequest {
            name: " web ",
            grant_types: vec!["password", "refresh_token", "authorization_code"],
            scopes: vec!["write", "read"],
            redirect_uris: vec!["https://app.example/cb", "http://127.0.0.1/cb"],
            ..ClientRequest::default()
        })
        .unwrap();
        assert_eq!(spec.name.as_str(), "web");
        assert_eq!(
            spec.grant_types,
            BTreeSet::from([
                GrantType::Password,
                GrantType::RefreshToken,
                GrantType::AuthorizationCode
            ])
        );
        assert_eq!(spec.scopes.to_string(), "read write");
        assert_eq!(spec.browser.redirect_uris.len(), 2);

        let valid = ClientRequest {
            name: "web",
            grant_types: vec!["password"],
            confidential: true,
            ..ClientRequest::default()
        };
        let cases: [(ClientRequest, InvalidClientSpec); 9] = [
            (
                ClientRequest {
                    name: "",
                    ..valid.clone()
                },
                InvalidClientSpec::Name,
            ),
            (
                ClientRequest {
                    grant_types: vec!["implicit"],
                    ..valid.clone()
                },
                InvalidClientSpec::GrantType,
            ),
            (
                ClientRequest {
                    grant_types: vec![" password"],
                    ..valid.clone()
                },
                InvalidClientSpec::GrantType,
            ),
            (
                ClientRequest {
                    scopes: vec!["a\"b"],
                    ..valid.clone()
                },
                InvalidClientSpec::Scope,
            ),
            (
                ClientRequest {
                    grant_types: vec![],
                    ..valid.clone()
                },
                InvalidClientSpec::NoGrantType,
            ),
            (
                ClientRequest {
                    grant_types: vec!["client_credentials"],
                    confidential: false,
                    ..valid.clone()
                },
                InvalidClientSpec::PublicClientCredentials,
            ),
            (
                ClientRequest {
                    grant_types: vec!["authorization_code"],
                    ..valid.clone()
                },
                InvalidClientSpec::NoRedirectUri,
            ),
            (
                ClientRequest {
                    redirect_uris: vec!["http://app.example/cb"],
                    ..valid.clone()
                },
                InvalidClientSpec::RedirectUri,
            ),
            (
                ClientRequest {
                    post_logout_redirect_uris: vec!["https://x/#f"],
                    ..valid.clone()
                },
                InvalidClientSpec::RedirectUri,
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(
                ClientSpec::parse(&request).unwrap_err(),
                expected,
                "{request:?}"
            );
        }
    }
}
