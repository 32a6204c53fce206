//! [`AppState`]: what every request handler can reach. It holds the services, never a
//! database handle of its own: handlers call the services, which decide where database
//! work runs.

use std::sync::Arc;
use std::time::Duration;

use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::oauth::OAuthServer;

/// What every request handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// The OAuth protocol: grants, introspection, revocation, bearer tokens, personal
    /// access tokens, readiness.
    pub oauth: Arc<OAuthServer>,
    /// Tenants, clients, users and their tokens, for the admin API.
    pub lifecycle: Lifecycle,
    /// The `service_documentation` URL of the metadata.
    pub service_documentation: String,
    pub metrics: Arc<Metrics>,
    /// How long a request's body may take to arrive after its head.
    pub body_timeout: Duration,
    /// Push delivery's settings (the SSRF rule for new push endpoints).
    pub events: crate::config::EventSettings,
}
