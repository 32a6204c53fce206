//! The bearer-token guard (RFC 6750) for tenauth's own protected endpoints: an extractor
//! that validates `Authorization: Bearer` with the same logic as introspection.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use super::AppState;
use crate::domain::now;
use crate::oauth::bearer::ActiveToken;

/// An active access token presented as `Authorization: Bearer`.
#[derive(Debug)]
pub struct Bearer(pub ActiveToken);

/// Why the guard refused a request.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid bearer token")]
    Invalid,
    #[error("the token lacks a required scope")]
    InsufficientScope(&'static str),
    #[error("X-Tenant-ID does not match the token")]
    TenantMismatch,
    #[error(transparent)]
    App(#[from] super::errors::AppError),
}

impl From<crate::db::DbError> for BearerError {
    fn from(error: crate::db::DbError) -> Self {
        Self::App(error.into())
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Invalid => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) | Self::TenantMismatch => StatusCode::FORBIDDEN,
            Self::App(error) => error.status_code(),
        }
    }

    /// RFC 6750 §3: no error code when no token was sent; `invalid_token` or
    /// `insufficient_scope` otherwise. The body never names a tenant.
    fn error_response(&self) -> HttpResponse {
        let (challenge, error, description) = match self {
            Self::Missing => (
                Some(r#"Bearer realm="tenauth""#.to_owned()),
                "invalid_request",
                "a bearer token is required",
            ),
            Self::Invalid => (
                Some(r#"Bearer realm="tenauth", error="invalid_token""#.to_owned()),
                "invalid_token",
                "the access token is invalid",
            ),
            Self::InsufficientScope(scope) => (
                Some(format!(
                    r#"Bearer realm="tenauth", error="insufficient_scope", scope="{scope}""#
                )),
                "insufficient_scope",
                "the access token lacks a required scope",
            ),
            Self::TenantMismatch => (None, "forbidden", "the request is not allowed"),
            Self::App(error) => return error.error_response(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.json(serde_json::json!({"error": error, "error_description": description}))
    }
}

fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

impl FromRequest for Bearer {
    type Error = BearerError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(request);
        let tenant_header = request
            .headers()
            .get("x-tenant-id")
            .map(|value| value.to_str().unwrap_or_default().trim().to_owned());
        Box::pin(async move {
            let state = state
                .ok_or_else(|| super::errors::AppError::Internal("no application state".into()))?;
            let token = token.ok_or(BearerError::Missing)?;
            let validated = state.oauth.authenticate_bearer(token, now()).await?;
            let active = validated.map_err(|reason| {
                log::info!(target: "tenauth::security", "bearer token refused: {reason}");
                BearerError::Invalid
            })?;
            crate::logging::set_tenant(active.tenant_id);
            // X-Tenant-ID is never trusted, only compared: a mismatch is a security event.
            if let Some(claimed) = tenant_header {
                if claimed != active.tenant_id.to_string() {
                    // The header's value is the caller's text: only a tenant id parsed from
                    // it is logged, never the text itself.
                    let claimed = claimed.parse::<i64>().map_or_else(
                        |_| "a value that is not a tenant id".to_owned(),
                        |id| format!("tenant {id}"),
                    );
                    log::warn!(
                        target: "tenauth::security",
                        "X-Tenant-ID mismatch: token jti={} of tenant {} (client {}) sent X-Tenant-ID naming {claimed}",
                        active.jti, active.tenant_id, active.client_id
                    );
                    return Err(BearerError::TenantMismatch);
                }
            }
            Ok(Bearer(active))
        })
    }
}
