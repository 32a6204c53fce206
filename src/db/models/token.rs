use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::db::models::client::{ClientRow, ClientWithTenant};
use crate::db::schema::{oauth_access_tokens, oauth_clients, oauth_refresh_tokens, tenants, users};
use crate::db::{load_unique, DbConnection, DbError, MultiBackend, Prepared};
use crate::domain::{ClientId, TenantId, TenantStatus, TokenKind};

/// An access token about to be stored. Its `id` is the JWT's `jti`: the row, not the
/// signature, is the authority on whether the token is still valid.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    pub id: &'a str,
    pub tenant_id: TenantId,
    pub client_id: &'a str,
    pub user_id: Option<i64>,
    pub kind: TokenKind,
    pub name: Option<&'a str>,
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Keyed hash of the token's exact string (see the migration that added it).
    pub token_hash: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = oauth_access_tokens)]
struct AccessTokenInsert<'a> {
    id: &'a str,
    tenant_id: i64,
    client_id: &'a str,
    user_id: Option<i64>,
    kind: &'static str,
    name: Option<&'a str>,
    scopes: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    token_hash: &'a str,
}

impl NewAccessToken<'_> {
    /// Stores the token. Fails with a foreign-key violation when its tenant, client or
    /// user does not exist, or when the client or user belongs to another tenant.
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Prepared(
            diesel::insert_into(oauth_access_tokens::table).values(AccessTokenInsert {
                id: self.id,
                tenant_id: self.tenant_id.get(),
                client_id: self.client_id,
                user_id: self.user_id,
                kind: self.kind.as_str(),
                name: self.name,
                scopes: self.scopes,
                created_at: self.created_at,
                expires_at: self.expires_at,
                token_hash: self.token_hash,
            }),
        )
        .execute(conn)?;
        Ok(())
    }
}

/// What issuance must re-check inside the transaction that writes a token: the tenant is
/// active, the client exists in it and is not revoked, and the user (if any) exists in it
/// and is enabled.
///
/// On PostgreSQL the tenant, client and user rows are read `FOR SHARE`: tenant deletion,
/// client deletion and user deletion update those rows, so they wait for an issuance in
/// flight (and it for them) — a token can never be written after the revocation that
/// should have covered it. On SQLite the single writer serializes the two already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceState {
    pub tenant_status: TenantStatus,
    pub client_revoked: bool,
    /// `None` when no user was asked about or the user is not in the tenant.
    pub user_disabled: Option<bool>,
}

impl IssuanceState {
    /// Whether a token may be issued: the tenant is active, the client not revoked and,
    /// for a token with a user, the user in the tenant and enabled.
    pub fn permits(&self, with_user: bool) -> bool {
        self.tenant_status == TenantStatus::Active
            && !self.client_revoked
            && (!with_user || self.user_disabled == Some(false))
    }

    /// `None` when the tenant does not exist or the client is not one of its clients.
    pub fn load(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        client_id: &str,
        user_id: Option<i64>,
    ) -> Result<Option<IssuanceState>, DbError> {
        let tenant_and_client = tenants::table
            .inner_join(
                oauth_clients::table.on(oauth_clients::tenant_id
                    .eq(tenants::id)
                    .and(oauth_clients::id.eq(client_id))),
            )
            .filter(tenants::id.eq(tenant_id.get()))
            .select((tenants::status, oauth_clients::revoked_at.is_not_null()));
        let row: Option<(String, bool)> = match conn {
            DbConnection::Sqlite(conn) => load_unique(tenant_and_client, conn)?,
            DbConnection::Postgres(conn) => load_unique(tenant_and_client.for_share(), conn)?,
        };
        let Some((status, client_revoked)) = row else {
            return Ok(None);
        };
        let user_disabled = match user_id {
            None => None,
            Some(user_id) => {
                let user = users::table
                    .filter(users::tenant_id.eq(tenant_id.get()))
                    .filter(users::id.eq(user_id))
                    .select(users::disabled);
                match conn {
                    DbConnection::Sqlite(conn) => load_unique(user, conn)?,
                    DbConnection::Postgres(conn) => load_unique(user.for_share(), conn)?,
                }
            }
        };
        Ok(Some(IssuanceState {
            tenant_status: status.parse().map_err(|_| unknown("tenant status"))?,
            client_revoked,
            user_disabled,
        }))
    }
}

