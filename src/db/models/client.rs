use diesel::prelude::*;

use crate::db::schema::oauth_clients;
use crate::db::{DbConnection, DbError};
use crate::domain::TenantId;

/// The id of the tenant's personal-access client (every tenant has exactly one).
pub fn find_personal_access_client_id(
    conn: &mut DbConnection,
    tenant_id: TenantId,
) -> Result<Option<String>, DbError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
        .filter(oauth_clients::personal_access.eq(true))
        .select(oauth_clients::id)
        .first(conn)
        .optional()?)
}
