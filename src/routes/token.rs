use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::blocking;
use crate::domain::now;
use crate::oauth::client_auth::extract_credentials;
use crate::oauth::error::no_store;
use crate::oauth::form::Form;
use crate::oauth::grants::TokenRequest;
use crate::oauth::OAuthError;
use crate::startup::AppState;

/// `POST /oauth/token` (RFC 6749 §3.2): parses the form and the client's credentials,
/// then hands the exchange to the protocol layer on a blocking thread.
pub async fn issue_token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let mut form = Form::parse(content_type, &body)?;
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes());
    let credentials = extract_credentials(authorization, &mut form)?;
    let token_request = TokenRequest::parse(&mut form)
        .map_err(|error| error.with_basic_challenge(credentials.via_basic))?;
    let oauth = state.oauth.clone();
    let response = blocking(move || oauth.exchange(&credentials, token_request, now())).await?;
    Ok(no_store(HttpResponse::Ok()).json(response))
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
