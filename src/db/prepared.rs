//! Statement caching: the two ways tenauth keeps a statement prepared where diesel or
//! SQLite would plan it again on every execution.

use diesel::query_dsl::methods::LoadQuery;
use diesel::result::QueryResult;
use diesel::{Connection, RunQueryDsl};

/// Loads the row a lookup by a unique key finds, if any: `.first(conn).optional()`
/// without the `LIMIT ?` that `first` adds. SQLite (3.45+, built with STAT4 as the bundled
/// library is) peeks at a bound LIMIT while planning, so every re-bind expired the cached
/// statement and each lookup was parsed and planned again (BENCHMARKS.md, "What bounds each figure").
pub(crate) fn load_unique<'query, Q, C, T>(query: Q, conn: &mut C) -> QueryResult<Option<T>>
where
    C: Connection,
    Q: RunQueryDsl<C> + LoadQuery<'query, C, T>,
{
    Ok(query.load::<T>(conn)?.into_iter().next())
}

/// Keeps `query`'s prepared statement in diesel's per-connection cache, keyed by its SQL
/// text, where diesel would prepare it afresh on every execution: every `UPDATE`, every
/// `sql_query` and (on PostgreSQL) every insert with an optional value, because such
/// queries *may* take unboundedly many shapes. Re-preparing means PostgreSQL parses and
/// plans the statement each time, a large share of its CPU on the token paths
/// (BENCHMARKS.md, third session). Wrap
/// only queries of a few fixed shapes: the cache keeps one statement per shape and
/// connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<Q>(pub Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Prepared<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    // Not static: the cache then keys the statement by its SQL text and bind types,
    // which is right for any shape of `Q`.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}
