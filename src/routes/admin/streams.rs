//! `/admin/tenants/{id}/event-streams` and `/admin/event-streams`: the receivers of a
//! tenant's security events, and the platform-wide ones that receive every tenant's.

use actix_web::{web, HttpResponse};

use super::{PlatformAdmin, PlatformErrors, TenantAdmin, TenantErrors};
use crate::db::models::stream::EventStream;
use crate::domain::{now, EventKind, StreamId, TenantId};
use crate::lifecycle::streams::StreamSpec;
use crate::routes::errors::AppError;
use crate::routes::json::JsonObject;
use crate::routes::AppState;

/// `{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":[…],"aud":…}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    delivery: Delivery,
    /// Event type URIs; none or absent: every kind.
    #[serde(default)]
    events_requested: Vec<String>,
    /// The SETs' `aud`; by default `urn:tenauth:event-stream:<id>`.
    aud: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// `urn:ietf:rfc:8936` (poll).
    method: String,
    /// Where the receiver polls (in answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint_url: Option<String>,
}

/// A stream, as the admin API shows it (SSF's stream configuration).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StreamView {
    stream_id: String,
    /// Absent for a platform-wide stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<i64>,
    iss: String,
    aud: String,
    delivery: Delivery,
    events_supported: Vec<String>,
    events_requested: Vec<String>,
    events_delivered: Vec<String>,
    /// `enabled`.
    status: String,
    /// Events waiting for the receiver.
    pending: i64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StreamList {
    items: Vec<StreamView>,
}

/// The `{sid}` of a stream's path.
#[derive(Debug, serde::Deserialize)]
pub struct StreamPath {
    pub sid: StreamId,
}

fn view(state: &AppState, stream: &EventStream, pending: i64) -> StreamView {
    let uris = |kinds: &[EventKind]| kinds.iter().map(|kind| kind.type_uri()).collect::<Vec<_>>();
    let delivered = if stream.events_requested.is_empty() {
        uris(&EventKind::ALL)
    } else {
        uris(&stream.events_requested)
    };
    StreamView {
        stream_id: stream.id.to_string(),
        tenant_id: stream.tenant_id.map(TenantId::get),
        iss: state.oauth.issuer.clone(),
        aud: stream.audience.clone(),
        delivery: Delivery {
            method: stream.delivery_method.clone(),
            endpoint_url: Some(format!(
                "{}/oauth/event-streams/{}/poll",
                state.oauth.issuer, stream.id
            )),
        },
        events_supported: uris(&EventKind::ALL),
        events_requested: uris(&stream.events_requested),
        events_delivered: delivered,
        status: stream.status.clone(),
        pending,
    }
}

async fn create(
    state: &AppState,
    actor: crate::domain::Actor,
    tenant_id: Option<TenantId>,
    body: CreateStream,
) -> Result<HttpResponse, AppError> {
    if body.aud.as_deref() == Some(state.oauth.issuer.as_str()) {
        // A SET must never read as something addressed to tenauth itself.
        return Err(AppError::invalid_request(
            "aud may not be this server's issuer",
        ));
    }
    let spec = StreamSpec::parse(&body.delivery.method, &body.events_requested, body.aud)?;
    let stream = state
        .lifecycle
        .create_stream(actor, tenant_id, spec, now())
        .await?;
    Ok(HttpResponse::Created().json(view(state, &stream, 0)))
}

async fn list(state: &AppState, tenant_id: Option<TenantId>) -> Result<HttpResponse, AppError> {
    let streams = state.lifecycle.list_streams(tenant_id).await?;
    Ok(HttpResponse::Ok().json(StreamList {
        items: streams
            .iter()
            .map(|(stream, pending)| view(state, stream, *pending))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/admin/tenants/{id}/event-streams", tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = CreateStream,
    responses((status = 201, body = StreamView), TenantErrors),
    security(("bearer" = [])))]
/// `POST /admin/tenants/{id}/event-streams`: a stream of the tenant's security events.
pub async fn create_stream(
    admin: TenantAdmin,
    JsonObject(body): JsonObject<CreateStream>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    create(&state, admin.actor, Some(admin.tenant_id), body).await
}

#[utoipa::path(get, path = "/admin/tenants/{id}/event-streams", tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = StreamList), TenantErrors),
    security(("bearer" = [])))]
/// `GET /admin/tenants/{id}/event-streams`: the tenant's streams, with their status.
pub async fn list_streams(
    admin: TenantAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list(&state, Some(admin.tenant_id)).await
}

#[utoipa::path(get, path = "/admin/tenants/{id}/event-streams/{sid}", tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), TenantErrors),
    security(("bearer" = [])))]
/// `GET /admin/tenants/{id}/event-streams/{sid}`: one stream and its pending count.
pub async fn get_stream(
    admin: TenantAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (stream, pending) = state
        .lifecycle
        .find_stream(Some(admin.tenant_id), path.into_inner().sid)
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, &stream, pending)))
}

#[utoipa::path(delete, path = "/admin/tenants/{id}/event-streams/{sid}", tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("sid" = String, Path, description = "stream id")),
    responses((status = 204, description = "deleted, with what it had still to receive"), TenantErrors),
    security(("bearer" = [])))]
/// `DELETE /admin/tenants/{id}/event-streams/{sid}`.
pub async fn delete_stream(
    admin: TenantAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    state
        .lifecycle
        .delete_stream(
            admin.actor,
            Some(admin.tenant_id),
            path.into_inner().sid,
            now(),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/admin/event-streams", tag = "admin",
    request_body = CreateStream,
    responses((status = 201, body = StreamView), PlatformErrors),
    security(("bearer" = [])))]
/// `POST /admin/event-streams`: a platform-wide stream of every tenant's events.
pub async fn create_platform_stream(
    admin: PlatformAdmin,
    JsonObject(body): JsonObject<CreateStream>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    create(&state, admin.actor, None, body).await
}

#[utoipa::path(get, path = "/admin/event-streams", tag = "admin",
    responses((status = 200, body = StreamList), PlatformErrors),
    security(("bearer" = [])))]
/// `GET /admin/event-streams`: the platform-wide streams.
pub async fn list_platform_streams(
    _admin: PlatformAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    list(&state, None).await
}

#[utoipa::path(delete, path = "/admin/event-streams/{sid}", tag = "admin",
    params(("sid" = String, Path, description = "stream id")),
    responses((status = 204, description = "deleted"), PlatformErrors),
    security(("bearer" = [])))]
/// `DELETE /admin/event-streams/{sid}`.
pub async fn delete_platform_stream(
    admin: PlatformAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    state
        .lifecycle
        .delete_stream(admin.actor, None, path.into_inner().sid, now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
