//! Thin actix handlers. They parse the request, call into `db`/`domain`, and turn the
//! result into HTTP; no SQL and no protocol logic lives here. [`configure`] lists every
//! route the server has.

mod health;

use actix_web::web;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz));
}
