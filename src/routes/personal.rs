use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::bearer::Bearer;
use super::views::{rfc3339, CreatedPersonalToken, PersonalTokenList, PersonalTokenView};
use crate::db::blocking;
use crate::domain::{now, Scope};
use crate::error::AppError;
use crate::oauth::personal::PersonalTokenError;
use crate::startup::AppState;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreatePersonalToken {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

impl From<PersonalTokenError> for AppError {
    fn from(error: PersonalTokenError) -> Self {
        match error {
            PersonalTokenError::NotAUser => {
                Self::forbidden("only a user's token can manage personal access tokens")
            }
            PersonalTokenError::InvalidName => {
                Self::invalid_request("the name must be 1 to 255 characters")
            }
            PersonalTokenError::ScopeTooWide => Self::rejected(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "the scopes exceed those of the caller's token",
            ),
            PersonalTokenError::Inactive => Self::rejected(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid",
            ),
            PersonalTokenError::NotFound => Self::not_found("no such personal access token"),
            PersonalTokenError::Database(error) => error.into(),
            PersonalTokenError::Signing => Self::Internal("token signing failed".into()),
        }
    }
}

#[utoipa::path(
    post,
    path = "/oauth/personal-access-tokens",
    tag = "personal",
    request_body = CreatePersonalToken,
    responses(
        (status = 201, description = "the token, shown this once", body = super::views::CreatedPersonalToken),
        (status = 400, description = "invalid_request or invalid_scope (wider than the caller's token)", body = crate::error::ErrorBody),
        (status = 401, description = "invalid_token", body = crate::error::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `POST /oauth/personal-access-tokens`: a new personal access token for the caller's user.
pub async fn create_personal_token(
    caller: Bearer,
    body: web::Json<CreatePersonalToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let scope = Scope::from_tokens(&body.scopes).map_err(|_| {
        AppError::rejected(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "a scope is malformed",
        )
    })?;
    let oauth = state.oauth.clone();
    let issued = blocking(move || {
        oauth
            .create_personal_token(&caller.0, &body.name, scope, now())
            .map_err(AppError::from)
            .map(|issued| (issued, body.name))
    })
    .await?;
    let (issued, name) = issued;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedPersonalToken {
            id: issued.jti,
            name: name.trim().to_owned(),
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
        (status = 401, description = "invalid_token", body = crate::error::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `GET /oauth/personal-access-tokens`: the caller's tokens, without their values.
pub async fn list_personal_tokens(
    caller: Bearer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let oauth = state.oauth.clone();
    let tokens = blocking(move || {
        oauth
            .list_personal_tokens(&caller.0)
            .map_err(AppError::from)
    })
    .await?;
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
        (status = 401, description = "invalid_token", body = crate::error::ErrorBody),
        (status = 404, description = "not one of the caller's tokens", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// `DELETE /oauth/personal-access-tokens/{id}`: revokes one of the caller's own tokens.
pub async fn revoke_personal_token(
    caller: Bearer,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let oauth = state.oauth.clone();
    let id = id.into_inner();
    blocking(move || {
        oauth
            .revoke_personal_token(&caller.0, &id, now())
            .map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
