//! Event streams and their queues: the `event_streams` rows (who receives which events),
//! `event_stream_deliveries` (where each stream's delivery stands, and which instance is
//! delivering it) and `event_stream_queue` (which recorded events each stream has still to
//! receive).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::{load_events, StoredEvent};
use crate::db::schema::{
    event_stream_deliveries as deliveries, event_stream_queue as queue, event_streams as streams,
    security_events,
};
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{DeliveryMethod, DeliveryState, EventKind, StreamId, StreamStatus, TenantId};

/// A stream, parsed from its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    pub id: StreamId,
    /// `None`: the platform-wide stream, which receives every tenant's events.
    pub tenant_id: Option<TenantId>,
    pub delivery_method: DeliveryMethod,
    /// Where a push stream's SETs go (already checked against the SSRF rule).
    pub endpoint_url: Option<String>,
    /// A push stream's `Authorization` header, sealed (`SecretHasher::seal`, context: the
    /// stream id).
    pub authorization_header: Option<String>,
    pub audience: String,
    /// Empty: every kind.
    pub events_requested: Vec<EventKind>,
    pub status: StreamStatus,
    pub delivery: DeliveryState,
    pub created_at: NaiveDateTime,
}

/// A row of `event_streams`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = streams)]
struct StreamRow {
    id: String,
    tenant_id: Option<i64>,
    delivery_method: String,
    endpoint_url: Option<String>,
    authorization_header: Option<String>,
    audience: String,
    events_requested: String,
    status: String,
    created_at: NaiveDateTime,
}

/// A row of `event_stream_deliveries` (its lease apart).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct DeliveryRow {
    attempts: i32,
    failing_since: Option<NaiveDateTime>,
    next_attempt_at: Option<NaiveDateTime>,
    last_error: Option<String>,
}

fn parse((row, delivery): (StreamRow, DeliveryRow)) -> Result<EventStream, DbError> {
    Ok(EventStream {
        id: parse_column(&row.id, "stream id")?,
        tenant_id: row.tenant_id.map(TenantId::new),
        delivery_method: parse_column(&row.delivery_method, "delivery method")?,
        endpoint_url: row.endpoint_url,
        authorization_header: row.authorization_header,
        audience: row.audience,
        events_requested: parse_kinds(&row.events_requested)?,
        status: parse_column(&row.status, "stream status")?,
        delivery: DeliveryState {
            attempts: delivery.attempts,
            failing_since: delivery.failing_since,
            next_attempt_at: delivery.next_attempt_at,
            last_error: delivery.last_error,
        },
        created_at: row.created_at,
    })
}

fn parse_kinds(stored: &str) -> Result<Vec<EventKind>, DbError> {
    stored
        .split_whitespace()
        .map(|kind| parse_column(kind, "event kind"))
        .collect()
}

/// The delivery rows of the push streams that may be delivered at `$now`: enabled, not
/// leased, not waiting for a retry, with events queued. The stream's own row is only
/// named in a subquery, so claiming these `FOR UPDATE` never waits for (or skips) a
/// transaction that holds the stream's row to record an event. (A macro: the query's type
/// is too long to spell.)
macro_rules! due_push_streams {
    ($now:expr) => {
        deliveries::table
            .filter(diesel::dsl::exists(
                streams::table
                    .filter(streams::id.eq(deliveries::stream_id))
                    .filter(streams::delivery_method.eq(DeliveryMethod::Push.as_str()))
                    .filter(streams::status.eq(StreamStatus::Enabled.as_str())),
            ))
            .filter(
                deliveries::next_attempt_at
                    .is_null()
                    .or(deliveries::next_attempt_at.le($now)),
            )
            .filter(
                deliveries::lease_until
                    .is_null()
                    .or(deliveries::lease_until.le($now)),
            )
            .filter(diesel::dsl::exists(
                queue::table.filter(queue::stream_id.eq(deliveries::stream_id)),
            ))
    };
}

/// The stream with its delivery state, as every read selects it.
macro_rules! stream_with_delivery {
    () => {
        streams::table
            .inner_join(deliveries::table)
            .select((StreamRow::as_select(), DeliveryRow::as_select()))
    };
}

