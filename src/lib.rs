//! tenauth: an OAuth2 authorization server whose every token is bound to a tenant.
//! The binary (`src/main.rs`) only calls [`cli::main`]: tests drive the same code. The map
//! of the modules is ARCHITECTURE.md.

// The documentation is for the people who work on tenauth, and links freely to private
// items: read it with `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod keys;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod routes;
pub mod secrets;
pub mod startup;
