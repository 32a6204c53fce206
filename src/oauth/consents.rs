//! A user's remembered consents (the approvals `/oauth/authorize` remembers): listing them
//! and taking one back, with the user's own bearer token. Taken back, the next
//! authorization of that client asks again.

use chrono::NaiveDateTime;

use super::bearer::ActiveToken;
use super::OAuthServer;
use crate::db::models::session::{forget_consent, list_consents};
use crate::db::DbError;
use crate::domain::{ClientId, Scope};

/// Why a consent request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("only a user's token can manage its consents")]
    NotAUser,
    #[error("no consent for this client")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbError),
}

impl OAuthServer {
    /// The caller's remembered approvals, oldest first.
    pub async fn list_consents(
        &self,
        caller: &ActiveToken,
    ) -> Result<Vec<(ClientId, Scope, NaiveDateTime)>, ConsentError> {
        let user_id = caller.user_id.ok_or(ConsentError::NotAUser)?;
        let tenant_id = caller.tenant_id;
        Ok(self
            .db
            .read_async(move |conn| list_consents(conn, tenant_id, user_id))
            .await?)
    }

    /// Takes back the caller's approval of `client_id`.
    pub async fn forget_consent(
        &self,
        caller: &ActiveToken,
        client_id: ClientId,
    ) -> Result<(), ConsentError> {
        let user_id = caller.user_id.ok_or(ConsentError::NotAUser)?;
        let tenant_id = caller.tenant_id;
        let forgotten = self
            .db
            .write_async(move |conn| forget_consent(conn, tenant_id, user_id, &client_id))
            .await?;
        if forgotten {
            Ok(())
        } else {
            Err(ConsentError::NotFound)
        }
    }
}
