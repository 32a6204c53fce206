//! Thin actix handlers. They parse the request into domain types, call a service
//! (`oauth::OAuthServer` or `lifecycle::Lifecycle`) and turn the result into HTTP; no SQL,
//! no protocol logic and no choice of thread pool lives here. [`endpoints`] lists every
//! route the server has; [`errors`] turns every layer's errors into HTTP.

mod admin;
pub mod api_doc;
pub mod bearer;
pub mod body_deadline;
pub mod cache_policy;
mod consents;
pub mod errors;
mod events;
mod health;
pub mod json;
mod me;
pub mod metrics;
mod pages;
mod personal;
pub mod request_id;
mod state;
mod token;
pub mod views;
mod well_known;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};

pub use state::AppState;

use errors::AppError;

/// Largest request body accepted: OAuth forms and admin JSON are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    // JSON bodies are read by `json::JsonObject`, within this limit too.
    config
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| AppError::not_found("no such resource").into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|_, _| {
            AppError::invalid_request("the query string is not of the documented shape").into()
        }))
        .default_service(web::to(not_found));
    // One resource per path, in the table's order, holding its methods' routes; any other
    // method on it is 405 naming the ones allowed (RFC 9110 §15.5.6).
    let mut resources: Vec<(&'static str, Vec<Method>, Vec<Route>)> = Vec::new();
    for Endpoint {
        method,
        path,
        route,
    } in endpoints()
    {
        match resources.iter_mut().find(|(known, _, _)| *known == path) {
            Some((_, methods, routes)) => {
                methods.push(method);
                routes.push(route);
            }
            None => resources.push((path, vec![method], vec![route])),
        }
    }
    for (path, methods, routes) in resources {
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let resource = routes.into_iter().fold(
            web::resource(path).app_data(RoutePattern(path)),
            actix_web::Resource::route,
        );
        config
            .service(resource.default_service(web::to(move || method_not_allowed(allow.clone()))));
    }
}

/// The route pattern a request matched (`/admin/tenants/{id}`), for metrics and the access
/// log: read from the matched resource's data instead of matching the path against every
/// pattern again, which `HttpRequest::match_pattern` does (a regex per dynamic route, on
/// every request: BENCHMARKS.md, eighth session).
#[derive(Debug, Clone, Copy)]
pub struct RoutePattern(pub &'static str);

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
        at(M::GET, "/oauth/authorize", pages::authorize),
        at(M::POST, "/oauth/authorize", pages::authorize_form),
        at(M::GET, "/oauth/logout", pages::logout),
        at(M::POST, "/oauth/logout", pages::logout_form),
        at(M::GET, "/oauth/assets/tenauth.css", pages::stylesheet),
        at(M::POST, "/oauth/event-streams/{sid}/poll", events::poll),
        at(M::GET, "/oauth/consents", consents::list_consents),
        at(
            M::DELETE,
            "/oauth/consents/{client_id}",
            consents::forget_consent,
        ),
        at(
            M::POST,
            "/admin/event-streams",
            admin::streams::create_platform_stream,
        ),
        at(
            M::GET,
            "/admin/event-streams",
            admin::streams::list_platform_streams,
        ),
        at(
            M::GET,
            "/admin/event-streams/{sid}",
            admin::streams::get_platform_stream,
        ),
        at(
            M::DELETE,
            "/admin/event-streams/{sid}",
            admin::streams::delete_platform_stream,
        ),
        at(
            M::POST,
            "/admin/event-streams/{sid}/resume",
            admin::streams::resume_platform_stream,
        ),
        at(
            M::POST,
            "/admin/event-streams/{sid}/pause",
            admin::streams::pause_platform_stream,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/event-streams",
            admin::streams::create_stream,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/event-streams",
            admin::streams::list_streams,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/event-streams/{sid}",
            admin::streams::get_stream,
        ),
        at(
            M::DELETE,
            "/admin/tenants/{id}/event-streams/{sid}",
            admin::streams::delete_stream,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/event-streams/{sid}/resume",
            admin::streams::resume_stream,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/event-streams/{sid}/pause",
            admin::streams::pause_stream,
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
        at(M::POST, "/admin/tenants", admin::tenants::create_tenant),
        at(M::GET, "/admin/tenants", admin::tenants::list_tenants),
        at(M::GET, "/admin/tenants/{id}", admin::tenants::get_tenant),
        at(
            M::PATCH,
            "/admin/tenants/{id}",
            admin::tenants::update_tenant,
        ),
        at(
            M::DELETE,
            "/admin/tenants/{id}",
            admin::tenants::delete_tenant,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/suspend",
            admin::tenants::suspend_tenant,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/activate",
            admin::tenants::activate_tenant,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/audit-events",
            admin::tenants::list_audit_events,
        ),
        at(
            M::GET,
            "/admin/audit-events",
            admin::tenants::list_platform_audit_events,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/clients",
            admin::clients::create_client,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/clients",
            admin::clients::list_clients,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/clients/{client_id}",
            admin::clients::get_client,
        ),
        at(
            M::DELETE,
            "/admin/tenants/{id}/clients/{client_id}",
            admin::clients::delete_client,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/clients/{client_id}/secret",
            admin::clients::rotate_client_secret,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/revoke-tokens",
            admin::tokens::revoke_tokens,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/users",
            admin::users::create_user,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/users",
            admin::users::list_users,
        ),
        at(
            M::DELETE,
            "/admin/tenants/{id}/users/{user_id}",
            admin::users::delete_user,
        ),
        at(
            M::PUT,
            "/admin/tenants/{id}/users/{user_id}/password",
            admin::users::change_password,
        ),
        at(
            M::POST,
            "/admin/tenants/{id}/users/{user_id}/disable",
            admin::users::disable_user,
        ),
        at(
            M::GET,
            "/admin/tenants/{id}/tokens",
            admin::tokens::list_tokens,
        ),
    ]
}

/// 405 with the JSON error shape and the `Allow` header.
async fn method_not_allowed(allow: String) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow))
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
