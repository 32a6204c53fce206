//! A token's row together with what its validity depends on (its tenant, client and user),
//! read in one indexed query, for the bearer-token guard, introspection and revocation.
//! These reads only gather: `domain::Standing` and `oauth::bearer` decide.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::family::{RefreshToken, RefreshTokenRow};
use crate::db::models::client::{ClientRow, ClientWithTenant};
use crate::db::schema::{oauth_access_tokens, oauth_clients, oauth_refresh_tokens, tenants, users};
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{
    ClientId, ClientStanding, Exchange, Standing, TenantId, TokenActor, TokenId, TokenKind, UserId,
    UserStanding,
};
use crate::secrets::{AccessTokenHash, RefreshTokenHash, SecretHash};

/// An access token's row joined with everything its validity depends on: its tenant,
/// its client and its user. One indexed query by `(tenant_id, id)`; a token whose client
/// is not in its tenant is not found at all.
#[derive(Debug, Clone)]
pub struct AccessTokenState {
    pub id: TokenId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// `None` only for rows written before the hash column existed.
    pub token_hash: Option<AccessTokenHash>,
    pub standing: Standing,
    /// The user's name, when the token has a user that exists in its tenant.
    pub username: Option<String>,
    /// For a token from token exchange: what it was exchanged from, who acts with it, and
    /// what its validity also depends on, read by [`AccessTokenState::find`] and
    /// [`AccessTokenState::find_with_caller`] (both `None` for the subject token read for
    /// one: an exchange is never followed twice, no chains; its `kind` tells).
    pub exchange: Option<Exchange>,
    pub exchange_dependencies: Option<ExchangeDependencies>,
}

/// What a token from token exchange depends on besides its own tenant, client and user
/// (`domain::ExchangeStanding` decides): gathered by three more point reads, only for
/// such tokens, so every other token's validation stays one query.
#[derive(Debug, Clone)]
pub struct ExchangeDependencies {
    /// The subject token's state, as [`AccessTokenState::find`] reads it (in the actor's
    /// tenant); `None` when it is gone.
    pub subject: Option<Box<AccessTokenState>>,
    /// The actor's tenant, client and user (`None`: the client is not in that tenant).
    pub actor: Option<Standing>,
    /// The token's tenant's `platform_access` (read only for an actor of another tenant;
    /// `true` otherwise, where it does not apply).
    pub platform_access: bool,
}

/// The exchange columns of a token row (read for an exchanged token only): subject token,
/// actor tenant, client and user, audience.
type ExchangeColumns = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// The token columns of [`AccessTokenState`], in the order of
/// `access_token_state_columns!`.
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

/// The token's columns, its tenant's status, its client's `revoked_at` and its user's
/// `(username, disabled)` if the user exists in the tenant.
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

/// The exchange a row records, if any (the schema's CHECK keeps the columns together).
fn exchange_of(
    (subject_token_id, actor_tenant_id, actor_client_id, actor_user_id, audience): ExchangeColumns,
) -> Result<Option<Exchange>, DbError> {
    let Some(subject_token_id) = subject_token_id else {
        return Ok(None);
    };
    let (Some(actor_tenant_id), Some(actor_client_id)) = (actor_tenant_id, actor_client_id) else {
        return Err(DbError::corrupt("exchanged token's actor"));
    };
    Ok(Some(Exchange {
        subject_token_id: parse_column(&subject_token_id, "token id")?,
        actor: TokenActor {
            tenant_id: TenantId::new(actor_tenant_id),
            client_id: parse_column(&actor_client_id, "client id")?,
            user_id: actor_user_id.map(UserId::new),
        },
        audience: audience
            .map(|audience| parse_column(&audience, "client id"))
            .transpose()?,
    }))
}

/// The standing read by a join: the tenant's stored status, the client's `revoked_at`,
/// and the user's `disabled` flag if it exists in the tenant.
fn standing_of(
    tenant_status: &str,
    client_revoked_at: Option<NaiveDateTime>,
    has_user: bool,
    user: Option<&(String, bool)>,
) -> Result<Standing, DbError> {
    Ok(Standing {
        tenant: parse_column(tenant_status, "tenant status")?,
        client: ClientStanding::of(client_revoked_at.is_some()),
        user: UserStanding::of(has_user, user.map(|(_, disabled)| *disabled)),
    })
}

impl AccessTokenState {
    /// The state of the access token `(tenant_id, jti)`, with, for a token from token
    /// exchange, its [`ExchangeDependencies`].
    pub fn find(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        jti: &TokenId,
    ) -> Result<Option<AccessTokenState>, DbError> {
        Self::find_row(conn, tenant_id, jti)?
            .map(|state| state.with_exchange_dependencies(conn))
            .transpose()
    }

