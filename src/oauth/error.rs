//! OAuth errors (RFC 6749 §5.2). Descriptions are fixed ASCII strings: they never echo
//! input and never name a tenant. What only the operator may know goes to the log, at the
//! place the error is made. Their HTTP form (status, headers) is `routes::errors`'s.

use crate::db::DbError;

/// Seconds a client should wait before retrying when the service is unavailable.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The error codes of RFC 6749 §5.2, plus RFC 6749 §4.1.2.1's `server_error` and
/// `temporarily_unavailable`, used here for the token endpoint too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1: the user denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: a `response_type` other than `code`.
    UnsupportedResponseType,
    InvalidScope,
    /// RFC 8693 §2.2.2: token exchange cannot issue a token for the `audience` asked for.
    InvalidTarget,
    ServerError,
    TemporarilyUnavailable,
    /// A rate limit or the failed-login throttle refused the request: 429 with the
    /// `Retry-After` it needs, and `temporarily_unavailable` on the wire (RFC 6749 has no
    /// code of its own for it, and this one already means "try again later").
    RateLimited,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable | Self::RateLimited => "temporarily_unavailable",
        }
    }
}

/// An error answered by an OAuth endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({description})", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: &'static str,
    /// The client authenticated with HTTP Basic: a 401 must carry a Basic challenge.
    pub basic_challenge: bool,
    /// Seconds until a rate-limited caller may try again.
    pub retry_after: u64,
}

impl OAuthError {
    pub const fn new(code: ErrorCode, description: &'static str) -> Self {
        Self {
            code,
            description,
            basic_challenge: false,
            retry_after: RETRY_AFTER_SECONDS,
        }
    }

    /// 429: a rate limit refused the request; it may be tried again after `wait`.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Self {
            retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            ..Self::new(ErrorCode::RateLimited, "too many requests; retry later")
        }
    }

    pub fn is_rate_limited(&self) -> bool {
        self.code == ErrorCode::RateLimited
    }

    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// The one answer for every client-authentication failure: unknown client, wrong
    /// secret, revoked client, inactive tenant.
    pub const fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    pub const fn invalid_grant(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub const fn invalid_scope(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub const fn invalid_target(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidTarget, description)
    }

    pub const fn unauthorized_client() -> Self {
        Self::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed to use this grant type",
        )
    }

    pub const fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "an unexpected error occurred")
    }

    pub const fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable",
        )
    }

    pub fn with_basic_challenge(mut self, basic: bool) -> Self {
        self.basic_challenge = basic;
        self
    }
}

impl From<DbError> for OAuthError {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            log::warn!("database unavailable: {error}");
            Self::temporarily_unavailable()
        } else {
            log::error!("database error: {error}");
            Self::server_error()
        }
    }
}
