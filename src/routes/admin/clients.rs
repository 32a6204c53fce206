//! `/admin/tenants/{id}/clients`: a tenant's OAuth clients.

use actix_web::{web, HttpResponse};

use super::{TenantAdmin, TenantErrors};
use crate::domain::{now, ClientId};
use crate::lifecycle::clients::{ClientRequest, ClientSpec};
use crate::routes::errors::AppError;
use crate::routes::json::JsonObject;
use crate::routes::views::{
    ClientCredentials, ClientList, ClientView, CreatedClient, DeletedClient,
};
use crate::routes::AppState;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateClient {
    name: String,
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "confidential_by_default")]
    confidential: bool,
    /// Where `/oauth/authorize` may send the browser back (needed for `authorization_code`).
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// Where `/oauth/logout` may send the browser after signing out.
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// A first-party client: its users are not asked for consent.
    #[serde(default)]
    skip_consent: bool,
}

fn confidential_by_default() -> bool {
    true
}

/// The `{client_id}` of a client's path (the tenant's `{id}` is [`TenantAdmin`]'s).
#[derive(Debug, serde::Deserialize)]
pub struct ClientPath {
    client_id: ClientId,
}

/// `POST /admin/tenants/{id}/clients`: 201 with the client and, for a confidential
/// client, its secret — shown this once.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/clients",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = CreateClient,
    responses((status = 201, description = "the client and, if confidential, its secret: shown this once", body = CreatedClient), TenantErrors),
    security(("bearer" = []))
)]
pub async fn create_client(
    admin: TenantAdmin,
    JsonObject(body): JsonObject<CreateClient>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    fn strs(values: &[String]) -> Vec<&str> {
        values.iter().map(String::as_str).collect()
    }
    let spec = ClientSpec::parse(&ClientRequest {
        name: &body.name,
        grant_types: strs(&body.grant_types),
        scopes: strs(&body.scopes),
        confidential: body.confidential,
        redirect_uris: strs(&body.redirect_uris),
        post_logout_redirect_uris: strs(&body.post_logout_redirect_uris),
        skip_consent: body.skip_consent,
    })?;
    let (client, secret) = state
        .lifecycle
        .create_client(admin.actor, admin.tenant_id, spec, now())
        .await?;
    Ok(HttpResponse::Created().json(CreatedClient::new(&client, secret)))
}

/// `GET /admin/tenants/{id}/clients`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/clients",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = ClientList), TenantErrors),
    security(("bearer" = []))
)]
pub async fn list_clients(
    admin: TenantAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let clients = state.lifecycle.list_clients(admin.tenant_id).await?;
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
    responses((status = 200, body = ClientView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn get_client(
    admin: TenantAdmin,
    path: web::Path<ClientPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let client = state
        .lifecycle
        .find_client(admin.tenant_id, path.into_inner().client_id)
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
    responses((status = 200, description = "the client and its tokens revoked", body = DeletedClient), TenantErrors),
    security(("bearer" = []))
)]
pub async fn delete_client(
    admin: TenantAdmin,
    path: web::Path<ClientPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let client_id = path.into_inner().client_id;
    let counts = state
        .lifecycle
        .delete_client(admin.actor, admin.tenant_id, client_id.clone(), now())
        .await?;
    Ok(HttpResponse::Ok().json(DeletedClient {
        client_id: client_id.to_string(),
        counts: counts.into(),
    }))
}

/// `POST /admin/tenants/{id}/clients/{client_id}/secret`: a new secret, shown this once.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/clients/{client_id}/secret",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("client_id" = String, Path, description = "client id")),
    responses((status = 200, description = "the new secret, shown this once", body = ClientCredentials), TenantErrors),
    security(("bearer" = []))
)]
pub async fn rotate_client_secret(
    admin: TenantAdmin,
    path: web::Path<ClientPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let client_id = path.into_inner().client_id;
    let secret = state
        .lifecycle
        .rotate_client_secret(admin.actor, admin.tenant_id, client_id.clone(), now())
        .await?;
    Ok(HttpResponse::Ok().json(ClientCredentials {
        client_id: client_id.to_string(),
        client_secret: secret.expose().to_owned(),
    }))
}
