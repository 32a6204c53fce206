//! The dispatcher: pushes the outbox's events to push streams (RFC 8935), in order, at
//! least once, from every instance of `serve` at the same time.
//!
//! - **Claiming.** Every [`TICK`], an instance claims the push streams that are due (events
//!   queued, not waiting for a retry, not leased), taking a lease (see [`MIN_LEASE`]) on each:
//!   on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances never claim the same stream
//!   and never wait for each other (`db::models::stream::claim_due_push`). No instance is
//!   special; a lease whose instance died lapses and another takes the stream over.
//! - **Order.** One lease holder per stream, delivering the stream's queue oldest first
//!   (queue order is commit order: `stream::lock_wanting`), one SET per request as RFC
//!   8935 §2 has it. An event leaves the queue only after its 202: a crash between the
//!   two delivers it again (at least once; receivers de-duplicate by `jti`).
//! - **Failures.** A stream whose push fails waits (`DeliveryState::after_failure`:
//!   exponential backoff with jitter) and is retried from the same event; after
//!   `TENAUTH_EVENTS_RETRY_FOR` it turns `failing` and keeps its events until an admin
//!   resumes it. Streams are delivered concurrently, so a receiver that hangs until the
//!   timeout or answers 500 holds up only its own stream.
//! - **Threads.** The dispatcher is a task on the runtime that runs `serve`'s main loop,
//!   not on an HTTP worker; its database work runs on the database threads like every
//!   request's.

pub mod guard;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::EventSettings;
use crate::db::models::event::{record_event, StoredEvent};
use crate::db::models::stream::{self, EventStream};
use crate::db::{Database, DbError};
use crate::domain::{now, DeliveryMethod, DeliveryState, PushEndpoint, SecurityEvent, TenantId};
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::oauth::security_events::SetClaims;
use crate::secrets::SecretHasher;

/// How often an instance looks for due streams: an event is pushed within about this long
/// of its commit when its receiver is up.
pub const TICK: Duration = Duration::from_millis(200);
/// The shortest claim. A claim lasts three push timeouts, at least this: after an
/// instance dies, its streams wait that long before another instance takes them over. A
/// delivery stops starting pushes a timeout (and a second) before its lease ends, so two
/// instances never push one stream at once.
pub const MIN_LEASE: Duration = Duration::from_secs(10);
/// How long after a key's retirement an instance still records it (an instance started
/// later than that does not): shorter than the outbox's retention, so that the event that
/// makes the others skip it is still there.
pub const KEY_RETIREMENT_WINDOW: Duration = Duration::from_secs(86_400);
/// Events read from a stream's queue at a time.
const BATCH: i64 = 100;
/// Streams one instance delivers at once.
const MAX_CONCURRENT_STREAMS: usize = 32;
/// How much of a receiver's answer body is read (and ignored) before the connection is
/// dropped: enough for RFC 8935 §2.3's error object, not a way to make tenauth download.
const MAX_ANSWER_BODY: usize = 4096;

