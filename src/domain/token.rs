//! What a token is: its kind, its subject, and what a revocation covers.

use std::str::FromStr;

use super::tenant::UnknownVariant;
use super::{Actor, ClientId, FamilyId, TenantId, TokenId, UserId};

/// How an access token came to be: the grant that issued it, or `Personal` for a personal
/// access token created by its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    AuthorizationCode,
    Password,
    ClientCredentials,
    Personal,
    Refresh,
    /// Issued by token exchange (RFC 8693) for a subject token, with an actor.
    Exchanged,
}

impl TokenKind {
    /// Whether a token of this kind may be the subject token of a token exchange: any but
    /// one from token exchange itself (no chains: every exchanged token is one step from a
    /// token its user or client holds). Checked at the exchange and again at every
    /// validation of the exchanged token.
    pub fn may_be_exchanged(self) -> bool {
        self != Self::Exchanged
    }

    /// What tenauth's `token_kind` (introspection's extension, and `/oauth/me`) calls an
    /// access token of this kind: `personal` for a personal access token, `exchanged` for
    /// one from token exchange, `access` for the others (a refresh token's own
    /// `token_kind`, `refresh`, is introspection's).
    pub fn access_token_kind(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Exchanged => "exchanged",
            Self::AuthorizationCode | Self::Password | Self::ClientCredentials | Self::Refresh => {
                "access"
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::Personal => "personal",
            Self::Refresh => "refresh",
            Self::Exchanged => "exchanged",
        }
    }
}

impl FromStr for TokenKind {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "password" => Ok(Self::Password),
            "client_credentials" => Ok(Self::ClientCredentials),
            "personal" => Ok(Self::Personal),
            "refresh" => Ok(Self::Refresh),
            "exchanged" => Ok(Self::Exchanged),
            _ => Err(UnknownVariant),
        }
    }
}

/// Who a token is about, its `sub` (RFC 9068 §2.2): its user, or the client itself for a
/// client's own token (client credentials, RFC 6749 §4.4). For a token from token exchange
/// without a user of its own tenant (platform staff acting in a tenant), the subject token's
/// subject, the platform user (RFC 8693 §2.1: the subject of the issued token is typically
/// the subject token's), who is also its actor. Issuance writes it into the JWT, and
/// validation and introspection derive it from the stored row the same way.
pub fn subject(
    user_id: Option<UserId>,
    client_id: &ClientId,
    exchange: Option<&Exchange>,
) -> String {
    match (user_id, exchange) {
        (Some(user_id), _) => user_id.to_string(),
        (None, Some(exchange)) => exchange.actor.subject(),
        (None, None) => client_id.to_string(),
    }
}

/// The one who acts with a token from token exchange (RFC 8693 §4.1, the `act` claim):
/// the exchanging client, and, when platform staff act in a tenant, the platform user
/// whose token was exchanged. Both belong to `tenant_id`, the actor's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenActor {
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
}

impl TokenActor {
    /// The actor's `sub` in `act`: the platform user, or else the exchanging client (the
    /// same rule as a token's own subject).
    pub fn subject(&self) -> String {
        subject(self.user_id, &self.client_id, None)
    }
}

/// What a token from token exchange (RFC 8693) was exchanged from and for whom it acts:
/// stored with its row, and what its validity depends on besides its own tenant, client
/// and user (the subject token still active, the actor still standing, and for platform
/// staff the tenant's `platform_access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The subject token's `jti`; it lives in the actor's tenant.
    pub subject_token_id: TokenId,
    pub actor: TokenActor,
    /// The client the token is meant for (a delegation inside a tenant); `None`: the
    /// tenant's resource servers, as for any other token (`aud` is the issuer).
    pub audience: Option<ClientId>,
}

impl Exchange {
    /// Who the audit trail names for what is done with the token: the platform user acting
    /// in the tenant (`platform-user:<id>`, apart from the tenant's own users), or else the
    /// exchanging client.
    pub fn audit_actor(&self) -> Actor {
        match self.actor.user_id {
            Some(user_id) => Actor::PlatformUser(user_id),
            None => Actor::Client(self.actor.client_id.clone()),
        }
    }

