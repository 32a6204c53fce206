use actix_web::HttpResponse;
use serde_json::json;

use super::bearer::Bearer;
use crate::domain::TokenKind;

/// `GET /oauth/me`: what the caller's bearer token says about itself — the smallest
/// protected resource, for clients and tests.
pub async fn me(caller: Bearer) -> HttpResponse {
    let token = caller.0;
    HttpResponse::Ok().json(json!({
        "sub": token.subject,
        "username": token.username,
        "tenant_id": token.tenant_id,
        "client_id": token.client_id,
        "scope": token.scope.to_string(),
        "token_kind": if token.kind == TokenKind::Personal { "personal" } else { "access" },
        "grant": token.kind,
        "exp": token.expires_at,
    }))
}
