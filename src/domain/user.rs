//! A user's credentials as received: the username (RFC 8265's UsernameCaseMapped
//! profile) and the password (plaintext, hashed at once, never stored or logged).

use std::fmt;
use std::str::FromStr;

use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::UsernameCaseMapped;

/// A username, unique within its tenant, in the canonical form of RFC 8265 §3.3
/// (UsernameCaseMapped): full-width and half-width forms mapped to their ordinary ones,
/// then lower-cased (Unicode toLowerCase) and NFC-normalised; code points the PRECIS
/// IdentifierClass disallows (spaces, symbols, compatibility look-alikes such as the
/// Kelvin sign U+212A, controls) are refused. Parsing applies the profile, so creation,
/// sign-in and the failed-login throttle key all see one form: `ａｌｉｃｅ`, `Alice`
/// and `alice` are one user, and the Kelvin sign's `Kate` is no user at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// What a username may be, as refusals say it.
pub const USERNAME_RULE: &str = "a username is 1 to 128 characters: letters, digits and ASCII punctuation, without spaces, symbols or look-alike forms (RFC 8265)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", USERNAME_RULE)]
pub struct InvalidUsername;

/// The longest username, in characters of its canonical form.
const MAX_USERNAME_LENGTH: usize = 128;

impl FromStr for Username {
    type Err = InvalidUsername;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        // Bounds the profile's work before it runs: mappings only lengthen a string and
        // NFC merges at most a few characters into one, so an input of four times the
        // limit cannot come down to it.
        if value.chars().count() > 4 * MAX_USERNAME_LENGTH {
            return Err(InvalidUsername);
        }
        let canonical = UsernameCaseMapped::enforce(value).map_err(|_| InvalidUsername)?;
        if canonical.chars().count() > MAX_USERNAME_LENGTH {
            return Err(InvalidUsername);
        }
        Ok(Self(canonical.into_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(value: &str) -> Result<String, InvalidUsername> {
        value
            .parse::<Username>()
            .map(|name| name.as_str().to_owned())
    }

    #[test]
    fn look_alike_usernames_are_one_user_or_refused() {
        let cases: [(&str, Result<&str, InvalidUsername>); 18] = [
            ("alice", Ok("alice")),
            ("Alice", Ok("alice")),
            ("ＡＬＩＣＥ", Ok("alice")),
            ("ａｌｉｃｅ", Ok("alice")),
            ("alice.smith@example.com", Ok("alice.smith@example.com")),
            ("Zoë", Ok("zoë")),
            ("Zoe\u{308}", Ok("zoë")),
            ("ΣΑΜ", Ok("σαμ")),
            ("ALİCE", Ok("ali\u{307}ce")),
            ("\u{212a}ate", Err(InvalidUsername)),
            ("ﬁle", Err(InvalidUsername)),
            ("alice bob", Err(InvalidUsername)),
            ("alice\u{3000}", Err(InvalidUsername)),
            ("al\u{200b}ice", Err(InvalidUsername)),
            ("☃", Err(InvalidUsername)),
            ("", Err(InvalidUsername)),
            ("tab\t", Err(InvalidUsername)),
            ("nul\0", Err(InvalidUsername)),
        ];
        for (given, expected) in cases {
            assert_eq!(
                canonical(given).as_deref().map_err(|e| *e),
                expected,
                "{given:?}"
            );
        }
    }

    #[test]
    fn a_username_is_at_most_128_characters_of_its_canonical_form() {
        assert!(canonical(&"a".repeat(128)).is_ok());
        assert!(canonical(&"a".repeat(129)).is_err());
        assert_eq!(canonical(&"ａ".repeat(128)).unwrap(), "a".repeat(128));
        assert!(canonical(&"a".repeat(100_000)).is_err());
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point() {
        for value in ["ＡＬＩＣＥ", "ALİCE", "Zoe\u{308}", "ΣΑΜ"] {
            let once = canonical(value).unwrap();
            assert_eq!(canonical(&once).unwrap(), once, "{value:?}");
        }
    }
}
