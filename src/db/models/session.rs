//! Browser sessions and remembered consents: the `browser_sessions` rows (a signed-in
//! browser, one tenant's user, stored only as the session id's keyed hash) and the
//! `oauth_consents` rows (a user's approval of a client's scopes).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{browser_sessions as sessions, oauth_consents as consents, tenants, users};
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{ClientId, ClientStanding, Scope, Standing, TenantId, UserId, UserStanding};
use crate::secrets::BrowserSessionHash;

/// A session, with what decides whether it still stands.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Its tenant's and user's standing (the client is the request's, checked apart).
    pub standing: Standing,
}

impl BrowserSession {
    /// The session whose id hashes to `id_hash`, with its tenant's status and its user's
    /// state, in one query.
    pub fn find(
        conn: &mut DbConnection,
        id_hash: &BrowserSessionHash,
    ) -> Result<Option<Self>, DbError> {
        let row: Option<(
            i64,
            i64,
            NaiveDateTime,
            NaiveDateTime,
            NaiveDateTime,
            String,
            bool,
        )> = load_unique(
            sessions::table
                .inner_join(tenants::table.on(tenants::id.eq(sessions::tenant_id)))
                .inner_join(
                    users::table.on(users::tenant_id
                        .eq(sessions::tenant_id)
                        .and(users::id.eq(sessions::user_id))),
                )
                .filter(sessions::id_hash.eq(id_hash.as_str()))
                .select((
                    sessions::tenant_id,
                    sessions::user_id,
                    sessions::created_at,
                    sessions::last_seen_at,
                    sessions::expires_at,
                    tenants::status,
                    users::disabled,
                )),
            conn,
        )?;
        row.map(
            |(tenant_id, user_id, created_at, last_seen_at, expires_at, status, disabled)| {
                Ok(Self {
                    tenant_id: TenantId::new(tenant_id),
                    user_id: UserId::new(user_id),
                    created_at,
                    last_seen_at,
                    expires_at,
                    standing: Standing {
                        tenant: parse_column(&status, "tenant status")?,
                        client: ClientStanding::Active,
                        user: UserStanding::of(true, Some(disabled)),
                    },
                })
            },
        )
        .transpose()
    }

    /// Stores a new session.
    pub fn insert(
        conn: &mut DbConnection,
        id_hash: &BrowserSessionHash,
        tenant_id: TenantId,
        user_id: UserId,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::insert_into(sessions::table)
            .values((
                sessions::id_hash.eq(id_hash.as_str()),
                sessions::tenant_id.eq(tenant_id.get()),
                sessions::user_id.eq(user_id.get()),
                sessions::created_at.eq(now),
                sessions::last_seen_at.eq(now),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Records that the session was used now (its idle expiry starts over).
    pub fn touch(
        conn: &mut DbConnection,
        id_hash: &BrowserSessionHash,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::update(sessions::table.find(id_hash.as_str()))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
        Ok(())
    }

    /// Ends one session (logout, or one found expired).
    pub fn end(conn: &mut DbConnection, id_hash: &BrowserSessionHash) -> Result<usize, DbError> {
        Ok(diesel::delete(sessions::table.find(id_hash.as_str())).execute(conn)?)
    }
}

/// Ends the sessions of a tenant's user, or of the whole tenant (`None`): what suspending
/// or deleting a tenant, disabling or deleting a user and changing a password do.
pub fn end_sessions(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: Option<UserId>,
) -> Result<usize, DbError> {
    let in_tenant = sessions::table.filter(sessions::tenant_id.eq(tenant_id.get()));
    Ok(match user_id {
        Some(user_id) => {
            diesel::delete(in_tenant.filter(sessions::user_id.eq(user_id.get()))).execute(conn)?
        }
        None => diesel::delete(in_tenant).execute(conn)?,
    })
}

/// Deletes the sessions that have ended by time: past their absolute expiry, or unused
/// since `idle_before`.
pub fn purge_ended_sessions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    idle_before: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(idle_before)),
        ),
    )
    .execute(conn)?)
}

/// The scopes a user has approved for a client, if any approval is remembered.
pub fn find_consent(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
    client_id: &ClientId,
) -> Result<Option<Scope>, DbError> {
    let stored: Option<String> = load_unique(
        consents::table
            .filter(consents::tenant_id.eq(tenant_id.get()))
            .filter(consents::user_id.eq(user_id.get()))
            .filter(consents::client_id.eq(client_id.as_str()))
            .select(consents::scopes),
        conn,
    )?;
    stored
        .map(|scopes| parse_column(&scopes, "consented scopes"))
        .transpose()
}

/// Remembers that the user approved `scope` for the client (with what was approved
/// before: approvals only add up until they are forgotten).
pub fn remember_consent(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
    client_id: &ClientId,
    scope: &Scope,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    // Two approvals at once (a double click) must not both insert: on PostgreSQL they
    // take turns; SQLite's single writer runs one at a time anyway.
    super::token::family::advisory_lock(
        conn,
        &format!("consent:{tenant_id}:{user_id}:{client_id}"),
    )?;
    let previous = find_consent(conn, tenant_id, user_id, client_id)?;
    let all = Scope::from_tokens(previous.iter().flat_map(Scope::iter).chain(scope.iter()))
        .map_err(|_| DbError::corrupt("consented scopes"))?;
    diesel::delete(
        consents::table
            .filter(consents::tenant_id.eq(tenant_id.get()))
            .filter(consents::user_id.eq(user_id.get()))
            .filter(consents::client_id.eq(client_id.as_str())),
    )
    .execute(conn)?;
    diesel::insert_into(consents::table)
        .values((
            consents::tenant_id.eq(tenant_id.get()),
            consents::user_id.eq(user_id.get()),
            consents::client_id.eq(client_id.as_str()),
            consents::scopes.eq(all.to_string()),
            consents::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user's remembered approvals: client, scopes, when first given.
pub fn list_consents(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
) -> Result<Vec<(ClientId, Scope, NaiveDateTime)>, DbError> {
    let rows: Vec<(String, String, NaiveDateTime)> = consents::table
        .filter(consents::tenant_id.eq(tenant_id.get()))
        .filter(consents::user_id.eq(user_id.get()))
        .order(consents::created_at)
        .select((consents::client_id, consents::scopes, consents::created_at))
        .load(conn)?;
    rows.into_iter()
        .map(|(client, scopes, created_at)| {
            Ok((
                parse_column(&client, "client id")?,
                parse_column(&scopes, "consented scopes")?,
                created_at,
            ))
        })
        .collect()
}

/// Forgets the user's approval of the client; whether there was one.
pub fn forget_consent(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    user_id: UserId,
    client_id: &ClientId,
) -> Result<bool, DbError> {
    Ok(diesel::delete(
        consents::table
            .filter(consents::tenant_id.eq(tenant_id.get()))
            .filter(consents::user_id.eq(user_id.get()))
            .filter(consents::client_id.eq(client_id.as_str())),
    )
    .execute(conn)?
        == 1)
}
