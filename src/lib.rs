//! tenauth: an OAuth2 authorization server whose every token is bound to a tenant.
//! The binary (`src/main.rs`) is a thin CLI over this library, so tests drive the same code.

pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod provisioning;
pub mod purge;
pub mod routes;
pub mod startup;
pub mod tenants;
