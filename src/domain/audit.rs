//! Who changed what: the actor and the action of an audit event.

use std::fmt;

use super::{ClientId, UserId};

/// Who made a change: the command line, or the client or user whose token called the
/// admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Cli,
    Client(ClientId),
    User(UserId),
    /// A platform user acting in another tenant through token exchange (RFC 8693): how that
    /// tenant's trail names them, apart from its own users.
    PlatformUser(UserId),
}

impl fmt::Display for Actor {
    /// How the audit trail names the actor: `cli`, `client:<id>` or `user:<id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli => f.write_str("cli"),
            Self::Client(id) => write!(f, "client:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::PlatformUser(id) => write!(f, "platform-user:{id}"),
        }
    }
}

/// Every change an audit event can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    TenantCreate,
    TenantSuspend,
    TenantActivate,
    TenantPlatformAccess,
    TenantDelete,
    TenantErase,
    ClientCreate,
    ClientDelete,
    ClientSecretRotate,
    TokensRevoke,
    TokenExchange,
    UserCreate,
    UserPassword,
    UserDisable,
    UserDelete,
    StreamCreate,
    StreamDelete,
    StreamPause,
    StreamResume,
}

impl AuditAction {
    /// The stored name, e.g. `tenant.delete` (the admin API shows it as is).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantCreate => "tenant.create",
            Self::TenantSuspend => "tenant.suspend",
            Self::TenantActivate => "tenant.activate",
            Self::TenantPlatformAccess => "tenant.platform_access",
            Self::TenantDelete => "tenant.delete",
            Self::TenantErase => "tenant.erase",
            Self::ClientCreate => "client.create",
            Self::ClientDelete => "client.delete",
            Self::ClientSecretRotate => "client.secret.rotate",
            Self::TokensRevoke => "tokens.revoke",
            Self::TokenExchange => "token.exchange",
            Self::UserCreate => "user.create",
            Self::UserPassword => "user.password",
            Self::UserDisable => "user.disable",
            Self::UserDelete => "user.delete",
            Self::StreamCreate => "event_stream.create",
            Self::StreamDelete => "event_stream.delete",
            Self::StreamPause => "event_stream.pause",
            Self::StreamResume => "event_stream.resume",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_named_as_the_audit_trail_shows_them() {
        assert_eq!(Actor::Cli.to_string(), "cli");
        assert_eq!(
            Actor::Client("abc".parse().unwrap()).to_string(),
            "client:abc"
        );
        assert_eq!(Actor::User(UserId::new(7)).to_string(), "user:7");
        assert_eq!(
            Actor::PlatformUser(UserId::new(7)).to_string(),
            "platform-user:7"
        );
    }
}
