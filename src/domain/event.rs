//! Security events for resource servers (RFC 8417 Security Event Tokens, as profiled by the
//! OpenID Shared Signals Framework with CAEP and RISC): what happened to which tokens.
//! One event stands for every token it covers: deleting a tenant of a million tokens is one
//! `TenantDeleted`, not a million revocations.

use std::str::FromStr;

use super::tenant::UnknownVariant;
use super::{ClientId, FamilyId, RevocationTarget, TokenId, UserId};

/// What happened, with what it names (its tenant is the row's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// An access token was revoked (RFC 7009, a personal token deleted, a code replayed),
    /// with every refresh token issued with it.
    TokenRevoked(TokenId),
    /// A refresh-token family was revoked (RFC 7009, or reuse detected): every token of it.
    FamilyRevoked(FamilyId),
    /// An admin revoked a client's tokens, a user's, or (neither) all of the tenant's.
    TokensRevoked {
        client: Option<ClientId>,
        user: Option<UserId>,
    },
    /// A client was deleted: it and all its tokens are revoked.
    ClientRevoked(ClientId),
    /// A user was disabled: its tokens are inactive, its sessions ended.
    UserDisabled(UserId),
    /// A user was deleted: all its tokens are revoked.
    UserDeleted(UserId),
    /// A user's password changed: all its tokens are revoked.
    PasswordChanged(UserId),
    /// The tenant was suspended: its tokens are inactive until it is re-activated.
    TenantSuspended,
    /// The tenant was re-activated: its tokens that are neither expired nor revoked are
    /// active again.
    TenantActivated,
    /// The tenant was deleted: all its tokens are revoked.
    TenantDeleted,
}

/// The stored kind of an event, and the event type URI its SET carries (RFC 8417 §2.2):
/// CAEP or RISC where one fits, tenauth's own URNs for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    TokenRevoked,
    FamilyRevoked,
    TokensRevoked,
    ClientRevoked,
    UserDisabled,
    UserDeleted,
    PasswordChanged,
    TenantSuspended,
    TenantActivated,
    TenantDeleted,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        Self::TokenRevoked,
        Self::FamilyRevoked,
        Self::TokensRevoked,
        Self::ClientRevoked,
        Self::UserDisabled,
        Self::UserDeleted,
        Self::PasswordChanged,
        Self::TenantSuspended,
        Self::TenantActivated,
        Self::TenantDeleted,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRevoked => "token-revoked",
            Self::FamilyRevoked => "token-family-revoked",
            Self::TokensRevoked => "tokens-revoked",
            Self::ClientRevoked => "client-revoked",
            Self::UserDisabled => "user-disabled",
            Self::UserDeleted => "user-deleted",
            Self::PasswordChanged => "password-changed",
            Self::TenantSuspended => "tenant-suspended",
            Self::TenantActivated => "tenant-activated",
            Self::TenantDeleted => "tenant-deleted",
        }
    }

    /// The event type URI: RISC `account-disabled` and `account-purged` for a user
    /// disabled or deleted, CAEP `credential-change` for a password changed, and
    /// `urn:tenauth:secevent:<name>` for the rest.
    pub fn type_uri(self) -> String {
        match self {
            Self::UserDisabled => {
                "https://schemas.openid.net/secevent/risc/event-type/account-disabled".into()
            }
            Self::UserDeleted => {
                "https://schemas.openid.net/secevent/risc/event-type/account-purged".into()
            }
            Self::PasswordChanged => {
                "https://schemas.openid.net/secevent/caep/event-type/credential-change".into()
            }
            other => format!("urn:tenauth:secevent:{}", other.as_str()),
        }
    }
}

impl EventKind {
    /// The kind whose event type URI this is.
    pub fn from_type_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.type_uri() == uri)
    }
}

/// How a stream's receiver gets its events. Only poll (RFC 8936) for now; push (RFC 8935)
/// comes with the dispatcher.
pub const POLL_DELIVERY: &str = "urn:ietf:rfc:8936";

impl FromStr for EventKind {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or(UnknownVariant)
    }
}

/// The parts of an event as stored: its kind and what it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventParts {
    pub client: Option<ClientId>,
    pub user: Option<UserId>,
    /// A token's jti or a refresh family's id.
    pub token: Option<String>,
}

impl SecurityEvent {
    /// The event a revocation of `target` reports when nothing larger explains it.
    pub fn of_revocation(target: &RevocationTarget) -> Self {
        match target {
            RevocationTarget::AccessToken(jti) => Self::TokenRevoked(jti.clone()),
            RevocationTarget::Family(family) => Self::FamilyRevoked(family.clone()),
            RevocationTarget::Client(client) => Self::TokensRevoked {
                client: Some(client.clone()),
                user: None,
            },
            RevocationTarget::User(user) => Self::TokensRevoked {
                client: None,
                user: Some(*user),
            },
            RevocationTarget::Tenant => Self::TokensRevoked {
                client: None,
                user: None,
            },
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Self::TokenRevoked(_) => EventKind::TokenRevoked,
            Self::FamilyRevoked(_) => EventKind::FamilyRevoked,
            Self::TokensRevoked { .. } => EventKind::TokensRevoked,
            Self::ClientRevoked(_) => EventKind::ClientRevoked,
            Self::UserDisabled(_) => EventKind::UserDisabled,
            Self::UserDeleted(_) => EventKind::UserDeleted,
            Self::PasswordChanged(_) => EventKind::PasswordChanged,
            Self::TenantSuspended => EventKind::TenantSuspended,
            Self::TenantActivated => EventKind::TenantActivated,
            Self::TenantDeleted => EventKind::TenantDeleted,
        }
    }

    /// What the event names, as stored beside its kind.
    pub fn parts(&self) -> EventParts {
        let none = EventParts::default();
        match self {
            Self::TokenRevoked(jti) => EventParts {
                token: Some(jti.to_string()),
                ..none
            },
            Self::FamilyRevoked(family) => EventParts {
                token: Some(family.to_string()),
                ..none
            },
            Self::TokensRevoked { client, user } => EventParts {
                client: client.clone(),
                user: *user,
                ..none
            },
            Self::ClientRevoked(client) => EventParts {
                client: Some(client.clone()),
                ..none
            },
            Self::UserDisabled(user) | Self::UserDeleted(user) | Self::PasswordChanged(user) => {
                EventParts {
                    user: Some(*user),
                    ..none
                }
            }
            Self::TenantSuspended | Self::TenantActivated | Self::TenantDeleted => none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_use_caep_or_risc_where_one_fits() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        }
        assert_eq!(
            EventKind::PasswordChanged.type_uri(),
            "https://schemas.openid.net/secevent/caep/event-type/credential-change"
        );
        assert_eq!(
            EventKind::TenantDeleted.type_uri(),
            "urn:tenauth:secevent:tenant-deleted"
        );
    }

    #[test]
    fn a_standalone_revocation_reports_what_it_revoked() {
        let jti: TokenId = "the-jti".parse().unwrap();
        assert_eq!(
            SecurityEvent::of_revocation(&RevocationTarget::AccessToken(jti.clone())).parts(),
            EventParts {
                token: Some("the-jti".into()),
                ..EventParts::default()
            }
        );
        assert_eq!(
            SecurityEvent::of_revocation(&RevocationTarget::Tenant),
            SecurityEvent::TokensRevoked {
                client: None,
                user: None
            }
        );
    }
}