/// The push dispatcher of one instance.
pub struct Dispatcher {
    db: Database,
    keys: Arc<Keys>,
    hasher: SecretHasher,
    issuer: String,
    settings: EventSettings,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    /// This instance's name on the leases it takes.
    owner: String,
    /// How long a claim lasts.
    lease: Duration,
    /// The signing keys whose retirement this instance has recorded (or found recorded).
    retirements_recorded: std::sync::Mutex<std::collections::HashSet<String>>,
    in_flight: AtomicUsize,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Why a push failed, as the stream's `last_error` shows it (never a secret, never the
/// receiver's words beyond RFC 8935 §2.3's short error code).
type PushFailure = String;

impl Dispatcher {
    pub fn new(
        db: Database,
        keys: Arc<Keys>,
        hasher: SecretHasher,
        issuer: String,
        settings: EventSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client: guard::push_client(settings.policy, settings.push_timeout),
            db,
            keys,
            hasher,
            issuer,
            settings,
            metrics,
            owner: crate::domain::random_url_safe(12),
            lease: (settings.push_timeout * 3).max(MIN_LEASE),
            retirements_recorded: std::sync::Mutex::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Delivers until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(error) = self.tick().await {
                log::warn!(target: "tenauth::events", "event dispatch: {error}");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Records a `signing-key-retired` event for each key that stopped signing within the
    /// last [`KEY_RETIREMENT_WINDOW`] and that this instance has not recorded yet. Every
    /// instance notices a retirement (it is a matter of time, not of a request: see
    /// `KeyStore::retired_keys`); the outbox keeps one event per key, so the first to
    /// notice records it and the others find it recorded.
    async fn record_key_retirements(&self) -> Result<(), DbError> {
        let now = now();
        let seconds = now.and_utc().timestamp();
        let retired: Vec<String> = self
            .keys
            .snapshot()
            .retired_keys(seconds, self.keys.publish_delay())
            .into_iter()
            .filter(|(_, retired)| seconds - retired <= KEY_RETIREMENT_WINDOW.as_secs() as i64)
            .map(|(key, _)| key.kid.clone())
            .filter(|kid| !self.retirements().contains(kid))
            .collect();
        for kid in retired {
            let event = SecurityEvent::SigningKeyRetired(kid.clone());
            self.db
                .write_async(move |conn| record_event(conn, TenantId::PLATFORM, &event, now))
                .await?;
            log::info!(target: "tenauth::events", "signing key {kid} retired: event recorded");
            self.retirements().insert(kid);
        }
        Ok(())
    }

    fn retirements(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.retirements_recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims the due streams this instance has room for and starts delivering each.
    async fn tick(self: &Arc<Self>) -> Result<(), DbError> {
        self.record_key_retirements().await?;
        let room = MAX_CONCURRENT_STREAMS.saturating_sub(self.in_flight.load(Ordering::Acquire));
        if room == 0 {
            return Ok(());
        }
        let now = now();
        // A read first: an idle instance costs one cheap query per tick, no write.
        if !self
            .db
            .read_async(move |conn| stream::any_due_push(conn, now))
            .await?
        {
            return Ok(());
        }
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX);
        let owner = self.owner.clone();
        let claimed = self
            .db
            .write_async(move |conn| {
                stream::claim_due_push(conn, now, now + lease, &owner, room as i64)
            })
            .await?;
        for stream in claimed {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let dispatcher = Arc::clone(self);
            tokio::spawn(async move {
                dispatcher.deliver_stream(stream).await;
                dispatcher.in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Ok(())
    }

    /// Pushes a claimed stream's queue in order until it is empty, a push fails, or the
    /// lease runs short; then releases the stream with its new delivery state.
    async fn deliver_stream(&self, stream: EventStream) {
        let stop_at = Instant::now()
            + self
                .lease
                .saturating_sub(self.settings.push_timeout + Duration::from_secs(1));
        let outcome = self.push_queue(&stream, stop_at).await;
        let (state, failed) = match outcome {
            Ok(()) => (DeliveryState::default(), false),
            Err(failure) => {
                log::warn!(target: "tenauth::events",
                    "push to event stream {} failed: {failure}", stream.id);
                stream
                    .delivery
                    .after_failure(failure, now(), self.settings.retry_for, jitter())
            }
        };
        if failed {
            log::warn!(target: "tenauth::events",
                "event stream {} turned failing: its receiver failed for longer than TENAUTH_EVENTS_RETRY_FOR; its events are kept until it is resumed",
                stream.id);
        }
        let id = stream.id.clone();
        let owner = self.owner.clone();
        let released = self
            .db
            .write_async(move |conn| stream::release(conn, &id, &owner, &state, failed))
            .await;
        if let Err(error) = released {
            // The lease lapses on its own; the stream is delivered again then.
            log::warn!(target: "tenauth::events", "releasing event stream {}: {error}", stream.id);
        }
    }

    async fn push_queue(&self, stream: &EventStream, stop_at: Instant) -> Result<(), PushFailure> {
        loop {
            let id = stream.id.clone();
            let events = self
                .db
                .read_async(move |conn| EventStream::pending(conn, &id, BATCH))
                .await
                .map_err(|error: DbError| format!("reading the queue: {error}"))?;
            if events.is_empty() {
                return Ok(());
            }
            for event in &events {
                if Instant::now() >= stop_at {
                    return Ok(());
                }
                let pushed = self.push(stream, event).await;
                self.metrics
                    .event_delivery(DeliveryMethod::Push, pushed.is_ok());
                pushed?;
                let id = stream.id.clone();
                let event_id = event.id;
                let recorded = self
                    .db
                    .write_async(move |conn| EventStream::acknowledge(conn, &id, &[event_id]))
                    .await
                    .map_err(|error: DbError| format!("acknowledging: {error}"))?;
                self.metrics.events_delivered(&recorded, now());
            }
        }
    }

    /// One SET to the stream's endpoint (RFC 8935 §2.1); `Ok` on 202 (§2.2).
    async fn push(&self, stream: &EventStream, event: &StoredEvent) -> Result<(), PushFailure> {
        let url = stream.endpoint_url.as_deref().unwrap_or_default();
        // Judged again at every delivery: the rule may have tightened since creation.
        let endpoint = PushEndpoint::parse(url, self.settings.policy)
            .map_err(|_| "the endpoint is not allowed by the push endpoint rule".to_owned())?;
        let claims = SetClaims::of(
            event,
            &self.issuer,
            &stream.audience,
            now().and_utc().timestamp(),
        );
        let set = claims
            .sign(&self.keys.snapshot(), self.keys.publish_delay())
            .map_err(|_| "signing the SET failed".to_owned())?;
        let mut request = self
            .client
            .post(endpoint.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/secevent+jwt")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(set);
        if let Some(sealed) = &stream.authorization_header {
            let header = self
                .hasher
                .open(stream.id.as_str(), sealed)
                .ok_or_else(|| {
                    "the stored authorization header cannot be opened (another secret-hash key?)"
                        .to_owned()
                })?;
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        let mut response = request.send().await.map_err(|error| describe(&error))?;
        let status = response.status();
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(());
        }
        Err(match error_code(&body) {
            Some(code) => format!("the receiver answered {} ({code})", status.as_u16()),
            None => format!("the receiver answered {}", status.as_u16()),
        })
    }
}

/// RFC 8935 §2.3's `err` code from an error answer, if it is a short token.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("err")?.as_str()?;
    (code.len() <= 64
        && code
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'))
    .then(|| code.to_owned())
}

/// A transport failure, named by kind (reqwest's message may carry the URL, whose query
/// an admin may have put a secret in).
fn describe(error: &reqwest::Error) -> PushFailure {
    if guard::is_refused_address(error) {
        "the endpoint's host resolves to an address push delivery may not reach".to_owned()
    } else if error.is_timeout() {
        "the request timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect to the endpoint".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// A random factor in [0, 1) for the retry backoff.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}
