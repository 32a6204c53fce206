//! What caches may keep: one rule for every answer. An answer that does not say otherwise
//! gets `Cache-Control: no-store` and `Pragma: no-cache`: tokens and secrets (RFC 6749
//! §5.1, RFC 7662 §4, RFC 7009), per-user and per-tenant data, and errors alike, so that
//! no new endpoint can forget it. Only public metadata says otherwise
//! ([`public_for`]): the JWKS and the RFC 8414 document, which hold nothing secret.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpResponseBuilder;

/// Sets the default policy on every answer that set none. Handlers' and extractors'
/// errors arrive here as answers (actix turns them into responses at the route), and no
/// middleware inside this one fails a request with an error of its own.
pub async fn apply(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(response)
}

/// Marks an answer of public metadata as cacheable by anyone for `max_age` (whole seconds).
pub fn public_for(response: &mut HttpResponseBuilder, max_age: Duration) {
    response.insert_header((
        header::CACHE_CONTROL,
        format!("public, max-age={}", max_age.as_secs()),
    ));
}
