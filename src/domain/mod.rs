//! Pure domain types: parsed once at the edge, passed everywhere inside. Nothing here
//! knows about HTTP or SQL.

mod tenant;
mod token;

pub use tenant::{TenantId, TenantStatus};
pub use token::TokenKind;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored in the database: UTC, microsecond precision (PostgreSQL's
/// TIMESTAMP precision, so a value reads back exactly as it was written on both backends).
/// Logic takes `now` as a parameter; only the edges call this.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
