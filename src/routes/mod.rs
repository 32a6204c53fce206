//! Thin actix handlers. They parse the request, call into `oauth`/`db`, and turn the
//! result into HTTP; no SQL and no protocol logic lives here. [`configure`] lists every
//! route the server has.

mod admin;
pub mod bearer;
mod health;
mod me;
pub mod metrics;
mod personal;
pub mod request_id;
mod token;
pub mod views;
mod well_known;

use actix_web::error::JsonPayloadError;
use actix_web::{web, HttpResponse};

use crate::error::AppError;

/// Largest request body accepted: OAuth forms and admin JSON are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY_BYTES)
                .error_handler(|error, _| {
                    // Not the error itself: serde quotes the offending value, which may be a password.
                    log::debug!("rejected a JSON body");
                    match error {
                        JsonPayloadError::Overflow { .. }
                        | JsonPayloadError::OverflowKnownLength { .. } => body_too_large().into(),
                        _ => AppError::invalid_request(
                            "the body must be a JSON object of the documented shape",
                        )
                        .into(),
                    }
                }),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| AppError::not_found("no such resource").into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|_, _| {
            AppError::invalid_request("the query string is not of the documented shape").into()
        }))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::expose))
        .route("/.well-known/jwks.json", web::get().to(well_known::jwks))
        .route("/docs", web::get().to(well_known::service_documentation))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(well_known::metadata),
        )
        .service(
            web::resource("/oauth/token")
                .route(web::post().to(token::issue_token))
                .default_service(web::to(token::post_only)),
        )
        .service(
            web::resource("/oauth/introspect")
                .route(web::post().to(token::introspect_token))
                .default_service(web::to(token::post_only)),
        )
        .service(
            web::resource("/oauth/revoke")
                .route(web::post().to(token::revoke_token))
                .default_service(web::to(token::post_only)),
        )
        .route("/oauth/me", web::get().to(me::me))
        .service(
            web::resource("/oauth/personal-access-tokens")
                .route(web::post().to(personal::create_personal_token))
                .route(web::get().to(personal::list_personal_tokens)),
        )
        .route(
            "/oauth/personal-access-tokens/{id}",
            web::delete().to(personal::revoke_personal_token),
        )
        .service(
            web::resource("/admin/tenants")
                .route(web::post().to(admin::create_tenant))
                .route(web::get().to(admin::list_tenants)),
        )
        .service(
            web::resource("/admin/tenants/{id}")
                .route(web::get().to(admin::get_tenant))
                .route(web::delete().to(admin::delete_tenant)),
        )
        .route(
            "/admin/tenants/{id}/suspend",
            web::post().to(admin::suspend_tenant),
        )
        .route(
            "/admin/tenants/{id}/activate",
            web::post().to(admin::activate_tenant),
        )
        .route(
            "/admin/tenants/{id}/audit-events",
            web::get().to(admin::list_audit_events),
        )
        .service(
            web::resource("/admin/tenants/{id}/clients")
                .route(web::post().to(admin::create_client))
                .route(web::get().to(admin::list_clients)),
        )
        .service(
            web::resource("/admin/tenants/{id}/clients/{client_id}")
                .route(web::get().to(admin::get_client))
                .route(web::delete().to(admin::delete_client)),
        )
        .route(
            "/admin/tenants/{id}/clients/{client_id}/secret",
            web::post().to(admin::rotate_client_secret),
        )
        .route(
            "/admin/tenants/{id}/revoke-tokens",
            web::post().to(admin::revoke_tokens),
        )
        .service(
            web::resource("/admin/tenants/{id}/users")
                .route(web::post().to(admin::create_user))
                .route(web::get().to(admin::list_users)),
        )
        .route(
            "/admin/tenants/{id}/users/{user_id}",
            web::delete().to(admin::delete_user),
        )
        .route(
            "/admin/tenants/{id}/users/{user_id}/password",
            web::put().to(admin::change_password),
        )
        .route(
            "/admin/tenants/{id}/users/{user_id}/disable",
            web::post().to(admin::disable_user),
        )
        .route(
            "/admin/tenants/{id}/tokens",
            web::get().to(admin::list_tokens),
        )
        .default_service(web::to(not_found));
}

/// 413 with the JSON error every other refusal uses.
pub fn body_too_large() -> AppError {
    AppError::rejected(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "the request body is too large",
    )
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found",
        "error_description": "no such endpoint",
    }))
}
