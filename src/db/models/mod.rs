//! Rows and the queries that read and write them. Each model owns its queries
//! (`Tenant::find`, `NewAccessToken::insert`); nothing outside `db` builds SQL. Rows are
//! parsed into domain types as they are read (ids, statuses, hashes), so nothing above
//! storage handles a raw column value.
//!
//! Functions return [`DbError`](super::DbError), which keeps a database outage apart from
//! "no such row" (an `Option`), so an outage can never read as "not found". A stored value
//! that does not parse is [`DbError::corrupt`](super::DbError).

pub mod audit;
pub mod client;
pub mod code;
pub mod event;
pub mod session;
pub mod stream;
pub mod tenant;
pub mod token;
pub mod user;
