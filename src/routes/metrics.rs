//! `GET /metrics`, and the middleware that counts and logs every request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::AppState;

/// Counts the request under its route pattern (bounded: `/admin/tenants/{id}`, never the
/// path itself; `unmatched` for paths no route knows), times it to the response head, and
/// writes the access log line (target `tenauth::access`). The line names the route pattern
/// too, never the path or the query: those are the caller's text (ids, and whatever a
/// hostile client puts there), and a query string could carry a credential. The request
/// id and tenant come with the line from the request's log context.
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    // Known methods only: a label per invented method would be unbounded.
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let peer = request.peer_addr();
    let response = next.call(request).await?;
    let route = response
        .request()
        .app_data::<super::RoutePattern>()
        .map_or("unmatched", |pattern| pattern.0);
    let elapsed = started.elapsed();
    let status = response.status();
    if let Some(state) = state {
        state
            .metrics
            .request_answered(route, method, status.as_str(), elapsed.as_secs_f64());
    }
    log::info!(
        target: "tenauth::access",
        "{} \"{method} {route}\" {} {:.3}ms",
        peer.map_or_else(|| "-".to_owned(), |peer| peer.ip().to_string()),
        status.as_u16(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(response)
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
/// `GET /metrics`: Prometheus text format. Like `/healthz` it needs no credentials, so
/// expose it only where the scraper can reach it (see deploy/README.md).
pub async fn expose(state: web::Data<AppState>) -> HttpResponse {
    // An unreachable database leaves the pending gauges at zero rather than failing the
    // scrape: the pool gauges and request counters matter most then.
    let pending = state.lifecycle.pending_events().await.unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.oauth.pool_states(), &pending))
}
