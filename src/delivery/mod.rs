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
//!   8935 §2 has it. An event leaves the queue only after its 202, in a write that also
//!   renews the lease and stops the run if the stream was paused, resumed or deleted
//!   meanwhile: a crash between the two delivers it again (at least once; receivers
//!   de-duplicate by `jti`). Leases are compared with each instance's clock: instances
//!   whose clocks disagree by more than a second may push one stream at once.
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
pub const TICK: Duration = Duration::from_millis(100);
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
    /// How long a claim lasts.
    lease: Duration,
    /// The signing keys whose retirement this instance has recorded (or found recorded).
    retirements_recorded: std::sync::Mutex<std::collections::HashSet<String>>,
    in_flight: AtomicUsize,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// Why a push failed, as the stream's `last_error` shows it (never a secret, never the
/// receiver's words beyond RFC 8935 §2.3's short error code).
type PushFailure = String;

/// How a delivery run ended.
enum RunEnd {
    /// The queue is empty, or the lease runs short: released as healthy.
    Done,
    /// The lease was lost (the stream paused, resumed or deleted, or taken over): released
    /// by someone else, nothing to store.
    LeaseLost,
    /// A push failed; `delivered` says whether any succeeded earlier in the run (then the
    /// failure starts a new series of retries).
    Failed {
        failure: PushFailure,
        delivered: bool,
    },
}

/// A claim: the stream, its lease's token, and when its pushes must stop.
struct Claim {
    stream: EventStream,
    token: String,
    stop_at: Instant,
}

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
            lease: (settings.push_timeout * 3).max(MIN_LEASE),
            retirements_recorded: std::sync::Mutex::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Delivers until the task is dropped. While the database is unreachable every tick
    /// fails: that is said once, and again when it recovers, not five times a second.
    pub async fn run(self: Arc<Self>) {
        let mut failing = false;
        loop {
            match self.tick().await {
                Ok(()) if failing => {
                    failing = false;
                    log::info!(target: "tenauth::events", "event dispatch works again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    log::warn!(target: "tenauth::events",
                        "event dispatch stalls until the database answers: {error}");
                }
                Err(_) => {}
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
        let seconds = now().and_utc().timestamp();
        let retired: Vec<(String, i64)> = self
            .keys
            .snapshot()
            .retired_keys(seconds, self.keys.publish_delay())
            .into_iter()
            .filter(|(_, retired)| seconds - retired <= KEY_RETIREMENT_WINDOW.as_secs() as i64)
            .map(|(key, retired)| (key.kid.clone(), retired))
            .filter(|(kid, _)| !self.retirements().contains(kid))
            .collect();
        for (kid, retired) in retired {
            // Dated when the key stopped signing, not when this instance noticed: a
            // receiver compares tokens' `iat` with it.
            let at =
                chrono::DateTime::from_timestamp(retired, 0).map_or_else(now, |at| at.naive_utc());
            let event = SecurityEvent::SigningKeyRetired(kid.clone());
            self.db
                .write_async(move |conn| record_event(conn, TenantId::PLATFORM, &event, at))
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
        if let Err(error) = self.record_key_retirements().await {
            // Retried at the next tick; pushes go on meanwhile.
            log::warn!(target: "tenauth::events", "recording a key retirement: {error}");
        }
        let room = MAX_CONCURRENT_STREAMS.saturating_sub(self.in_flight.load(Ordering::Acquire));
        if room == 0 {
            return Ok(());
        }
        // Before `now`, so that the pushes stop no later than the lease taken from `now`.
        let started = Instant::now();
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
        // One token per claim: a run that outlived its lease can never release or renew
        // the claim that followed it, even on this instance.
        let token = crate::domain::random_url_safe(12);
        let owner = token.clone();
        let claimed = self
            .db
            .write_async(move |conn| {
                stream::claim_due_push(conn, now, now + lease, &owner, room as i64)
            })
            .await?;
        for stream in claimed {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let dispatcher = Arc::clone(self);
            let claim = Claim {
                stream,
                token: token.clone(),
                stop_at: started + self.push_window(),
            };
            tokio::spawn(async move {
                dispatcher.deliver_stream(claim).await;
                dispatcher.in_flight.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Ok(())
    }

    /// How long after a lease is taken or renewed pushes may start: a push timeout (and a
    /// second) less than the lease, so that a push never runs past it.
    fn push_window(&self) -> Duration {
        self.lease
            .saturating_sub(self.settings.push_timeout + Duration::from_secs(1))
    }

    /// Pushes a claimed stream's queue in order until it is empty, a push fails, the lease
    /// runs short or is lost; then releases the stream with its new delivery state.
    async fn deliver_stream(&self, mut claim: Claim) {
        let (state, failed) = match self.push_queue(&mut claim).await {
            RunEnd::LeaseLost => return,
            RunEnd::Done => (DeliveryState::default(), false),
            RunEnd::Failed { failure, delivered } => {
                log::warn!(target: "tenauth::events",
                    "push to event stream {} failed: {failure}", claim.stream.id);
                // A success resets the retries: a failure after it is the first of a new
                // series, not the next of the series the claim started with.
                let before = if delivered {
                    DeliveryState::default()
                } else {
                    claim.stream.delivery.clone()
                };
                before.after_failure(failure, now(), self.settings.retry_for, jitter())
            }
        };
        if failed {
            log::warn!(target: "tenauth::events",
                "event stream {} turned failing: its receiver failed for longer than TENAUTH_EVENTS_RETRY_FOR; its events are kept until it is resumed",
                claim.stream.id);
        }
        let id = claim.stream.id.clone();
        let token = claim.token.clone();
        let released = self
            .db
            .write_async(move |conn| stream::release(conn, &id, &token, &state, failed))
            .await;
        if let Err(error) = released {
            // The lease lapses on its own; the stream is delivered again then.
            log::warn!(target: "tenauth::events", "releasing event stream {}: {error}", claim.stream.id);
        }
    }

    async fn push_queue(&self, claim: &mut Claim) -> RunEnd {
        let mut delivered = false;
        let failed = |failure: PushFailure, delivered: bool| RunEnd::Failed { failure, delivered };
        loop {
            let id = claim.stream.id.clone();
            let events = match self
                .db
                .read_async(move |conn| EventStream::pending(conn, &id, BATCH))
                .await
            {
                Ok(events) => events,
                Err(error) => return failed(format!("reading the queue: {error}"), delivered),
            };
            if events.is_empty() {
                return RunEnd::Done;
            }
            for event in &events {
                if Instant::now() >= claim.stop_at {
                    return RunEnd::Done;
                }
                let pushed = self.push(&claim.stream, event).await;
                self.metrics
                    .event_delivery(DeliveryMethod::Push, pushed.is_ok());
                if let Err(failure) = pushed {
                    return failed(failure, delivered);
                }
                delivered = true;
                // Acknowledged and the lease renewed in one write, which also tells whether
                // the stream is still ours to push (not paused, resumed or deleted since).
                let renewed_at = Instant::now();
                let lease_until =
                    now() + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX);
                let (id, token, event_id) =
                    (claim.stream.id.clone(), claim.token.clone(), event.id);
                let acknowledged = self
                    .db
                    .write_async(move |conn| {
                        stream::acknowledge_leased(conn, &id, &token, event_id, lease_until)
                    })
                    .await;
                match acknowledged {
                    Ok(Some(recorded)) => {
                        self.metrics.events_delivered(&recorded, now());
                        claim.stop_at = renewed_at + self.push_window();
                    }
                    Ok(None) => return RunEnd::LeaseLost,
                    Err(error) => return failed(format!("acknowledging: {error}"), delivered),
                }
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
