//! Pure domain types: parsed once at the edge, passed everywhere inside. Nothing here
//! knows about HTTP or SQL.

mod client;
mod scope;
mod secret;
mod tenant;
mod token;
mod user;

pub use client::{ClientId, GrantType, MalformedClientId};
pub use scope::{
    is_platform_scope, MalformedScope, Scope, ADMIN_SCOPE, SERVER_SCOPES, TENANT_ADMIN_SCOPE,
};
pub use secret::{new_token_id, random_url_safe, PlainSecret};
pub use tenant::{TenantId, TenantStatus, UnknownVariant};
pub use token::TokenKind;
pub use user::{InvalidPassword, InvalidUsername, Password, Username};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored in the database: UTC, microsecond precision (PostgreSQL's
/// TIMESTAMP precision, so a value reads back exactly as it was written on both backends).
/// Logic takes `now` as a parameter; only the edges call this.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
