//! Scopes (RFC 6749 §3.3) and the scopes that mean something to tenauth itself.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::TenantId;

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

    /// Why no token of `tenant` may carry this scope, if one may not: a look-alike of a
    /// reserved scope (in any tenant), or a platform scope outside the platform tenant.
    /// Checked when a client is created and again when any token is issued.
    pub fn refusal_in(&self, tenant: TenantId) -> Option<ScopeRefusal> {
        self.iter()
            .filter_map(|token| ScopeClass::of(token).refusal_in(tenant))
            .max()
    }

    /// The tokens that a token of `tenant` may carry (a client's default scope).
    pub fn grantable_in(&self, tenant: TenantId) -> Scope {
        Self(
            self.0
                .iter()
                .filter(|token| ScopeClass::of(token).refusal_in(tenant).is_none())
                .cloned()
                .collect(),
        )
    }
}

/// The platform administrator's scope: the admin API over every tenant.
pub const ADMIN_SCOPE: &str = "admin";
/// The prefix of the platform's other scopes (`platform:<name>`).
pub const PLATFORM_SCOPE_PREFIX: &str = "platform:";
/// The platform scope that lets a platform user's token be exchanged for a token of
/// another tenant (token exchange, RFC 8693: platform staff acting in a tenant).
pub const ACT_IN_TENANT_SCOPE: &str = "platform:act-in-tenant";
/// A tenant administrator's scope: the admin API over the token's own tenant.
pub const TENANT_ADMIN_SCOPE: &str = "tenant:admin";
/// A receiver's scope: polling its tenant's event streams with a client token.
pub const EVENTS_READ_SCOPE: &str = "events:read";
/// The scopes that mean something to tenauth itself (tenants define their own others).
pub const SERVER_SCOPES: [&str; 4] = [
    ADMIN_SCOPE,
    TENANT_ADMIN_SCOPE,
    EVENTS_READ_SCOPE,
    ACT_IN_TENANT_SCOPE,
];

/// Names no tenant may use, in any case and with anything after them, except as the exact
/// server scopes: a resource server that compares scopes case-insensitively, by prefix or
/// with a wildcard would read `ADMIN`, `Platform:x`, `platformx` or `tenant:admin:x` as
/// ours. RFC 6749 §3.3 leaves scope values to the authorization server; this one keeps
/// its own names unambiguous.
const RESERVED_PREFIXES: [&str; 3] = ["admin", "platform", "tenant:admin"];

/// What one scope token means to tenauth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeClass {
    /// A tenant's own scope: tenauth gives it no meaning.
    Tenant,
    /// `tenant:admin`: the admin API over the token's own tenant.
    TenantAdmin,
    /// `admin` or `platform:<name>`: the platform tenant's alone.
    Platform,
    /// Reads like one of the above to a lenient resource server (`ADMIN`, `Platform:x`,
    /// `platform`, `platformx`, `tenant:admin:x`, `*`): no token carries it.
    LookAlike,
}

impl ScopeClass {
    pub fn of(token: &str) -> Self {
        if token == ADMIN_SCOPE
            || (token.starts_with(PLATFORM_SCOPE_PREFIX)
                && token.len() > PLATFORM_SCOPE_PREFIX.len())
        {
            return Self::Platform;
        }
        if token == TENANT_ADMIN_SCOPE {
            return Self::TenantAdmin;
        }
        let folded = token.to_ascii_lowercase();
        if folded == "*"
            || RESERVED_PREFIXES
                .iter()
                .any(|name| folded.starts_with(name))
        {
            return Self::LookAlike;
        }
        Self::Tenant
    }

    fn refusal_in(self, tenant: TenantId) -> Option<ScopeRefusal> {
        match self {
            Self::Tenant | Self::TenantAdmin => None,
            Self::Platform if tenant.is_platform() => None,
            Self::Platform => Some(ScopeRefusal::PlatformOnly),
            Self::LookAlike => Some(ScopeRefusal::Reserved),
        }
    }
}

/// Why a scope may not be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScopeRefusal {
    PlatformOnly,
    Reserved,
}

impl ScopeRefusal {
    /// The message, for answers whose descriptions are static.
    pub fn description(self) -> &'static str {
        match self {
            Self::PlatformOnly => "platform scopes belong to the platform tenant only",
            Self::Reserved => "scopes resembling admin, platform, tenant:admin or * are reserved",
        }
    }
}

impl fmt::Display for ScopeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ScopeRefusal {}

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
    fn each_token_is_classified_once() {
        use ScopeClass::*;
        for (token, class) in [
            ("read", Tenant),
            ("orders:write", Tenant),
            ("tenant:read", Tenant),
            ("my-admin", Tenant),
            ("read*", Tenant),
            ("tenant:admin", TenantAdmin),
            ("admin", Platform),
            ("platform:tenants", Platform),
            ("platform:X", Platform),
            ("ADMIN", LookAlike),
            ("Admin", LookAlike),
            ("admin:x", LookAlike),
            ("administrator", LookAlike),
            ("Platform:x", LookAlike),
            ("platform", LookAlike),
            ("platform:", LookAlike),
            ("platformx", LookAlike),
            ("PLATFORM:TENANTS", LookAlike),
            ("*", LookAlike),
            ("tenant:admin:x", LookAlike),
            ("Tenant:Admin", LookAlike),
            ("tenant:administrator", LookAlike),
        ] {
            assert_eq!(ScopeClass::of(token), class, "{token}");
        }
    }

    #[test]
    fn reserved_and_platform_scopes_are_refused_where_they_do_not_belong() {
        let tenant = TenantId::new(2);
        let platform = TenantId::PLATFORM;
        let scope = |value: &str| value.parse::<Scope>().unwrap();
        assert_eq!(scope("read tenant:admin").refusal_in(tenant), None);
        assert_eq!(
            scope("read admin").refusal_in(tenant),
            Some(ScopeRefusal::PlatformOnly)
        );
        assert_eq!(
            scope("read admin platform:tenants").refusal_in(platform),
            None
        );
        assert_eq!(
            scope("admin ADMIN").refusal_in(platform),
            Some(ScopeRefusal::Reserved),
            "a look-alike is refused even in the platform tenant"
        );
        assert_eq!(
            scope("admin Admin").refusal_in(tenant),
            Some(ScopeRefusal::Reserved),
            "the graver reason wins"
        );
        assert_eq!(
            scope("read admin * platformx tenant:admin").grantable_in(tenant),
            scope("read tenant:admin")
        );
        assert_eq!(
            scope("read admin * platformx").grantable_in(platform),
            scope("admin read")
        );
    }
}
