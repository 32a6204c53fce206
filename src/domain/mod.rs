//! Pure domain types and rules: parsed once at the edge, passed everywhere inside. Nothing
//! here knows about HTTP or SQL (the one SQL text, [`standing::sql`], is a mirror of the
//! rule beside it, kept there so that the two are read and changed together).

mod audit;
mod client;
mod event;
mod id;
mod name;
mod push_endpoint;
mod redirect;
mod scope;
mod secret;
pub mod session;
pub mod standing;
mod tenant;
mod token;
mod user;

pub use audit::{Actor, AuditAction};
pub use client::{BrowserRegistration, GrantType};
pub use event::{
    DeliveryMethod, DeliveryState, EventKind, EventParts, SecurityEvent, StreamStatus,
    FIRST_RETRY_DELAY, MAX_RETRY_DELAY,
};
pub use id::{ClientId, FamilyId, MalformedId, StreamId, TenantId, TokenId, UserId};
pub use name::{InvalidName, InvalidSlug, Name, Slug};
pub use push_endpoint::{AddressPolicy, InvalidPushEndpoint, PushEndpoint, PUSH_ENDPOINT_RULE};
pub use redirect::{resolve_redirect_uri, InvalidRedirectUri, RedirectUri, REDIRECT_URI_RULE};
pub use scope::{
    MalformedScope, Scope, ScopeClass, ScopeRefusal, ACT_IN_TENANT_SCOPE, ADMIN_SCOPE,
    EVENTS_READ_SCOPE, PLATFORM_SCOPE_PREFIX, SERVER_SCOPES, TENANT_ADMIN_SCOPE,
};
pub use secret::{random_url_safe, PlainSecret, MAX_PRESENTED_SECRET_LENGTH};
pub use standing::{ClientStanding, ExchangeStanding, Refusal, Standing, UserStanding};
pub use tenant::{TenantStatus, UnknownVariant};
pub use token::{
    subject, Exchange, ExchangeAudience, RevocationTarget, TokenActor, TokenKind,
    TENANT_AUDIENCE_PREFIX,
};
pub use user::{InvalidPassword, InvalidUsername, Password, Username, USERNAME_RULE};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored in the database: UTC, microsecond precision (PostgreSQL's
/// TIMESTAMP precision, so a value reads back exactly as it was written on both backends).
/// Logic takes `now` as a parameter; only the edges call this.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
