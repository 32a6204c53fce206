//! The good-standing rule, in one place: a token may be issued, and an issued token stays
//! active, only while its tenant is active, its client is not revoked and its user (for a
//! token with a user) exists in the tenant and is enabled.
//!
//! Everything that asks the question asks [`Standing::refusal`]: issuance (the access and
//! refresh rows are written only if it says yes, in the same transaction or statement as
//! the check), client authentication, the bearer-token guard and introspection (access
//! and refresh tokens). Storage reads the three rows and builds a [`Standing`]; it does not
//! decide. The one exception is speed: PostgreSQL issues a token in one statement, whose
//! `WHERE` clause is the same rule written in SQL ([`sql`], right below), and the test
//! `issuance_sql_agrees_with_the_standing_rule` (tests/api/standing.rs) checks on both
//! backends that the two agree on every combination of tenant status, client state and
//! user state.

use super::TenantStatus;

/// What a token's validity depends on besides the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub tenant: TenantStatus,
    pub client: ClientStanding,
    pub user: UserStanding,
}

/// The client's state (a client of another tenant is no client of this one: callers read
/// the client by `(tenant_id, id)` and have no standing at all when it is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStanding {
    Active,
    Revoked,
}

/// The user's state, for a token that has a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStanding {
    /// The token is a client's own (client credentials): no user is involved.
    NoUser,
    Enabled,
    /// Disabled, or deleted (a deleted user is disabled too).
    Disabled,
    /// The user does not exist in the token's tenant.
    Missing,
}

/// Why a token may not be issued or is no longer active. For the log: every refusal looks
/// the same to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("tenant not active")]
    TenantInactive,
    #[error("client revoked")]
    ClientInactive,
    #[error("user deleted or disabled")]
    UserInactive,
    /// A token from token exchange: its subject token is no longer active.
    #[error("subject token no longer active")]
    SubjectTokenInactive,
    /// A token from token exchange: its actor's tenant, client or user does not stand.
    #[error("actor no longer stands")]
    ActorInactive,
    /// Platform staff's token in a tenant that has turned `platform_access` off.
    #[error("the tenant refuses platform access")]
    PlatformAccessRefused,
}

impl Standing {
    /// The rule: `None` when the token may be issued or stay active, otherwise why not. The
    /// tenant is looked at first, then the client, then the user.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.tenant != TenantStatus::Active {
            return Some(Refusal::TenantInactive);
        }
        if self.client == ClientStanding::Revoked {
            return Some(Refusal::ClientInactive);
        }
        match self.user {
            UserStanding::NoUser | UserStanding::Enabled => None,
            UserStanding::Disabled | UserStanding::Missing => Some(Refusal::UserInactive),
        }
    }

    /// The rule for a client that may not exist in the tenant: no client, no token.
    pub fn refusal_of(standing: Option<&Standing>) -> Option<Refusal> {
        standing.map_or(Some(Refusal::ClientInactive), Standing::refusal)
    }
}

/// What a token from token exchange (RFC 8693) depends on besides its own [`Standing`]:
/// it stays active only while the token it was exchanged from does, while its actor (the
/// exchanging client, and the platform user for platform staff) stands by the same rule as
/// any token's tenant, client and user, and, when the actor is of another tenant (platform
/// staff), while the token's tenant allows platform access. Every cascade of issue 17
/// (revoking the subject token, disabling or deleting the platform user, deleting the
/// exchanging client, turning `platform_access` off) is this rule read at validation, so
/// no cause can miss a token exchanged concurrently; the revocations also mark the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeStanding {
    /// The subject token is active (found, not revoked or expired, standing).
    pub subject_token_active: bool,
    /// The actor's standing: its tenant, the exchanging client and the platform user if
    /// any; `None` when the client is not in the actor's tenant.
    pub actor: Option<Standing>,
    /// The actor belongs to another tenant than the token (platform staff).
    pub cross_tenant: bool,
    /// The token's tenant's `platform_access`.
    pub platform_access: bool,
}

impl ExchangeStanding {
    /// The rule: `None` while the exchanged token may stay active.
    pub fn refusal(&self) -> Option<Refusal> {
        if !self.subject_token_active {
            return Some(Refusal::SubjectTokenInactive);
        }
        if Standing::refusal_of(self.actor.as_ref()).is_some() {
            return Some(Refusal::ActorInactive);
        }
        if self.cross_tenant && !self.platform_access {
            return Some(Refusal::PlatformAccessRefused);
        }
        None
    }
}

impl ClientStanding {
    pub fn of(revoked: bool) -> Self {
        if revoked {
            Self::Revoked
        } else {
            Self::Active
        }
    }
}

