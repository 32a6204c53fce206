//! Creating tenants, clients and users: the rules they must follow and the rows they
//! become. Used by the CLI now, and by the admin API. Each creation writes its audit event
//! in the same transaction.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;

use crate::db::models::audit::NewAuditEvent;
use crate::db::models::client::{revoke_clients, Client, NewClient};
use crate::db::models::tenant::{NewTenant, Tenant};
use crate::db::models::token::{revoke_tokens, Revocation, RevocationCounts};
use crate::db::models::user::{NewUser, User};
use crate::db::{Database, DbError};
use crate::domain::{
    ClientId, GrantType, Password, PlainSecret, Scope, TenantId, TenantStatus, Username,
};
use crate::oauth::secrets::{hash_password, SecretHasher};

/// Why something could not be created. The messages are safe to show to the caller.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// `lowercase letters, digits and '-', 3 to 63 characters`.
pub fn validate_slug(slug: &str) -> Result<(), ProvisioningError> {
    let valid = (3..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ProvisioningError::Invalid(
            "a slug is 3 to 63 lowercase letters, digits or '-'",
        ))
    }
}

fn validate_name(name: &str) -> Result<(), ProvisioningError> {
    let length = name.trim().chars().count();
    if (1..=255).contains(&length) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ProvisioningError::Invalid("a name is 1 to 255 characters"))
    }
}

/// Creates an active tenant and its personal-access client.
pub fn create_tenant(
    db: &Database,
    actor: &str,
    slug: &str,
    name: &str,
    now: NaiveDateTime,
) -> Result<Tenant, ProvisioningError> {
    validate_slug(slug)?;
    validate_name(name)?;
    let (actor, slug, name) = (actor.to_owned(), slug.to_owned(), name.trim().to_owned());
    db.write(move |conn| {
        let tenant_id = NewTenant {
            slug: &slug,
            name: &name,
            now,
        }
        .insert(conn)
        .map_err(|error| {
            if error.is_unique_violation() {
                ProvisioningError::Conflict("a tenant with this slug exists")
            } else {
                error.into()
            }
        })?;
        NewClient {
            id: &ClientId::generate(),
            tenant_id,
            name: "Personal Access Client",
            secret_hash: None,
            grant_types: &BTreeSet::new(),
            scopes: &Scope::default(),
            personal_access: true,
            now,
        }
        .insert(conn)?;
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "tenant.create",
            subject: Some(&tenant_id.to_string()),
            details: Some(serde_json::json!({ "slug": slug })),
            created_at: now,
        }
        .insert(conn)?;
        Tenant::find(conn, tenant_id)?.ok_or(ProvisioningError::NotFound("tenant vanished"))
    })
}

/// What a new client may do.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    pub confidential: bool,
}

/// Creates a client in the tenant. Returns it with its secret (for a confidential
/// client), which is shown this once and stored only as a keyed hash.
pub fn create_client(
    db: &Database,
    hasher: &SecretHasher,
    actor: &str,
    tenant_id: TenantId,
    spec: &ClientSpec,
    now: NaiveDateTime,
) -> Result<(Client, Option<PlainSecret>), ProvisioningError> {
    validate_name(&spec.name)?;
    if spec.grant_types.is_empty() {
        return Err(ProvisioningError::Invalid(
            "a client needs at least one grant type",
        ));
    }
    if spec.grant_types.contains(&GrantType::ClientCredentials) && !spec.confidential {
        return Err(ProvisioningError::Invalid(
            "the client_credentials grant needs a confidential client",
        ));
    }
    if !tenant_id.is_platform() && spec.scopes.has_platform_scope() {
        return Err(ProvisioningError::Invalid(
            "platform scopes belong to the platform tenant only",
        ));
    }
    let id = ClientId::generate();
    let secret = spec.confidential.then(PlainSecret::generate);
    let secret_hash = secret
        .as_ref()
        .map(|secret| hasher.hash_client_secret(id.as_str(), secret));
    let (actor, spec) = (actor.to_owned(), spec.clone());
    let client = db.write(move |conn| {
        require_live_tenant(conn, tenant_id)?;
        NewClient {
            id: &id,
            tenant_id,
            name: spec.name.trim(),
            secret_hash: secret_hash.as_deref(),
            grant_types: &spec.grant_types,
            scopes: &spec.scopes,
            personal_access: false,
            now,
        }
        .insert(conn)?;
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "client.create",
            subject: Some(id.as_str()),
            details: Some(serde_json::json!({
                "name": spec.name.trim(),
                "grant_types": spec.grant_types,
                "scopes": spec.scopes,
                "confidential": spec.confidential,
            })),
            created_at: now,
        }
        .insert(conn)?;
        Ok::<_, ProvisioningError>(
            Client::find_with_tenant(conn, &id)?
                .ok_or(ProvisioningError::NotFound("client vanished"))?
                .client,
        )
    })?;
    Ok((client, secret))
}

