//! Errors turned into HTTP, all in one place: [`AppError`] for the non-OAuth endpoints,
//! and the HTTP form of the lower layers' errors, which know nothing of actix:
//! `OAuthError` (RFC 6749 §5.2, with `WWW-Authenticate` and
//! `Retry-After` where due), `LifecycleError` and `PersonalTokenError`. A database outage
//! is 503 with `Retry-After`; anything unexpected is an opaque 500. In both cases the
//! cause goes to the log and never into the response body.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;
use crate::lifecycle::clients::InvalidClientSpec;
use crate::lifecycle::LifecycleError;
use crate::oauth::error::RETRY_AFTER_SECONDS;
use crate::oauth::personal::PersonalTokenError;
use crate::oauth::{ErrorCode, OAuthError};

/// A failure of a non-OAuth endpoint.
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

    pub const fn invalid_scope(description: &'static str) -> Self {
        Self::rejected(StatusCode::BAD_REQUEST, "invalid_scope", description)
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
                    .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
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

impl From<LifecycleError> for AppError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Invalid(description) => Self::invalid_request(description),
            LifecycleError::Conflict(description) => {
                Self::rejected(StatusCode::CONFLICT, "conflict", description)
            }
            LifecycleError::NotFound(description) => Self::not_found(description),
            LifecycleError::Database(error) => error.into(),
        }
    }
}

impl From<InvalidClientSpec> for AppError {
    fn from(error: InvalidClientSpec) -> Self {
        match error {
            InvalidClientSpec::Scope => Self::invalid_scope(error.description()),
            _ => Self::invalid_request(error.description()),
        }
    }
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
            PersonalTokenError::ScopeTooWide => {
                Self::invalid_scope("the scopes exceed those of the caller's token")
            }
            PersonalTokenError::ScopeRefused(description) => Self::invalid_scope(description),
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

/// RFC 6749 §5.2: 401 for `invalid_client` (with a Basic challenge when the client used
/// Basic), 400 for the other client errors, 429 and 503 with `Retry-After`.
impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // `Cache-Control: no-store` (RFC 6749 §5.2) comes from `cache_policy`, as for all.
        let mut response = HttpResponse::build(self.status_code());
        if self.code == ErrorCode::InvalidClient && self.basic_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tenauth""#));
        }
        if matches!(
            self.code,
            ErrorCode::TemporarilyUnavailable | ErrorCode::RateLimited
        ) {
            response.insert_header((header::RETRY_AFTER, self.retry_after.max(1).to_string()));
        }
        response.json(ErrorBody {
            error: self.code.as_str(),
            error_description: self.description,
        })
    }
}