    /// Whether the actor belongs to another tenant than the token, `token_tenant`: platform
    /// staff acting in a tenant, to whom that tenant's `platform_access` applies.
    pub fn acts_across_tenants(&self, token_tenant: TenantId) -> bool {
        self.actor.tenant_id != token_tenant
    }
}

/// The `audience` of a token-exchange request (RFC 8693 §2.1), parsed: a tenant to act in
/// (`urn:tenauth:tenant:<id>`, platform staff), or a client of the caller's own tenant
/// (its client id, a delegation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeAudience {
    Tenant(TenantId),
    Client(ClientId),
}

/// The prefix of an audience naming a tenant.
pub const TENANT_AUDIENCE_PREFIX: &str = "urn:tenauth:tenant:";

impl FromStr for ExchangeAudience {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.strip_prefix(TENANT_AUDIENCE_PREFIX) {
            // Digits only: no sign, no spaces, no leading `+` that `i64` would accept.
            Some(id)
                if !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                id.parse::<i64>()
                    .map(|id| Self::Tenant(TenantId::new(id)))
                    .map_err(|_| UnknownVariant)
            }
            Some(_) => Err(UnknownVariant),
            None => value.parse().map(Self::Client).map_err(|_| UnknownVariant),
        }
    }
}

/// Which of a tenant's tokens a revocation covers: the one list of revocation targets, from
/// RFC 7009 revocation of one token to the deletion of a whole tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationTarget {
    /// An access token and every refresh token issued with it (RFC 7009 §2.1).
    AccessToken(TokenId),
    /// Every refresh token of a family and every access token issued with one of them
    /// (RFC 7009 §2.1 for a refresh token; reuse detection, RFC 9700 §4.14.2).
    Family(FamilyId),
    /// Every token of a client.
    Client(ClientId),
    /// Every token of a user.
    User(UserId),
    /// Every token of the tenant.
    Tenant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_the_user_or_else_the_client() {
        let client: ClientId = "the-client".parse().unwrap();
        assert_eq!(subject(Some(UserId::new(42)), &client, None), "42");
        assert_eq!(subject(None, &client, None), "the-client");
    }

    #[test]
    fn an_exchanged_token_without_a_user_of_its_tenant_is_about_its_platform_actor() {
        let actor = |user_id| TokenActor {
            tenant_id: TenantId::PLATFORM,
            client_id: "platform-client".parse().unwrap(),
            user_id,
        };
        let exchange = |user_id| Exchange {
            subject_token_id: "jti".parse().unwrap(),
            actor: actor(user_id),
            audience: None,
        };
        let client: ClientId = "tenant-client".parse().unwrap();
        let staff = exchange(Some(UserId::new(7)));
        assert_eq!(subject(None, &client, Some(&staff)), "7");
        assert_eq!(staff.actor.subject(), "7");
        // A delegation keeps the user's subject; its actor is the client.
        let delegation = exchange(None);
        assert_eq!(
            subject(Some(UserId::new(42)), &client, Some(&delegation)),
            "42"
        );
        assert_eq!(delegation.actor.subject(), "platform-client");
    }

    #[test]
    fn an_audience_is_a_tenant_urn_or_a_client_id() {
        let cases: [(&str, Option<ExchangeAudience>); 9] = [
            (
                "urn:tenauth:tenant:5",
                Some(ExchangeAudience::Tenant(TenantId::new(5))),
            ),
            (
                "the-client",
                Some(ExchangeAudience::Client("the-client".parse().unwrap())),
            ),
            ("urn:tenauth:tenant:", None),
            ("urn:tenauth:tenant:+5", None),
            ("urn:tenauth:tenant:-5", None),
            ("urn:tenauth:tenant:5x", None),
            ("urn:tenauth:tenant:99999999999999999999", None),
            ("urn:other:thing", None),
            ("https://rs.example", None),
        ];
        for (value, expected) in cases {
            assert_eq!(value.parse::<ExchangeAudience>().ok(), expected, "{value}");
        }
    }

    #[test]
    fn token_kinds_round_trip_through_their_stored_names() {
        for kind in [
            TokenKind::Password,
            TokenKind::ClientCredentials,
            TokenKind::Personal,
            TokenKind::Refresh,
        ] {
            assert_eq!(kind.as_str().parse::<TokenKind>(), Ok(kind));
        }
        assert_eq!("access".parse::<TokenKind>(), Err(UnknownVariant));
    }
}
