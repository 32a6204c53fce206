//! Security Event Tokens (RFC 8417) from the outbox's events: each a JWT signed like the
//! access tokens (`typ: secevent+jwt`, verifiable against the JWKS), whose subject is an
//! OpenID Shared Signals Framework `complex` subject that always names the tenant and,
//! where they apply, the client (`application`), the user (`iss_sub`) and the token or
//! refresh family (`session`, by its jti or family id).

use serde_json::{json, Map, Value};

use super::jwt;
use crate::db::models::event::StoredEvent;
use crate::domain::EventKind;
use crate::keys::{KeyError, KeyStore};

/// The claims of a SET (RFC 8417 §2.2, and SSF's `sub_id`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetClaims {
    pub iss: String,
    pub iat: i64,
    pub jti: String,
    pub aud: String,
    pub txn: String,
    pub sub_id: Value,
    pub events: Map<String, Value>,
}

impl SetClaims {
    /// The SET of `event` for a stream whose audience is `audience`.
    pub fn of(event: &StoredEvent, issuer: &str, audience: &str, iat: i64) -> Self {
        let mut subject = Map::new();
        subject.insert("format".into(), json!("complex"));
        subject.insert(
            "tenant".into(),
            json!({"format": "opaque", "id": event.tenant_id.to_string()}),
        );
        if let Some(client) = &event.parts.client {
            subject.insert(
                "application".into(),
                json!({"format": "opaque", "id": client.as_str()}),
            );
        }
        if let Some(user) = event.parts.user {
            subject.insert(
                "user".into(),
                json!({"format": "iss_sub", "iss": issuer, "sub": user.to_string()}),
            );
        }
        if let Some(token) = &event.parts.token {
            subject.insert("session".into(), json!({"format": "opaque", "id": token}));
        }
        // A key's retirement is about the server, not a tenant: its subject is the key.
        let subject = match (&event.kind, &event.parts.token) {
            (EventKind::SigningKeyRetired, Some(kid)) => json!({"format": "opaque", "id": kid}),
            _ => Value::Object(subject),
        };
        let mut payload = json!({"event_timestamp": event.created_at.and_utc().timestamp()});
        if event.kind == EventKind::PasswordChanged {
            // CAEP credential-change's required members.
            payload["credential_type"] = json!("password");
            payload["change_type"] = json!("update");
        }
        let mut events = Map::new();
        events.insert(event.kind.type_uri(), payload);
        Self {
            iss: issuer.to_owned(),
            iat,
            // Event ids are never reused: one jti per event, the same in every stream, so
            // that a receiver de-duplicates by it.
            jti: format!("evt-{}", event.id),
            aud: audience.to_owned(),
            txn: event.txn.clone(),
            sub_id: subject,
            events,
        }
    }

    /// Signs the SET with the key that signs now.
    pub fn sign(&self, keys: &KeyStore, publish_delay: i64) -> Result<String, KeyError> {
        jwt::sign(keys, publish_delay, "secevent+jwt", self.iat, self)
    }
}

use crate::domain::EVENTS_READ_SCOPE;
/// The most SETs one poll returns.
const MAX_EVENTS_PER_POLL: usize = 1_000;
/// What a poll without `maxEvents` gets.
const DEFAULT_EVENTS_PER_POLL: usize = 100;

/// A poll request (RFC 8936 §2.4), parsed.
#[derive(Debug, Clone, Default)]
pub struct PollRequest {
    /// The `jti`s the receiver acknowledges, and those it reports errors for (`setErrs`):
    /// both leave its queue.
    pub acknowledged: Vec<String>,
    pub max_events: Option<usize>,
}

/// A poll's answer (RFC 8936 §2.5).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PollAnswer {
    pub sets: Map<String, Value>,
    #[serde(rename = "moreAvailable")]
    pub more_available: bool,
    /// When the events this poll acknowledged were recorded (for the metrics; not sent).
    #[serde(skip)]
    pub acknowledged: Vec<chrono::NaiveDateTime>,
}

