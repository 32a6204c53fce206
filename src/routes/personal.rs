//! `/oauth/personal-access-tokens`: a user's own long-lived tokens, managed with a token
//! the user already holds.

use actix_web::{web, HttpResponse};

use super::bearer::Bearer;
use super::errors::AppError;
use super::json::JsonObject;
use super::views::{rfc3339, CreatedPersonalToken, PersonalTokenList, PersonalTokenView};
use super::AppState;
use crate::domain::{now, Scope, TokenId};

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreatePersonalToken {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/oauth/personal-access-tokens",
    tag = "personal",
    request_body = CreatePersonalToken,
    responses(
        (status = 201, description = "the token, shown this once", body = super::views::CreatedPersonalToken),
        (status = 400, description = "invalid_request or invalid_scope (wider than the caller's token)", body = crate::routes::errors::ErrorBody),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `POST /oauth/personal-access-tokens`: a new personal access token for the caller's user.
pub async fn create_personal_token(
    Bearer(caller): Bearer,
    JsonObject(body): JsonObject<CreatePersonalToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let scope = Scope::from_tokens(&body.scopes)
        .map_err(|_| AppError::invalid_scope("a scope is malformed"))?;
    let name = body.name.trim().to_owned();
    let issued = state
        .oauth
        .create_personal_token(caller, body.name, scope, now())
        .await?;
    Ok(HttpResponse::Created().json(CreatedPersonalToken {
        id: issued.jti.to_string(),
        name,
        scopes: issued.scope.iter().map(str::to_owned).collect(),
        access_token: issued.access_token,
        expires_at: rfc3339(issued.expires_at),
    }))
}

#[utoipa::path(
    get,
    path = "/oauth/personal-access-tokens",
    tag = "personal",
    responses(
        (status = 200, body = super::views::PersonalTokenList),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `GET /oauth/personal-access-tokens`: the caller's tokens, without their values.
pub async fn list_personal_tokens(
    Bearer(caller): Bearer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let tokens = state.oauth.list_personal_tokens(&caller).await?;
    Ok(HttpResponse::Ok().json(PersonalTokenList {
        tokens: tokens.iter().map(PersonalTokenView::from).collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/oauth/personal-access-tokens/{id}",
    tag = "personal",
    params(("id" = String, Path, description = "the token's id (jti)")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 404, description = "not one of the caller's tokens", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `DELETE /oauth/personal-access-tokens/{id}`: revokes one of the caller's own tokens.
pub async fn revoke_personal_token(
    Bearer(caller): Bearer,
    id: web::Path<TokenId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    state
        .oauth
        .revoke_personal_token(&caller, id.into_inner(), now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
