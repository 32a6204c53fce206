//! `/oauth/me`: the smallest protected resource.

use actix_web::HttpResponse;

use super::bearer::Bearer;
use super::views::Me;

#[utoipa::path(
    get,
    path = "/oauth/me",
    tag = "personal",
    responses(
        (status = 200, body = super::views::Me),
        (status = 401, description = "invalid_token (WWW-Authenticate: Bearer)", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "X-Tenant-ID names another tenant than the token's", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `GET /oauth/me`: what the caller's bearer token says about itself — the smallest
/// protected resource, for clients and tests.
pub async fn me(caller: Bearer) -> HttpResponse {
    HttpResponse::Ok().json(Me::from(caller.0))
}
