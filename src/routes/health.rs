//! Probes: `/healthz` (liveness) and `/readyz` (readiness).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::errors::AppError;
use super::AppState;

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\":\"ok\"}` while the process serves HTTP (liveness)")))]
/// `GET /healthz`: the process is up and serving HTTP. Touches nothing else, so it stays
/// 200 through a database outage (orchestrators restart on liveness failures, and a
/// restart does not fix a database).
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "`{\"status\":\"ready\"}`: the database answers (readiness)"),
        (status = 503, description = "temporarily_unavailable; Retry-After", body = crate::routes::errors::ErrorBody),
    ))]
/// `GET /readyz`: the database answers; 503 with a JSON error when it does not, so a load
/// balancer stops sending traffic to this instance.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.oauth.check_ready().await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