    /// One query: the row, its tenant, client and user.
    fn find_row(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        jti: &TokenId,
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
                .filter(oauth_access_tokens::id.eq(jti.as_str()))
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
        jti: &TokenId,
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
                        .and(oauth_access_tokens::id.eq(jti.as_str().to_owned()))),
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
            (Some(token), Some(status), Some((_, client_revoked_at))) => Some(
                Self::from_row((token, status, client_revoked_at, user))?
                    .with_exchange_dependencies(conn)?,
            ),
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
        let standing = standing_of(
            &tenant_status,
            client_revoked_at,
            user_id.is_some(),
            user.as_ref(),
        )?;
        Ok(AccessTokenState {
            id: parse_column(&id, "token id")?,
            tenant_id: TenantId::new(tenant_id),
            client_id: parse_column(&client_id, "client id")?,
            user_id: user_id.map(UserId::new),
            kind: parse_column(&kind, "token kind")?,
            name,
            scopes,
            created_at,
            expires_at,
            revoked_at,
            token_hash: token_hash.map(SecretHash::from_stored),
            standing,
            username: user.map(|(username, _)| username),
            exchange: None,
            exchange_dependencies: None,
        })
    }

    /// Reads what a token from token exchange depends on (nothing for any other token):
    /// its subject token (without following that one's exchange, if it had one), the
    /// actor's standing, and for an actor of another tenant this tenant's
    /// `platform_access`.
    fn with_exchange_dependencies(mut self, conn: &mut DbConnection) -> Result<Self, DbError> {
        // Only now, and only for such a token, its exchange columns: every other token's
        // validation stays the one query it was.
        if self.kind != TokenKind::Exchanged {
            return Ok(self);
        }
        let columns: Option<ExchangeColumns> = load_unique(
            oauth_access_tokens::table
                .filter(oauth_access_tokens::tenant_id.eq(self.tenant_id.get()))
                .filter(oauth_access_tokens::id.eq(self.id.as_str()))
                .select((
                    oauth_access_tokens::subject_token_id,
                    oauth_access_tokens::actor_tenant_id,
                    oauth_access_tokens::actor_client_id,
                    oauth_access_tokens::actor_user_id,
                    oauth_access_tokens::audience,
                )),
            conn,
        )?;
        let exchange = columns
            .map(exchange_of)
            .transpose()?
            .flatten()
            .ok_or_else(|| DbError::corrupt("exchanged token's exchange"))?;
        let actor = &exchange.actor;
        let subject = Self::find_row(conn, actor.tenant_id, &exchange.subject_token_id)?;
        let actor_standing =
            super::issue::read_standing(conn, actor.tenant_id, &actor.client_id, actor.user_id)?;
        let platform_access = !exchange.acts_across_tenants(self.tenant_id)
            || crate::db::models::tenant::Tenant::platform_access(conn, self.tenant_id)?;
        self.exchange = Some(exchange);
        self.exchange_dependencies = Some(ExchangeDependencies {
            subject: subject.map(Box::new),
            actor: actor_standing,
            platform_access,
        });
        Ok(self)
    }
}

/// A refresh token's row joined with what its validity depends on (its tenant, client and
/// user), found by the hash of its value: one indexed query.
#[derive(Debug, Clone)]
pub struct RefreshTokenState {
    pub token: RefreshToken,
    pub standing: Standing,
    /// The user's name, when the token has a user that exists in its tenant.
    pub username: Option<String>,
}

type RefreshTokenStateRow = (
    RefreshTokenRow,
    String,
    Option<NaiveDateTime>,
    Option<(String, bool)>,
);

impl RefreshTokenState {
    pub fn find_by_hash(
        conn: &mut DbConnection,
        token_hash: &RefreshTokenHash,
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
                .filter(oauth_refresh_tokens::token_hash.eq(token_hash.as_str()))
                .select((
                    RefreshTokenRow::as_select(),
                    tenants::status,
                    oauth_clients::revoked_at,
                    (users::username, users::disabled).nullable(),
                )),
            conn,
        )?;
        row.map(|(token, status, client_revoked_at, user)| {
            let token = RefreshToken::try_from(token)?;
            Ok(RefreshTokenState {
                standing: standing_of(
                    &status,
                    client_revoked_at,
                    token.user_id.is_some(),
                    user.as_ref(),
                )?,
                token,
                username: user.map(|(username, _)| username),
            })
        })
        .transpose()
    }
}

/// Who an access token belongs to, for revocation's ownership check (any state).
#[derive(Debug, Clone)]
pub struct AccessTokenOwner {
    pub id: TokenId,
    pub tenant_id: TenantId,
    /// The client the token was issued to (RFC 7009 §2.1): the row's client, or for a
    /// token from token exchange the exchanging client, of the actor's tenant (platform
    /// staff's token names the tenant's personal-access client as its own).
    pub issued_to: (TenantId, ClientId),
    pub token_hash: Option<AccessTokenHash>,
}

impl AccessTokenOwner {
    pub fn find(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        jti: &TokenId,
    ) -> Result<Option<AccessTokenOwner>, DbError> {
        type Row = (String, String, Option<String>, Option<i64>, Option<String>);
        let row: Option<Row> = load_unique(
            oauth_access_tokens::table
                .filter(oauth_access_tokens::tenant_id.eq(tenant_id.get()))
                .filter(oauth_access_tokens::id.eq(jti.as_str()))
                .select((
                    oauth_access_tokens::id,
                    oauth_access_tokens::client_id,
                    oauth_access_tokens::token_hash,
                    oauth_access_tokens::actor_tenant_id,
                    oauth_access_tokens::actor_client_id,
                )),
            conn,
        )?;
        row.map(
            |(id, client_id, token_hash, actor_tenant_id, actor_client_id)| {
                let issued_to = match (actor_tenant_id, actor_client_id) {
                    (Some(actor_tenant_id), Some(actor_client_id)) => (
                        TenantId::new(actor_tenant_id),
                        parse_column(&actor_client_id, "client id")?,
                    ),
                    _ => (tenant_id, parse_column(&client_id, "client id")?),
                };
                Ok(AccessTokenOwner {
                    id: parse_column(&id, "token id")?,
                    tenant_id,
                    issued_to,
                    token_hash: token_hash.map(SecretHash::from_stored),
                })
            },
        )
        .transpose()
    }
}