impl UserStanding {
    /// From what a join reads: whether the token has a user at all, and that user's
    /// `disabled` flag if it exists in the token's tenant.
    pub fn of(has_user: bool, disabled: Option<bool>) -> Self {
        match (has_user, disabled) {
            (false, _) => Self::NoUser,
            (true, Some(false)) => Self::Enabled,
            (true, Some(true)) => Self::Disabled,
            (true, None) => Self::Missing,
        }
    }
}

/// [`Standing::refusal`] written in SQL, for PostgreSQL's one-statement issuance
/// (`db::models::token::issue`), over the tenant row `t`, the client row `c` joined on
/// `(c.tenant_id, c.id)` and, for a token with a user, the user row `u` joined on
/// `(u.tenant_id, u.id)`: the inner joins stand for "the client and the user exist in the
/// tenant". Change one, change the other: the agreement test will tell.
pub mod sql {
    /// The tenant is active (`TenantStatus::Active`).
    pub const TENANT_ACTIVE: &str = "t.status = 'active'";
    /// The client is not revoked.
    pub const CLIENT_ACTIVE: &str = "c.revoked_at IS NULL";
    /// The user is enabled.
    pub const USER_ENABLED: &str = "NOT u.disabled";
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANTS: [TenantStatus; 3] = [
        TenantStatus::Active,
        TenantStatus::Suspended,
        TenantStatus::Deleted,
    ];
    const CLIENTS: [ClientStanding; 2] = [ClientStanding::Active, ClientStanding::Revoked];
    const USERS: [UserStanding; 4] = [
        UserStanding::NoUser,
        UserStanding::Enabled,
        UserStanding::Disabled,
        UserStanding::Missing,
    ];

    #[test]
    fn only_an_active_tenant_active_client_and_enabled_or_absent_user_stand() {
        for tenant in TENANTS {
            for client in CLIENTS {
                for user in USERS {
                    let standing = Standing {
                        tenant,
                        client,
                        user,
                    };
                    let expected = if tenant != TenantStatus::Active {
                        Some(Refusal::TenantInactive)
                    } else if client == ClientStanding::Revoked {
                        Some(Refusal::ClientInactive)
                    } else if matches!(user, UserStanding::Disabled | UserStanding::Missing) {
                        Some(Refusal::UserInactive)
                    } else {
                        None
                    };
                    assert_eq!(standing.refusal(), expected, "{standing:?}");
                }
            }
        }
    }

    #[test]
    fn a_missing_client_never_stands() {
        assert_eq!(Standing::refusal_of(None), Some(Refusal::ClientInactive));
        let fine = Standing {
            tenant: TenantStatus::Active,
            client: ClientStanding::Active,
            user: UserStanding::NoUser,
        };
        assert_eq!(Standing::refusal_of(Some(&fine)), None);
    }

    #[test]
    fn user_standing_reads_a_left_join() {
        let cases = [
            ((false, None), UserStanding::NoUser),
            ((false, Some(true)), UserStanding::NoUser),
            ((true, Some(false)), UserStanding::Enabled),
            ((true, Some(true)), UserStanding::Disabled),
            ((true, None), UserStanding::Missing),
        ];
        for ((has_user, disabled), expected) in cases {
            assert_eq!(UserStanding::of(has_user, disabled), expected);
        }
    }

    #[test]
    fn an_exchanged_token_stands_while_its_subject_token_its_actor_and_platform_access_do() {
        let fine = Standing {
            tenant: TenantStatus::Active,
            client: ClientStanding::Active,
            user: UserStanding::Enabled,
        };
        let disabled = Standing {
            user: UserStanding::Disabled,
            ..fine
        };
        let base = ExchangeStanding {
            subject_token_active: true,
            actor: Some(fine),
            cross_tenant: true,
            platform_access: true,
        };
        let cases = [
            (base, None),
            (
                ExchangeStanding {
                    subject_token_active: false,
                    ..base
                },
                Some(Refusal::SubjectTokenInactive),
            ),
            (
                ExchangeStanding {
                    actor: Some(disabled),
                    ..base
                },
                Some(Refusal::ActorInactive),
            ),
            (
                ExchangeStanding {
                    actor: None,
                    ..base
                },
                Some(Refusal::ActorInactive),
            ),
            (
                ExchangeStanding {
                    platform_access: false,
                    ..base
                },
                Some(Refusal::PlatformAccessRefused),
            ),
            // Inside one tenant the setting does not apply.
            (
                ExchangeStanding {
                    platform_access: false,
                    cross_tenant: false,
                    ..base
                },
                None,
            ),
        ];
        for (standing, expected) in cases {
            assert_eq!(standing.refusal(), expected, "{standing:?}");
        }
    }

    #[test]
    fn the_sql_names_the_stored_active_status() {
        assert!(sql::TENANT_ACTIVE.contains(&format!("'{}'", TenantStatus::Active.as_str())));
    }
}
