//! The JSON bodies the admin API and the personal-token endpoints answer with, and that the
//! CLI prints with `--json`. One type per shape, so the handlers, the CLI, the OpenAPI
//! document (`/openapi.json`) and the README describe the same thing.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::models::audit::AuditEvent;
use crate::db::models::client::Client;
use crate::db::models::tenant::Erasure;
use crate::db::models::tenant::Tenant;
use crate::db::models::token::{AccessTokenSummary, RevocationCounts};
use crate::db::models::user::User;
use crate::domain::{PlainSecret, TokenKind};
use crate::lifecycle::tenants::DeletionReceipt;
use crate::lifecycle::users::CreatedUser;
use crate::oauth::bearer::ActiveToken;

/// RFC 3339 in UTC, to the second: `2026-11-22T09:00:00Z`.
pub fn rfc3339(time: NaiveDateTime) -> String {
    time.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// `active`, `suspended` or `deleted`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub suspended_at: Option<String>,
    pub deleted_at: Option<String>,
    /// Whether platform staff may act inside the tenant (token exchange); the tenant's
    /// admins set it with `PATCH /admin/tenants/{id}`.
    pub platform_access: bool,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.get(),
            slug: tenant.slug.clone(),
            name: tenant.name.clone(),
            status: tenant.status.as_str().to_owned(),
            created_at: rfc3339(tenant.created_at),
            updated_at: rfc3339(tenant.updated_at),
            suspended_at: tenant.suspended_at.map(rfc3339),
            deleted_at: tenant.deleted_at.map(rfc3339),
            platform_access: tenant.platform_access,
        }
    }
}

/// A page of tenants in id order; `next` is the `after` of the next page, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    pub next: Option<i64>,
}

/// What erasing a tenant removed (`tenant erase --json`).
#[derive(Debug, Serialize)]
pub struct ErasedTenant {
    pub id: i64,
    pub erased: Erasure,
}

/// What a purge deleted (`purge --json`).
#[derive(Debug, Serialize)]
pub struct PurgeReport {
    pub deleted_access_tokens: usize,
    pub deleted_refresh_tokens: usize,
}

impl From<RevocationCounts> for PurgeReport {
    fn from(deleted: RevocationCounts) -> Self {
        Self {
            deleted_access_tokens: deleted.access_tokens,
            deleted_refresh_tokens: deleted.refresh_tokens,
        }
    }
}

/// The receipt of a tenant deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionReceiptView {
    pub id: i64,
    pub deleted_at: String,
    pub revoked_access_tokens: usize,
    pub revoked_refresh_tokens: usize,
    pub revoked_clients: usize,
}

impl From<&DeletionReceipt> for DeletionReceiptView {
    fn from(receipt: &DeletionReceipt) -> Self {
        Self {
            id: receipt.id.get(),
            deleted_at: rfc3339(receipt.deleted_at),
            revoked_access_tokens: receipt.revoked_access_tokens,
            revoked_refresh_tokens: receipt.revoked_refresh_tokens,
            revoked_clients: receipt.revoked_clients,
        }
    }
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub tenant_id: i64,
    /// `client:<id>` or `user:<id>`.
    pub actor: String,
    /// E.g. `tenant.delete`, `client.create`, `tokens.revoke`.
    pub action: String,
    pub subject: Option<String>,
    /// Counts and other facts of the action.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub created_at: String,
}

impl From<&AuditEvent> for AuditEventView {
    fn from(event: &AuditEvent) -> Self {
        Self {
            id: event.id,
            tenant_id: event.tenant_id.get(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            subject: event.subject.clone(),
            details: event
                .details
                .as_deref()
                .and_then(|details| serde_json::from_str(details).ok()),
            created_at: rfc3339(event.created_at),
        }
    }
}

/// A page of audit events, newest first; `next` is the `before` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEventView>,
    pub next: Option<i64>,
}

/// A client (never its secret, except in [`CreatedClient`] and [`ClientCredentials`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub tenant_id: i64,
    pub name: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub confidential: bool,
    pub personal_access: bool,
    pub revoked: bool,
    pub created_at: String,
    /// Where `/oauth/authorize` may send the browser back.
    pub redirect_uris: Vec<String>,
    /// Where `/oauth/logout` may send the browser.
    pub post_logout_redirect_uris: Vec<String>,
    /// A first-party client: its users are not asked for consent.
    pub skip_consent: bool,
}

fn uri_strings(uris: &[crate::domain::RedirectUri]) -> Vec<String> {
    uris.iter().map(ToString::to_string).collect()
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        Self {
            client_id: client.id.as_str().to_owned(),
            tenant_id: client.tenant_id.get(),
            name: client.name.clone(),
            grant_types: client
                .grant_types
                .iter()
                .map(|grant| grant.as_str().to_owned())
                .collect(),
            scopes: client.scopes.iter().map(str::to_owned).collect(),
            confidential: client.is_confidential(),
            personal_access: client.personal_access,
            revoked: client.revoked_at.is_some(),
            created_at: rfc3339(client.created_at),
            redirect_uris: uri_strings(&client.browser.redirect_uris),
            post_logout_redirect_uris: uri_strings(&client.browser.post_logout_redirect_uris),
            skip_consent: client.browser.skip_consent,
        }
    }
}

