//! `AppError`: failures of tenauth's non-OAuth endpoints, turned into HTTP at the edge.
//! A database outage is 503 with `Retry-After`; anything unexpected is an opaque 500.
//! In both cases the cause goes to the log and never into the response body.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("service unavailable: {0}")]
    Unavailable(#[source] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error)
        } else {
            Self::Internal(error.to_string())
        }
    }
}

/// The JSON error body used by every non-OAuth endpoint.
#[derive(Debug, serde::Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub error_description: &'static str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(cause) => {
                log::warn!("answering 503: {cause}");
                HttpResponse::ServiceUnavailable()
                    .insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()))
                    .json(ErrorBody {
                        error: "temporarily_unavailable",
                        error_description: "the service is temporarily unavailable",
                    })
            }
            Self::Internal(cause) => {
                log::error!("answering 500: {cause}");
                HttpResponse::InternalServerError().json(ErrorBody {
                    error: "server_error",
                    error_description: "an unexpected error occurred",
                })
            }
        }
    }
}
