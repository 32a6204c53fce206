//! `/admin/tenants/{id}/event-streams` and `/admin/event-streams`: the receivers of a
//! tenant's security events, and the platform-wide ones that receive every tenant's.

use actix_web::{web, HttpResponse};

use super::{PlatformAdmin, PlatformErrors, TenantAdmin, TenantErrors};
use crate::db::models::stream::EventStream;
use crate::domain::{now, DeliveryMethod, EventKind, StreamId, StreamStatus, TenantId};
use crate::lifecycle::streams::StreamSpec;
use crate::routes::errors::AppError;
use crate::routes::json::JsonObject;
use crate::routes::AppState;

/// `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://…"},"events_requested":[…],"authorization_header":"…","aud":…}`
/// for push (RFC 8935), `{"delivery":{"method":"urn:ietf:rfc:8936"}}` for poll (RFC 8936).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    delivery: Delivery,
    /// Event type URIs; none or absent: every kind.
    #[serde(default)]
    events_requested: Vec<String>,
    /// Push only: sent as the `Authorization` header of every push (stored encrypted,
    /// never shown again).
    authorization_header: Option<String>,
    /// The SETs' `aud`; by default `urn:tenauth:event-stream:<id>`.
    aud: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll).
    method: String,
    /// Push: where tenauth POSTs the SETs (https; see the push endpoint rule). Poll: where
    /// the receiver polls (in answers only).
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
    /// `enabled`, `paused` (events kept, not pushed) or `failing` (a push stream whose
    /// receiver failed for longer than `TENAUTH_EVENTS_RETRY_FOR`; events kept until
    /// `resume`).
    status: String,
    /// Events waiting for the receiver.
    pending: i64,
    /// Push streams: whether an `authorization_header` is sent (it is never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_header_set: Option<bool>,
    /// Push streams whose last push failed: what failed, since when, how many times, and
    /// when the next attempt is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<chrono::NaiveDateTime>,
    #[serde(skip_serializing_if = "is_zero")]
    failed_attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<chrono::NaiveDateTime>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
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
            method: stream.delivery_method.as_str().to_owned(),
            endpoint_url: Some(match stream.delivery_method {
                DeliveryMethod::Push => stream.endpoint_url.clone().unwrap_or_default(),
                DeliveryMethod::Poll => format!(
                    "{}/oauth/event-streams/{}/poll",
                    state.oauth.issuer, stream.id
                ),
            }),
        },
        events_supported: uris(&EventKind::ALL),
        events_requested: uris(&stream.events_requested),
        events_delivered: delivered,
        status: stream.status.as_str().to_owned(),
        pending,
        authorization_header_set: (stream.delivery_method == DeliveryMethod::Push)
            .then_some(stream.authorization_header.is_some()),
        last_error: stream.delivery.last_error.clone(),
        failing_since: stream.delivery.failing_since,
        failed_attempts: stream.delivery.attempts,
        next_attempt_at: stream.delivery.next_attempt_at,
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
    let policy = state.events.policy;
    let spec = StreamSpec::parse(
        &body.delivery.method,
        body.delivery.endpoint_url.as_deref(),
        body.authorization_header,
        &body.events_requested,
        body.aud,
        policy,
    )?;
    if let crate::lifecycle::streams::DeliverySpec::Push { endpoint, .. } = &spec.delivery {
        crate::delivery::guard::check_endpoint(endpoint, policy)
            .await
            .map_err(|_| AppError::invalid_request(crate::domain::PUSH_ENDPOINT_RULE))?;
    }
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

async fn set_status(
    state: &AppState,
    actor: crate::domain::Actor,
    tenant_id: Option<TenantId>,
    sid: StreamId,
    status: StreamStatus,
) -> Result<HttpResponse, AppError> {
    let (stream, pending) = state
        .lifecycle
        .set_stream_status(actor, tenant_id, sid, status, now())
        .await?;
    Ok(HttpResponse::Ok().json(view(state, &stream, pending)))
}

#[utoipa::path(post, path = "/admin/tenants/{id}/event-streams/{sid}/resume", tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), TenantErrors),
    security(("bearer" = [])))]
/// `POST /admin/tenants/{id}/event-streams/{sid}/resume`: a paused or failing stream is
/// enabled again and its kept events are pushed, oldest first.
pub async fn resume_stream(
    admin: TenantAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sid = path.into_inner().sid;
    set_status(
        &state,
        admin.actor,
        Some(admin.tenant_id),
        sid,
        StreamStatus::Enabled,
    )
    .await
}

#[utoipa::path(post, path = "/admin/tenants/{id}/event-streams/{sid}/pause", tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), TenantErrors),
    security(("bearer" = [])))]
/// `POST /admin/tenants/{id}/event-streams/{sid}/pause`: events are kept, not pushed,
/// until the stream is resumed.
pub async fn pause_stream(
    admin: TenantAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sid = path.into_inner().sid;
    set_status(
        &state,
        admin.actor,
        Some(admin.tenant_id),
        sid,
        StreamStatus::Paused,
    )
    .await
}

#[utoipa::path(get, path = "/admin/event-streams/{sid}", tag = "admin",
    params(("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), PlatformErrors),
    security(("bearer" = [])))]
/// `GET /admin/event-streams/{sid}`: one platform-wide stream and its status.
pub async fn get_platform_stream(
    _admin: PlatformAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (stream, pending) = state
        .lifecycle
        .find_stream(None, path.into_inner().sid)
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, &stream, pending)))
}

#[utoipa::path(post, path = "/admin/event-streams/{sid}/resume", tag = "admin",
    params(("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), PlatformErrors),
    security(("bearer" = [])))]
/// `POST /admin/event-streams/{sid}/resume`.
pub async fn resume_platform_stream(
    admin: PlatformAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    set_status(
        &state,
        admin.actor,
        None,
        path.into_inner().sid,
        StreamStatus::Enabled,
    )
    .await
}

#[utoipa::path(post, path = "/admin/event-streams/{sid}/pause", tag = "admin",
    params(("sid" = String, Path, description = "stream id")),
    responses((status = 200, body = StreamView), PlatformErrors),
    security(("bearer" = [])))]
/// `POST /admin/event-streams/{sid}/pause`.
pub async fn pause_platform_stream(
    admin: PlatformAdmin,
    path: web::Path<StreamPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    set_status(
        &state,
        admin.actor,
        None,
        path.into_inner().sid,
        StreamStatus::Paused,
    )
    .await
}
