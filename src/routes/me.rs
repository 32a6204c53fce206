use actix_web::HttpResponse;

use super::bearer::Bearer;
use super::views::Me;

/// `GET /oauth/me`: what the caller's bearer token says about itself — the smallest
/// protected resource, for clients and tests.
pub async fn me(caller: Bearer) -> HttpResponse {
    HttpResponse::Ok().json(Me::from(caller.0))
}
