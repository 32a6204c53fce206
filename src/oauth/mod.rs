//! The OAuth 2.0 protocol: client authentication, the grants, token issuance and
//! validation. Knows nothing of actix: routes hand it parsed requests and turn its
//! results and [`OAuthError`]s into HTTP.
//!
//! # What comes from oxide-auth, and why not more
//! oxide-auth is part of the chosen stack, and is used where its primitives fit exactly:
//! - `PasswordPolicy` is the seam for storing and checking client secrets:
//!   [`crate::secrets::SecretHasher`] implements it with HMAC-SHA256, because client secrets are
//!   256-bit random values for which a slow hash would only cost throughput;
//! - its `Scope` parses the RFC 6749 §3.3 scope grammar inside [`crate::domain::Scope`].
//!
//! Its flows, `Registrar`, `Issuer` and `Grant` are not used, for reasons the contract
//! makes hard requirements: their error channels are `()` / `RegistrarError::Unspecified`,
//! which cannot tell a database outage (503) from an inactive tenant (`invalid_client`)
//! or a refused scope (`invalid_scope`); the client-credentials flow answers a malformed
//! scope with `invalid_request` where RFC 6749 §5.2 says `invalid_scope`, and fixes the
//! grant lifetime at ten minutes; `Grant` requires a redirect URI, which none of the
//! grants here has; the refresh flow reads client credentials only from Basic and cannot
//! revoke a token family; and there is no password grant, personal token, introspection
//! or revocation at all. The grants here are therefore written on narrow functions of our
//! own, one file each, in the shape of oxide-auth's and fosite's decomposition.

pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod consents;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspection;
pub mod issuance;
pub mod jwt;
pub mod limits;
pub mod personal;
pub mod revocation;
pub mod security_events;

use std::sync::Arc;

pub use error::{ErrorCode, OAuthError};

use client_auth::ClientAuthFailure;

use crate::config::TokenLifetimes;
use crate::db::models::client::ClientWithTenant;
use crate::db::{blocking, Database, DbError, PoolState};
use crate::keys::Keys;
use crate::secrets::SecretHasher;

/// Everything the protocol needs: the database, the keys, and the settings. One per
/// process, shared by every worker.
#[derive(Debug)]
pub struct OAuthServer {
    pub db: Database,
    pub keys: Arc<Keys>,
    pub hasher: SecretHasher,
    /// The issuer identifier (`iss`, and `aud` until resources are configured).
    pub issuer: String,
    pub lifetimes: TokenLifetimes,
    /// Rate limits and the failed-login throttle (per instance).
    pub limits: Arc<limits::RateLimits>,
}

impl OAuthServer {
    /// Readiness (`/readyz`): the database answers, quickly (see `Database::check_ready`).
    pub async fn check_ready(&self) -> Result<(), DbError> {
        let db = self.db.clone();
        blocking(move || db.check_ready()).await
    }

    /// The connection pools' figures, for the metrics.
    pub fn pool_states(&self) -> Vec<PoolState> {
        self.db.pool_states()
    }

    /// Authenticates the client calling the token, introspection or revocation endpoint,
    /// then charges its rate limits (the client's and its tenant's).
    pub(crate) fn authenticate_caller(
        &self,
        conn: &mut crate::db::DbConnection,
        credentials: &client_auth::PresentedCredentials,
    ) -> Result<ClientWithTenant, OAuthError> {
        let found = client_auth::find_client(conn, credentials)?;
        self.check_caller(credentials, found)
    }

    /// [`OAuthServer::authenticate_caller`] once the client has been looked up. A failure
    /// is `invalid_client`, or 429 once the presented id has used up its failures.
    pub(crate) fn check_caller(
        &self,
        credentials: &client_auth::PresentedCredentials,
        found: Option<ClientWithTenant>,
    ) -> Result<ClientWithTenant, OAuthError> {
        let refused = OAuthError::invalid_client().with_basic_challenge(credentials.via_basic);
        let caller = match client_auth::check_client(&self.hasher, credentials, found) {
            Ok(caller) => caller,
            Err(ClientAuthFailure::NotInStanding) => return Err(refused),
            Err(ClientAuthFailure::BadCredentials) => {
                let presented = credentials.client_id();
                return Err(
                    match self.limits.client_authentication_failed(presented.as_ref()) {
                        Ok(()) => refused,
                        Err(wait) => OAuthError::rate_limited(wait),
                    },
                );
            }
        };
        self.limits.admit_client(&caller.client.id)?;
        self.limits
            .admit_tenant(caller.client.tenant_id, caller.client.is_confidential())?;
        Ok(caller)
    }
}
