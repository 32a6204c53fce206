//! OAuth clients: the `oauth_clients` rows, parsed, and their queries.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{oauth_clients, tenants};
use crate::db::{load_unique, parse_column, DbConnection, DbError};
use crate::domain::{
    BrowserRegistration, ClientId, ClientStanding, GrantType, RedirectUri, Scope, Standing,
    TenantId, TenantStatus, UserStanding,
};
use crate::secrets::{ClientSecretHash, SecretHash};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
pub(crate) struct ClientRow {
    id: String,
    tenant_id: i64,
    name: String,
    secret_hash: Option<String>,
    grant_types: String,
    scopes: String,
    personal_access: bool,
    revoked_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    skip_consent: bool,
}

/// An OAuth client, parsed from its row.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `None` for a public client.
    pub secret_hash: Option<ClientSecretHash>,
    pub grant_types: BTreeSet<GrantType>,
    pub scopes: Scope,
    pub personal_access: bool,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Redirect URIs, logout URIs and consent (the browser flows).
    pub browser: BrowserRegistration,
}

/// Redirect URIs are stored space-separated (none contains a space).
fn parse_uris(stored: &str) -> Result<Vec<RedirectUri>, DbError> {
    stored
        .split_whitespace()
        .map(|uri| parse_column(uri, "redirect URI"))
        .collect()
}

