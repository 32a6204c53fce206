//! The admin API (JSON in, JSON out; errors as `{"error", "error_description"}`).
//!
//! Platform admins hold a token with scope `admin` issued in the platform tenant; they
//! manage every tenant. Tenant admins hold a token with scope `tenant:admin`; they reach
//! their own tenant only, and any other tenant is 403 whether it exists or not. Only the
//! platform creates, suspends, activates and deletes tenants.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;

use super::bearer::{Bearer, BearerError};
use super::views::{
    rfc3339, AuditEventPage, AuditEventView, ClientList, ClientView, CreatedClient,
    CreatedUserView, DeletedClient, DeletedUser, DeletionReceiptView, DisabledUser, RevokedCounts,
    RotatedSecret, TenantPage, TenantView, TokenPage, TokenView, UserList, UserView,
};
use crate::db::models::audit::AuditEvent;
use crate::db::models::client::Client;
use crate::db::models::tenant::Tenant;
use crate::db::models::token::{AccessTokenSummary, TokenQuery};
use crate::db::models::user::User;
use crate::db::{blocking, Database, DbConnection, DbError};
use crate::domain::{now, GrantType, Scope, TenantId};
use crate::domain::{ADMIN_SCOPE, TENANT_ADMIN_SCOPE};
use crate::error::AppError;
use crate::provisioning::{self, ClientSpec, ProvisioningError, TokenFilter};
use crate::startup::AppState;
use crate::tenants::{self, LifecycleError};

/// Runs a read on the reader threads, off the async workers.
async fn read_db<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
) -> Result<T, AppError> {
    Ok(state.db.read_async(query).await?)
}

/// Who is calling the admin API.
#[derive(Debug, Clone)]
pub enum Admin {
    Platform { actor: String },
    Tenant { tenant_id: TenantId, actor: String },
}

impl Admin {
    /// How the audit trail names the caller: `user:<id>` or `client:<id>`.
    pub fn actor(&self) -> &str {
        match self {
            Self::Platform { actor } | Self::Tenant { actor, .. } => actor,
        }
    }

    fn require_platform(&self) -> Result<(), AppError> {
        match self {
            Self::Platform { .. } => Ok(()),
            Self::Tenant { .. } => Err(AppError::forbidden("only a platform admin may do this")),
        }
    }

    /// Platform admins reach every tenant, tenant admins their own. The refusal does not
    /// say whether the other tenant exists.
    fn require_tenant(&self, tenant_id: TenantId) -> Result<(), AppError> {
        match self {
            Self::Platform { .. } => Ok(()),
            Self::Tenant { tenant_id: own, .. } if *own == tenant_id => Ok(()),
            Self::Tenant {
                tenant_id: own,
                actor,
            } => {
                log::warn!(target: "tenauth::security", "tenant admin {actor} of tenant {own} tried to reach tenant {tenant_id}");
                Err(AppError::forbidden("the request is not allowed"))
            }
        }
    }
}

impl FromRequest for Admin {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bearer = Bearer::from_request(request, payload);
        Box::pin(async move {
            let Bearer(token) = bearer.await?;
            let actor = match token.user_id {
                Some(user_id) => format!("user:{user_id}"),
                None => format!("client:{}", token.client_id),
            };
            if token.tenant_id.is_platform() && token.scope.contains(ADMIN_SCOPE) {
                Ok(Self::Platform { actor })
            } else if token.scope.contains(TENANT_ADMIN_SCOPE) {
                Ok(Self::Tenant {
                    tenant_id: token.tenant_id,
                    actor,
                })
            } else {
                Err(BearerError::InsufficientScope("admin tenant:admin"))
            }
        })
    }
}

impl From<ProvisioningError> for AppError {
    fn from(error: ProvisioningError) -> Self {
        match error {
            ProvisioningError::Invalid(description) => Self::invalid_request(description),
            ProvisioningError::Conflict(description) => {
                Self::rejected(StatusCode::CONFLICT, "conflict", description)
            }
            ProvisioningError::NotFound(description) => Self::not_found(description),
            ProvisioningError::Database(error) => error.into(),
        }
    }
}

impl From<LifecycleError> for AppError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Invalid(description) => Self::invalid_request(description),
            LifecycleError::NotFound => Self::not_found("no such tenant"),
            LifecycleError::Database(error) => error.into(),
        }
    }
}

/// `?limit=&after=` (tenants) or `?limit=&before=` (audit events, newest first).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    limit: Option<i64>,
    after: Option<i64>,
    before: Option<i64>,
}

impl Page {
    const DEFAULT: i64 = 50;
    const MAX: i64 = 500;

