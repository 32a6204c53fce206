use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::domain::{GrantType, SERVER_SCOPES};
use crate::startup::AppState;

/// `GET /.well-known/jwks.json` (RFC 7517 §5): every public key that verifies our tokens.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let store = state.oauth.keys.snapshot();
    let keys: Vec<_> = store.public_keys().collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

/// `GET /docs`: the human-readable page the metadata names as `service_documentation`.
pub async fn service_documentation() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../docs/service.html"))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §2).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.oauth.issuer;
    let grant_types: Vec<_> = GrantType::ALL.iter().map(|grant| grant.as_str()).collect();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        // Only the scopes tenauth itself defines: each tenant names its own others, and
        // RFC 8414 §2 lets a server leave scopes out.
        "scopes_supported": SERVER_SCOPES,
        "service_documentation": state.service_documentation,
        "grant_types_supported": grant_types,
        // No authorization endpoint: none of the supported grants uses one.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // Introspection answers confidential clients only; revocation also public ones.
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    }))
}
