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
    /// A signing key (by its `kid`) stopped signing: tokens that name it and were issued
    /// after its retirement are not tenauth's. It concerns every tenant.
    SigningKeyRetired(String),
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
    SigningKeyRetired,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
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
        Self::SigningKeyRetired,
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
            Self::SigningKeyRetired => "signing-key-retired",
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
    /// Whether events of this kind go to every stream, whatever its tenant: they are
    /// about the server, not about one tenant's tokens (no other tenant's data is in them).
    pub fn concerns_every_tenant(self) -> bool {
        self == Self::SigningKeyRetired
    }

    /// The kind whose event type URI this is.
    pub fn from_type_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.type_uri() == uri)
    }
}

/// How a stream's receiver gets its events, by the method URNs of SSF §8.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMethod {
    /// RFC 8935: tenauth POSTs each SET to the receiver's endpoint.
    Push,
    /// RFC 8936: the receiver POSTs to tenauth's poll endpoint for them.
    Poll,
}

impl DeliveryMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "urn:ietf:rfc:8935",
            Self::Poll => "urn:ietf:rfc:8936",
        }
    }
}

impl FromStr for DeliveryMethod {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [Self::Push, Self::Poll]
            .into_iter()
            .find(|method| method.as_str() == value)
            .ok_or(UnknownVariant)
    }
}

/// A stream's status (SSF §8.1.2's `enabled` and `paused`, and tenauth's `failing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Events are queued and delivered.
    Enabled,
    /// Events are queued but not pushed, until an admin resumes the stream.
    Paused,
    /// A push stream whose receiver failed for longer than `TENAUTH_EVENTS_RETRY_FOR`:
    /// events are queued but not pushed until an admin resumes it, which redelivers them
    /// in order.
    Failing,
}

impl StreamStatus {
    pub const ALL: [StreamStatus; 3] = [Self::Enabled, Self::Paused, Self::Failing];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::Failing => "failing",
        }
    }
}

impl FromStr for StreamStatus {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or(UnknownVariant)
    }
}

impl FromStr for EventKind {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or(UnknownVariant)
    }
}

/// The first retry of a failed push comes after about this long; each further one waits
/// twice as long as the one before, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// The longest wait between two pushes of the same event.
pub const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(300);

/// Where a push stream's delivery stands: the retries of its oldest undelivered event
/// (a stream delivers in order, so that one blocks the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryState {
    /// Failed pushes since the last success.
    pub attempts: i32,
    /// When the first of them failed.
    pub failing_since: Option<chrono::NaiveDateTime>,
    /// No push before this.
    pub next_attempt_at: Option<chrono::NaiveDateTime>,
    /// What the last failure was (no secret: a status code or a transport error kind).
    pub last_error: Option<String>,
}

impl DeliveryState {
    /// The state after a push failed at `now` with `error`, and whether the stream has now
    /// failed for `retry_for` and turns [`StreamStatus::Failing`]. The next attempt waits
    /// [`FIRST_RETRY_DELAY`] doubled per attempt, at most [`MAX_RETRY_DELAY`], times a
    /// random factor in [0.5, 1) (`jitter` in [0, 1)), so that the receivers of many
    /// streams that failed together are not retried together (RFC 8935 leaves retries to
    /// the transmitter; this is the usual "equal jitter" backoff).
    pub fn after_failure(
        &self,
        error: String,
        now: chrono::NaiveDateTime,
        retry_for: std::time::Duration,
        jitter: f64,
    ) -> (Self, bool) {
        let failing_since = self.failing_since.unwrap_or(now);
        let exponent = u32::try_from(self.attempts.clamp(0, 20)).unwrap_or(20);
        let delay = FIRST_RETRY_DELAY
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(MAX_RETRY_DELAY)
            .mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let retry_for = chrono::Duration::from_std(retry_for).unwrap_or(chrono::Duration::MAX);
        let failed = now - failing_since >= retry_for;
        let state = Self {
            attempts: self.attempts.saturating_add(1),
            failing_since: Some(failing_since),
            next_attempt_at: Some(now + delay),
            last_error: Some(error),
        };
        (state, failed)
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
            Self::SigningKeyRetired(_) => EventKind::SigningKeyRetired,
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
            Self::SigningKeyRetired(kid) => EventParts {
                token: Some(kid.clone()),
                ..none
            },
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
        for status in StreamStatus::ALL {
            assert_eq!(status.as_str().parse::<StreamStatus>(), Ok(status));
        }
        for method in [DeliveryMethod::Push, DeliveryMethod::Poll] {
            assert_eq!(method.as_str().parse::<DeliveryMethod>(), Ok(method));
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
    fn retries_back_off_exponentially_with_jitter_and_fail_after_the_window() {
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        let window = std::time::Duration::from_secs(3600);
        let (first, failed) =
            DeliveryState::default().after_failure("503".into(), start, window, 0.0);
        assert!(!failed);
        assert_eq!(first.attempts, 1);
        assert_eq!(first.failing_since, Some(start));
        assert_eq!(
            first.next_attempt_at,
            Some(start + chrono::Duration::milliseconds(500))
        );
        let mut state = first;
        let mut at = start;
        for _ in 0..12 {
            at = state.next_attempt_at.unwrap();
            state = state.after_failure("503".into(), at, window, 0.999).0;
        }
        let wait = state.next_attempt_at.unwrap() - at;
        assert!(wait <= chrono::Duration::seconds(300) && wait > chrono::Duration::seconds(290));
        let (_, failed) = state.after_failure(
            "503".into(),
            start + chrono::Duration::seconds(3600),
            window,
            0.0,
        );
        assert!(failed, "past the retry window the stream fails");
        assert_eq!(
            state.failing_since,
            Some(start),
            "the window counts from the first failure"
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
