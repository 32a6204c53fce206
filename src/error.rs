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
    /// A refusal the client caused: answered as is, `{"error", "error_description"}`.
    #[error("{error}: {description}")]
    Rejected {
        status: StatusCode,
        error: &'static str,
        description: &'static str,
    },
}

impl AppError {
    pub const fn rejected(
        status: StatusCode,
        error: &'static str,
        description: &'static str,
    ) -> Self {
        Self::Rejected {
            status,
            error,
            description,
        }
    }

    pub const fn invalid_request(description: &'static str) -> Self {
        Self::rejected(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub const fn forbidden(description: &'static str) -> Self {
        Self::rejected(StatusCode::FORBIDDEN, "forbidden", description)
    }

    pub const fn not_found(description: &'static str) -> Self {
        Self::rejected(StatusCode::NOT_FOUND, "not_found", description)
    }
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

/// The JSON error body of every endpoint: an OAuth error code (RFC 6749 §5.2) on the
/// OAuth endpoints, a short code (`not_found`, `forbidden`, …) elsewhere.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: &'static str,
    pub error_description: &'static str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Rejected { status, .. } => *status,
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
            Self::Rejected {
                status,
                error,
                description,
            } => HttpResponse::build(*status).json(ErrorBody {
                error,
                error_description: description,
            }),
        }
    }
}
