//! Scopes (RFC 6749 §3.3) and the scopes that mean something to tenauth itself.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A set of scope tokens (RFC 6749 §3.3): `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`,
/// delimited by single spaces. Kept sorted, so the string form is canonical.
///
/// The grammar check is oxide-auth's (`oxide_auth::primitives::scope::Scope`); this type
/// adds what the protocol here needs on top: rejection of empty tokens (double or edge
/// spaces), a deterministic order, and the platform-scope rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

/// The value is not a well-formed scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed scope")]
pub struct MalformedScope;

/// The longest scope string accepted, to bound what one request can make us store.
const MAX_SCOPE_LENGTH: usize = 1024;

impl FromStr for Scope {
    type Err = MalformedScope;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.len() > MAX_SCOPE_LENGTH
            || (!value.is_empty() && value.split(' ').any(str::is_empty))
        {
            return Err(MalformedScope);
        }
        let parsed: oxide_auth::primitives::scope::Scope =
            value.parse().map_err(|_| MalformedScope)?;
        Ok(Self(parsed.iter().map(str::to_owned).collect()))
    }
}

impl Scope {
    /// Builds a scope from separate tokens (e.g. a JSON array), each checked.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, MalformedScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined = tokens
            .into_iter()
            .map(|token| {
                let token = token.as_ref();
                if token.is_empty() || token.contains(' ') {
                    Err(MalformedScope)
                } else {
                    Ok(token.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");
        joined.parse()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// True when every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when any token is a platform scope: only the platform tenant may hold one.
    pub fn has_platform_scope(&self) -> bool {
        self.iter().any(is_platform_scope)
    }
}

/// The platform administrator's scope: the admin API over every tenant.
pub const ADMIN_SCOPE: &str = "admin";
/// A tenant administrator's scope: the admin API over the token's own tenant.
pub const TENANT_ADMIN_SCOPE: &str = "tenant:admin";
/// The scopes that mean something to tenauth itself (tenants define their own others).
pub const SERVER_SCOPES: [&str; 2] = [ADMIN_SCOPE, TENANT_ADMIN_SCOPE];

/// `admin` and every `platform:*` scope belong to the platform tenant alone.
pub fn is_platform_scope(token: &str) -> bool {
    token == ADMIN_SCOPE || token.starts_with("platform:")
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_grammar_into_a_sorted_set() {
        let scope: Scope = "write read read".parse().unwrap();
        assert_eq!(scope.to_string(), "read write");
        assert_eq!("".parse::<Scope>().unwrap(), Scope::default());
        for bad in [
            "read  write",
            " read",
            "read ",
            "r\"ead",
            "caf\u{e9}",
            "a\\b",
            "tab\there",
        ] {
            assert_eq!(bad.parse::<Scope>(), Err(MalformedScope), "{bad:?}");
        }
    }

    #[test]
    fn platform_scopes_are_admin_and_the_platform_prefix() {
        assert!("read admin".parse::<Scope>().unwrap().has_platform_scope());
        assert!("platform:tenants"
            .parse::<Scope>()
            .unwrap()
            .has_platform_scope());
        assert!(!"read tenant:admin administrator"
            .parse::<Scope>()
            .unwrap()
            .has_platform_scope());
    }
}
