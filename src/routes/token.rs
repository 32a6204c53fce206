//! The OAuth endpoints: `/oauth/token` (RFC 6749), `/oauth/introspect` (RFC 7662) and
//! `/oauth/revoke` (RFC 7009). Each parses the form and the client's credentials and awaits
//! the protocol layer.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;
use crate::domain::now;
use crate::oauth::client_auth::extract_credentials;
use crate::oauth::form::Form;
use crate::oauth::grants::TokenRequest;
use crate::oauth::introspection::TokenTypeHint;
use crate::oauth::OAuthError;

/// The form of `POST /oauth/token`. For the document only: forms are parsed by
/// `oauth::form`, which refuses a repeated parameter.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct TokenForm {
    grant_type: GrantTypeName,
    /// Space-separated; by default the client's scopes (or, on refresh, the original grant's).
    scope: Option<String>,
    /// `password` grant.
    username: Option<String>,
    /// `password` grant.
    password: Option<String>,
    /// `refresh_token` grant: the token to rotate.
    refresh_token: Option<String>,
    /// Token exchange (RFC 8693 §2.1): the user's access token to exchange.
    subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token`, the only type.
    subject_token_type: Option<String>,
    /// Token exchange: `urn:tenauth:tenant:<id>` (a platform client, for platform staff
    /// acting in that tenant) or a client id of the caller's tenant (delegation to it).
    audience: Option<String>,
    /// Token exchange: if sent, `urn:ietf:params:oauth:token-type:access_token`.
    requested_token_type: Option<String>,
    /// When not sent in HTTP Basic (`client_secret_post`; a public client sends only this).
    client_id: Option<String>,
    /// `client_secret_post`.
    client_secret: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(super) enum GrantTypeName {
    ClientCredentials,
    Password,
    RefreshToken,
    #[schema(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// The form of `POST /oauth/introspect` and `POST /oauth/revoke` (RFC 7662 §2.1, RFC 7009 §2.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct TokenParametersForm {
    token: String,
    /// `access_token` or `refresh_token`: which kind to look for first (both are searched).
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the tokens (RFC 6749 §5.1); Cache-Control: no-store", body = crate::oauth::grants::TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope, or invalid_target (token exchange: an audience the caller may not reach, RFC 8693 §2.2.2)", body = crate::routes::errors::ErrorBody),
        (status = 401, description = "invalid_client (with WWW-Authenticate: Basic when Basic was used)", body = crate::routes::errors::ErrorBody),
        (status = 413, description = "body over 64 KiB", body = crate::routes::errors::ErrorBody),
        (status = 429, description = "rate limited, failed-login throttle, or failed client authentications past the budget; Retry-After", body = crate::routes::errors::ErrorBody),
        (status = 503, description = "temporarily_unavailable; Retry-After", body = crate::routes::errors::ErrorBody),
    ),
    security(("client_secret_basic" = []), ())
)]
/// `POST /oauth/token` (RFC 6749 §3.2): parses the form and the client's credentials,
/// then hands the exchange to the protocol layer on a blocking thread.
pub async fn issue_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (mut form, credentials) = read_form(&request, &body)?;
    let token_request = TokenRequest::parse(&mut form)
        .map_err(|error| error.with_basic_challenge(credentials.via_basic))?;
    let grant = token_request.grant_type();
    let response = state
        .oauth
        .exchange(credentials, token_request, now())
        .await
        .inspect_err(|error| count_refusal(&state, "token", error))?;
    state.metrics.token_issued(grant.metric_label());
    Ok(HttpResponse::Ok().json(response))
}

/// Counts a rate-limit refusal in the metrics.
fn count_refusal(state: &AppState, endpoint: &str, error: &OAuthError) {
    if error.is_rate_limited() {
        state.metrics.rate_limited(endpoint);
    }
}

/// The parts every OAuth form endpoint starts with: the form, the client's credentials.
fn read_form(
    request: &HttpRequest,
    body: &[u8],
) -> Result<(Form, crate::oauth::client_auth::PresentedCredentials), OAuthError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let mut form = Form::parse(content_type, body)?;
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    let credentials = extract_credentials(authorization, &mut form)?;
    Ok((form, credentials))
}

/// The `token` and `token_type_hint` parameters of introspection and revocation.
fn token_parameters(
    form: &mut Form,
    via_basic: bool,
) -> Result<(String, TokenTypeHint), OAuthError> {
    let token = form.take("token").ok_or_else(|| {
        OAuthError::invalid_request("token is missing").with_basic_challenge(via_basic)
    })?;
    let hint = TokenTypeHint::resolve(form.get("token_type_hint"), &token);
    Ok((token, hint))
}

#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    request_body(content = TokenParametersForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the token's state; `{\"active\":false}` alone for every token that is not active", body = crate::oauth::introspection::Introspection),
        (status = 400, description = "invalid_request (no token)", body = crate::routes::errors::ErrorBody),
        (status = 401, description = "invalid_client: only confidential clients may introspect", body = crate::routes::errors::ErrorBody),
        (status = 429, description = "rate limited, or failed client authentications past the budget; Retry-After", body = crate::routes::errors::ErrorBody),
        (status = 503, description = "temporarily_unavailable; Retry-After", body = crate::routes::errors::ErrorBody),
    ),
    security(("client_secret_basic" = []), ())
)]
/// `POST /oauth/introspect` (RFC 7662 §2).
pub async fn introspect_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (mut form, credentials) = read_form(&request, &body)?;
    let (token, hint) = token_parameters(&mut form, credentials.via_basic)?;
    let answer = state
        .oauth
        .introspect(credentials, token, hint, now())
        .await
        .inspect_err(|error| count_refusal(&state, "introspect", error))?;
    state.metrics.introspected(answer.active);
    Ok(HttpResponse::Ok().json(answer))
}

#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    request_body(content = TokenParametersForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "revoked, or unknown/expired/already revoked/another tenant's (all look alike)"),
        (status = 400, description = "invalid_request (no token), or unauthorized_client (another client's token of the same tenant)", body = crate::routes::errors::ErrorBody),
        (status = 401, description = "invalid_client", body = crate::routes::errors::ErrorBody),
        (status = 429, description = "rate limited, or failed client authentications past the budget; Retry-After", body = crate::routes::errors::ErrorBody),
        (status = 503, description = "temporarily_unavailable; Retry-After", body = crate::routes::errors::ErrorBody),
    ),
    security(("client_secret_basic" = []), ())
)]
/// `POST /oauth/revoke` (RFC 7009 §2).
pub async fn revoke_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (mut form, credentials) = read_form(&request, &body)?;
    let (token, hint) = token_parameters(&mut form, credentials.via_basic)?;
    state
        .oauth
        .revoke(credentials, token, hint, now())
        .await
        .inspect_err(|error| count_refusal(&state, "revoke", error))?;
    state.metrics.revoked();
    Ok(HttpResponse::Ok().finish())
}
