//! `/admin/tenants` and `/admin/tenants/{id}`: tenants as a whole, and their audit trail.

use actix_web::{web, HttpResponse};

use super::{
    next_cursor, ConflictError, Limit, PlatformAdmin, PlatformErrors, TenantAdmin, TenantErrors,
};
use crate::domain::{now, Name, Slug, TenantId, TenantStatus};
use crate::routes::errors::AppError;
use crate::routes::json::JsonObject;
use crate::routes::views::{
    AuditEventPage, AuditEventView, DeletionReceiptView, TenantPage, TenantView,
};
use crate::routes::AppState;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateTenant {
    slug: String,
    name: String,
}

/// `?limit=&after=` of the tenant listing.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantListing {
    #[param(value_type = Option<i64>)]
    #[serde(default)]
    limit: Limit,
    #[param(value_type = Option<i64>)]
    after: Option<TenantId>,
}

/// `?limit=&before=` of the audit trail (newest first).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListing {
    #[param(value_type = Option<i64>)]
    #[serde(default)]
    limit: Limit,
    before: Option<i64>,
}

/// `POST /admin/tenants` (platform): 201 with the tenant.
#[utoipa::path(
    post,
    path = "/admin/tenants",
    tag = "admin",
    request_body = CreateTenant,
    responses((status = 201, description = "the tenant (platform admins only)", body = TenantView), PlatformErrors, ConflictError),
    security(("bearer" = []))
)]
pub async fn create_tenant(
    admin: PlatformAdmin,
    JsonObject(body): JsonObject<CreateTenant>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let slug: Slug = body.slug.parse().map_err(|_| {
        AppError::invalid_request("a slug is 3 to 63 lowercase letters, digits or '-'")
    })?;
    let name: Name = body
        .name
        .parse()
        .map_err(|_| AppError::invalid_request("a name is 1 to 255 characters"))?;
    let tenant = state
        .lifecycle
        .create_tenant(admin.actor, slug, name, now())
        .await?;
    Ok(HttpResponse::Created().json(TenantView::from(&tenant)))
}

/// `GET /admin/tenants` (platform): tenants in id order, `?limit=&after=`.
#[utoipa::path(
    get,
    path = "/admin/tenants",
    tag = "admin",
    params(TenantListing),
    responses((status = 200, description = "tenants in id order", body = TenantPage), PlatformErrors),
    security(("bearer" = []))
)]
pub async fn list_tenants(
    _admin: PlatformAdmin,
    listing: web::Query<TenantListing>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let limit = listing.limit.get()?;
    let tenants = state.lifecycle.list_tenants(listing.after, limit).await?;
    Ok(HttpResponse::Ok().json(TenantPage {
        next: next_cursor(&tenants, limit, |tenant| tenant.id.get()),
        items: tenants.iter().map(TenantView::from).collect(),
    }))
}

/// `GET /admin/tenants/{id}`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn get_tenant(
    admin: TenantAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant = state
        .lifecycle
        .find_tenant(admin.tenant_id)
        .await?
        .ok_or(AppError::not_found("no such tenant"))?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// The body of `PATCH /admin/tenants/{id}`: a JSON merge patch (RFC 7396) of the tenant's
/// settings; a member left out is left as it is.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// `false`: platform staff may no longer act inside the tenant (token exchange with
    /// `audience=urn:tenauth:tenant:<id>` is refused), `true`: they may again.
    platform_access: Option<bool>,
}

/// `PATCH /admin/tenants/{id}`: the tenant's admins, or a platform admin, change its
/// settings; each change is recorded in the tenant's audit trail.
#[utoipa::path(
    patch,
    path = "/admin/tenants/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = UpdateTenant,
    responses((status = 200, description = "the tenant, changed", body = TenantView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn update_tenant(
    admin: TenantAdmin,
    JsonObject(body): JsonObject<UpdateTenant>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tenant = state
        .lifecycle
        .update_tenant(admin.actor, admin.tenant_id, body.platform_access, now())
        .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// `POST /admin/tenants/{id}/suspend` (platform).
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/suspend",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, description = "the tenant, suspended: its tokens introspect inactive until activated", body = TenantView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn suspend_tenant(
    admin: PlatformAdmin,
    id: web::Path<TenantId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    set_status(admin, id, state, TenantStatus::Suspended).await
}

/// `POST /admin/tenants/{id}/activate` (platform).
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/activate",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn activate_tenant(
    admin: PlatformAdmin,
    id: web::Path<TenantId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    set_status(admin, id, state, TenantStatus::Active).await
}

async fn set_status(
    admin: PlatformAdmin,
    id: web::Path<TenantId>,
    state: web::Data<AppState>,
    status: TenantStatus,
) -> Result<HttpResponse, AppError> {
    let tenant = state
        .lifecycle
        .set_tenant_status(admin.actor, id.into_inner(), status, now())
        .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// `DELETE /admin/tenants/{id}` (platform): the deletion receipt.
#[utoipa::path(
    delete,
    path = "/admin/tenants/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, description = "deletion receipt: every token and client of the tenant revoked, in one transaction", body = DeletionReceiptView), TenantErrors),
    security(("bearer" = []))
)]
pub async fn delete_tenant(
    admin: PlatformAdmin,
    id: web::Path<TenantId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let receipt = state
        .lifecycle
        .delete_tenant(admin.actor, id.into_inner(), now())
        .await?;
    Ok(HttpResponse::Ok().json(DeletionReceiptView::from(&receipt)))
}

/// `GET /admin/tenants/{id}/audit-events`: newest first, `?limit=&before=`.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/audit-events",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), AuditListing),
    responses((status = 200, description = "newest first", body = AuditEventPage), TenantErrors),
    security(("bearer" = []))
)]
pub async fn list_audit_events(
    admin: TenantAdmin,
    listing: web::Query<AuditListing>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    audit_page(&state, admin.tenant_id, &listing).await
}

/// `GET /admin/audit-events` (platform): the platform's own trail (changes in the platform
/// tenant: its clients, users, streams), newest first, `?limit=&before=`; apart from every
/// tenant's trail, which `GET /admin/tenants/{id}/audit-events` lists.
#[utoipa::path(
    get,
    path = "/admin/audit-events",
    tag = "admin",
    params(AuditListing),
    responses((status = 200, description = "newest first", body = AuditEventPage), PlatformErrors),
    security(("bearer" = []))
)]
pub async fn list_platform_audit_events(
    _admin: PlatformAdmin,
    listing: web::Query<AuditListing>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    audit_page(&state, TenantId::PLATFORM, &listing).await
}

/// One page of a tenant's audit trail.
async fn audit_page(
    state: &AppState,
    tenant_id: TenantId,
    listing: &AuditListing,
) -> Result<HttpResponse, AppError> {
    let limit = listing.limit.get()?;
    let events = state
        .lifecycle
        .list_audit_events(tenant_id, listing.before, limit)
        .await?;
    Ok(HttpResponse::Ok().json(AuditEventPage {
        next: next_cursor(&events, limit, |event| event.id),
        items: events.iter().map(AuditEventView::from).collect(),
    }))
}
