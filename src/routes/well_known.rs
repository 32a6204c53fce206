//! Discovery: the JWKS (RFC 7517), the RFC 8414 metadata, and the `/docs` page.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::cache_policy::public_for;
use super::AppState;
use crate::domain::{GrantType, SERVER_SCOPES};

/// How long caches may keep the public metadata: changes (a new key, a new setting) reach
/// everyone within it.
const MAX_METADATA_AGE: Duration = Duration::from_secs(60);

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "RFC 7517 JWK set: every key that may still verify a live token (kid, alg ES256, use sig)")))]
/// `GET /.well-known/jwks.json` (RFC 7517 §5): every public key that verifies our tokens.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let store = state.oauth.keys.snapshot();
    let keys: Vec<_> = store.public_keys().collect();
    let mut response = HttpResponse::Ok();
    // A new key is published this long before it signs: a cached set never misses it.
    let publish_delay = Duration::from_secs(state.oauth.keys.publish_delay().unsigned_abs());
    public_for(&mut response, publish_delay.min(MAX_METADATA_AGE));
    response.json(json!({ "keys": keys }))
}

#[utoipa::path(get, path = "/docs", tag = "discovery",
    responses((status = 200, description = "a short human-readable page", content_type = "text/html")))]
/// `GET /docs`: the human-readable page the metadata names as `service_documentation`.
pub async fn service_documentation() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../docs/service.html"))
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "RFC 8414 authorization server metadata")))]
/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §2).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.oauth.issuer;
    let grant_types: Vec<_> = GrantType::ALL.iter().map(|grant| grant.as_str()).collect();
    let mut response = HttpResponse::Ok();
    public_for(&mut response, MAX_METADATA_AGE);
    response.json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        // Only the scopes tenauth itself defines: each tenant names its own others, and
        // RFC 8414 §2 lets a server leave scopes out.
        "scopes_supported": SERVER_SCOPES,
        "service_documentation": state.service_documentation,
        "grant_types_supported": grant_types,
        "response_types_supported": ["code"],
        // PKCE is required of every client, with S256 only (RFC 7636, RFC 9700 §2.1.1).
        "code_challenge_methods_supported": ["S256"],
        // RFC 9207: every authorization response carries `iss`.
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // Introspection answers confidential clients only; revocation also public ones.
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    }))
}