/// Why a poll was refused.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// No such stream, or another tenant's (the same answer).
    #[error("no such event stream")]
    NotFound,
    /// The caller's token is of the stream's tenant but lacks the scope.
    #[error("polling needs tenant:admin or events:read")]
    InsufficientScope,
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error("signing a SET failed")]
    Signing,
}

/// The event id in one of our SET `jti`s (`evt-<id>`).
fn event_id(jti: &str) -> Option<i64> {
    jti.strip_prefix("evt-")?.parse().ok()
}

impl super::OAuthServer {
    /// `POST /oauth/event-streams/{id}/poll` (RFC 8936): takes the acknowledged events off
    /// the stream's queue, then returns the oldest ones still on it as signed SETs. Always
    /// answers at once (a long poll is not offered). Runs on the blocking pool.
    pub async fn poll_events(
        self: &std::sync::Arc<Self>,
        caller: super::bearer::ActiveToken,
        stream_id: crate::domain::StreamId,
        request: PollRequest,
        now: chrono::NaiveDateTime,
    ) -> Result<PollAnswer, PollError> {
        let server = std::sync::Arc::clone(self);
        crate::db::blocking(move || server.poll_events_now(&caller, &stream_id, request, now)).await
    }

    fn poll_events_now(
        &self,
        caller: &super::bearer::ActiveToken,
        stream_id: &crate::domain::StreamId,
        request: PollRequest,
        now: chrono::NaiveDateTime,
    ) -> Result<PollAnswer, PollError> {
        use crate::db::models::stream::EventStream;
        use crate::domain::{TenantId, ADMIN_SCOPE, TENANT_ADMIN_SCOPE};
        let lookup = stream_id.clone();
        let stream = self
            .db
            .read(move |conn| EventStream::find(conn, &lookup))?
            .ok_or(PollError::NotFound)?;
        // A push stream's events are the push receiver's: polled away, they would never
        // reach it.
        if stream.delivery_method != crate::domain::DeliveryMethod::Poll {
            return Err(PollError::NotFound);
        }
        let (tenant, admin_scope) = match stream.tenant_id {
            Some(tenant) => (tenant, TENANT_ADMIN_SCOPE),
            None => (TenantId::PLATFORM, ADMIN_SCOPE),
        };
        if caller.tenant_id != tenant {
            log::warn!(target: "tenauth::security", "a token of tenant {} polled an event stream of another tenant", caller.tenant_id);
            return Err(PollError::NotFound);
        }
        // `events:read` is for a receiver's own client token: a user's token of some app
        // of the tenant that happens to hold it may not read (and acknowledge away)
        // everybody's events. A platform-wide stream needs the platform admin.
        let receiver = caller.user_id.is_none()
            && stream.tenant_id.is_some()
            && caller.scope.contains(EVENTS_READ_SCOPE);
        if !caller.scope.contains(admin_scope) && !receiver {
            return Err(PollError::InsufficientScope);
        }
        let acknowledged: Vec<i64> = request
            .acknowledged
            .iter()
            .filter_map(|jti| event_id(jti))
            .collect();
        let limit = request
            .max_events
            .unwrap_or(DEFAULT_EVENTS_PER_POLL)
            .min(MAX_EVENTS_PER_POLL);
        let id = stream_id.clone();
        let (acknowledged, events, pending) = self.db.write(move |conn| {
            let acknowledged = EventStream::acknowledge(conn, &id, &acknowledged)?;
            let events = EventStream::pending(conn, &id, limit as i64)?;
            let pending = EventStream::pending_count(conn, &id)?;
            Ok::<_, crate::db::DbError>((acknowledged, events, pending))
        })?;
        let keys = self.keys.snapshot();
        let iat = now.and_utc().timestamp();
        let mut sets = Map::new();
        for event in &events {
            let claims = SetClaims::of(event, &self.issuer, &stream.audience, iat);
            let set = claims
                .sign(&keys, self.keys.publish_delay())
                .map_err(|_| PollError::Signing)?;
            sets.insert(claims.jti, Value::String(set));
        }
        Ok(PollAnswer {
            more_available: pending > events.len() as i64,
            sets,
            acknowledged,
        })
    }
}
