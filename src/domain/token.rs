//! What a token is: its kind, its subject, and what a revocation covers.

use std::str::FromStr;

use super::tenant::UnknownVariant;
use super::{ClientId, FamilyId, TokenId, UserId};

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
}

impl TokenKind {
    /// What tenauth's `token_kind` (introspection's extension, and `/oauth/me`) calls an
    /// access token of this kind: `personal` for a personal access token, `access` for the
    /// others (a refresh token's own `token_kind`, `refresh`, is introspection's).
    pub fn access_token_kind(self) -> &'static str {
        match self {
            Self::Personal => "personal",
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
            _ => Err(UnknownVariant),
        }
    }
}

/// Who a token is about, its `sub` (RFC 9068 §2.2): its user, or the client itself for a
/// client's own token (client credentials, RFC 6749 §4.4). Issuance writes it into the JWT,
/// and validation and introspection derive it from the stored row the same way.
pub fn subject(user_id: Option<UserId>, client_id: &ClientId) -> String {
    user_id.map_or_else(|| client_id.to_string(), |id| id.to_string())
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
        assert_eq!(subject(Some(UserId::new(42)), &client), "42");
        assert_eq!(subject(None, &client), "the-client");
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
