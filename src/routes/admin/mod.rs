//! The admin API (JSON in, JSON out; errors as `{"error", "error_description"}`), one file
//! per resource: [`tenants`], [`clients`], [`users`], [`tokens`].
//!
//! Who may act on a tenant is decided here, once, by the extractors every handler takes:
//! platform admins hold a token with scope `admin` issued in the platform tenant and reach
//! every tenant ([`PlatformAdmin`]); tenant admins hold a token with scope `tenant:admin`
//! and reach their own tenant only ([`TenantAdmin`], which parses the `{id}` of the path
//! and refuses any other tenant with 403, whether it exists or not). Only the platform
//! creates, lists, suspends, activates and deletes tenants.

pub mod clients;
pub mod streams;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use super::bearer::{Bearer, BearerError};
use super::errors::{AppError, ErrorBody};
use crate::domain::{Actor, TenantId, ADMIN_SCOPE, TENANT_ADMIN_SCOPE};

/// Who is calling the admin API.
#[derive(Debug, Clone)]
enum Caller {
    Platform { actor: Actor },
    Tenant { tenant_id: TenantId, actor: Actor },
}

impl Caller {
    /// The admin the bearer token makes its holder, if any.
    async fn authenticate(
        bearer: impl Future<Output = Result<Bearer, BearerError>>,
    ) -> Result<Self, BearerError> {
        let Bearer(token) = bearer.await?;
        let actor = token.actor();
        if token.tenant_id.is_platform() && token.scope.contains(ADMIN_SCOPE) {
            Ok(Self::Platform { actor })
        } else if token.scope.contains(TENANT_ADMIN_SCOPE) {
            Ok(Self::Tenant {
                tenant_id: token.tenant_id,
                actor,
            })
        } else {
            Err(BearerError::InsufficientScope("admin tenant:admin"))
        }
    }

    fn into_actor(self) -> Actor {
        match self {
            Self::Platform { actor } | Self::Tenant { actor, .. } => actor,
        }
    }
}

/// A platform admin: the caller of the endpoints that manage tenants as a whole.
#[derive(Debug)]
pub struct PlatformAdmin {
    pub actor: Actor,
}

impl FromRequest for PlatformAdmin {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bearer = Bearer::from_request(request, payload);
        Box::pin(async move {
            match Caller::authenticate(bearer).await? {
                Caller::Platform { actor } => Ok(Self { actor }),
                Caller::Tenant { .. } => {
                    Err(AppError::forbidden("only a platform admin may do this").into())
                }
            }
        })
    }
}

/// An admin of the tenant named by the path's `{id}`: a platform admin, or that tenant's
/// own admin. The one place a handler gets its tenant from.
#[derive(Debug)]
pub struct TenantAdmin {
    pub tenant_id: TenantId,
    pub actor: Actor,
}

impl FromRequest for TenantAdmin {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bearer = Bearer::from_request(request, payload);
        let tenant_id = request
            .match_info()
            .get("id")
            .and_then(|id| id.parse::<TenantId>().ok());
        Box::pin(async move {
            let caller = Caller::authenticate(bearer).await?;
            // Like any other path that names nothing: the same 404 as the router's.
            let tenant_id = tenant_id.ok_or(AppError::not_found("no such resource"))?;
            if let Caller::Tenant {
                tenant_id: own,
                actor,
            } = &caller
            {
                if *own != tenant_id {
                    log::warn!(target: "tenauth::security", "tenant admin {actor} of tenant {own} tried to reach tenant {tenant_id}");
                    return Err(AppError::forbidden("the request is not allowed").into());
                }
            }
            Ok(Self {
                tenant_id,
                actor: caller.into_actor(),
            })
        })
    }
}

/// `?limit=` of every listing, with `?after=` or `?before=`: the size of a page.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Limit(Option<i64>);

impl Limit {
    const DEFAULT: i64 = 50;
    const MAX: i64 = 500;

    /// The page size asked for, 1 to 500 (50 by default).
    fn get(self) -> Result<i64, AppError> {
        match self.0.unwrap_or(Self::DEFAULT) {
            limit @ 1..=Self::MAX => Ok(limit),
            _ => Err(AppError::invalid_request("limit must be between 1 and 500")),
        }
    }
}

/// The cursor of the page after `items`: the key of the last item when the page is full
/// (`limit` items), none otherwise.
fn next_cursor<T, K>(items: &[T], limit: i64, key: impl Fn(&T) -> K) -> Option<K> {
    (items.len() as i64 == limit)
        .then(|| items.last().map(key))
        .flatten()
}

/// The refusals of the endpoints on tenants as a whole (`/admin/tenants`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum PlatformErrors {
    /// invalid input
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// no valid bearer token
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// the token may not do this
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// database unavailable
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The refusals of every endpoint within a tenant (`/admin/tenants/{id}…`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum TenantErrors {
    /// invalid input
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// no valid bearer token
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// the token may not do this
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// no such resource (or another tenant's)
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// database unavailable
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The refusal of a creation that would duplicate a name.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ConflictError {
    /// already exists
    #[response(status = 409)]
    Conflict(ErrorBody),
}
