//! Rows and the queries that read and write them. Each model owns its queries
//! (`Tenant::find`, `NewAccessToken::insert`); nothing outside `db` builds SQL.
//! Functions return [`DbError`](super::DbError), which keeps a database outage apart from
//! "no such row" (an `Option`), so an outage can never read as "not found".

pub mod audit;
pub mod client;
pub mod tenant;
pub mod token;
pub mod user;
