//! `/oauth/consents`: the caller's remembered approvals of clients, and taking one back.

use actix_web::{web, HttpResponse};

use super::bearer::Bearer;
use super::errors::AppError;
use super::views::rfc3339;
use super::AppState;
use crate::domain::ClientId;
use crate::oauth::consents::ConsentError;

/// One remembered approval.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    client_id: String,
    scopes: Vec<String>,
    granted_at: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentList {
    consents: Vec<ConsentView>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ConsentPath {
    client_id: ClientId,
}

#[utoipa::path(get, path = "/oauth/consents", tag = "personal",
    responses(
        (status = 200, body = ConsentList),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = [])))]
/// `GET /oauth/consents`: the clients the caller's user has approved, and for what.
pub async fn list_consents(
    Bearer(caller): Bearer,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let consents = state.oauth.list_consents(&caller).await?;
    Ok(HttpResponse::Ok().json(ConsentList {
        consents: consents
            .into_iter()
            .map(|(client_id, scopes, granted_at)| ConsentView {
                client_id: client_id.to_string(),
                scopes: scopes.iter().map(str::to_owned).collect(),
                granted_at: rfc3339(granted_at),
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/oauth/consents/{client_id}", tag = "personal",
    params(("client_id" = String, Path, description = "the client approved")),
    responses(
        (status = 204, description = "taken back: the next authorization asks again"),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "not a user's token", body = crate::routes::errors::ErrorBody),
        (status = 404, description = "no approval of this client", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = [])))]
/// `DELETE /oauth/consents/{client_id}`: takes back the approval of one client.
pub async fn forget_consent(
    Bearer(caller): Bearer,
    path: web::Path<ConsentPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    state
        .oauth
        .forget_consent(&caller, path.into_inner().client_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

impl From<ConsentError> for AppError {
    fn from(error: ConsentError) -> Self {
        match error {
            ConsentError::NotAUser => {
                Self::forbidden("only a user's token can manage its consents")
            }
            ConsentError::NotFound => Self::not_found("no consent for this client"),
            ConsentError::Database(error) => error.into(),
        }
    }
}
