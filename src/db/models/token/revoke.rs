//! Revocation: every way tokens are revoked, from one token (RFC 7009) to a whole tenant,
//! goes through [`revoke_tokens`]: two set-based updates, never a loop over rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::family::lock_family;
use crate::db::connection::MultiBackend;
use crate::db::models::client::Client;
use crate::db::models::event::record_event;
use crate::db::models::stream::lock_wanting;
use crate::db::models::tenant::Tenant;
use crate::db::models::user::User;
use crate::db::schema::{oauth_access_tokens, oauth_refresh_tokens};
use crate::db::{parse_column, DbConnection, DbError, Prepared};
use crate::domain::{EventKind, RevocationTarget, SecurityEvent, TenantId, UserId};

/// How many rows a revocation (or a deletion) changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RevocationCounts {
    pub access_tokens: usize,
    pub refresh_tokens: usize,
}

type AccessFilter =
    Box<dyn BoxableExpression<oauth_access_tokens::table, MultiBackend, SqlType = Bool>>;
type RefreshFilter =
    Box<dyn BoxableExpression<oauth_refresh_tokens::table, MultiBackend, SqlType = Bool>>;

/// Revokes the tokens `target` names, in the tenant, that are not revoked yet, inside the
/// caller's transaction.
///
/// First it takes the lock of what owns the tokens, so that it orders after every issuance
/// in flight (on PostgreSQL the updates would otherwise miss a token committed after they
/// took their snapshot): issuance reads the tenant, client and user rows `FOR SHARE`, so
/// revoking a tenant's tokens locks its row, a client's or a user's tokens only that row
/// (revoking one user's tokens does not hold up the whole tenant), and a family takes the
/// family's lock ([`lock_family`]). One access token needs none: nothing is issued into it
/// but tokens from token exchange, whose validity follows their subject token's anyway.
///
/// Then the tokens exchanged (RFC 8693) from the revoked ones, or acted with by the
/// revoked client or user (or any of the tenant's, for the whole tenant), in whatever
/// tenant they were issued for (platform staff's live in the tenants they acted in), each
/// with its own `token-revoked` event ([`revoke_exchanged`]). Should one be exchanged
/// concurrently and missed here, `domain::ExchangeStanding` still refuses it at every
/// validation.
///
/// Its one copy: on PostgreSQL, `event::revoke_and_report` revokes one access token (and
/// the refresh tokens issued with it) with its event in one statement, unless tokens were
/// exchanged from it; keep the two in step (tests/api/revocation_agreement.rs checks it).
pub fn revoke_tokens(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    target: &RevocationTarget,
    now: NaiveDateTime,
) -> Result<RevocationCounts, DbError> {
    match target {
        RevocationTarget::AccessToken(_) => {}
        RevocationTarget::Family(family_id) => lock_family(conn, family_id)?,
        RevocationTarget::Client(client_id) => {
            Client::lock_row(conn, tenant_id, client_id)?;
        }
        RevocationTarget::User(user_id) => {
            User::lock_row(conn, tenant_id, *user_id)?;
        }
        RevocationTarget::Tenant => {
            Tenant::lock_for_update(conn, tenant_id)?;
        }
    }
    let tenant = tenant_id.get();
    let (access, refresh): (AccessFilter, RefreshFilter) = match target {
        RevocationTarget::AccessToken(jti) => (
            Box::new(oauth_access_tokens::id.eq(jti.as_str().to_owned())),
            Box::new(oauth_refresh_tokens::access_token_id.eq(jti.as_str().to_owned())),
        ),
        RevocationTarget::Family(family_id) => (
            Box::new(
                oauth_access_tokens::id.eq_any(
                    oauth_refresh_tokens::table
                        .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
                        .filter(oauth_refresh_tokens::family_id.eq(family_id.as_str().to_owned()))
                        .select(oauth_refresh_tokens::access_token_id),
                ),
            ),
            Box::new(oauth_refresh_tokens::family_id.eq(family_id.as_str().to_owned())),
        ),
        RevocationTarget::Client(client_id) => (
            Box::new(oauth_access_tokens::client_id.eq(client_id.as_str().to_owned())),
            Box::new(oauth_refresh_tokens::client_id.eq(client_id.as_str().to_owned())),
        ),
        RevocationTarget::User(user_id) => (
            Box::new(
                oauth_access_tokens::user_id
                    .eq(user_id.get())
                    .assume_not_null(),
            ),
            Box::new(
                oauth_refresh_tokens::user_id
                    .eq(user_id.get())
                    .assume_not_null(),
            ),
        ),
        // The tenant filter below is all there is to it.
        RevocationTarget::Tenant => (
            Box::new(oauth_access_tokens::tenant_id.eq(tenant)),
            Box::new(oauth_refresh_tokens::tenant_id.eq(tenant)),
        ),
    };
    // Five shapes (one per kind of target) per table: kept prepared.
    let access_tokens = Prepared(
        diesel::update(
            oauth_access_tokens::table
                .filter(oauth_access_tokens::tenant_id.eq(tenant))
                .filter(oauth_access_tokens::revoked_at.is_null())
                .filter(access),
        )
        .set(oauth_access_tokens::revoked_at.eq(now)),
    )
    .execute(conn)?;
    let refresh_tokens = Prepared(
        diesel::update(
            oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
                .filter(oauth_refresh_tokens::revoked_at.is_null())
                .filter(refresh),
        )
        .set(oauth_refresh_tokens::revoked_at.eq(now)),
    )
    .execute(conn)?;
    let mut exchanged = 0;
    for filter in exchanged_from(tenant, target) {
        exchanged += revoke_exchanged(conn, tenant, filter, now)?;
    }
    Ok(RevocationCounts {
        access_tokens: access_tokens + exchanged,
        refresh_tokens,
    })
}