/// A new client, with its secret (confidential clients): shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: ClientView,
    pub client_secret: Option<String>,
}

impl CreatedClient {
    pub fn new(client: &Client, secret: Option<PlainSecret>) -> Self {
        Self {
            client: ClientView::from(client),
            client_secret: secret.map(|secret| secret.expose().to_owned()),
        }
    }
}

/// A client's id and secret, shown this once: a rotated secret, or the platform admin
/// client `tenauth bootstrap` creates.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// The clients of a tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    pub items: Vec<ClientView>,
}

/// How many tokens a revocation revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedCounts {
    pub revoked_access_tokens: usize,
    pub revoked_refresh_tokens: usize,
}

impl From<RevocationCounts> for RevokedCounts {
    fn from(counts: RevocationCounts) -> Self {
        Self {
            revoked_access_tokens: counts.access_tokens,
            revoked_refresh_tokens: counts.refresh_tokens,
        }
    }
}

/// A deleted client and the tokens its deletion revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedClient {
    pub client_id: String,
    #[serde(flatten)]
    pub counts: RevokedCounts,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub tenant_id: i64,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.get(),
            username: user.username.clone(),
            tenant_id: user.tenant_id.get(),
            disabled: user.disabled,
            created_at: rfc3339(user.created_at),
        }
    }
}

/// A new user.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUserView {
    pub id: i64,
    pub username: String,
    pub tenant_id: i64,
}

impl From<&CreatedUser> for CreatedUserView {
    fn from(user: &CreatedUser) -> Self {
        Self {
            id: user.id.get(),
            username: user.username.to_string(),
            tenant_id: user.tenant_id.get(),
        }
    }
}

/// The users of a tenant (not the deleted ones).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
}

/// A disabled user.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisabledUser {
    pub id: i64,
    pub tenant_id: i64,
    pub disabled: bool,
}

/// A deleted user and the tokens its deletion revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedUser {
    pub id: i64,
    #[serde(flatten)]
    pub counts: RevokedCounts,
}

/// An access token's metadata (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// The token's `jti`.
    pub id: String,
    /// `client_credentials`, `password`, `refresh` or `personal`.
    pub kind: String,
    pub client_id: String,
    pub user_id: Option<i64>,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub active: bool,
}

impl TokenView {
    pub fn new(token: &AccessTokenSummary, now: NaiveDateTime) -> Self {
        Self {
            id: token.id.to_string(),
            kind: token.kind.as_str().to_owned(),
            client_id: token.client_id.to_string(),
            user_id: token.user_id.map(|id| id.get()),
            name: token.name.clone(),
            scopes: token.scopes.split_whitespace().map(str::to_owned).collect(),
            created_at: rfc3339(token.created_at),
            expires_at: rfc3339(token.expires_at),
            revoked_at: token.revoked_at.map(rfc3339),
            active: token.is_active(now),
        }
    }
}

/// A page of access-token metadata, oldest first; `next` is the `after` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPage {
    pub items: Vec<TokenView>,
    pub next: Option<String>,
}

/// A new personal access token, with its value: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPersonalToken {
    /// The token's `jti`, for listing and revoking it.
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub access_token: String,
    pub expires_at: String,
}

/// A personal access token's metadata (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalTokenView {
    pub id: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked: bool,
}

impl From<&AccessTokenSummary> for PersonalTokenView {
    fn from(token: &AccessTokenSummary) -> Self {
        Self {
            id: token.id.to_string(),
            name: token.name.clone(),
            scopes: token.scopes.split_whitespace().map(str::to_owned).collect(),
            created_at: rfc3339(token.created_at),
            expires_at: rfc3339(token.expires_at),
            revoked: token.revoked_at.is_some(),
        }
    }
}

/// The caller's personal access tokens, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalTokenList {
    pub tokens: Vec<PersonalTokenView>,
}

/// What the caller's bearer token says about itself (`GET /oauth/me`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub sub: String,
    pub username: Option<String>,
    pub tenant_id: i64,
    pub client_id: String,
    pub scope: String,
    /// `access`, `personal` or `exchanged`.
    pub token_kind: &'static str,
    /// The grant that issued it: `authorization_code`, `client_credentials`, `password`,
    /// `refresh`, `personal` or `exchanged` (token exchange, RFC 8693).
    #[schema(value_type = String)]
    pub grant: TokenKind,
    pub exp: i64,
    /// For a token from token exchange, who acts with it (RFC 8693 §4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<crate::oauth::jwt::ActorClaim>,
}

impl From<ActiveToken> for Me {
    fn from(token: ActiveToken) -> Self {
        Self {
            act: token.act(),
            token_kind: token.kind.access_token_kind(),
            sub: token.subject,
            username: token.username,
            tenant_id: token.tenant_id.get(),
            client_id: token.client_id.to_string(),
            scope: token.scope.to_string(),
            grant: token.kind,
            exp: token.expires_at,
        }
    }
}