/// A created user, as shown to its creator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedUser {
    pub id: i64,
    pub username: String,
    pub tenant_id: TenantId,
}

/// Creates a user in the tenant. The password is hashed (Argon2id) before the
/// transaction, so the writer is not held during the slow part.
pub fn create_user(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    username: &str,
    password: String,
    now: NaiveDateTime,
) -> Result<CreatedUser, ProvisioningError> {
    let username: Username = username.parse().map_err(|_| {
        ProvisioningError::Invalid("a username is 1 to 128 characters, without spaces")
    })?;
    let password = Password::new(password)
        .map_err(|_| ProvisioningError::Invalid("a password is 8 to 1024 characters"))?;
    let password_hash = hash_password(&password);
    let actor = actor.to_owned();
    db.write(move |conn| {
        require_live_tenant(conn, tenant_id)?;
        let id = NewUser {
            tenant_id,
            username: &username,
            password_hash: &password_hash,
            now,
        }
        .insert(conn)
        .map_err(|error| {
            if error.is_unique_violation() {
                ProvisioningError::Conflict("a user with this username exists in the tenant")
            } else {
                error.into()
            }
        })?;
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "user.create",
            subject: Some(&id.to_string()),
            details: Some(serde_json::json!({ "username": username })),
            created_at: now,
        }
        .insert(conn)?;
        Ok(CreatedUser {
            id,
            username: username.to_string(),
            tenant_id,
        })
    })
}

fn require_live_tenant(
    conn: &mut crate::db::DbConnection,
    tenant_id: TenantId,
) -> Result<(), ProvisioningError> {
    match Tenant::find(conn, tenant_id)? {
        Some(tenant) if tenant.status != TenantStatus::Deleted => Ok(()),
        _ => Err(ProvisioningError::NotFound("no such tenant")),
    }
}

/// Deletes (revokes) a client and every token it holds, in one transaction. Its row
/// stays for the audit trail. The tenant's personal-access client cannot be deleted.
pub fn delete_client(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    client_id: &str,
    now: NaiveDateTime,
) -> Result<RevocationCounts, ProvisioningError> {
    let (actor, client_id) = (actor.to_owned(), client_id.to_owned());
    db.write(move |conn| {
        let client = live_client(conn, tenant_id, &client_id)?;
        if client.personal_access {
            return Err(ProvisioningError::Invalid(
                "the personal-access client cannot be deleted",
            ));
        }
        revoke_clients(conn, tenant_id, Some(&client_id), now)?;
        let counts = revoke_tokens(conn, tenant_id, Revocation::Client(&client_id), now)?;
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "client.delete",
            subject: Some(&client_id),
            details: Some(serde_json::json!({
                "revoked_access_tokens": counts.access_tokens,
                "revoked_refresh_tokens": counts.refresh_tokens,
            })),
            created_at: now,
        }
        .insert(conn)?;
        Ok(counts)
    })
}

/// Gives a confidential client a new secret, returned this once; the old one stops
/// working at once. Tokens already issued are not affected.
pub fn rotate_client_secret(
    db: &Database,
    hasher: &SecretHasher,
    actor: &str,
    tenant_id: TenantId,
    client_id: &str,
    now: NaiveDateTime,
) -> Result<PlainSecret, ProvisioningError> {
    let secret = PlainSecret::generate();
    let secret_hash = hasher.hash_client_secret(client_id, &secret);
    let (actor, client_id) = (actor.to_owned(), client_id.to_owned());
    db.write(move |conn| {
        let client = live_client(conn, tenant_id, &client_id)?;
        if !client.is_confidential() {
            return Err(ProvisioningError::Invalid("a public client has no secret"));
        }
        Client::set_secret_hash(conn, tenant_id, &client_id, &secret_hash, now)?;
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "client.secret.rotate",
            subject: Some(&client_id),
            details: None,
            created_at: now,
        }
        .insert(conn)?;
        Ok(())
    })?;
    Ok(secret)
}