/// An access token and, if the grant has one, its refresh token, to be stored together
/// only while issuance is permitted: the tenant is active, the client is not revoked and
/// the user (if any) is enabled — see [`IssuanceState`].
#[derive(Debug)]
pub struct NewTokens<'a> {
    pub access: NewAccessToken<'a>,
    pub refresh: Option<NewRefreshToken<'a>>,
}

impl NewTokens<'_> {
    /// Stores the tokens if, and only if, issuance is permitted, atomically with that
    /// check; `false` when it is not (nothing is stored, and [`IssuanceState::load`] can
    /// then tell why).
    ///
    /// On PostgreSQL this is **one statement** ([`IssueIfPermitted`]), atomic on its own:
    /// run outside an explicit transaction it costs one round trip instead of four
    /// (`BEGIN`, check, insert, `COMMIT`), which is what bounded issuance on PostgreSQL.
    /// On SQLite (inside the single writer's savepoint) the check and the inserts are
    /// separate statements.
    pub fn insert_if_permitted(&self, conn: &mut DbConnection) -> Result<bool, DbError> {
        let access = &self.access;
        match conn {
            DbConnection::Postgres(conn) => {
                let stored: i64 = IssueIfPermitted {
                    tokens: self,
                    tenant_id: access.tenant_id.get(),
                }
                .get_result(conn)?;
                Ok(stored == 1)
            }
            DbConnection::Sqlite(_) => {
                let state =
                    IssuanceState::load(conn, access.tenant_id, access.client_id, access.user_id)?;
                if !state.is_some_and(|state| state.permits(access.user_id.is_some())) {
                    return Ok(false);
                }
                access.insert(conn)?;
                if let Some(refresh) = &self.refresh {
                    refresh.insert(conn)?;
                }
                Ok(true)
            }
        }
    }
}

/// PostgreSQL's issuing statement: a data-modifying `WITH` that reads the tenant, client
/// and user rows `FOR SHARE` (the locks [`IssuanceState::load`] takes, in the same order)
/// and inserts the access row, and the refresh row after it, only if they say issuance
/// is permitted. It answers how many access rows it stored (0 or 1).
///
/// Written as a query fragment rather than `sql_query`, because diesel never prepares a
/// `sql_query`: PostgreSQL would parse and plan this statement on every token (a fifth
/// of the CPU of a client-credentials request, measured). Its text depends only on
/// which of the user and the refresh token are present, so each connection prepares at
/// most four variants once.
struct IssueIfPermitted<'a, 'b> {
    tokens: &'b NewTokens<'a>,
    tenant_id: i64,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for IssueIfPermitted<'_, '_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        let NewTokens { access, refresh } = self.tokens;
        out.push_sql(
            "WITH permitted AS (SELECT t.id FROM tenants t \
             JOIN oauth_clients c ON c.tenant_id = t.id AND c.id = ",
        );
        out.push_bind_param::<Text, _>(access.client_id)?;
        if let Some(user_id) = &access.user_id {
            out.push_sql(" JOIN users u ON u.tenant_id = t.id AND u.id = ");
            out.push_bind_param::<BigInt, _>(user_id)?;
        }
        out.push_sql(" WHERE t.id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        out.push_sql(" AND t.status = 'active' AND c.revoked_at IS NULL");
        if access.user_id.is_some() {
            out.push_sql(" AND NOT u.disabled FOR SHARE OF t, c, u");
        } else {
            out.push_sql(" FOR SHARE OF t, c");
        }
        out.push_sql(
            "), access AS (INSERT INTO oauth_access_tokens (id, tenant_id, client_id, \
             user_id, kind, name, scopes, created_at, expires_at, token_hash) SELECT ",
        );
        out.push_bind_param::<Text, _>(access.id)?;
        out.push_sql(", permitted.id, ");
        out.push_bind_param::<Text, _>(access.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&access.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.kind.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&access.name)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.scopes)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&access.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&access.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(access.token_hash)?;
        out.push_sql(" FROM permitted RETURNING id, tenant_id, client_id, user_id, created_at)");
        if let Some(refresh) = refresh {
            out.push_sql(
                ", refresh AS (INSERT INTO oauth_refresh_tokens (id, token_hash, tenant_id, \
                 client_id, user_id, access_token_id, family_id, scopes, created_at, \
                 expires_at) SELECT ",
            );
            out.push_bind_param::<Text, _>(refresh.id)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(refresh.token_hash)?;
            out.push_sql(", access.tenant_id, access.client_id, access.user_id, access.id, ");
            out.push_bind_param::<Text, _>(refresh.family_id)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(refresh.scopes)?;
            out.push_sql(", access.created_at, ");
            out.push_bind_param::<Timestamp, _>(&refresh.expires_at)?;
            out.push_sql(" FROM access)");
        }
        out.push_sql(" SELECT count(*) FROM access");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for IssueIfPermitted<'_, '_> {
    type QueryId = ();
    // Not static (the text has four variants), so diesel caches it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for IssueIfPermitted<'_, '_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<diesel::pg::PgConnection> for IssueIfPermitted<'_, '_> {}

fn unknown(what: &str) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(
        format!("stored {what} does not parse").into(),
    ))
}

