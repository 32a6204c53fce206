//! Event streams: creating, reading and deleting the receivers of a tenant's security
//! events (or, with no tenant, the platform-wide streams that receive every tenant's).
//! A stream receives the events recorded after its creation (`db::models::stream::enqueue`).

use chrono::NaiveDateTime;

use super::{audit, lock_live_tenant, Lifecycle, LifecycleError, TenantLock};
use crate::db::models::stream::EventStream;
use crate::db::DbConnection;
use crate::domain::{
    Actor, AddressPolicy, AuditAction, DeliveryMethod, DeliveryState, EventKind, PushEndpoint,
    StreamId, StreamStatus, TenantId, PUSH_ENDPOINT_RULE,
};

/// The most streams a tenant (or the platform) may have.
const MAX_STREAMS_PER_TENANT: usize = 10;
/// The longest `Authorization` header a push stream may send.
const MAX_AUTHORIZATION_HEADER: usize = 4096;

/// How a new stream's events reach its receiver.
#[derive(Debug, Clone)]
pub enum DeliverySpec {
    /// RFC 8936: the receiver polls.
    Poll,
    /// RFC 8935: tenauth pushes to `endpoint`, with `authorization_header` if given.
    Push {
        endpoint: PushEndpoint,
        authorization_header: Option<String>,
    },
}

/// What a new stream receives, parsed from what a caller gives.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub delivery: DeliverySpec,
    pub events_requested: Vec<EventKind>,
    pub audience: Option<String>,
}

impl StreamSpec {
    /// From the delivery method (and, for push, its endpoint and header) and the event
    /// type URIs requested (none: every kind). The endpoint's host is only judged here if
    /// it is an address; a name's resolution is judged by the caller
    /// (`delivery::check_endpoint`) and again at every delivery.
    pub fn parse(
        delivery_method: &str,
        endpoint_url: Option<&str>,
        authorization_header: Option<String>,
        events_requested: &[String],
        audience: Option<String>,
        policy: AddressPolicy,
    ) -> Result<Self, LifecycleError> {
        let method: DeliveryMethod = delivery_method.parse().map_err(|_| {
            LifecycleError::Invalid(
                "the delivery method must be urn:ietf:rfc:8935 (push) or urn:ietf:rfc:8936 (poll)",
            )
        })?;
        let delivery = match method {
            DeliveryMethod::Poll => {
                if endpoint_url.is_some() || authorization_header.is_some() {
                    return Err(LifecycleError::Invalid(
                        "a poll stream has no endpoint_url or authorization_header: its receiver polls",
                    ));
                }
                DeliverySpec::Poll
            }
            DeliveryMethod::Push => {
                let endpoint = endpoint_url.ok_or(LifecycleError::Invalid(
                    "a push stream needs an endpoint_url",
                ))?;
                let endpoint = PushEndpoint::parse(endpoint, policy)
                    .map_err(|_| LifecycleError::Invalid(PUSH_ENDPOINT_RULE))?;
                if authorization_header.as_ref().is_some_and(|header| {
                    header.is_empty()
                        || header.len() > MAX_AUTHORIZATION_HEADER
                        || !header.bytes().all(|byte| (0x20..0x7f).contains(&byte))
                }) {
                    return Err(LifecycleError::Invalid(
                        "authorization_header is 1 to 4096 printable ASCII characters",
                    ));
                }
                DeliverySpec::Push {
                    endpoint,
                    authorization_header,
                }
            }
        };
        let events_requested = events_requested
            .iter()
            .map(|uri| EventKind::from_type_uri(uri))
            .collect::<Option<Vec<_>>>()
            .ok_or(LifecycleError::Invalid(
                "events_requested holds an event type this server does not emit",
            ))?;
        if audience
            .as_ref()
            .is_some_and(|audience| audience.is_empty() || audience.len() > 512)
        {
            return Err(LifecycleError::Invalid(
                "the audience is 1 to 512 characters",
            ));
        }
        Ok(Self {
            delivery,
            events_requested,
            audience,
        })
    }
}

impl Lifecycle {
    /// Creates a stream of the tenant's events (`None`: of every tenant's).
    pub async fn create_stream(
        &self,
        actor: Actor,
        tenant_id: Option<TenantId>,
        spec: StreamSpec,
        now: NaiveDateTime,
    ) -> Result<EventStream, LifecycleError> {
        let id = StreamId::generate();
        let (delivery_method, endpoint_url, authorization_header) = match spec.delivery {
            DeliverySpec::Poll => (DeliveryMethod::Poll, None, None),
            DeliverySpec::Push {
                endpoint,
                authorization_header,
            } => (
                DeliveryMethod::Push,
                Some(endpoint.to_string()),
                authorization_header.map(|header| self.hasher.seal(id.as_str(), &header)),
            ),
        };
        let stream = EventStream {
            audience: spec
                .audience
                .unwrap_or_else(|| format!("urn:tenauth:event-stream:{id}")),
            id,
            tenant_id,
            delivery_method,
            endpoint_url,
            authorization_header,
            events_requested: spec.events_requested,
            status: StreamStatus::Enabled,
            delivery: DeliveryState::default(),
            created_at: now,
        };
        self.db
            .write_async(move |conn| {
                let audited = audited_tenant(conn, tenant_id)?;
                // Every event is queued once per stream, in the writer's transaction: a
                // few receivers per tenant is what that is designed for.
                if EventStream::list(conn, tenant_id)?.len() >= MAX_STREAMS_PER_TENANT {
                    return Err(LifecycleError::Conflict(
                        "a tenant has at most 10 event streams",
                    ));
                }
                stream.insert(conn)?;
                audit(
                    conn,
                    audited,
                    &actor,
                    AuditAction::StreamCreate,
                    Some(stream.id.as_str()),
                    None,
                    now,
                )?;
                Ok(stream)
            })
            .await
    }

