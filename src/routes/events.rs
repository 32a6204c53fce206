//! `POST /oauth/event-streams/{sid}/poll`: a receiver polls its stream (RFC 8936).

use actix_web::{web, HttpResponse};

use super::admin::streams::StreamPath;
use super::bearer::Bearer;
use super::errors::AppError;
use super::json::JsonObject;
use super::AppState;
use crate::domain::now;
use crate::oauth::security_events::{PollError, PollRequest};

/// RFC 8936 §2.4's request.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct PollBody {
    /// The `jti`s of SETs received.
    #[serde(default)]
    ack: Vec<String>,
    /// SETs the receiver could not process, by `jti`: they are not sent again either.
    #[serde(default, rename = "setErrs")]
    #[schema(value_type = Object)]
    set_errs: serde_json::Map<String, serde_json::Value>,
    /// At most this many SETs (default 100, at most 1,000); 0 only acknowledges.
    #[serde(rename = "maxEvents")]
    max_events: Option<u32>,
    /// Accepted and ignored: the answer always comes at once.
    #[serde(rename = "returnImmediately")]
    #[allow(dead_code)]
    return_immediately: Option<bool>,
}

/// RFC 8936 §2.5's answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PollAnswerSchema {
    /// SETs by `jti`.
    #[schema(value_type = Object)]
    sets: serde_json::Value,
    #[schema(rename = "moreAvailable")]
    more_available: bool,
}

#[utoipa::path(post, path = "/oauth/event-streams/{sid}/poll", tag = "events",
    params(("sid" = String, Path, description = "stream id")),
    request_body = PollBody,
    responses(
        (status = 200, body = PollAnswerSchema),
        (status = 401, description = "invalid_token", body = crate::routes::errors::ErrorBody),
        (status = 403, description = "the token lacks tenant:admin (admin for a platform stream) and events:read", body = crate::routes::errors::ErrorBody),
        (status = 404, description = "no such stream of the token's tenant", body = crate::routes::errors::ErrorBody),
    ),
    security(("bearer" = [])))]
/// `POST /oauth/event-streams/{sid}/poll`: acknowledges, then returns the next SETs.
pub async fn poll(
    Bearer(caller): Bearer,
    path: web::Path<StreamPath>,
    JsonObject(body): JsonObject<PollBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut acknowledged = body.ack;
    acknowledged.extend(body.set_errs.into_iter().map(|(jti, _)| jti));
    let request = PollRequest {
        acknowledged,
        max_events: body.max_events.map(|max| max as usize),
    };
    let answer = state
        .oauth
        .poll_events(caller, path.into_inner().sid, request, now())
        .await?;
    state
        .metrics
        .events_acknowledged(&answer.acknowledged, now());
    Ok(HttpResponse::Ok().json(answer))
}

impl From<PollError> for AppError {
    fn from(error: PollError) -> Self {
        match error {
            PollError::NotFound => Self::not_found("no such event stream"),
            PollError::InsufficientScope => Self::rejected(
                actix_web::http::StatusCode::FORBIDDEN,
                "insufficient_scope",
                "polling needs tenant:admin or events:read",
            ),
            PollError::Database(error) => error.into(),
            PollError::Signing => Self::Internal("signing a SET failed".into()),
        }
    }
}
