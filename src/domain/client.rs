//! What a client may do: the grant types tenauth implements.

use std::str::FromStr;

use super::tenant::UnknownVariant;
use super::RedirectUri;

/// The grants tenauth implements (RFC 6749 §4.1, §4.3, §4.4, §6; RFC 8693 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::ClientCredentials,
        Self::Password,
        Self::RefreshToken,
        Self::TokenExchange,
    ];

    /// The `grant_type` value (RFC 6749 §4; RFC 8693 §2.1 for token exchange), as clients
    /// send it, registrations list it and it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::AuthorizationCode => "authorization_code",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    /// The grant's name in metrics labels (`tenauth_tokens_issued_total{grant=...}`): the
    /// `grant_type` value, but `token_exchange` for RFC 8693's URN.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::TokenExchange => "token_exchange",
            other => other.as_str(),
        }
    }

    /// Whether only a confidential client may hold the grant: a client's own tokens
    /// (RFC 6749 §4.4) and token exchange, where the exchanging client is the actor
    /// (RFC 8693 §2.1 lets a server require client authentication; tenauth does).
    pub fn needs_confidential_client(self) -> bool {
        matches!(self, Self::ClientCredentials | Self::TokenExchange)
    }
}

impl FromStr for GrantType {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "password" => Ok(Self::Password),
            "client_credentials" => Ok(Self::ClientCredentials),
            "refresh_token" => Ok(Self::RefreshToken),
            "authorization_code" => Ok(Self::AuthorizationCode),
            "urn:ietf:params:oauth:grant-type:token-exchange" => Ok(Self::TokenExchange),
            _ => Err(UnknownVariant),
        }
    }
}

/// What a client of the browser flows registers: where the authorization endpoint may send
/// the browser back (RFC 6749 §3.1.2), where logout may (OpenID RP-Initiated Logout's
/// `post_logout_redirect_uri`), and whether a first-party client skips the consent page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BrowserRegistration {
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub skip_consent: bool,
}