    fn limit(&self) -> Result<i64, AppError> {
        match self.limit.unwrap_or(Self::DEFAULT) {
            limit @ 1..=Self::MAX => Ok(limit),
            _ => Err(AppError::invalid_request("limit must be between 1 and 500")),
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateTenant {
    slug: String,
    name: String,
}

/// `POST /admin/tenants` (platform): 201 with the tenant.
#[utoipa::path(
    post,
    path = "/admin/tenants",
    tag = "admin",
    request_body = CreateTenant,
    responses((status = 201, description = "the tenant (platform admins only)", body = super::views::TenantView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 409, description = "already exists", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn create_tenant(
    admin: Admin,
    body: web::Json<CreateTenant>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    admin.require_platform()?;
    let db = state.db.clone();
    let tenant = blocking(move || {
        provisioning::create_tenant(&db, admin.actor(), &body.slug, &body.name, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(TenantView::from(&tenant)))
}

/// `GET /admin/tenants` (platform): tenants in id order, `?limit=&after=`.
#[utoipa::path(
    get,
    path = "/admin/tenants",
    tag = "admin",
    params(Page),
    responses((status = 200, description = "tenants in id order", body = super::views::TenantPage), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_tenants(
    admin: Admin,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    admin.require_platform()?;
    let (limit, after) = (page.limit()?, page.after);
    let tenants = read_db(&state, move |conn| Tenant::list(conn, after, limit)).await?;
    let next = (tenants.len() as i64 == limit)
        .then(|| tenants.last().map(|tenant| tenant.id))
        .flatten();
    Ok(HttpResponse::Ok().json(TenantPage {
        items: tenants.iter().map(TenantView::from).collect(),
        next: next.map(TenantId::get),
    }))
}

/// `GET /admin/tenants/{id}`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = super::views::TenantView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_tenant(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = TenantId::new(id.into_inner());
    admin.require_tenant(id)?;
    let tenant = read_db(&state, move |conn| Tenant::find(conn, id))
        .await?
        .ok_or(AppError::not_found("no such tenant"))?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// `POST /admin/tenants/{id}/suspend` (platform).
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/suspend",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, description = "the tenant, suspended: its tokens introspect inactive until activated", body = super::views::TenantView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn suspend_tenant(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    change_tenant_status(admin, id, state, tenants::suspend_tenant).await
}

/// `POST /admin/tenants/{id}/activate` (platform).
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/activate",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = super::views::TenantView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn activate_tenant(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    change_tenant_status(admin, id, state, tenants::activate_tenant).await
}

type StatusChange = fn(&Database, &str, TenantId, NaiveDateTime) -> Result<Tenant, LifecycleError>;

async fn change_tenant_status(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
    change: StatusChange,
) -> Result<HttpResponse, AppError> {
    admin.require_platform()?;
    let (id, db) = (TenantId::new(id.into_inner()), state.db.clone());
    let tenant =
        blocking(move || change(&db, admin.actor(), id, now()).map_err(AppError::from)).await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// `DELETE /admin/tenants/{id}` (platform): the deletion receipt.
#[utoipa::path(
    delete,
    path = "/admin/tenants/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, description = "deletion receipt: every token and client of the tenant revoked, in one transaction", body = super::views::DeletionReceiptView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete_tenant(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    admin.require_platform()?;
    let (id, db) = (TenantId::new(id.into_inner()), state.db.clone());
    let receipt = blocking(move || {
        tenants::delete_tenant(&db, admin.actor(), id, now()).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeletionReceiptView {
        id: receipt.id.get(),
        deleted_at: rfc3339(receipt.deleted_at),
        revoked_access_tokens: receipt.revoked_access_tokens,
        revoked_refresh_tokens: receipt.revoked_refresh_tokens,
        revoked_clients: receipt.revoked_clients,
    }))
}

/// `GET /admin/tenants/{id}/audit-events`: newest first, `?limit=&before=`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/audit-events",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), Page),
    responses((status = 200, description = "newest first", body = super::views::AuditEventPage), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_audit_events(
    admin: Admin,
    id: web::Path<i64>,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = TenantId::new(id.into_inner());
    admin.require_tenant(id)?;
    let (limit, before) = (page.limit()?, page.before);
    let events = read_db(&state, move |conn| {
        AuditEvent::list(conn, id, before, limit)
    })
    .await?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|event| event.id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditEventPage {
        items: events.iter().map(AuditEventView::from).collect(),
        next,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateClient {
    name: String,
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "confidential_by_default")]
    confidential: bool,
}

fn confidential_by_default() -> bool {
    true
}

impl CreateClient {
    fn into_spec(self) -> Result<ClientSpec, AppError> {
        let grant_types = self
            .grant_types
            .iter()
            .map(|grant| grant.parse::<GrantType>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                AppError::invalid_request(
                    "grant_types may hold client_credentials, password and refresh_token",
                )
            })?;
        let scopes = Scope::from_tokens(&self.scopes).map_err(|_| {
            AppError::rejected(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "a scope is malformed",
            )
        })?;
        Ok(ClientSpec {
            name: self.name,
            grant_types,
            scopes,
            confidential: self.confidential,
        })
    }
}

/// `POST /admin/tenants/{id}/clients`: 201 with the client and, for a confidential
/// client, its secret — shown this once.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/clients",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = CreateClient,
    responses((status = 201, description = "the client and, if confidential, its secret: shown this once", body = super::views::CreatedClient), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn create_client(
    admin: Admin,
    id: web::Path<i64>,
    body: web::Json<CreateClient>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let spec = body.into_inner().into_spec()?;
    let oauth = state.oauth.clone();
    let (client, secret) = blocking(move || {
        provisioning::create_client(
            &oauth.db,
            &oauth.hasher,
            admin.actor(),
            tenant_id,
            &spec,
            now(),
        )
        .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedClient {
            client: ClientView::from(&client),
            client_secret: secret.map(|secret| secret.expose().to_owned()),
        }))
}

/// `GET /admin/tenants/{id}/clients`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/clients",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = super::views::ClientList), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_clients(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let clients = read_db(&state, move |conn| Client::list(conn, tenant_id)).await?;
    Ok(HttpResponse::Ok().json(ClientList {
        items: clients.iter().map(ClientView::from).collect(),
    }))
}

/// `GET /admin/tenants/{id}/clients/{client_id}`: another tenant's client is 404.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/clients/{client_id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("client_id" = String, Path, description = "client id")),
    responses((status = 200, body = super::views::ClientView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_client(
    admin: Admin,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, client_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let client = read_db(&state, move |conn| {
        Client::find_in_tenant(conn, tenant_id, &client_id)
    })
    .await?
    .ok_or(AppError::not_found("no such client"))?;
    Ok(HttpResponse::Ok().json(ClientView::from(&client)))
}

/// `DELETE /admin/tenants/{id}/clients/{client_id}`: revokes the client and its tokens.
#[utoipa::path(
    delete,
    path = "/admin/tenants/{id}/clients/{client_id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("client_id" = String, Path, description = "client id")),
    responses((status = 200, description = "the client and its tokens revoked", body = super::views::DeletedClient), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete_client(
    admin: Admin,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, client_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let db = state.db.clone();
    let shown_id = client_id.clone();
    let counts = blocking(move || {
        provisioning::delete_client(&db, admin.actor(), tenant_id, &client_id, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeletedClient {
        client_id: shown_id,
        counts: counts.into(),
    }))
}

/// `POST /admin/tenants/{id}/clients/{client_id}/secret`: a new secret, shown this once.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/clients/{client_id}/secret",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("client_id" = String, Path, description = "client id")),
    responses((status = 200, description = "the new secret, shown this once", body = super::views::RotatedSecret), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn rotate_client_secret(
    admin: Admin,
    path: web::Path<(i64, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, client_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let oauth = state.oauth.clone();
    let shown_id = client_id.clone();
    let secret = blocking(move || {
        provisioning::rotate_client_secret(
            &oauth.db,
            &oauth.hasher,
            admin.actor(),
            tenant_id,
            &client_id,
            now(),
        )
        .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(RotatedSecret {
            client_id: shown_id,
            client_secret: secret.expose().to_owned(),
        }))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokens {
    client_id: Option<String>,
    user_id: Option<i64>,
}

/// `POST /admin/tenants/{id}/revoke-tokens` with an optional `client_id` or `user_id`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/revoke-tokens",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = Option<RevokeTokens>,
    responses((status = 200, body = super::views::RevokedCounts), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn revoke_tokens(
    admin: Admin,
    id: web::Path<i64>,
    body: Option<web::Json<RevokeTokens>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let filter = match body.map(web::Json::into_inner).unwrap_or_default() {
        RevokeTokens {
            client_id: None,
            user_id: None,
        } => TokenFilter::All,
        RevokeTokens {
            client_id: Some(client_id),
            user_id: None,
        } => TokenFilter::Client(client_id),
        RevokeTokens {
            client_id: None,
            user_id: Some(user_id),
        } => TokenFilter::User(user_id),
        _ => {
            return Err(AppError::invalid_request(
                "give client_id or user_id, not both",
            ))
        }
    };
    let db = state.db.clone();
    let counts = blocking(move || {
        provisioning::revoke_tenant_tokens(&db, admin.actor(), tenant_id, filter, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RevokedCounts::from(counts)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    username: String,
    password: String,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    password: String,
}

/// `POST /admin/tenants/{id}/users`: 201 `{"id","username","tenant_id"}`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/users",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = CreateUser,
    responses((status = 201, body = super::views::CreatedUserView), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 409, description = "already exists", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn create_user(
    admin: Admin,
    id: web::Path<i64>,
    body: web::Json<CreateUser>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let CreateUser { username, password } = body.into_inner();
    let db = state.db.clone();
    let user = blocking(move || {
        provisioning::create_user(&db, admin.actor(), tenant_id, &username, password, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Created().json(CreatedUserView {
        id: user.id,
        username: user.username,
        tenant_id: user.tenant_id.get(),
    }))
}

/// `GET /admin/tenants/{id}/users`: the users that are not deleted.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/users",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = super::views::UserList), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_users(
    admin: Admin,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let users = read_db(&state, move |conn| User::list(conn, tenant_id)).await?;
    Ok(HttpResponse::Ok().json(UserList {
        items: users.iter().map(UserView::from).collect(),
    }))
}

/// `PUT /admin/tenants/{id}/users/{user_id}/password`: revokes all the user's tokens.
#[utoipa::path(
    put,
    path = "/admin/tenants/{id}/users/{user_id}/password",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    request_body = NewPassword,
    responses((status = 200, description = "the password changed and every token of the user revoked", body = super::views::RevokedCounts), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn change_password(
    admin: Admin,
    path: web::Path<(i64, i64)>,
    body: web::Json<NewPassword>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, user_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let password = body.into_inner().password;
    let db = state.db.clone();
    let counts = blocking(move || {
        provisioning::change_password(&db, admin.actor(), tenant_id, user_id, password, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RevokedCounts::from(counts)))
}

/// `POST /admin/tenants/{id}/users/{user_id}/disable`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/users/{user_id}/disable",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    responses((status = 200, body = super::views::DisabledUser), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn disable_user(
    admin: Admin,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, user_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let db = state.db.clone();
    blocking(move || {
        provisioning::disable_user(&db, admin.actor(), tenant_id, user_id, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DisabledUser {
        id: user_id,
        tenant_id: tenant_id.get(),
        disabled: true,
    }))
}

/// `DELETE /admin/tenants/{id}/users/{user_id}`: revokes all the user's tokens.
#[utoipa::path(
    delete,
    path = "/admin/tenants/{id}/users/{user_id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    responses((status = 200, description = "the user deleted and every token of theirs revoked", body = super::views::DeletedUser), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete_user(
    admin: Admin,
    path: web::Path<(i64, i64)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (tenant_id, user_id) = path.into_inner();
    let tenant_id = TenantId::new(tenant_id);
    admin.require_tenant(tenant_id)?;
    let db = state.db.clone();
    let counts = blocking(move || {
        provisioning::delete_user(&db, admin.actor(), tenant_id, user_id, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeletedUser {
        id: user_id,
        counts: counts.into(),
    }))
}

/// `?active=&client_id=&user_id=&limit=&after=` of the token listing.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListing {
    active: Option<bool>,
    client_id: Option<String>,
    user_id: Option<i64>,
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /admin/tenants/{id}/tokens`: access-token metadata, oldest first; never a value.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/tokens",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), TokenListing),
    responses((status = 200, description = "access-token metadata, oldest first; never a value", body = super::views::TokenPage), (status = 400, description = "invalid input", body = crate::error::ErrorBody), (status = 401, description = "no valid bearer token", body = crate::error::ErrorBody), (status = 403, description = "the token may not do this", body = crate::error::ErrorBody), (status = 404, description = "no such resource (or another tenant's)", body = crate::error::ErrorBody), (status = 503, description = "database unavailable", body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_tokens(
    admin: Admin,
    id: web::Path<i64>,
    listing: web::Query<TokenListing>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant_id = TenantId::new(id.into_inner());
    admin.require_tenant(tenant_id)?;
    let listing = listing.into_inner();
    let limit = Page {
        limit: listing.limit,
        after: None,
        before: None,
    }
    .limit()?;
    let query = TokenQuery {
        active: listing.active,
        client_id: listing.client_id,
        user_id: listing.user_id,
        after: listing.after,
        limit,
    };
    let current = now();
    let tokens = read_db(&state, move |conn| {
        AccessTokenSummary::list(conn, tenant_id, &query, current)
    })
    .await?;
    let next = (tokens.len() as i64 == limit)
        .then(|| tokens.last().map(|token| token.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(TokenPage {
        items: tokens
            .iter()
            .map(|token| TokenView::new(token, current))
            .collect(),
        next,
    }))
}