    /// Events queued and not yet delivered or acknowledged, by delivery method, over every
    /// stream (for the metrics).
    pub async fn pending_events(&self) -> Result<Vec<(DeliveryMethod, i64)>, LifecycleError> {
        self.db
            .read_async(|conn| Ok(EventStream::pending_by_method(conn)?))
            .await
    }

    /// The tenant's streams (`None`: the platform-wide ones).
    pub async fn list_streams(
        &self,
        tenant_id: Option<TenantId>,
    ) -> Result<Vec<(EventStream, i64)>, LifecycleError> {
        self.db
            .read_async(move |conn| {
                let streams = EventStream::list(conn, tenant_id)?;
                streams
                    .into_iter()
                    .map(|stream| {
                        let pending = EventStream::pending_count(conn, &stream.id)?;
                        Ok((stream, pending))
                    })
                    .collect::<Result<Vec<_>, LifecycleError>>()
            })
            .await
    }

    /// One of the tenant's streams (`None`: a platform-wide one), with its pending count;
    /// another tenant's is not found.
    pub async fn find_stream(
        &self,
        tenant_id: Option<TenantId>,
        id: StreamId,
    ) -> Result<(EventStream, i64), LifecycleError> {
        self.db
            .read_async(move |conn| {
                let stream = own_stream(conn, tenant_id, &id)?;
                let pending = EventStream::pending_count(conn, &id)?;
                Ok((stream, pending))
            })
            .await
    }

    /// Deletes one of the tenant's streams and what it had still to receive.
    pub async fn delete_stream(
        &self,
        actor: Actor,
        tenant_id: Option<TenantId>,
        id: StreamId,
        now: NaiveDateTime,
    ) -> Result<(), LifecycleError> {
        self.db
            .write_async(move |conn| {
                let audited = audited_tenant(conn, tenant_id)?;
                own_stream(conn, tenant_id, &id)?;
                EventStream::delete(conn, &id)?;
                audit(
                    conn,
                    audited,
                    &actor,
                    AuditAction::StreamDelete,
                    Some(id.as_str()),
                    None,
                    now,
                )?;
                Ok(())
            })
            .await
    }

    /// Pauses a stream (its events are kept, not pushed) or resumes a paused or failing
    /// one (its retries start afresh and its kept events are pushed in order).
    pub async fn set_stream_status(
        &self,
        actor: Actor,
        tenant_id: Option<TenantId>,
        id: StreamId,
        status: StreamStatus,
        now: NaiveDateTime,
    ) -> Result<(EventStream, i64), LifecycleError> {
        self.db
            .write_async(move |conn| {
                let audited = audited_tenant(conn, tenant_id)?;
                own_stream(conn, tenant_id, &id)?;
                EventStream::set_status(conn, &id, status)?;
                let action = match status {
                    StreamStatus::Paused => AuditAction::StreamPause,
                    _ => AuditAction::StreamResume,
                };
                audit(conn, audited, &actor, action, Some(id.as_str()), None, now)?;
                let stream = own_stream(conn, tenant_id, &id)?;
                let pending = EventStream::pending_count(conn, &id)?;
                Ok((stream, pending))
            })
            .await
    }
}

/// The tenant whose audit trail records a change of its streams (the platform tenant's
/// for platform-wide streams), its row locked like any change within it.
fn audited_tenant(
    conn: &mut DbConnection,
    tenant_id: Option<TenantId>,
) -> Result<TenantId, LifecycleError> {
    let tenant_id = tenant_id.unwrap_or(TenantId::PLATFORM);
    lock_live_tenant(conn, tenant_id, TenantLock::Within)?;
    Ok(tenant_id)
}

/// The stream, if it is the tenant's (`None`: a platform-wide one).
fn own_stream(
    conn: &mut DbConnection,
    tenant_id: Option<TenantId>,
    id: &StreamId,
) -> Result<EventStream, LifecycleError> {
    match EventStream::find(conn, id)? {
        Some(stream) if stream.tenant_id == tenant_id => Ok(stream),
        _ => Err(LifecycleError::NotFound("no such event stream")),
    }
}
