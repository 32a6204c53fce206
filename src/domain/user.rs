//! A user's credentials as received: the username (case-insensitive) and the password
//! (plaintext, hashed at once, never stored or logged).

use std::fmt;
use std::str::FromStr;

/// A username, unique within its tenant. Compared case-insensitively: it is stored and
/// looked up in lowercase, so `Alice` and `alice` are one user (and one throttle key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a username is 1 to 128 characters, without spaces or control characters")]
pub struct InvalidUsername;

impl FromStr for Username {
    type Err = InvalidUsername;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let length = value.chars().count();
        if !(1..=128).contains(&length)
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidUsername);
        }
        Ok(Self(value.to_lowercase()))
    }
}

impl Username {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's password in plaintext, as received: hashed at once, never stored or logged.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a password is 8 to 1024 characters")]
pub struct InvalidPassword;

impl Password {
    /// A password being set: length rules apply.
    pub fn new(value: String) -> Result<Self, InvalidPassword> {
        if (8..=1024).contains(&value.chars().count()) {
            Ok(Self(value))
        } else {
            Err(InvalidPassword)
        }
    }

    /// A password being tried at login: no rules (a wrong one simply fails to verify),
    /// but bounded so a huge value cannot make hashing expensive.
    pub fn attempt(value: String) -> Option<Self> {
        (value.len() <= 4096).then_some(Self(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}
