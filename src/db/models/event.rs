//! The outbox of security events: `security_events` rows, written by the transaction that
//! makes the change they report (`record_event`), never on their own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::security_events as events;
use crate::db::{parse_column, DbConnection, DbError};
use crate::domain::{
    ClientId, EventKind, EventParts, RevocationTarget, SecurityEvent, TenantId, UserId,
};

/// Writes `event` of `tenant_id` into the outbox, in the caller's transaction: it commits
/// with the change, or neither does. Each change records one event, so its `txn` (RFC 8417
/// §2.2: one id per transaction) is new here.
pub fn record_event(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    event: &SecurityEvent,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let wanting = super::stream::lock_wanting(conn, tenant_id, event.kind())?;
    let parts = event.parts();
    let txn = crate::domain::random_url_safe(16);
    let insert = diesel::insert_into(events::table).values((
        events::txn.eq(&txn),
        events::tenant_id.eq(tenant_id.get()),
        events::kind.eq(event.kind().as_str()),
        events::client_id.eq(parts.client.as_ref().map(ClientId::as_str)),
        events::user_id.eq(parts.user.map(UserId::get)),
        events::token_id.eq(parts.token.as_deref()),
        events::created_at.eq(now),
    ));
    // RETURNING does not compile on a MultiConnection: run it on the concrete backend. An
    // event recorded already (a key's retirement, noticed by two instances) is not again.
    let ids: Vec<i64> = match conn {
        DbConnection::Sqlite(conn) => insert
            .on_conflict_do_nothing()
            .returning(events::id)
            .get_results(conn)?,
        DbConnection::Postgres(conn) => insert
            .on_conflict_do_nothing()
            .returning(events::id)
            .get_results(conn)?,
    };
    match ids.first() {
        Some(id) => super::stream::enqueue(conn, *id, &wanting),
        None => Ok(()),
    }
}

/// Revokes `target`'s tokens (`token::revoke_tokens`) and, if that revoked anything,
/// records the event that reports it, in the caller's transaction: the revocations that nothing larger explains (RFC
/// 7009, a personal token deleted, refresh-token or code reuse, an admin's bulk
/// revocation). Deleting a client, a user or a tenant reports its own event instead.
pub fn revoke_and_report(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    target: &RevocationTarget,
    now: NaiveDateTime,
) -> Result<super::token::RevocationCounts, DbError> {
    let counts = super::token::revoke_tokens(conn, tenant_id, target, now)?;
    // Revoking what is revoked already (a replayed code, RFC 7009 on a revoked token)
    // changes nothing, and reports nothing: no flood of duplicate events.
    if counts.access_tokens + counts.refresh_tokens > 0 {
        record_event(conn, tenant_id, &SecurityEvent::of_revocation(target), now)?;
    }
    Ok(counts)
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub txn: String,
    pub tenant_id: TenantId,
    pub kind: EventKind,
    pub parts: EventParts,
    pub created_at: NaiveDateTime,
}

type EventRow = (
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    NaiveDateTime,
);

/// The tenant's events after `after` (an event id), oldest first, at most `limit`.
pub fn events_after(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, DbError> {
    let ids: Vec<i64> = events::table
        .filter(events::tenant_id.eq(tenant_id.get()))
        .filter(events::id.gt(after))
        .order(events::id)
        .limit(limit)
        .select(events::id)
        .load(conn)?;
    load_events(conn, &ids)
}

/// The events with these ids, oldest first.
pub fn load_events(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<StoredEvent>, DbError> {
    let rows: Vec<EventRow> = events::table
        .filter(events::id.eq_any(ids))
        .order(events::id)
        .select((
            events::id,
            events::txn,
            events::tenant_id,
            events::kind,
            events::client_id,
            events::user_id,
            events::token_id,
            events::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(id, txn, tenant_id, kind, client, user, token, created_at)| {
                Ok(StoredEvent {
                    id,
                    txn,
                    tenant_id: TenantId::new(tenant_id),
                    kind: parse_column(&kind, "event kind")?,
                    parts: EventParts {
                        client: client
                            .map(|client| parse_column(&client, "client id"))
                            .transpose()?,
                        user: user.map(UserId::new),
                        token,
                    },
                    created_at,
                })
            },
        )
        .collect()
}

/// Deletes the events recorded before `cutoff` that no stream still waits for.
pub fn purge_events(conn: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    use crate::db::schema::event_stream_queue as queue;
    let queued = queue::table.select(queue::event_id);
    Ok(diesel::delete(
        events::table
            .filter(events::created_at.lt(cutoff))
            .filter(events::id.ne_all(queued)),
    )
    .execute(conn)?)
}
