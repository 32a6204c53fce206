//! Wiring: opens the database, migrates it, loads the keys, binds the listener and builds
//! the HTTP server. Tests call [`Application::build`] with port 0 and a fresh database.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::{Condition, ErrorHandlerResponse, ErrorHandlers};
use actix_web::ResponseError;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::keys::{load_or_generate_secret_hash_key, KeyError, Keys};
use crate::lifecycle::tokens::DEFAULT_RETENTION;
use crate::lifecycle::Lifecycle;
use crate::oauth::limits::RateLimits;
use crate::oauth::OAuthServer;
use crate::routes::AppState;
use crate::secrets::SecretHasher;

/// Why the server could not start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database {url}: {source}")]
    Database { url: String, source: DbError },
    #[error("cannot migrate the database {url}: {source}")]
    Migration { url: String, source: DbError },
    #[error("cannot load the signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// CORS for the configured origins: the methods and headers tenauth's endpoints use, and
/// `X-Request-Id` readable by scripts. A request from another origin is served without
/// CORS headers (the browser then withholds the answer), like any non-browser client.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "x-request-id",
            "x-tenant-id",
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .block_on_origin_mismatch(false)
        .max_age(3600)
}

/// A built server, bound but not yet running.
pub struct Application {
    address: SocketAddr,
    issuer: String,
    server: Server,
    dispatcher: Arc<crate::delivery::Dispatcher>,
    /// The purge schedule, if any: its lifecycle service and interval.
    purge: Option<(Lifecycle, Duration)>,
}

impl Application {
    /// Opens and migrates the database, loads (or on first start generates) the signing
    /// key, and binds `settings.bind`.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let url = settings.database_url.to_string();
        let db = Database::connect_with(&settings.database_url, settings.db_connections).map_err(
            |source| StartupError::Database {
                url: url.clone(),
                source,
            },
        )?;
        let migrated = db.migrate().map_err(|source| StartupError::Migration {
            url: url.clone(),
            source,
        })?;
        for migration in migrated.applied {
            log::info!("applied migration {migration}");
        }
        for unresolved in migrated.unresolved_usernames {
            log::warn!("{unresolved}");
        }
        let (keys, generated) = Keys::load_or_generate(
            &settings.keys_dir,
            crate::domain::now().and_utc().timestamp(),
            settings.keys_publish_delay,
        )?;
        let keys = Arc::new(keys);
        let limits = Arc::new(RateLimits::new(settings.limits));
        RateLimits::spawn_cleanup(limits.clone());
        Keys::spawn_reload_schedule(keys.clone(), settings.keys_reload_interval);
        if generated {
            log::info!(
                "generated signing key {} in {}",
                keys.snapshot().signing_key().kid,
                settings.keys_dir.display()
            );
        }

        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            address: settings.bind,
            source,
        })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.bind,
            source,
        })?;
        let issuer = settings.issuer_for(address);
        log::info!("tenauth listening on http://{address} (issuer {issuer}, database {url})");

        let hasher = SecretHasher::new(&load_or_generate_secret_hash_key(&settings.keys_dir)?);
        let lifecycle = Lifecycle::new(db.clone(), hasher.clone());
        let purge = settings
            .purge_interval
            .map(|interval| (lifecycle.clone(), interval));
        let metrics: Arc<crate::metrics::Metrics> = Arc::default();
        let dispatcher = Arc::new(crate::delivery::Dispatcher::new(
            db.clone(),
            keys.clone(),
            hasher.clone(),
            issuer.clone(),
            settings.events,
            metrics.clone(),
        ));
        let state = web::Data::new(AppState {
            oauth: Arc::new(OAuthServer {
                db,
                keys: keys.clone(),
                hasher,
                issuer: issuer.clone(),
                lifetimes: settings.lifetimes(),
                limits: limits.clone(),
            }),
            lifecycle,
            metrics,
            body_timeout: settings.client_timeout,
            events: settings.events,
            service_documentation: settings
                .service_documentation
                .clone()
                .unwrap_or_else(|| format!("{issuer}/docs")),
        });
        let workers = settings.workers;
        let cors_origins = settings.cors_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                // A body over the limit answers the same JSON error as any other refusal.
                .wrap(
                    ErrorHandlers::new().handler(StatusCode::PAYLOAD_TOO_LARGE, |response| {
                        let (request, _) = response.into_parts();
                        let response = crate::routes::body_too_large().error_response();
                        Ok(ErrorHandlerResponse::Response(
                            ServiceResponse::new(request, response).map_into_right_body(),
                        ))
                    }),
                )
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::body_deadline::bound,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::metrics::record,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::request_id::assign,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::routes::cache_policy::apply,
                ))
                // Outermost, so that every answer (413s and 503s included) carries CORS headers.
                .wrap(Condition::new(
                    !cors_origins.is_empty(),
                    cors(&cors_origins),
                ))
                .app_data(state.clone())
                .configure(crate::routes::configure)
        })
        .workers(workers)
        // SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the bound.
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        // A client that trickles its request head (slowloris) gets 408 and is dropped.
        .client_request_timeout(settings.client_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .listen(listener)
        .map_err(|source| StartupError::Bind { address, source })?
        .run();

        Ok(Self {
            address,
            issuer,
            server,
            dispatcher,
            purge,
        })
    }

    /// The address the server is bound to (with the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Serves, pushes security events (`delivery`) and purges on schedule, until the server
    /// is stopped (SIGINT/SIGTERM are handled by actix); the dispatcher and the purge stop
    /// with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let dispatcher = tokio::spawn(self.dispatcher.run());
        let purge = self.purge.map(|(lifecycle, interval)| {
            tokio::spawn(lifecycle.run_purge_schedule(interval, DEFAULT_RETENTION))
        });
        let served = self.server.await;
        dispatcher.abort();
        if let Some(purge) = purge {
            purge.abort();
        }
        served
    }
}