fn store_uris(uris: &[RedirectUri]) -> String {
    uris.iter()
        .map(RedirectUri::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

impl TryFrom<ClientRow> for Client {
    type Error = DbError;

    fn try_from(row: ClientRow) -> Result<Self, DbError> {
        let grant_types = row
            .grant_types
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| DbError::corrupt("grant types"))?;
        Ok(Self {
            id: parse_column(&row.id, "client id")?,
            tenant_id: TenantId::new(row.tenant_id),
            name: row.name,
            secret_hash: row.secret_hash.map(SecretHash::from_stored),
            grant_types,
            scopes: parse_column(&row.scopes, "client scopes")?,
            personal_access: row.personal_access,
            revoked_at: row.revoked_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            browser: BrowserRegistration {
                redirect_uris: parse_uris(&row.redirect_uris)?,
                post_logout_redirect_uris: parse_uris(&row.post_logout_redirect_uris)?,
                skip_consent: row.skip_consent,
            },
        })
    }
}

/// A client together with its tenant's status: what client authentication needs, in one query.
#[derive(Debug, Clone)]
pub struct ClientWithTenant {
    pub client: Client,
    pub tenant_status: TenantStatus,
}

impl ClientWithTenant {
    /// The client's standing for a token of its own (no user).
    pub fn standing(&self) -> Standing {
        Standing {
            tenant: self.tenant_status,
            client: ClientStanding::of(self.client.revoked_at.is_some()),
            user: UserStanding::NoUser,
        }
    }

    /// From a client's row and its tenant's stored status.
    pub(crate) fn from_row((client, status): (ClientRow, String)) -> Result<Self, DbError> {
        Ok(Self {
            client: client.try_into()?,
            tenant_status: parse_column(&status, "tenant status")?,
        })
    }
}

impl Client {
    /// The client with this id, in whichever tenant it is, with its tenant's status.
    pub fn find_with_tenant(
        conn: &mut DbConnection,
        id: &ClientId,
    ) -> Result<Option<ClientWithTenant>, DbError> {
        let row: Option<(ClientRow, String)> = load_unique(
            oauth_clients::table
                .inner_join(tenants::table.on(tenants::id.eq(oauth_clients::tenant_id)))
                .filter(oauth_clients::id.eq(id.as_str()))
                .select((ClientRow::as_select(), tenants::status)),
            conn,
        )?;
        row.map(ClientWithTenant::from_row).transpose()
    }

    /// The tenant's personal-access client (every tenant has exactly one).
    pub fn find_personal_access(
        conn: &mut DbConnection,
        tenant_id: TenantId,
    ) -> Result<Option<Client>, DbError> {
        load_unique(
            oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                .filter(oauth_clients::personal_access.eq(true))
                .select(ClientRow::as_select()),
            conn,
        )?
        .map(Client::try_from)
        .transpose()
    }

    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some()
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The id of the tenant's personal-access client.
pub fn find_personal_access_client_id(
    conn: &mut DbConnection,
    tenant_id: TenantId,
) -> Result<Option<ClientId>, DbError> {
    Ok(Client::find_personal_access(conn, tenant_id)?.map(|client| client.id))
}

/// A client about to be stored.
#[derive(Debug)]
pub struct NewClient<'a> {
    pub id: &'a ClientId,
    pub tenant_id: TenantId,
    pub name: &'a str,
    pub secret_hash: Option<&'a ClientSecretHash>,
    pub grant_types: &'a BTreeSet<GrantType>,
    pub scopes: &'a Scope,
    pub personal_access: bool,
    pub browser: &'a BrowserRegistration,
    pub now: NaiveDateTime,
}

impl NewClient<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        let grant_types = self
            .grant_types
            .iter()
            .map(|grant| grant.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        diesel::insert_into(oauth_clients::table)
            .values((
                oauth_clients::id.eq(self.id.as_str()),
                oauth_clients::tenant_id.eq(self.tenant_id.get()),
                oauth_clients::name.eq(self.name),
                oauth_clients::secret_hash.eq(self.secret_hash.map(SecretHash::as_str)),
                oauth_clients::grant_types.eq(grant_types),
                oauth_clients::scopes.eq(self.scopes.to_string()),
                oauth_clients::personal_access.eq(self.personal_access),
                oauth_clients::created_at.eq(self.now),
                oauth_clients::updated_at.eq(self.now),
                oauth_clients::redirect_uris.eq(store_uris(&self.browser.redirect_uris)),
                oauth_clients::post_logout_redirect_uris
                    .eq(store_uris(&self.browser.post_logout_redirect_uris)),
                oauth_clients::skip_consent.eq(self.browser.skip_consent),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// Revokes the tenant's clients that are not revoked yet — one of them (`Some(id)`) or
/// all — in one set-based update; returns how many changed. Their tokens are the
/// caller's to revoke in the same transaction (`token::revoke_tokens`).
pub fn revoke_clients(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    client_id: Option<&ClientId>,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let mut query = diesel::update(oauth_clients::table)
        .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
        .filter(oauth_clients::revoked_at.is_null())
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(oauth_clients::id.eq(client_id.as_str().to_owned()));
    }
    Ok(query
        .set((
            oauth_clients::revoked_at.eq(now),
            oauth_clients::updated_at.eq(now),
        ))
        .execute(conn)?)
}

impl Client {
    /// The tenant's clients in creation order (any state).
    pub fn list(conn: &mut DbConnection, tenant_id: TenantId) -> Result<Vec<Client>, DbError> {
        oauth_clients::table
            .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
            .order((oauth_clients::created_at.asc(), oauth_clients::id.asc()))
            .select(ClientRow::as_select())
            .load(conn)?
            .into_iter()
            .map(Client::try_from)
            .collect()
    }

    /// Every scope token some client of the tenant may hold, its revoked clients aside:
    /// what a token of the tenant may carry when no one client decides (token exchange by
    /// platform staff, RFC 8693).
    pub fn scope_tokens_held_in(
        conn: &mut DbConnection,
        tenant_id: TenantId,
    ) -> Result<BTreeSet<String>, DbError> {
        let stored: Vec<String> = oauth_clients::table
            .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
            .filter(oauth_clients::revoked_at.is_null())
            .select(oauth_clients::scopes)
            .load(conn)?;
        Ok(stored
            .iter()
            .flat_map(|scopes| scopes.split(' '))
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The client with this id **in this tenant**: another tenant's client is not found.
    pub fn find_in_tenant(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: &ClientId,
    ) -> Result<Option<Client>, DbError> {
        load_unique(
            oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                .filter(oauth_clients::id.eq(id.as_str()))
                .select(ClientRow::as_select()),
            conn,
        )?
        .map(Client::try_from)
        .transpose()
    }

    /// On PostgreSQL, locks the client's row until the transaction ends (`FOR NO KEY
    /// UPDATE`: it waits for issuance, which reads it `FOR SHARE`, but not for foreign-key
    /// checks). SQLite's single writer already serializes. Whether the client exists.
    pub fn lock_row(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: &ClientId,
    ) -> Result<bool, DbError> {
        let found: Option<String> = match conn {
            DbConnection::Sqlite(conn) => load_unique(
                oauth_clients::table
                    .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                    .filter(oauth_clients::id.eq(id.as_str()))
                    .select(oauth_clients::id),
                conn,
            )?,
            DbConnection::Postgres(conn) => load_unique(
                oauth_clients::table
                    .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                    .filter(oauth_clients::id.eq(id.as_str()))
                    .select(oauth_clients::id)
                    .for_no_key_update(),
                conn,
            )?,
        };
        Ok(found.is_some())
    }

    /// Replaces the stored hash of the client's secret.
    pub fn set_secret_hash(
        conn: &mut DbConnection,
        tenant_id: TenantId,
        id: &ClientId,
        secret_hash: &ClientSecretHash,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        diesel::update(
            oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                .filter(oauth_clients::id.eq(id.as_str())),
        )
        .set((
            oauth_clients::secret_hash.eq(secret_hash.as_str()),
            oauth_clients::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(())
    }
}
