//! What a client may do: the grant types tenauth implements.

use std::str::FromStr;

use super::tenant::UnknownVariant;
use super::RedirectUri;

/// The grants tenauth implements (RFC 6749 §4.1, §4.3, §4.4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::ClientCredentials,
        Self::Password,
        Self::RefreshToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::AuthorizationCode => "authorization_code",
        }
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
