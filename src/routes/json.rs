//! JSON request bodies: the one extractor every JSON endpoint uses.
//!
//! A body must be a JSON **object** of the documented shape. serde alone would read a
//! struct from an array too (`["slug","name"]` as `{"slug","name"}`), and actix's
//! `Option<Json<T>>` reads any malformed body as no body at all; here the top level must
//! be an object, and anything else is 400 `invalid_request`.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::errors::AppError;

/// A JSON object body, parsed into `T`.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

/// A JSON object body parsed into `T`, or nothing when the body is empty (an endpoint whose
/// body is optional, such as `revoke-tokens`).
#[derive(Debug)]
pub struct OptionalJsonObject<T>(pub Option<T>);

/// The refusal of every body that is not a JSON object of the documented shape. Never the
/// parser's message: serde quotes the offending value, which may be a password.
fn refused() -> AppError {
    log::debug!("rejected a JSON body");
    AppError::invalid_request("the body must be a JSON object of the documented shape")
}

/// Parses `body` (`None` when empty) as a JSON object into `T`.
fn parse<T: DeserializeOwned>(request: &HttpRequest, body: &[u8]) -> Result<Option<T>, AppError> {
    if body.is_empty() {
        return Ok(None);
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"));
    if !is_json {
        return Err(refused());
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(object @ serde_json::Value::Object(_)) => serde_json::from_value(object)
            .map(Some)
            .map_err(|_| refused()),
        _ => Err(refused()),
    }
}

/// Reads the body (bounded by the `PayloadConfig` limit: a larger one is 413), then parses.
fn extract<T: DeserializeOwned + 'static>(
    request: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> Pin<Box<dyn Future<Output = Result<Option<T>, actix_web::Error>>>> {
    let request = request.clone();
    let body = web::Bytes::from_request(&request, payload);
    Box::pin(async move {
        let body = body.await?;
        Ok(parse(&request, &body)?)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let parsed = extract::<T>(request, payload);
        Box::pin(async move { Ok(Self(parsed.await?.ok_or_else(refused)?)) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let parsed = extract::<T>(request, payload);
        Box::pin(async move { Ok(Self(parsed.await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Tenant {
        slug: String,
        name: String,
    }

    fn json_request() -> HttpRequest {
        actix_web::test::TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request()
    }

    #[test]
    fn only_a_json_object_of_the_shape_is_accepted() {
        let request = json_request();
        assert_eq!(
            parse::<Tenant>(&request, br#"{"slug":"acme","name":"Acme"}"#).unwrap(),
            Some(Tenant {
                slug: "acme".into(),
                name: "Acme".into()
            })
        );
        assert_eq!(parse::<Tenant>(&request, b"").unwrap(), None);
        for body in [
            &br#"["acme","Acme"]"#[..],
            br#""acme""#,
            b"null",
            b"42",
            br#"{"slug":"acme"}"#,
            br#"{"slug":1,"name":"Acme"}"#,
            b"{not json",
        ] {
            assert!(
                parse::<Tenant>(&request, body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let form = actix_web::test::TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .to_http_request();
        assert!(parse::<Tenant>(&form, br#"{"slug":"acme","name":"Acme"}"#).is_err());
    }
}
