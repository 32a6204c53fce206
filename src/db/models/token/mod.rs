//! The token tables, `oauth_access_tokens` and `oauth_refresh_tokens`: every query that
//! reads or writes a token row, one file per job.
//!
//! - [`issue`]: storing new tokens, only while their tenant, client and user stand
//!   (`domain::Standing`), and a rotation's successor tokens; on PostgreSQL each in one
//!   statement;
//! - [`state`]: a token's row joined with what its validity depends on, for validation
//!   and introspection;
//! - [`family`]: refresh tokens by hash, rotation (`mark_used`) and the family lock;
//! - [`revoke`]: revocation of any [`RevocationTarget`](crate::domain::RevocationTarget),
//!   with the locks that keep it from missing a token issued concurrently;
//! - [`listing`]: what the admin API and the personal-token endpoints list;
//! - [`purge`]: deleting long-dead tokens, walking each table in key order;
//! - [`erase`]: deleting a deleted tenant's tokens (right to erasure).
//!
//! The refresh-token lifecycle in one place: a refresh token is written beside the access
//! token of its grant ([`issue`]), is used once ([`issue::NewTokens::rotate_if_permitted`],
//! which marks it with [`family::RefreshToken::mark_used`] on SQLite),
//! revoked with its family or its access token ([`revoke`]), refused by every read while
//! its tenant, client or user does not stand ([`state`]), and deleted by [`purge`] once
//! expired or revoked long enough, or by [`erase`] with its tenant.

pub mod erase;
pub mod family;
pub mod issue;
pub mod listing;
pub mod purge;
pub mod revoke;
pub mod state;

pub use family::{lock_family, RefreshToken};
pub use issue::{NewAccessToken, NewRefreshToken, NewTokens, Rotated};
pub use listing::{count_access_tokens, AccessTokenSummary, TokenQuery};
pub use purge::{purge_batch, PurgeCursor};
pub use revoke::{revoke_tokens, RevocationCounts};
pub use state::{AccessTokenOwner, AccessTokenState, RefreshTokenState};
