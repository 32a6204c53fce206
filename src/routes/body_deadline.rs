//! A deadline on reading the request body. actix times out a client that is slow to send
//! the request *head* (`TENAUTH_CLIENT_TIMEOUT_MS`); nothing bounds the body, so a client
//! could hold a worker's connection by trickling a few bytes a second. Here the body must
//! arrive within the same time after the head; otherwise the read fails and the answer is
//! 408 with the JSON error shape.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use futures_core::Stream;

use super::AppState;

/// The request's payload, failing once the deadline has passed.
struct Deadline {
    inner: Payload,
    expiry: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(chunk) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(chunk);
        }
        if self.expiry.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body was not received in time",
            )))));
        }
        Poll::Pending
    }
}

pub async fn bound(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(timeout) = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.body_timeout)
    else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let expired = Arc::new(AtomicBool::new(false));
    let payload = Deadline {
        inner: request.take_payload(),
        expiry: Box::pin(tokio::time::sleep(timeout)),
        expired: expired.clone(),
    };
    request.set_payload(Payload::Stream {
        payload: Box::pin(payload),
    });
    let response = next.call(request).await?;
    if !expired.load(Ordering::Relaxed) {
        return Ok(response.map_into_left_body());
    }
    log::info!("request body not received within {timeout:?}: 408");
    let (request, _) = response.into_parts();
    let timed_out = HttpResponse::RequestTimeout()
        .insert_header((actix_web::http::header::CONNECTION, "close"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "the request body was not received in time",
        }));
    Ok(ServiceResponse::new(request, timed_out).map_into_right_body())
}