impl EventStream {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        let requested: Vec<&str> = self
            .events_requested
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        diesel::insert_into(streams::table)
            .values((
                streams::id.eq(self.id.as_str()),
                streams::tenant_id.eq(self.tenant_id.map(TenantId::get)),
                streams::delivery_method.eq(self.delivery_method.as_str()),
                streams::endpoint_url.eq(self.endpoint_url.as_deref()),
                streams::authorization_header.eq(self.authorization_header.as_deref()),
                streams::audience.eq(&self.audience),
                streams::events_requested.eq(requested.join(" ")),
                streams::status.eq(self.status.as_str()),
                streams::created_at.eq(self.created_at),
            ))
            .execute(conn)?;
        diesel::insert_into(deliveries::table)
            .values(deliveries::stream_id.eq(self.id.as_str()))
            .execute(conn)?;
        Ok(())
    }

    /// The stream with this id, whichever tenant's.
    pub fn find(conn: &mut DbConnection, id: &StreamId) -> Result<Option<Self>, DbError> {
        let row: Option<(StreamRow, DeliveryRow)> = load_unique(
            stream_with_delivery!().filter(streams::id.eq(id.as_str())),
            conn,
        )?;
        row.map(parse).transpose()
    }

    /// The tenant's streams (`None`: the platform-wide ones), oldest first.
    pub fn list(
        conn: &mut DbConnection,
        tenant_id: Option<TenantId>,
    ) -> Result<Vec<Self>, DbError> {
        let rows: Vec<(StreamRow, DeliveryRow)> = match tenant_id {
            Some(tenant_id) => stream_with_delivery!()
                .filter(streams::tenant_id.eq(tenant_id.get()))
                .order(streams::created_at)
                .load(conn)?,
            None => stream_with_delivery!()
                .filter(streams::tenant_id.is_null())
                .order(streams::created_at)
                .load(conn)?,
        };
        rows.into_iter().map(parse).collect()
    }

    /// Deletes the stream, its queue and its delivery state.
    pub fn delete(conn: &mut DbConnection, id: &StreamId) -> Result<bool, DbError> {
        diesel::delete(queue::table.filter(queue::stream_id.eq(id.as_str()))).execute(conn)?;
        diesel::delete(deliveries::table.find(id.as_str())).execute(conn)?;
        Ok(diesel::delete(streams::table.find(id.as_str())).execute(conn)? == 1)
    }

    /// How many events wait for the receiver.
    pub fn pending_count(conn: &mut DbConnection, id: &StreamId) -> Result<i64, DbError> {
        Ok(queue::table
            .filter(queue::stream_id.eq(id.as_str()))
            .count()
            .get_result(conn)?)
    }

    /// The oldest `limit` events waiting for the receiver, in the order they were recorded.
    pub fn pending(
        conn: &mut DbConnection,
        id: &StreamId,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, DbError> {
        let event_ids: Vec<i64> = queue::table
            .filter(queue::stream_id.eq(id.as_str()))
            .order(queue::event_id)
            .limit(limit)
            .select(queue::event_id)
            .load(conn)?;
        load_events(conn, &event_ids)
    }

    /// Takes acknowledged events off the queue; when those that were on it were recorded
    /// (for the delivery-delay histogram).
    pub fn acknowledge(
        conn: &mut DbConnection,
        id: &StreamId,
        event_ids: &[i64],
    ) -> Result<Vec<NaiveDateTime>, DbError> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let on_queue = || {
            queue::table
                .filter(queue::stream_id.eq(id.as_str()))
                .filter(queue::event_id.eq_any(event_ids))
        };
        let recorded: Vec<NaiveDateTime> = on_queue()
            .inner_join(security_events::table)
            .select(security_events::created_at)
            .load(conn)?;
        diesel::delete(on_queue()).execute(conn)?;
        Ok(recorded)
    }

    /// Sets the stream's status; back to enabled, its retries start afresh (a resumed
    /// stream is pushed at once, oldest event first). Any delivery under way loses its
    /// lease: it stops after the push in flight, and what it would have stored on release
    /// does not overwrite this (the admin's change wins).
    pub fn set_status(
        conn: &mut DbConnection,
        id: &StreamId,
        status: StreamStatus,
    ) -> Result<(), DbError> {
        diesel::update(streams::table.find(id.as_str()))
            .set(streams::status.eq(status.as_str()))
            .execute(conn)?;
        let delivery = deliveries::table.find(id.as_str());
        if status == StreamStatus::Enabled {
            diesel::update(delivery)
                .set((
                    deliveries::attempts.eq(0),
                    deliveries::failing_since.eq(None::<NaiveDateTime>),
                    deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                    deliveries::lease_until.eq(None::<NaiveDateTime>),
                    deliveries::lease_owner.eq(None::<String>),
                ))
                .execute(conn)?;
        } else {
            diesel::update(delivery)
                .set((
                    deliveries::lease_until.eq(None::<NaiveDateTime>),
                    deliveries::lease_owner.eq(None::<String>),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Events pending per delivery method, over every stream (for the metrics).
    pub fn pending_by_method(
        conn: &mut DbConnection,
    ) -> Result<Vec<(DeliveryMethod, i64)>, DbError> {
        let rows: Vec<(String, i64)> = queue::table
            .inner_join(streams::table.on(streams::id.eq(queue::stream_id)))
            .group_by(streams::delivery_method)
            .select((streams::delivery_method, diesel::dsl::count_star()))
            .load(conn)?;
        rows.into_iter()
            .map(|(method, count)| Ok((parse_column(&method, "delivery method")?, count)))
            .collect()
    }
}

/// The streams that want an event of `kind` of `tenant_id`: its tenant's and the
/// platform-wide ones (every stream, for a kind that concerns every tenant), whatever their
/// status (a paused or failing stream keeps its events), that asked for every kind (stored
/// as `''`) or name this one among their space-separated kinds. In id order. The one home
/// of that rule: [`lock_wanting`] and PostgreSQL's one-statement revocation
/// ([`wanting_locked_pg`]) both run it. (A macro: the query's type is too long to spell.)
macro_rules! wanting_streams {
    ($tenant_id:expr, $kind:expr) => {{
        use diesel::sql_types::{Bool, Text};
        let kind: EventKind = $kind;
        streams::table
            .filter(
                streams::tenant_id
                    .eq($tenant_id.get())
                    .or(streams::tenant_id.is_null())
                    .or(kind.concerns_every_tenant().into_sql::<Bool>()),
            )
            // The pattern is built in SQL, not bound whole: SQLite re-prepares a statement
            // on every execution when a LIKE pattern is a bound parameter (its LIKE
            // optimization reads the value while planning), measured +12% server CPU per
            // revocation.
            .filter(
                streams::events_requested.eq("").or(" "
                    .into_sql::<Text>()
                    .concat(streams::events_requested)
                    .concat(" ")
                    .like("% ".into_sql::<Text>().concat(kind.as_str()).concat(" %"))),
            )
            .order(streams::id)
    }};
}

/// The streams that want an event of `kind` of `tenant_id` ([`wanting_streams`]), locked
/// until the recording transaction ends. Called **before** the event is inserted: on
/// PostgreSQL an event id is taken at insert, not at commit, so two transactions could
/// commit their events in the opposite order of their ids; holding the streams' rows from
/// before the insert to the commit makes every stream's queue order its commit order
/// (SQLite has one writer, so there it is so anyway). Locked in id order, so two
/// recordings never wait for each other crosswise; a stream deleted meanwhile waits too.
pub fn lock_wanting(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    kind: EventKind,
) -> Result<Vec<StreamId>, DbError> {
    let ids: Vec<String> = match conn {
        DbConnection::Sqlite(conn) => wanting_streams!(tenant_id, kind)
            .select(streams::id)
            .load(conn)?,
        DbConnection::Postgres(conn) => wanting_streams!(tenant_id, kind)
            .select(streams::id)
            .for_no_key_update()
            .load(conn)?,
    };
    ids.iter().map(|id| parse_column(id, "stream id")).collect()
}

/// [`lock_wanting`]'s query on PostgreSQL, to be part of a larger statement: selects the
/// ids of the wanting streams, locking them.
pub(super) fn wanting_locked_pg(
    tenant_id: TenantId,
    kind: EventKind,
) -> Box<dyn diesel::query_builder::QueryFragment<diesel::pg::Pg> + Send> {
    Box::new(
        wanting_streams!(tenant_id, kind)
            .select(streams::id)
            .for_no_key_update(),
    )
}

/// Queues a just-recorded event for the streams [`lock_wanting`] returned. Part of the
/// recording transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    event_id: i64,
    streams: &[StreamId],
) -> Result<(), DbError> {
    for stream in streams {
        diesel::insert_into(queue::table)
            .values((
                queue::stream_id.eq(stream.as_str()),
                queue::event_id.eq(event_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether some push stream may be delivered at `now` (a cheap read before claiming).
pub fn any_due_push(conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(due_push_streams!(now))).get_result(conn)?)
}

/// Claims up to `limit` due push streams for `owner` until `lease_until`, in the caller's
/// transaction. On PostgreSQL the rows are taken `FOR UPDATE SKIP LOCKED`, so instances
/// claiming at once take different streams and none waits; a claim that lapses (its
/// instance died) is anyone's again once `lease_until` has passed.
pub fn claim_due_push(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    owner: &str,
    limit: i64,
) -> Result<Vec<EventStream>, DbError> {
    // One statement: instances claiming at once skip each other's rows and take the next
    // due streams, instead of all computing the same first ones.
    let ids: Vec<String> = match conn {
        DbConnection::Sqlite(conn) => due_push_streams!(now)
            .limit(limit)
            .select(deliveries::stream_id)
            .load(conn)?,
        DbConnection::Postgres(conn) => due_push_streams!(now)
            .limit(limit)
            .select(deliveries::stream_id)
            .for_update()
            .skip_locked()
            .load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(deliveries::table.filter(deliveries::stream_id.eq_any(&ids)))
        .set((
            deliveries::lease_until.eq(lease_until),
            deliveries::lease_owner.eq(owner),
        ))
        .execute(conn)?;
    let rows: Vec<(StreamRow, DeliveryRow)> = stream_with_delivery!()
        .filter(streams::id.eq_any(&ids))
        .load(conn)?;
    rows.into_iter().map(parse).collect()
}

/// Ends `owner`'s lease of a stream, storing its delivery state and status (unless
/// the stream was paused, resumed or deleted meanwhile: an admin's change wins). A lease
/// another instance holds by now is left alone.
pub fn release(
    conn: &mut DbConnection,
    id: &StreamId,
    owner: &str,
    state: &DeliveryState,
    failed: bool,
) -> Result<(), DbError> {
    let leased = || {
        deliveries::table
            .filter(deliveries::stream_id.eq(id.as_str()))
            .filter(deliveries::lease_owner.eq(owner))
    };
    // The stream's row first, then its delivery row: the order `set_status` takes them in,
    // so the two never wait for each other crosswise.
    if failed {
        diesel::update(
            streams::table
                .filter(streams::id.eq(id.as_str()))
                .filter(streams::status.eq(StreamStatus::Enabled.as_str()))
                .filter(diesel::dsl::exists(leased())),
        )
        .set(streams::status.eq(StreamStatus::Failing.as_str()))
        .execute(conn)?;
    }
    diesel::update(leased())
        .set((
            deliveries::attempts.eq(state.attempts),
            deliveries::failing_since.eq(state.failing_since),
            deliveries::next_attempt_at.eq(state.next_attempt_at),
            deliveries::last_error.eq(state.last_error.as_deref()),
            deliveries::lease_until.eq(None::<NaiveDateTime>),
            deliveries::lease_owner.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Acknowledges a pushed event and renews `owner`'s lease until `lease_until`, if the
/// lease is still `owner`'s and the stream still enabled; `None` (nothing changed)
/// otherwise: the delivery must stop (the stream was paused, resumed, deleted, or taken
/// over after the lease lapsed). `Some` holds when the event was recorded (empty if it had
/// left the queue meanwhile, e.g. its tenant was erased).
pub fn acknowledge_leased(
    conn: &mut DbConnection,
    id: &StreamId,
    owner: &str,
    event_id: i64,
    lease_until: NaiveDateTime,
) -> Result<Option<Vec<NaiveDateTime>>, DbError> {
    let renewed = diesel::update(
        deliveries::table
            .filter(deliveries::stream_id.eq(id.as_str()))
            .filter(deliveries::lease_owner.eq(owner))
            .filter(diesel::dsl::exists(
                streams::table
                    .filter(streams::id.eq(id.as_str()))
                    .filter(streams::status.eq(StreamStatus::Enabled.as_str())),
            )),
    )
    .set(deliveries::lease_until.eq(lease_until))
    .execute(conn)?;
    let recorded = EventStream::acknowledge(conn, id, &[event_id])?;
    Ok((renewed == 1).then_some(recorded))
}

/// Takes a tenant's events off every queue (before erasing them).
pub fn dequeue_tenant(conn: &mut DbConnection, tenant_id: TenantId) -> Result<usize, DbError> {
    let tenant_events = security_events::table
        .filter(security_events::tenant_id.eq(tenant_id.get()))
        .select(security_events::id);
    Ok(diesel::delete(queue::table.filter(queue::event_id.eq_any(tenant_events))).execute(conn)?)
}
