use std::str::FromStr;

use super::tenant::UnknownVariant;

/// How an access token came to be: the grant that issued it, or `Personal` for a personal
/// access token created by its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Password,
    ClientCredentials,
    Personal,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
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
            "password" => Ok(Self::Password),
            "client_credentials" => Ok(Self::ClientCredentials),
            "personal" => Ok(Self::Personal),
            "refresh" => Ok(Self::Refresh),
            _ => Err(UnknownVariant),
        }
    }
}
