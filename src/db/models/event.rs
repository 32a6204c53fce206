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
/// records the event that reports it: the revocations that nothing larger explains (RFC
/// 7009, a personal token deleted, refresh-token or code reuse, an admin's bulk
/// revocation). Deleting a client, a user or a tenant reports its own event instead.
///
/// Atomic on its own, so the caller needs no transaction: one access token on PostgreSQL
/// is one statement ([`RevokeAccessTokenAndReport`]), so the commonest revocation (RFC
/// 7009 on an access token) costs one round trip instead of six, unless tokens were
/// exchanged from it (RFC 8693: each needs its own event); anything else runs in a
/// transaction of its own on PostgreSQL (a savepoint inside the caller's), and on SQLite in
/// the savepoint every write has there.
pub fn revoke_and_report(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    target: &RevocationTarget,
    now: NaiveDateTime,
) -> Result<super::token::RevocationCounts, DbError> {
    if let (DbConnection::Postgres(pg), RevocationTarget::AccessToken(jti)) = (&mut *conn, target) {
        let event = SecurityEvent::of_revocation(target);
        let (access_tokens, refresh_tokens, exchanged): (i64, i64, bool) =
            RevokeAccessTokenAndReport {
                tenant_id: tenant_id.get(),
                jti: jti.as_str(),
                now,
                txn: crate::domain::random_url_safe(16),
                kind: event.kind().as_str(),
                token: event.parts().token,
                streams: super::stream::wanting_locked_pg(tenant_id, event.kind()),
            }
            .get_result(pg)?;
        if !exchanged {
            return Ok(super::token::RevocationCounts {
                access_tokens: usize::try_from(access_tokens).unwrap_or(0),
                refresh_tokens: usize::try_from(refresh_tokens).unwrap_or(0),
            });
        }
        // Tokens were exchanged from it (RFC 8693): each needs its own event, in its own
        // tenant; the statement changed nothing, the transaction below does it all.
    }
    let revoke = |conn: &mut DbConnection| {
        let counts = super::token::revoke_tokens(conn, tenant_id, target, now)?;
        // Revoking what is revoked already (a replayed code, RFC 7009 on a revoked token)
        // changes nothing, and reports nothing: no flood of duplicate events.
        if counts.access_tokens + counts.refresh_tokens > 0 {
            record_event(conn, tenant_id, &SecurityEvent::of_revocation(target), now)?;
        }
        Ok(counts)
    };
    match conn {
        // Several statements: a transaction of their own (a savepoint in the caller's).
        DbConnection::Postgres(_) => diesel::Connection::transaction(conn, revoke),
        // Every SQLite write runs in its own savepoint of the writer's batch already
        // (`db::writer`); another would cost two statements for nothing (measured: +12%
        // server CPU per RFC 7009 revocation).
        DbConnection::Sqlite(_) => revoke(conn),
    }
}

/// PostgreSQL: [`revoke_and_report`] for one access token as **one statement**, a
/// data-modifying `WITH` doing what `revoke_tokens` and [`record_event`] do for it, in
/// their order: lock the streams that want the event (`stream::lock_wanting`'s own query),
/// revoke the access token and the refresh tokens issued with it, and only if that
/// revoked something insert the event and queue it for those streams. It answers how
/// many access and refresh tokens it revoked, and whether live tokens were exchanged from
/// this one (RFC 8693), in which case it changes nothing: those need `revoke_tokens`'s
/// cascade with an event each, which the caller then runs in a transaction.
///
/// The streams are locked before the event takes its id (as `lock_wanting` requires): the
/// event's `SELECT` has no `FROM`, so its `WHERE`, which counts the locked streams, is
/// evaluated before its one row, and with it the id's default, is produced. A query
/// fragment rather than `sql_query`, so each connection prepares it once.
struct RevokeAccessTokenAndReport<'a> {
    tenant_id: i64,
    jti: &'a str,
    now: NaiveDateTime,
    txn: String,
    kind: &'static str,
    token: Option<String>,
    streams: Box<dyn diesel::query_builder::QueryFragment<diesel::pg::Pg> + Send>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RevokeAccessTokenAndReport<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        out.push_sql("WITH streams AS MATERIALIZED (");
        self.streams.walk_ast(out.reborrow())?;
        // `revoke_tokens`'s cascade, as a guard: a live token exchanged from this one.
        out.push_sql(
            "), exchanged AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM oauth_access_tokens \
             WHERE actor_tenant_id = ",
        );
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        out.push_sql(" AND actor_client_id IS NOT NULL AND subject_token_id = ");
        out.push_bind_param::<Text, _>(self.jti)?;
        out.push_sql(
            " AND revoked_at IS NULL) AS found), access AS (UPDATE oauth_access_tokens \
             SET revoked_at = ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE tenant_id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        out.push_sql(" AND id = ");
        out.push_bind_param::<Text, _>(self.jti)?;
        out.push_sql(
            " AND revoked_at IS NULL AND NOT (SELECT found FROM exchanged) RETURNING 1), \
             refresh AS (UPDATE oauth_refresh_tokens SET revoked_at = ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE tenant_id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        out.push_sql(" AND access_token_id = ");
        out.push_bind_param::<Text, _>(self.jti)?;
        out.push_sql(
            " AND revoked_at IS NULL AND NOT (SELECT found FROM exchanged) RETURNING 1), \
             event AS (INSERT INTO security_events \
             (txn, tenant_id, kind, token_id, created_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.txn)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.token)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " WHERE EXISTS (SELECT 1 FROM access UNION ALL SELECT 1 FROM refresh) \
             AND (SELECT count(*) FROM streams) >= 0 RETURNING id), \
             queued AS (INSERT INTO event_stream_queue (stream_id, event_id) \
             SELECT streams.id, event.id FROM streams CROSS JOIN event) \
             SELECT (SELECT count(*) FROM access), (SELECT count(*) FROM refresh), \
             (SELECT found FROM exchanged)",
        );
        Ok(())
    }
}

impl diesel::query_builder::QueryId for RevokeAccessTokenAndReport<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for RevokeAccessTokenAndReport<'_> {
    type SqlType = (
        diesel::sql_types::BigInt,
        diesel::sql_types::BigInt,
        diesel::sql_types::Bool,
    );
}

impl RunQueryDsl<diesel::pg::PgConnection> for RevokeAccessTokenAndReport<'_> {}

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