/// Revokes the not yet revoked tokens from token exchange whose actor is of `tenant` and
/// that `filter` names, and records a `token-revoked` security event for each in its own
/// tenant's outbox (in the caller's transaction): an exchanged token's JWT does not name
/// the token or actor it came from, so a receiver learns of it only by its own `jti`. The
/// rows are read, then revoked by id, so each one revoked has its event; one exchanged
/// concurrently and missed here is still refused by every validation
/// (`domain::ExchangeStanding`).
fn revoke_exchanged(
    conn: &mut DbConnection,
    tenant: i64,
    filter: AccessFilter,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let found: Vec<(i64, String)> = Prepared(
        oauth_access_tokens::table
            // Every exchanged row has an actor client (the schema's CHECK): this term lets
            // both backends use the partial (actor_tenant_id, actor_client_id) index, so
            // no read scans other tokens.
            .filter(oauth_access_tokens::actor_tenant_id.eq(tenant))
            .filter(oauth_access_tokens::actor_client_id.is_not_null())
            .filter(oauth_access_tokens::revoked_at.is_null())
            .filter(filter)
            .select((oauth_access_tokens::tenant_id, oauth_access_tokens::id)),
    )
    .load(conn)?;
    if found.is_empty() {
        return Ok(0);
    }
    // The streams that will receive the events are locked before the rows are: PostgreSQL's
    // one-statement RFC 7009 revocation of one of these tokens takes the same two locks in
    // that order, so the two cannot wait for each other crosswise.
    let tenants: std::collections::BTreeSet<i64> =
        found.iter().map(|(tenant, _)| *tenant).collect();
    for tenant in tenants {
        lock_wanting(conn, TenantId::new(tenant), EventKind::TokenRevoked)?;
    }
    let ids: Vec<&str> = found.iter().map(|(_, id)| id.as_str()).collect();
    let revoked = diesel::update(
        oauth_access_tokens::table
            .filter(oauth_access_tokens::id.eq_any(&ids))
            .filter(oauth_access_tokens::revoked_at.is_null()),
    )
    .set(oauth_access_tokens::revoked_at.eq(now))
    .execute(conn)?;
    for (token_tenant, id) in found {
        let event = SecurityEvent::TokenRevoked(parse_column(&id, "token id")?);
        record_event(conn, TenantId::new(token_tenant), &event, now)?;
    }
    Ok(revoked)
}

