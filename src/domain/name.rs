//! Names people give things: tenants, clients and personal access tokens.

use std::fmt;
use std::str::FromStr;

/// A display name: 1 to 255 characters once trimmed, and no control character anywhere
/// (a name ends up in admin screens, audit events and logs, where a line break or an
/// escape sequence would mislead). Stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Name(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a name is 1 to 255 characters, without control characters")]
pub struct InvalidName;

impl FromStr for Name {
    type Err = InvalidName;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        if (1..=255).contains(&trimmed.chars().count()) && !value.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidName)
        }
    }
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's slug: 3 to 63 lowercase letters, digits or `-`, unique.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a slug is 3 to 63 lowercase letters, digits or '-'")]
pub struct InvalidSlug;

impl FromStr for Slug {
    type Err = InvalidSlug;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let valid = (3..=63).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidSlug)
        }
    }
}

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!("  Acme Inc ".parse::<Name>().unwrap().as_str(), "Acme Inc");
        assert!("x".repeat(255).parse::<Name>().is_ok());
        for bad in ["", "   ", "a\nb", "tab\tinside", "trailing\n", "nul\0"] {
            assert_eq!(bad.parse::<Name>(), Err(InvalidName), "{bad:?}");
        }
        assert!("x".repeat(256).parse::<Name>().is_err());
    }

    #[test]
    fn slugs_are_3_to_63_lowercase_letters_digits_or_dashes() {
        for good in ["abc", "acme-2", &"a".repeat(63)] {
            assert!(good.parse::<Slug>().is_ok(), "{good:?}");
        }
        for bad in [
            "ab",
            "Acme",
            "acme_inc",
            "acme inc",
            "caf\u{e9}",
            &"a".repeat(64),
        ] {
            assert_eq!(bad.parse::<Slug>(), Err(InvalidSlug), "{bad:?}");
        }
    }
}
