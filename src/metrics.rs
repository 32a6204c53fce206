//! Prometheus metrics, served at `GET /metrics` in the text format.
//!
//! Labels have bounded values only: the route *pattern* (`/admin/tenants/{id}`, never the
//! path), the method, the status code, the grant type, the introspection result. No
//! tenant label: the number of tenants is unbounded, and per-tenant figures are what the
//! audit trail and the logs (`tenant_id` on every line) are for.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric of one server (one registry per server, so tests can run several).
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    tokens_issued: IntCounterVec,
    introspections: IntCounterVec,
    revocations: IntCounter,
    rate_limited: IntCounterVec,
    db_connections: IntGaugeVec,
    events_pending: IntGaugeVec,
    event_deliveries: IntCounterVec,
    event_delivery_delay: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("tenauth".to_owned()), None).expect("a valid metrics prefix");
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response head",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let tokens_issued = IntCounterVec::new(
            Opts::new("tokens_issued_total", "Access tokens issued, by grant"),
            &["grant"],
        )
        .expect("valid metric");
        let introspections = IntCounterVec::new(
            Opts::new("introspections_total", "Introspection answers, by result"),
            &["result"],
        )
        .expect("valid metric");
        let revocations = IntCounter::new("revocations_total", "Revocation requests answered 200")
            .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with 429 by a rate limit, by endpoint",
            ),
            &["endpoint"],
        )
        .expect("valid metric");
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "db_connections",
                "Database connections of each pool, by state (idle, in_use, max)",
            ),
            &["pool", "state"],
        )
        .expect("valid metric");
        let events_pending = IntGaugeVec::new(
            Opts::new(
                "events_pending",
                "Security events queued for their streams and not yet delivered (push) or acknowledged (poll), by delivery method",
            ),
            &["delivery"],
        )
        .expect("valid metric");
        let event_deliveries = IntCounterVec::new(
            Opts::new(
                "event_deliveries_total",
                "SET deliveries: pushes answered 202 or acknowledged polls (delivered), pushes that failed (failed)",
            ),
            &["delivery", "result"],
        )
        .expect("valid metric");
        let event_delivery_delay = Histogram::with_opts(
            HistogramOpts::new(
                "event_delivery_delay_seconds",
                "Time from an event's commit to its acknowledged delivery",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86_400.0,
            ]),
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(tokens_issued.clone()),
            Box::new(introspections.clone()),
            Box::new(revocations.clone()),
            Box::new(rate_limited.clone()),
            Box::new(db_connections.clone()),
            Box::new(events_pending.clone()),
            Box::new(event_deliveries.clone()),
            Box::new(event_delivery_delay.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            tokens_issued,
            introspections,
            revocations,
            rate_limited,
            db_connections,
            events_pending,
            event_deliveries,
            event_delivery_delay,
        }
    }

    /// A push answered (delivered: 202) or failed; a poll's acknowledgements count as
    /// delivered through [`Metrics::events_delivered`].
    pub fn event_delivery(&self, method: crate::domain::DeliveryMethod, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        self.event_deliveries
            .with_label_values(&[delivery_label(method), result])
            .inc();
    }

    /// Events acknowledged at `now` that were recorded at `recorded`.
    pub fn events_delivered(&self, recorded: &[chrono::NaiveDateTime], now: chrono::NaiveDateTime) {
        for at in recorded {
            let delay = (now - *at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
            self.event_delivery_delay.observe(delay.max(0.0));
        }
    }

    /// Polled events acknowledged at `now`.
    pub fn events_acknowledged(
        &self,
        recorded: &[chrono::NaiveDateTime],
        now: chrono::NaiveDateTime,
    ) {
        self.event_deliveries
            .with_label_values(&[
                delivery_label(crate::domain::DeliveryMethod::Poll),
                "delivered",
            ])
            .inc_by(recorded.len() as u64);
        self.events_delivered(recorded, now);
    }

    /// `status` is a three-digit code (bounded by construction).
    pub fn request_answered(&self, route: &str, method: &str, status: &str, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, status])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    pub fn token_issued(&self, grant: &str) {
        self.tokens_issued.with_label_values(&[grant]).inc();
    }

    pub fn introspected(&self, active: bool) {
        let result = if active { "active" } else { "inactive" };
        self.introspections.with_label_values(&[result]).inc();
    }

    pub fn revoked(&self) {
        self.revocations.inc();
    }

    pub fn rate_limited(&self, endpoint: &str) {
        self.rate_limited.with_label_values(&[endpoint]).inc();
    }

    /// The text exposition, with the pool gauges and the pending events read now.
    pub fn render(
        &self,
        pools: &[crate::db::PoolState],
        pending: &[(crate::domain::DeliveryMethod, i64)],
    ) -> String {
        for method in [
            crate::domain::DeliveryMethod::Push,
            crate::domain::DeliveryMethod::Poll,
        ] {
            let count = pending
                .iter()
                .filter(|(of, _)| *of == method)
                .map(|(_, count)| *count)
                .sum();
            self.events_pending
                .with_label_values(&[delivery_label(method)])
                .set(count);
        }
        for pool in pools {
            let gauge = |state: &str, value: u32| {
                self.db_connections
                    .with_label_values(&[pool.name, state])
                    .set(i64::from(value));
            };
            gauge("idle", pool.idle);
            gauge("in_use", pool.connections.saturating_sub(pool.idle));
            gauge("max", pool.max);
        }
        let mut out = Vec::new();
        // Encoding our own well-formed families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn delivery_label(method: crate::domain::DeliveryMethod) -> &'static str {
    match method {
        crate::domain::DeliveryMethod::Push => "push",
        crate::domain::DeliveryMethod::Poll => "poll",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