/// Which tokens from token exchange a revocation of `target` in `tenant` also covers (the
/// caller filters on their actor's tenant), one filter per update (an `OR` of them would
/// keep PostgreSQL from using an index): those exchanged from a token it covers, those
/// the revoked client or user acts with, and those made for the revoked client; for a
/// whole tenant, every one its clients and users act with (only the platform's act in
/// other tenants).
fn exchanged_from(tenant: i64, target: &RevocationTarget) -> Vec<AccessFilter> {
    let subjects = diesel::alias!(oauth_access_tokens as subjects);
    let subjects_in_tenant = subjects
        .filter(subjects.field(oauth_access_tokens::tenant_id).eq(tenant))
        .select(subjects.field(oauth_access_tokens::id).nullable());
    match target {
        RevocationTarget::AccessToken(jti) => vec![Box::new(
            oauth_access_tokens::subject_token_id
                .eq(jti.as_str().to_owned())
                .assume_not_null(),
        )],
        RevocationTarget::Family(family_id) => vec![Box::new(
            oauth_access_tokens::subject_token_id
                .eq_any(
                    oauth_refresh_tokens::table
                        .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
                        .filter(oauth_refresh_tokens::family_id.eq(family_id.as_str().to_owned()))
                        .select(oauth_refresh_tokens::access_token_id.nullable()),
                )
                .assume_not_null(),
        )],
        // The client as actor, as the client of a subject token, and as the audience of a
        // delegation (a token for a client that is gone serves nobody).
        RevocationTarget::Client(client_id) => vec![
            Box::new(
                oauth_access_tokens::actor_client_id
                    .eq(client_id.as_str().to_owned())
                    .assume_not_null(),
            ),
            Box::new(
                oauth_access_tokens::audience
                    .eq(client_id.as_str().to_owned())
                    .assume_not_null(),
            ),
            Box::new(
                oauth_access_tokens::subject_token_id
                    .eq_any(
                        subjects_in_tenant.filter(
                            subjects
                                .field(oauth_access_tokens::client_id)
                                .eq(client_id.as_str().to_owned()),
                        ),
                    )
                    .assume_not_null(),
            ),
        ],
        // A user's subject tokens are its own tokens; as an actor, it is a platform user.
        RevocationTarget::User(user_id) => vec![
            Box::new(
                oauth_access_tokens::actor_user_id
                    .eq(user_id.get())
                    .assume_not_null(),
            ),
            Box::new(
                oauth_access_tokens::subject_token_id
                    .eq_any(
                        subjects_in_tenant.filter(
                            subjects
                                .field(oauth_access_tokens::user_id)
                                .eq(user_id.get()),
                        ),
                    )
                    .assume_not_null(),
            ),
        ],
        RevocationTarget::Tenant => vec![Box::new(
            oauth_access_tokens::actor_tenant_id
                .eq(tenant)
                .assume_not_null(),
        )],
    }
}

/// Disabling a user: a user's own tokens only stop standing while it is disabled, but the
/// tokens a platform user acts with in other tenants (token exchange, RFC 8693) are revoked,
/// each with its event in its own tenant, so the tenants they acted in hear of it; inside
/// the caller's transaction, which holds the user's row.
pub fn revoke_acted_by_user(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    revoke_exchanged(
        conn,
        tenant_id.get(),
        Box::new(
            oauth_access_tokens::actor_user_id
                .eq(user_id.get())
                .assume_not_null(),
        ),
        now,
    )
}

/// Turning a tenant's `platform_access` off: revokes every token platform staff hold in
/// it (token exchange, RFC 8693), each with its `token-revoked` event, inside the caller's
/// transaction, which holds the tenant's row locked (exchanges read it `FOR SHARE`, so
/// none is in flight).
pub fn revoke_platform_staff_tokens(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    revoke_exchanged(
        conn,
        TenantId::PLATFORM.get(),
        Box::new(oauth_access_tokens::tenant_id.eq(tenant_id.get())),
        now,
    )
}
