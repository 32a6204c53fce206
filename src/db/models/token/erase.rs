//! Deleting every token of a tenant, for its erasure (the right to erasure): refresh tokens
//! first, since they reference their access tokens.

use diesel::prelude::*;

use super::revoke::RevocationCounts;
use crate::db::schema::{oauth_access_tokens, oauth_refresh_tokens};
use crate::db::{DbConnection, DbError};
use crate::domain::TenantId;

/// Deletes up to `batch` of the tenant's refresh tokens, then, once it has none left, up
/// to `batch` of its access tokens; how many of each went. None of both: none are left.
pub fn delete_token_batch(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    batch: i64,
) -> Result<RevocationCounts, DbError> {
    let tenant = tenant_id.get();
    let refresh: Vec<String> = oauth_refresh_tokens::table
        .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
        .select(oauth_refresh_tokens::id)
        .limit(batch)
        .load(conn)?;
    if !refresh.is_empty() {
        let refresh_tokens = diesel::delete(
            oauth_refresh_tokens::table.filter(oauth_refresh_tokens::id.eq_any(&refresh)),
        )
        .execute(conn)?;
        return Ok(RevocationCounts {
            access_tokens: 0,
            refresh_tokens,
        });
    }
    let access: Vec<String> = oauth_access_tokens::table
        .filter(oauth_access_tokens::tenant_id.eq(tenant))
        .select(oauth_access_tokens::id)
        .limit(batch)
        .load(conn)?;
    let access_tokens =
        diesel::delete(oauth_access_tokens::table.filter(oauth_access_tokens::id.eq_any(&access)))
            .execute(conn)?;
    Ok(RevocationCounts {
        access_tokens,
        refresh_tokens: 0,
    })
}

/// Deletes whatever tokens the tenant still has, in the caller's transaction.
pub fn delete_all_tokens(
    conn: &mut DbConnection,
    tenant_id: TenantId,
) -> Result<RevocationCounts, DbError> {
    let tenant = tenant_id.get();
    let refresh_tokens = diesel::delete(
        oauth_refresh_tokens::table.filter(oauth_refresh_tokens::tenant_id.eq(tenant)),
    )
    .execute(conn)?;
    let access_tokens = diesel::delete(
        oauth_access_tokens::table.filter(oauth_access_tokens::tenant_id.eq(tenant)),
    )
    .execute(conn)?;
    Ok(RevocationCounts {
        access_tokens,
        refresh_tokens,
    })
}
