use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::blocking;
use crate::domain::now;
use crate::oauth::client_auth::extract_credentials;
use crate::oauth::error::no_store;
use crate::oauth::form::Form;
use crate::oauth::grants::TokenRequest;
use crate::oauth::introspection::TokenTypeHint;
use crate::oauth::OAuthError;
use crate::startup::AppState;

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
    let oauth = state.oauth.clone();
    let response = blocking(move || oauth.exchange(&credentials, token_request, now()))
        .await
        .inspect_err(|error| count_refusal(&state, "token", error))?;
    state.metrics.token_issued(grant.as_str());
    Ok(no_store(HttpResponse::Ok()).json(response))
}

/// Counts a rate-limit refusal in the metrics.
fn count_refusal(state: &AppState, endpoint: &str, error: &OAuthError) {
    if error.is_rate_limited() {
        state.metrics.rate_limited(endpoint);
    }
}

/// Any other method on an OAuth endpoint: 405, naming the one allowed.
pub async fn post_only() -> HttpResponse {
    no_store(HttpResponse::MethodNotAllowed())
        .insert_header((header::ALLOW, "POST"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "use POST",
        }))
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

/// `POST /oauth/introspect` (RFC 7662 §2).
pub async fn introspect_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (mut form, credentials) = read_form(&request, &body)?;
    let (token, hint) = token_parameters(&mut form, credentials.via_basic)?;
    let oauth = state.oauth.clone();
    let answer = state
        .db
        .read_async(move |conn| oauth.introspect(conn, &credentials, &token, hint, now()))
        .await
        .inspect_err(|error| count_refusal(&state, "introspect", error))?;
    state.metrics.introspected(answer.active);
    Ok(no_store(HttpResponse::Ok()).json(answer))
}

/// `POST /oauth/revoke` (RFC 7009 §2).
pub async fn revoke_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (mut form, credentials) = read_form(&request, &body)?;
    let (token, hint) = token_parameters(&mut form, credentials.via_basic)?;
    let oauth = state.oauth.clone();
    blocking(move || oauth.revoke(&credentials, &token, hint, now()))
        .await
        .inspect_err(|error| count_refusal(&state, "revoke", error))?;
    state.metrics.revoked();
    Ok(no_store(HttpResponse::Ok()).finish())
}
