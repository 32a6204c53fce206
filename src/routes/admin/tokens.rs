//! `/admin/tenants/{id}/tokens` and `/admin/tenants/{id}/revoke-tokens`: a tenant's access
//! tokens as metadata, and their bulk revocation.

use actix_web::{web, HttpResponse};

use super::{next_cursor, Limit, TenantAdmin, TenantErrors};
use crate::db::models::token::TokenQuery;
use crate::domain::{now, ClientId, RevocationTarget, TokenId, UserId};
use crate::routes::errors::AppError;
use crate::routes::json::OptionalJsonObject;
use crate::routes::views::{RevokedCounts, TokenPage, TokenView};
use crate::routes::AppState;

/// `?active=&client_id=&user_id=&limit=&after=` of the token listing. Each value is parsed
/// here: one that cannot be what it names is 400, like any malformed query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListing {
    active: Option<bool>,
    #[param(value_type = Option<String>)]
    client_id: Option<ClientId>,
    #[param(value_type = Option<i64>)]
    user_id: Option<UserId>,
    #[param(value_type = Option<String>)]
    after: Option<TokenId>,
    #[param(value_type = Option<i64>)]
    #[serde(default)]
    limit: Limit,
}

/// `{}` (all), `{"client_id"}` or `{"user_id"}`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokens {
    #[schema(value_type = Option<String>)]
    client_id: Option<ClientId>,
    #[schema(value_type = Option<i64>)]
    user_id: Option<UserId>,
}

/// `GET /admin/tenants/{id}/tokens`: access-token metadata, oldest first; never a value.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/tokens",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), TokenListing),
    responses((status = 200, description = "access-token metadata, oldest first; never a value", body = TokenPage), TenantErrors),
    security(("bearer" = []))
)]
pub async fn list_tokens(
    admin: TenantAdmin,
    listing: web::Query<TokenListing>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let listing = listing.into_inner();
    let limit = listing.limit.get()?;
    let query = TokenQuery {
        active: listing.active,
        client_id: listing.client_id,
        user_id: listing.user_id,
        after: listing.after,
        limit,
    };
    let current = now();
    let tokens = state
        .lifecycle
        .list_tokens(admin.tenant_id, query, current)
        .await?;
    Ok(HttpResponse::Ok().json(TokenPage {
        next: next_cursor(&tokens, limit, |token| token.id.to_string()),
        items: tokens
            .iter()
            .map(|token| TokenView::new(token, current))
            .collect(),
    }))
}

/// `POST /admin/tenants/{id}/revoke-tokens` with an optional `client_id` or `user_id`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/revoke-tokens",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = Option<RevokeTokens>,
    responses((status = 200, body = RevokedCounts), TenantErrors),
    security(("bearer" = []))
)]
pub async fn revoke_tokens(
    admin: TenantAdmin,
    OptionalJsonObject(body): OptionalJsonObject<RevokeTokens>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let target = match body.unwrap_or_default() {
        RevokeTokens {
            client_id: None,
            user_id: None,
        } => RevocationTarget::Tenant,
        RevokeTokens {
            client_id: Some(client_id),
            user_id: None,
        } => RevocationTarget::Client(client_id),
        RevokeTokens {
            client_id: None,
            user_id: Some(user_id),
        } => RevocationTarget::User(user_id),
        _ => {
            return Err(AppError::invalid_request(
                "give client_id or user_id, not both",
            ))
        }
    };
    let counts = state
        .lifecycle
        .revoke_tenant_tokens(admin.actor, admin.tenant_id, target, now())
        .await?;
    Ok(HttpResponse::Ok().json(RevokedCounts::from(counts)))
}