/// Revokes the tenant's tokens — all, or a client's, or a user's — in one transaction.
pub fn revoke_tenant_tokens(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    filter: TokenFilter,
    now: NaiveDateTime,
) -> Result<RevocationCounts, ProvisioningError> {
    let actor = actor.to_owned();
    db.write(move |conn| {
        // Lock what issuance reads `FOR SHARE` until it commits, so that this orders after
        // every issuance in flight (on PostgreSQL the UPDATEs below would otherwise miss a
        // token committed after they took their snapshot): the tenant's row for all its
        // tokens, only the client's or the user's row for theirs, so that revoking one
        // user's tokens does not hold up the whole tenant.
        match Tenant::find(conn, tenant_id)? {
            Some(tenant) if tenant.status != TenantStatus::Deleted => {}
            _ => return Err(ProvisioningError::NotFound("no such tenant")),
        }
        match &filter {
            TokenFilter::All => {
                Tenant::lock_for_update(conn, tenant_id)?;
            }
            TokenFilter::Client(client_id) => {
                Client::lock_row(conn, tenant_id, client_id)?;
            }
            TokenFilter::User(user_id) => {
                User::lock_row(conn, tenant_id, *user_id)?;
            }
        }
        let counts = match &filter {
            TokenFilter::All => revoke_tokens(conn, tenant_id, Revocation::Tenant, now)?,
            TokenFilter::Client(client_id) => {
                revoke_tokens(conn, tenant_id, Revocation::Client(client_id), now)?
            }
            TokenFilter::User(user_id) => {
                revoke_tokens(conn, tenant_id, Revocation::User(*user_id), now)?
            }
        };
        NewAuditEvent {
            tenant_id,
            actor: &actor,
            action: "tokens.revoke",
            subject: None,
            details: Some(serde_json::json!({
                "filter": filter.describe(),
                "revoked_access_tokens": counts.access_tokens,
                "revoked_refresh_tokens": counts.refresh_tokens,
            })),
            created_at: now,
        }
        .insert(conn)?;
        Ok(counts)
    })
}

/// Which of a tenant's tokens a bulk revocation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFilter {
    All,
    Client(String),
    User(i64),
}

impl TokenFilter {
    fn describe(&self) -> serde_json::Value {
        match self {
            Self::All => serde_json::json!("all"),
            Self::Client(client_id) => serde_json::json!({ "client_id": client_id }),
            Self::User(user_id) => serde_json::json!({ "user_id": user_id }),
        }
    }
}

/// The tenant's client, unless it is unknown in this tenant or already revoked.
fn live_client(
    conn: &mut crate::db::DbConnection,
    tenant_id: TenantId,
    client_id: &str,
) -> Result<Client, ProvisioningError> {
    require_live_tenant(conn, tenant_id)?;
    match Client::find_in_tenant(conn, tenant_id, client_id)? {
        Some(client) if client.revoked_at.is_none() => Ok(client),
        _ => Err(ProvisioningError::NotFound("no such client")),
    }
}

/// Sets a user's password and revokes every token the user holds, in one transaction.
pub fn change_password(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    user_id: i64,
    password: String,
    now: NaiveDateTime,
) -> Result<RevocationCounts, ProvisioningError> {
    let password = Password::new(password)
        .map_err(|_| ProvisioningError::Invalid("a password is 8 to 1024 characters"))?;
    let password_hash = hash_password(&password);
    let actor = actor.to_owned();
    db.write(move |conn| {
        live_user(conn, tenant_id, user_id)?;
        User::set_password_hash(conn, tenant_id, user_id, &password_hash, now)?;
        let counts = revoke_tokens(conn, tenant_id, Revocation::User(user_id), now)?;
        user_audit(
            conn,
            tenant_id,
            &actor,
            "user.password",
            user_id,
            counts,
            now,
        )?;
        Ok(counts)
    })
}

/// Disables a user: it can no longer log in, and its tokens introspect inactive.
pub fn disable_user(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<(), ProvisioningError> {
    let actor = actor.to_owned();
    db.write(move |conn| {
        live_user(conn, tenant_id, user_id)?;
        User::disable(conn, tenant_id, user_id, now)?;
        user_audit(
            conn,
            tenant_id,
            &actor,
            "user.disable",
            user_id,
            RevocationCounts::default(),
            now,
        )?;
        Ok(())
    })
}

/// Deletes a user and revokes every token it holds, in one transaction (see
/// [`User::mark_deleted`] for what stays).
pub fn delete_user(
    db: &Database,
    actor: &str,
    tenant_id: TenantId,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<RevocationCounts, ProvisioningError> {
    let actor = actor.to_owned();
    db.write(move |conn| {
        live_user(conn, tenant_id, user_id)?;
        User::mark_deleted(conn, tenant_id, user_id, now)?;
        let counts = revoke_tokens(conn, tenant_id, Revocation::User(user_id), now)?;
        user_audit(conn, tenant_id, &actor, "user.delete", user_id, counts, now)?;
        Ok(counts)
    })
}

fn live_user(
    conn: &mut crate::db::DbConnection,
    tenant_id: TenantId,
    user_id: i64,
) -> Result<User, ProvisioningError> {
    require_live_tenant(conn, tenant_id)?;
    User::find_in_tenant(conn, tenant_id, user_id)?
        .ok_or(ProvisioningError::NotFound("no such user"))
}

fn user_audit(
    conn: &mut crate::db::DbConnection,
    tenant_id: TenantId,
    actor: &str,
    action: &str,
    user_id: i64,
    counts: RevocationCounts,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    NewAuditEvent {
        tenant_id,
        actor,
        action,
        subject: Some(&user_id.to_string()),
        details: Some(serde_json::json!({
            "revoked_access_tokens": counts.access_tokens,
            "revoked_refresh_tokens": counts.refresh_tokens,
        })),
        created_at: now,
    }
    .insert(conn)
}
