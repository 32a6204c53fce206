//! Clients: what a client may be ([`ClientSpec`], parsed the same way from the admin API
//! and the CLI), creation, deletion (which revokes it and all its tokens) and secret
//! rotation.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, revocation_details, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::client::{revoke_clients, Client, NewClient};
use crate::db::models::token::{revoke_tokens, RevocationCounts};
use crate::db::DbConnection;
use crate::domain::{
    Actor, AuditAction, ClientId, GrantType, Name, PlainSecret, RevocationTarget, Scope, TenantId,
};

/// What a new client may do: parsed and checked, ready to be stored.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: Name,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    pub confidential: bool,
}

/// Why a client specification was refused (each message is safe to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidClientSpec {
    #[error("a name is 1 to 255 characters")]
    Name,
    #[error(
        "unknown grant type: the grant types are client_credentials, password and refresh_token"
    )]
    GrantType,
    /// Answered as `invalid_scope` by the admin API.
    #[error("a scope is malformed")]
    Scope,
    #[error("a client needs at least one grant type")]
    NoGrantType,
    #[error("the client_credentials grant needs a confidential client")]
    PublicClientCredentials,
}

impl ClientSpec {
    /// Parses a client specification from its parts as a caller gives them: a name, grant
    /// type names and scope tokens (the admin API's JSON arrays, the CLI's repeated or
    /// comma-separated flags, which the CLI trims), and whether the client is
    /// confidential. Which tenant may
    /// hold which scopes is checked at creation.
    pub fn parse<G, S>(
        name: &str,
        grant_types: G,
        scopes: S,
        confidential: bool,
    ) -> Result<Self, InvalidClientSpec>
    where
        G: IntoIterator,
        G::Item: AsRef<str>,
        S: IntoIterator,
        S::Item: AsRef<str>,
    {
        let grant_types: BTreeSet<GrantType> = grant_types
            .into_iter()
            .map(|grant| grant.as_ref().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| InvalidClientSpec::GrantType)?;
        let scopes = Scope::from_tokens(scopes).map_err(|_| InvalidClientSpec::Scope)?;
        let name = name.parse().map_err(|_| InvalidClientSpec::Name)?;
        if grant_types.is_empty() {
            return Err(InvalidClientSpec::NoGrantType);
        }
        if grant_types.contains(&GrantType::ClientCredentials) && !confidential {
            return Err(InvalidClientSpec::PublicClientCredentials);
        }
        Ok(Self {
            name,
            grant_types,
            scopes,
            confidential,
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
                    now,
                }
                .insert(conn)?;
                let details = serde_json::json!({
                    "name": spec.name,
                    "grant_types": spec.grant_types,
                    "scopes": spec.scopes,
                    "confidential": spec.confidential,
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
    fn a_client_spec_parses_names_grants_and_scopes_or_says_what_is_wrong() {
        let spec = ClientSpec::parse(
            " web ",
            ["password", "refresh_token"],
            ["write", "read"],
            false,
        )
        .unwrap();
        assert_eq!(spec.name.as_str(), "web");
        assert_eq!(
            spec.grant_types,
            BTreeSet::from([GrantType::Password, GrantType::RefreshToken])
        );
        assert_eq!(spec.scopes.to_string(), "read write");

        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
            bool,
            InvalidClientSpec,
        );
        let no_scopes: [&str; 0] = [];
        let cases: [Case; 6] = [
            ("", &["password"], &[], true, InvalidClientSpec::Name),
            (
                "web",
                &["implicit"],
                &[],
                true,
                InvalidClientSpec::GrantType,
            ),
            (
                "web",
                &[" password"],
                &[],
                true,
                InvalidClientSpec::GrantType,
            ),
            (
                "web",
                &["password"],
                &["a\"b"],
                true,
                InvalidClientSpec::Scope,
            ),
            ("web", &[], &[], true, InvalidClientSpec::NoGrantType),
            (
                "web",
                &["client_credentials"],
                &[],
                false,
                InvalidClientSpec::PublicClientCredentials,
            ),
        ];
        for (name, grants, scopes, confidential, expected) in cases {
            let parsed = ClientSpec::parse(
                name,
                grants,
                scopes.iter().chain(no_scopes.iter()),
                confidential,
            );
            assert_eq!(
                parsed.unwrap_err(),
                expected,
                "{name:?} {grants:?} {scopes:?}"
            );
        }
    }
}
