//! `GET /openapi.json`: the OpenAPI 3.1 document of every endpoint, generated from the
//! handlers' `#[utoipa::path]` annotations and the request and answer types.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, consents, events, health, me, metrics, pages, personal, token, well_known};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenauth",
        description = "An OAuth 2.0 authorization server whose every token is bound to a tenant: \
            token endpoint (RFC 6749), introspection (RFC 7662), revocation (RFC 7009), \
            metadata (RFC 8414), personal access tokens and the admin API."
    ),
    paths(
        consents::list_consents,
        consents::forget_consent,
        events::poll,
        admin::streams::create_stream,
        admin::streams::list_streams,
        admin::streams::get_stream,
        admin::streams::delete_stream,
        admin::streams::create_platform_stream,
        admin::streams::list_platform_streams,
        admin::streams::delete_platform_stream,
        admin::streams::get_platform_stream,
        admin::streams::resume_stream,
        admin::streams::pause_stream,
        admin::streams::resume_platform_stream,
        admin::streams::pause_platform_stream,
        pages::authorize,
        pages::authorize_form,
        pages::logout,
        pages::logout_form,
        pages::stylesheet,
        token::issue_token,
        token::introspect_token,
        token::revoke_token,
        me::me,
        personal::create_personal_token,
        personal::list_personal_tokens,
        personal::revoke_personal_token,
        admin::tenants::create_tenant,
        admin::tenants::list_tenants,
        admin::tenants::get_tenant,
        admin::tenants::update_tenant,
        admin::tenants::delete_tenant,
        admin::tenants::suspend_tenant,
        admin::tenants::activate_tenant,
        admin::tenants::list_audit_events,
        admin::tenants::list_platform_audit_events,
        admin::clients::create_client,
        admin::clients::list_clients,
        admin::clients::get_client,
        admin::clients::delete_client,
        admin::clients::rotate_client_secret,
        admin::tokens::revoke_tokens,
        admin::users::create_user,
        admin::users::list_users,
        admin::users::delete_user,
        admin::users::change_password,
        admin::users::disable_user,
        admin::tokens::list_tokens,
        health::healthz,
        health::readyz,
        metrics::expose,
        well_known::jwks,
        well_known::metadata,
        well_known::service_documentation,
        openapi_json,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "events", description = "Security events for resource servers: SETs (RFC 8417) polled from a stream (RFC 8936)"),
        (name = "browser", description = "The pages a person sees: the authorization endpoint (sign-in and consent) and logout"),
        (name = "oauth", description = "The OAuth endpoints; clients authenticate with HTTP Basic (client_secret_basic) or in the form (client_secret_post)"),
        (name = "personal", description = "Endpoints for the holder of a bearer access token"),
        (name = "admin", description = "Tenants, clients, users and tokens: a Bearer token with scope `admin` (platform tenant) or `tenant:admin` (own tenant)"),
        (name = "discovery", description = "What resource servers and developers read"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

#[utoipa::path(get, path = "/openapi.json", tag = "discovery",
    responses((status = 200, description = "this document (OpenAPI 3.1)")))]
/// `GET /openapi.json`.
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.as_str())
}