/// A refresh token about to be stored: only its hash is kept.
#[derive(Debug, Insertable)]
#[diesel(table_name = oauth_refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub tenant_id: i64,
    pub client_id: &'a str,
    pub user_id: Option<i64>,
    pub access_token_id: &'a str,
    pub family_id: &'a str,
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewRefreshToken<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Prepared(diesel::insert_into(oauth_refresh_tokens::table).values(self)).execute(conn)?;
        Ok(())
    }
}

/// A stored refresh token (never its value).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_refresh_tokens)]
pub struct RefreshToken {
    pub id: String,
    pub tenant_id: i64,
    pub client_id: String,
    pub user_id: Option<i64>,
    pub access_token_id: String,
    pub family_id: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl RefreshToken {
    /// The refresh token whose hash this is: a match proves the token is one we issued.
    pub fn find_by_hash(
        conn: &mut DbConnection,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, DbError> {
        Ok(load_unique(
            oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::token_hash.eq(token_hash))
                .select(RefreshToken::as_select()),
            conn,
        )?)
    }

    /// Takes the family's lock (see [`lock_family`]), then marks the token used if, and
    /// only if, it is still unused and unrevoked. Of several concurrent rotations exactly
    /// one sees `true`: the row count decides the winner.
    pub fn mark_used(
        conn: &mut DbConnection,
        id: &str,
        family_id: &str,
        now: NaiveDateTime,
    ) -> Result<bool, DbError> {
        lock_family(conn, family_id)?;
        let updated = Prepared(
            diesel::update(
                oauth_refresh_tokens::table
                    .filter(oauth_refresh_tokens::id.eq(id))
                    .filter(oauth_refresh_tokens::used_at.is_null())
                    .filter(oauth_refresh_tokens::revoked_at.is_null()),
            )
            .set(oauth_refresh_tokens::used_at.eq(now)),
        )
        .execute(conn)?;
        Ok(updated == 1)
    }
}

/// Serializes everything done to one refresh-token family until the transaction ends:
/// its rotation and its revocation (on reuse, or through the revocation endpoint).
///
/// Without it, on PostgreSQL, concurrent refreshes of one token deadlocked: the winner
/// locks the old refresh row and inserts the new tokens, while each loser revokes the
/// family (access rows, then refresh rows), and row locks taken in different orders by
/// three such transactions formed a cycle (found by the 128-way refresh race test). A
/// transaction-scoped advisory lock on the family id orders them all. SQLite's single
/// writer already runs one transaction at a time.
pub fn lock_family(conn: &mut DbConnection, family_id: &str) -> Result<(), DbError> {
    if let DbConnection::Postgres(conn) = conn {
        Prepared(
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(family_id),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// How many rows a revocation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RevocationCounts {
    pub access_tokens: usize,
    pub refresh_tokens: usize,
}

/// An access token's row joined with everything its validity depends on: its tenant,
/// its client and its user. One indexed query by `(tenant_id, id)`.
#[derive(Debug, Clone)]
pub struct AccessTokenState {
    pub id: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub user_id: Option<i64>,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub token_hash: Option<String>,
    pub tenant_status: TenantStatus,
    pub client_revoked_at: Option<NaiveDateTime>,
    /// `None` for a token without a user, or whose user no longer exists.
    pub user: Option<(String, bool)>,
}

/// The token columns of [`AccessTokenStateRow`].
type AccessTokenColumns = (
    String,
    i64,
    String,
    Option<i64>,
    String,
    Option<String>,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

type AccessTokenStateRow = (
    AccessTokenColumns,
    String,
    Option<NaiveDateTime>,
    Option<(String, bool)>,
);

/// The columns of `oauth_access_tokens` that [`AccessTokenState`] reads, in its order.
macro_rules! access_token_state_columns {
    () => {
        (
            oauth_access_tokens::id,
            oauth_access_tokens::tenant_id,
            oauth_access_tokens::client_id,
            oauth_access_tokens::user_id,
            oauth_access_tokens::kind,
            oauth_access_tokens::name,
            oauth_access_tokens::scopes,
            oauth_access_tokens::created_at,
            oauth_access_tokens::expires_at,
            oauth_access_tokens::revoked_at,
            oauth_access_tokens::token_hash,
        )
    };
}

impl AccessTokenState {
    pub fn find(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        jti: &str,
    ) -> Result<Option<AccessTokenState>, DbError> {
        let row: Option<AccessTokenStateRow> = load_unique(
            oauth_access_tokens::table
                .inner_join(tenants::table.on(tenants::id.eq(oauth_access_tokens::tenant_id)))
                .inner_join(
                    oauth_clients::table.on(oauth_clients::tenant_id
                        .eq(oauth_access_tokens::tenant_id)
                        .and(oauth_clients::id.eq(oauth_access_tokens::client_id))),
                )
                .left_join(
                    users::table.on(users::tenant_id
                        .eq(oauth_access_tokens::tenant_id)
                        .and(users::id.nullable().eq(oauth_access_tokens::user_id))),
                )
                .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
                .filter(oauth_access_tokens::id.eq(jti))
                .select((
                    access_token_state_columns!(),
                    tenants::status,
                    oauth_clients::revoked_at,
                    (users::username, users::disabled).nullable(),
                )),
            conn,
        )?;
        row.map(Self::from_row).transpose()
    }

    /// The client `caller_id` with its tenant's status (what client authentication reads)
    /// and, in the same query, the state of the access token `(tenant_id, jti)`, as
    /// [`AccessTokenState::find`] reads it: introspection's two reads in one round trip.
    /// `None` when there is no such client; `Some((client, None))` when there is no such
    /// token.
    pub fn find_with_caller(
        conn: &mut DbConnection,
        caller_id: &ClientId,
        tenant_id: TenantId,
        jti: &str,
    ) -> Result<Option<(ClientWithTenant, Option<AccessTokenState>)>, DbError> {
        let (token_tenants, token_clients) =
            diesel::alias!(tenants as token_tenants, oauth_clients as token_clients);
        let row = load_unique(
            oauth_clients::table
                .inner_join(tenants::table.on(tenants::id.eq(oauth_clients::tenant_id)))
                .left_join(
                    oauth_access_tokens::table.on(oauth_access_tokens::tenant_id
                        .eq(tenant_id.get())
                        // Owned: a bound value in a join's ON clause must be 'static.
                        .and(oauth_access_tokens::id.eq(jti.to_owned()))),
                )
                .left_join(
                    token_tenants.on(token_tenants
                        .field(tenants::id)
                        .eq(oauth_access_tokens::tenant_id)),
                )
                .left_join(
                    token_clients.on(token_clients
                        .field(oauth_clients::tenant_id)
                        .eq(oauth_access_tokens::tenant_id)
                        .and(
                            token_clients
                                .field(oauth_clients::id)
                                .eq(oauth_access_tokens::client_id),
                        )),
                )
                .left_join(
                    users::table.on(users::tenant_id
                        .eq(oauth_access_tokens::tenant_id)
                        .and(users::id.nullable().eq(oauth_access_tokens::user_id))),
                )
                .filter(oauth_clients::id.eq(caller_id.as_str()))
                .select((
                    ClientRow::as_select(),
                    tenants::status,
                    access_token_state_columns!().nullable(),
                    token_tenants.field(tenants::status).nullable(),
                    (
                        token_clients.field(oauth_clients::id),
                        token_clients.field(oauth_clients::revoked_at),
                    )
                        .nullable(),
                    (users::username, users::disabled).nullable(),
                )),
            conn,
        )?;
        #[allow(clippy::type_complexity)]
        let Some((caller, caller_tenant_status, token, token_tenant_status, token_client, user)): Option<(
            ClientRow,
            String,
            Option<AccessTokenColumns>,
            Option<String>,
            Option<(String, Option<NaiveDateTime>)>,
            Option<(String, bool)>,
        )> = row
        else {
            return Ok(None);
        };
        let caller = ClientWithTenant::from_row((caller, caller_tenant_status))?;
        // Like `find`'s inner joins: a token without its tenant or client is no token.
        let state = match (token, token_tenant_status, token_client) {
            (Some(token), Some(status), Some((_, client_revoked_at))) => {
                Some(Self::from_row((token, status, client_revoked_at, user))?)
            }
            _ => None,
        };
        Ok(Some((caller, state)))
    }

    fn from_row(
        (token, tenant_status, client_revoked_at, user): AccessTokenStateRow,
    ) -> Result<AccessTokenState, DbError> {
        let (
            id,
            tenant_id,
            client_id,
            user_id,
            kind,
            name,
            scopes,
            created_at,
            expires_at,
            revoked_at,
            token_hash,
        ) = token;
        Ok(AccessTokenState {
            id,
            tenant_id: TenantId::new(tenant_id),
            client_id,
            user_id,
            kind: kind.parse().map_err(|_| unknown("token kind"))?,
            name,
            scopes,
            created_at,
            expires_at,
            revoked_at,
            token_hash,
            tenant_status: tenant_status
                .parse()
                .map_err(|_| unknown("tenant status"))?,
            client_revoked_at,
            user,
        })
    }
}

/// A personal access token's metadata (never its value).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_access_tokens)]
pub struct PersonalAccessToken {
    pub id: String,
    pub name: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

impl PersonalAccessToken {
    /// The user's personal access tokens, newest first.
    pub fn list_for_user(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        user_id: i64,
    ) -> Result<Vec<PersonalAccessToken>, DbError> {
        Ok(oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .filter(oauth_access_tokens::user_id.eq(user_id))
            .filter(oauth_access_tokens::kind.eq(TokenKind::Personal.as_str()))
            .order(oauth_access_tokens::created_at.desc())
            .select(PersonalAccessToken::as_select())
            .load(conn)?)
    }

    /// Revokes one of the user's personal access tokens. `false` when the user has no
    /// such token (another user's, another tenant's, or none at all); revoking an
    /// already-revoked token of one's own succeeds and changes nothing.
    pub fn revoke_for_user(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        user_id: i64,
        id: &str,
        now: NaiveDateTime,
    ) -> Result<bool, DbError> {
        let owned = oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .filter(oauth_access_tokens::user_id.eq(user_id))
            .filter(oauth_access_tokens::kind.eq(TokenKind::Personal.as_str()))
            .filter(oauth_access_tokens::id.eq(id));
        let exists: i64 = owned.count().get_result(conn)?;
        if exists == 0 {
            return Ok(false);
        }
        diesel::update(owned.filter(oauth_access_tokens::revoked_at.is_null()))
            .set(oauth_access_tokens::revoked_at.eq(now))
            .execute(conn)?;
        Ok(true)
    }
}

/// A refresh token's row joined with what its validity depends on (its tenant, client and
/// user), found by the hash of its value: one indexed query.
#[derive(Debug, Clone)]
pub struct RefreshTokenState {
    pub token: RefreshToken,
    pub tenant_status: TenantStatus,
    pub client_revoked_at: Option<NaiveDateTime>,
    /// `(username, disabled)`; `None` for a token without a user or whose user is gone.
    pub user: Option<(String, bool)>,
}

type RefreshTokenStateRow = (
    RefreshToken,
    String,
    Option<NaiveDateTime>,
    Option<(String, bool)>,
);

impl RefreshTokenState {
    pub fn find_by_hash(
        conn: &mut DbConnection,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenState>, DbError> {
        let row: Option<RefreshTokenStateRow> = load_unique(
            oauth_refresh_tokens::table
                .inner_join(tenants::table.on(tenants::id.eq(oauth_refresh_tokens::tenant_id)))
                .inner_join(
                    oauth_clients::table.on(oauth_clients::tenant_id
                        .eq(oauth_refresh_tokens::tenant_id)
                        .and(oauth_clients::id.eq(oauth_refresh_tokens::client_id))),
                )
                .left_join(
                    users::table.on(users::tenant_id
                        .eq(oauth_refresh_tokens::tenant_id)
                        .and(users::id.nullable().eq(oauth_refresh_tokens::user_id))),
                )
                .filter(oauth_refresh_tokens::token_hash.eq(token_hash))
                .select((
                    RefreshToken::as_select(),
                    tenants::status,
                    oauth_clients::revoked_at,
                    (users::username, users::disabled).nullable(),
                )),
            conn,
        )?;
        row.map(|(token, status, client_revoked_at, user)| {
            Ok(RefreshTokenState {
                token,
                tenant_status: status.parse().map_err(|_| unknown("tenant status"))?,
                client_revoked_at,
                user,
            })
        })
        .transpose()
    }
}

/// Who an access token belongs to, for revocation's ownership check (any state).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_access_tokens)]
pub struct AccessTokenOwner {
    pub id: String,
    pub tenant_id: i64,
    pub client_id: String,
    pub token_hash: Option<String>,
}

impl AccessTokenOwner {
    pub fn find(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        jti: &str,
    ) -> Result<Option<AccessTokenOwner>, DbError> {
        Ok(load_unique(
            oauth_access_tokens::table
                .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
                .filter(oauth_access_tokens::id.eq(jti))
                .select(AccessTokenOwner::as_select()),
            conn,
        )?)
    }
}

/// How many access tokens the tenant holds, in any state.
pub fn count_access_tokens(conn: &mut DbConnection, tenant_id: TenantId) -> Result<i64, DbError> {
    Ok(oauth_access_tokens::table
        .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
        .count()
        .get_result(conn)?)
}

/// Which of a tenant's tokens a revocation covers.
#[derive(Debug, Clone, Copy)]
pub enum Revocation<'a> {
    /// An access token and every refresh token issued with it (RFC 7009 §2.1).
    AccessToken(&'a str),
    /// Every refresh token of a family and every access token issued with one of them.
    Family(&'a str),
    /// Every token of a client.
    Client(&'a str),
    /// Every token of a user.
    User(i64),
    /// Every token of the tenant.
    Tenant,
}

type AccessFilter =
    Box<dyn BoxableExpression<oauth_access_tokens::table, MultiBackend, SqlType = Bool>>;
type RefreshFilter =
    Box<dyn BoxableExpression<oauth_refresh_tokens::table, MultiBackend, SqlType = Bool>>;

/// Revokes the tokens `what` names, in the tenant, that are not revoked yet: two
/// set-based updates inside the caller's transaction, never a loop over rows.
pub fn revoke_tokens(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    what: Revocation<'_>,
    now: NaiveDateTime,
) -> Result<RevocationCounts, DbError> {
    if let Revocation::Family(family_id) = what {
        lock_family(conn, family_id)?;
    }
    let tenant = tenant_id.get();
    let (access, refresh): (AccessFilter, RefreshFilter) = match what {
        Revocation::AccessToken(jti) => (
            Box::new(oauth_access_tokens::id.eq(jti.to_owned())),
            Box::new(oauth_refresh_tokens::access_token_id.eq(jti.to_owned())),
        ),
        Revocation::Family(family_id) => (
            Box::new(
                oauth_access_tokens::id.eq_any(
                    oauth_refresh_tokens::table
                        .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
                        .filter(oauth_refresh_tokens::family_id.eq(family_id.to_owned()))
                        .select(oauth_refresh_tokens::access_token_id),
                ),
            ),
            Box::new(oauth_refresh_tokens::family_id.eq(family_id.to_owned())),
        ),
        Revocation::Client(client_id) => (
            Box::new(oauth_access_tokens::client_id.eq(client_id.to_owned())),
            Box::new(oauth_refresh_tokens::client_id.eq(client_id.to_owned())),
        ),
        Revocation::User(user_id) => (
            Box::new(oauth_access_tokens::user_id.eq(user_id).assume_not_null()),
            Box::new(oauth_refresh_tokens::user_id.eq(user_id).assume_not_null()),
        ),
        // The tenant filter below is all there is to it.
        Revocation::Tenant => (
            Box::new(oauth_access_tokens::tenant_id.eq(tenant)),
            Box::new(oauth_refresh_tokens::tenant_id.eq(tenant)),
        ),
    };
    // Five shapes (one per kind of revocation) per table: kept prepared.
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
    Ok(RevocationCounts {
        access_tokens,
        refresh_tokens,
    })
}

/// An access token's metadata for the admin API (never its value).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_access_tokens)]
pub struct AccessTokenSummary {
    pub id: String,
    pub kind: String,
    pub client_id: String,
    pub user_id: Option<i64>,
    pub name: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Which access tokens a listing shows.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    /// `Some(true)`: only unrevoked, unexpired ones at `now`; `Some(false)`: only the others.
    pub active: Option<bool>,
    pub client_id: Option<String>,
    pub user_id: Option<i64>,
    /// Cursor: tokens with a greater id (ids are time-ordered UUIDv7s).
    pub after: Option<String>,
    pub limit: i64,
}

impl AccessTokenSummary {
    /// The tenant's access tokens matching `query`, oldest first.
    pub fn list(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        query: &TokenQuery,
        now: NaiveDateTime,
    ) -> Result<Vec<AccessTokenSummary>, DbError> {
        let mut select = oauth_access_tokens::table
            .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
            .select(AccessTokenSummary::as_select())
            .order(oauth_access_tokens::id.asc())
            .limit(query.limit)
            .into_boxed();
        match query.active {
            Some(true) => {
                select = select
                    .filter(oauth_access_tokens::revoked_at.is_null())
                    .filter(oauth_access_tokens::expires_at.gt(now))
            }
            Some(false) => {
                select = select.filter(
                    oauth_access_tokens::revoked_at
                        .is_not_null()
                        .or(oauth_access_tokens::expires_at.le(now)),
                )
            }
            None => {}
        }
        if let Some(client_id) = &query.client_id {
            select = select.filter(oauth_access_tokens::client_id.eq(client_id.clone()));
        }
        if let Some(user_id) = query.user_id {
            select = select.filter(oauth_access_tokens::user_id.eq(user_id));
        }
        if let Some(after) = &query.after {
            select = select.filter(oauth_access_tokens::id.gt(after.clone()));
        }
        Ok(select.load(conn)?)
    }
}

/// Where a purge has got to: it walks each token table once, in primary-key order.
///
/// revoked_at is deliberately in no index (see migration 000005), so "revoked before the
/// cutoff" cannot be looked up; walking the key in bounded windows visits each row once
/// per purge and keeps every transaction short, however few rows are stale.
#[derive(Debug, Clone, Default)]
pub struct PurgeCursor {
    access_after: Option<String>,
    refresh_after: Option<String>,
    access_done: bool,
    refresh_done: bool,
}

impl PurgeCursor {
    /// Both tables have been walked to the end.
    pub fn is_done(&self) -> bool {
        self.access_done && self.refresh_done
    }
}

/// Examines the next `window` access tokens and the next `window` refresh tokens after
/// the cursor, deletes those that expired or were revoked before `cutoff`, and moves the
/// cursor past them; returns how many of each were deleted. A used refresh token that
/// has not expired stays: reuse detection needs it until then.
pub fn purge_batch(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    window: i64,
    cursor: &mut PurgeCursor,
) -> Result<RevocationCounts, DbError> {
    let stale = |expires_at: NaiveDateTime, revoked_at: Option<NaiveDateTime>| {
        expires_at < cutoff || revoked_at.is_some_and(|revoked_at| revoked_at < cutoff)
    };
    let mut access_tokens = 0;
    if !cursor.access_done {
        let mut select = oauth_access_tokens::table
            .select((
                oauth_access_tokens::id,
                oauth_access_tokens::expires_at,
                oauth_access_tokens::revoked_at,
            ))
            .order(oauth_access_tokens::id)
            .limit(window)
            .into_boxed();
        if let Some(after) = cursor.access_after.take() {
            select = select.filter(oauth_access_tokens::id.gt(after));
        }
        let rows: Vec<(String, NaiveDateTime, Option<NaiveDateTime>)> = select.load(conn)?;
        cursor.access_done = rows.len() < window as usize;
        let ids: Vec<&String> = rows
            .iter()
            .filter(|(_, expires_at, revoked_at)| stale(*expires_at, *revoked_at))
            .map(|(id, _, _)| id)
            .collect();
        if !ids.is_empty() {
            access_tokens = diesel::delete(
                oauth_access_tokens::table.filter(oauth_access_tokens::id.eq_any(ids)),
            )
            .execute(conn)?;
        }
        cursor.access_after = rows.into_iter().last().map(|(id, _, _)| id);
    }
    let mut refresh_tokens = 0;
    if !cursor.refresh_done {
        let mut select = oauth_refresh_tokens::table
            .select((
                oauth_refresh_tokens::id,
                oauth_refresh_tokens::expires_at,
                oauth_refresh_tokens::revoked_at,
            ))
            .order(oauth_refresh_tokens::id)
            .limit(window)
            .into_boxed();
        if let Some(after) = cursor.refresh_after.take() {
            select = select.filter(oauth_refresh_tokens::id.gt(after));
        }
        let rows: Vec<(String, NaiveDateTime, Option<NaiveDateTime>)> = select.load(conn)?;
        cursor.refresh_done = rows.len() < window as usize;
        let ids: Vec<&String> = rows
            .iter()
            .filter(|(_, expires_at, revoked_at)| stale(*expires_at, *revoked_at))
            .map(|(id, _, _)| id)
            .collect();
        if !ids.is_empty() {
            refresh_tokens = diesel::delete(
                oauth_refresh_tokens::table.filter(oauth_refresh_tokens::id.eq_any(ids)),
            )
            .execute(conn)?;
        }
        cursor.refresh_after = rows.into_iter().last().map(|(id, _, _)| id);
    }
    Ok(RevocationCounts {
        access_tokens,
        refresh_tokens,
    })
}
