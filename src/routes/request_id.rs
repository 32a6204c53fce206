//! Request ids: every request gets one, taken from `X-Request-Id` when the caller sent a
//! sane value (so an id can follow a request across services) and generated otherwise,
//! and every response carries it back in `X-Request-Id`. The access log line names it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// 1 to 64 characters of `A-Z a-z 0-9 . _ -`: anything else could forge log lines or
/// headers, and is replaced by a generated id.
fn is_sane(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub async fn assign(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_sane(value))
        .map(str::to_owned)
        .unwrap_or_else(|| crate::domain::random_url_safe(12));
    request.extensions_mut().insert(RequestId(id.clone()));
    let context = crate::logging::RequestContext::new(id.clone());
    let mut response = crate::logging::scope(context, next.call(request)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_short_ids_are_taken() {
        assert!(is_sane("abc-123_x.y"));
        for bad in [
            "",
            "has space",
            "line\nbreak",
            "quote\"",
            &"x".repeat(65),
            "tab\t",
        ] {
            assert!(!is_sane(bad), "{bad:?}");
        }
    }
}
