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
            sub_id: Value::Object(subject),
            events,
        }
    }

    /// Signs the SET with the key that signs now.
    pub fn sign(&self, keys: &KeyStore, publish_delay: i64) -> Result<String, KeyError> {
        jwt::sign(keys, publish_delay, "secevent+jwt", self.iat, self)
    }
}
