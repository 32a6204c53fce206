//! Event streams and their queues: the `event_streams` rows (who receives which events)
//! and `event_stream_queue` (which recorded events each stream has still to receive).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::{load_events, StoredEvent};
use crate::db::schema::{event_stream_queue as queue, event_streams as streams, security_events};
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{EventKind, StreamId, TenantId};

/// A stream, parsed from its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    pub id: StreamId,
    /// `None`: the platform-wide stream, which receives every tenant's events.
    pub tenant_id: Option<TenantId>,
    pub delivery_method: String,
    pub audience: String,
    /// Empty: every kind.
    pub events_requested: Vec<EventKind>,
    pub status: String,
    pub created_at: NaiveDateTime,
}

/// A row of `event_streams`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = streams)]
struct StreamRow {
    id: String,
    tenant_id: Option<i64>,
    delivery_method: String,
    audience: String,
    events_requested: String,
    status: String,
    created_at: NaiveDateTime,
}

fn parse(row: StreamRow) -> Result<EventStream, DbError> {
    Ok(EventStream {
        id: parse_column(&row.id, "stream id")?,
        tenant_id: row.tenant_id.map(TenantId::new),
        delivery_method: row.delivery_method,
        audience: row.audience,
        events_requested: row
            .events_requested
            .split_whitespace()
            .map(|kind| parse_column(kind, "event kind"))
            .collect::<Result<_, _>>()?,
        status: row.status,
        created_at: row.created_at,
    })
}

impl EventStream {
    /// Whether the stream wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events_requested.is_empty() || self.events_requested.contains(&kind)
    }

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
                streams::delivery_method.eq(&self.delivery_method),
                streams::audience.eq(&self.audience),
                streams::events_requested.eq(requested.join(" ")),
                streams::status.eq(&self.status),
                streams::created_at.eq(self.created_at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The stream with this id, whichever tenant's.
    pub fn find(conn: &mut DbConnection, id: &StreamId) -> Result<Option<Self>, DbError> {
        let row: Option<StreamRow> = load_unique(
            streams::table
                .find(id.as_str())
                .select(StreamRow::as_select()),
            conn,
        )?;
        row.map(parse).transpose()
    }

    /// The tenant's streams (`None`: the platform-wide ones), oldest first.
    pub fn list(
        conn: &mut DbConnection,
        tenant_id: Option<TenantId>,
    ) -> Result<Vec<Self>, DbError> {
        let rows: Vec<StreamRow> = match tenant_id {
            Some(tenant_id) => streams::table
                .filter(streams::tenant_id.eq(tenant_id.get()))
                .order(streams::created_at)
                .select(StreamRow::as_select())
                .load(conn)?,
            None => streams::table
                .filter(streams::tenant_id.is_null())
                .order(streams::created_at)
                .select(StreamRow::as_select())
                .load(conn)?,
        };
        rows.into_iter().map(parse).collect()
    }

    /// Deletes the stream and its queue.
    pub fn delete(conn: &mut DbConnection, id: &StreamId) -> Result<bool, DbError> {
        diesel::delete(queue::table.filter(queue::stream_id.eq(id.as_str()))).execute(conn)?;
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

    /// Takes acknowledged events off the queue; how many were on it.
    pub fn acknowledge(
        conn: &mut DbConnection,
        id: &StreamId,
        event_ids: &[i64],
    ) -> Result<usize, DbError> {
        Ok(diesel::delete(
            queue::table
                .filter(queue::stream_id.eq(id.as_str()))
                .filter(queue::event_id.eq_any(event_ids)),
        )
        .execute(conn)?)
    }
}

/// Queues a just-recorded event for every enabled stream that wants it: its tenant's and
/// the platform-wide ones. Part of the recording transaction.
pub fn enqueue(
    conn: &mut DbConnection,
    event_id: i64,
    tenant_id: TenantId,
    kind: EventKind,
) -> Result<(), DbError> {
    let wanting = || {
        streams::table
            .filter(
                streams::tenant_id
                    .eq(tenant_id.get())
                    .or(streams::tenant_id.is_null()),
            )
            .filter(streams::status.eq("enabled"))
    };
    // On PostgreSQL the rows are held until the transaction ends, so a stream deleted
    // meanwhile waits for the queue rows this inserts instead of breaking their key.
    let rows: Vec<StreamRow> = match conn {
        DbConnection::Sqlite(conn) => wanting().select(StreamRow::as_select()).load(conn)?,
        DbConnection::Postgres(conn) => wanting()
            .select(StreamRow::as_select())
            .for_key_share()
            .load(conn)?,
    };
    for stream in rows.into_iter().map(parse) {
        let stream = stream?;
        if stream.wants(kind) {
            diesel::insert_into(queue::table)
                .values((
                    queue::stream_id.eq(stream.id.as_str()),
                    queue::event_id.eq(event_id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Takes a tenant's events off every queue (before erasing them).
pub fn dequeue_tenant(conn: &mut DbConnection, tenant_id: TenantId) -> Result<usize, DbError> {
    let tenant_events = security_events::table
        .filter(security_events::tenant_id.eq(tenant_id.get()))
        .select(security_events::id);
    Ok(diesel::delete(queue::table.filter(queue::event_id.eq_any(tenant_events))).execute(conn)?)
}
