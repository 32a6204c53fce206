//! Thin actix handlers. They parse the request, call into `oauth`/`db`, and turn the
//! result into HTTP; no SQL and no protocol logic lives here. [`configure`] lists every
//! route the server has.

mod admin;
pub mod api_doc;
pub mod bearer;
pub mod body_deadline;
mod health;
mod me;
pub mod metrics;
mod personal;
pub mod request_id;
mod token;
pub mod views;
mod well_known;

use actix_web::error::JsonPayloadError;
use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};

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
        .default_service(web::to(not_found));
    let mut allowed: Vec<(&'static str, Vec<Method>)> = Vec::new();
    for Endpoint {
        method,
        path,
        route,
    } in endpoints()
    {
        config.route(path, route);
        match allowed.iter_mut().find(|(known, _)| *known == path) {
            Some((_, methods)) => methods.push(method),
            None => allowed.push((path, vec![method])),
        }
    }
    // Any other method on a known path: 405 naming the ones allowed (RFC 9110 §15.5.6).
    for (path, methods) in allowed {
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        config.route(path, web::to(move || method_not_allowed(allow.clone())));
    }
}

/// One endpoint: what the router serves and the OpenAPI document describes.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

fn at<F, Args>(method: Method, path: &'static str, handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        route: web::method(method.clone()).to(handler),
        method,
        path,
    }
}

/// Every endpoint of the server, in one table: [`configure`] registers them, and a test
/// checks that the OpenAPI document (`/openapi.json`) describes each one.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        at(M::GET, "/healthz", health::healthz),
        at(M::GET, "/readyz", health::readyz),
        at(M::GET, "/metrics", metrics::expose),
        at(M::GET, "/openapi.json", api_doc::openapi_json),
        at(M::GET, "/docs", well_known::service_documentation),
        at(M::GET, "/.well-known/jwks.json", well_known::jwks),
        at(
            M::GET,
            "/.well-known/oauth-authorization-server",
            well_known::metadata,
        ),
        at(M::POST, "/oauth/token", token::issue_token),
        at(M::POST, "/oauth/introspect", token::introspect_token),
        at(M::POST, "/oauth/revoke", token::revoke_token),
        at(M::GET, "/oauth/me", me::me),
        at(
            M::POST,
            "/oauth/personal-access-tokens",
            personal::create_personal_token,
        ),
        at(
            M::GET,
            "/oauth/personal-access-tokens",
            personal::list_personal_tokens,
        ),
        at(
            M::DELETE,
            "/oauth/personal-access-tokens/{id}",
            personal::revoke_personal_token,
        ),
        at(M::POST, "/admin/tenants", admin::create_tenant),
        at(M::GET, "/admin/tenants", admin::list_tenants),
        at(M::GET, "/admin/tenants/{id}", admin::get_tenant),
        at(M::DELETE, "/admin/tenants/{id}", admin::delete_tenant),
        at(
            M::POST,
            "/admin/tenants/{id}/suspend",
            admin::suspend_tenant,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/activate",
            admin::activate_tenant,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/audit-events",
            admin::list_audit_events,
        ),
        at(M::POST, "/admin/tenants/{id}/clients", admin::create_client),
        at(M::GET, "/admin/tenants/{id}/clients", admin::list_clients),
        at(
            M::GET,
            "/admin/tenants/{id}/clients/{client_id}",
            admin::get_client,
        ),
        at(
            M::DELETE,
            "/admin/tenants/{id}/clients/{client_id}",
            admin::delete_client,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/clients/{client_id}/secret",
            admin::rotate_client_secret,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/revoke-tokens",
            admin::revoke_tokens,
        ),
        at(M::POST, "/admin/tenants/{id}/users", admin::create_user),
        at(M::GET, "/admin/tenants/{id}/users", admin::list_users),
        at(
            M::DELETE,
            "/admin/tenants/{id}/users/{user_id}",
            admin::delete_user,
        ),
        at(
            M::PUT,
            "/admin/tenants/{id}/users/{user_id}/password",
            admin::change_password,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/users/{user_id}/disable",
            admin::disable_user,
        ),
        at(M::GET, "/admin/tenants/{id}/tokens", admin::list_tokens),
    ]
}

/// 405 with the JSON error shape and the `Allow` header.
async fn method_not_allowed(allow: String) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "this method is not allowed here; see the Allow header",
        }))
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
