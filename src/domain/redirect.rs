//! Redirect URIs (RFC 6749 §3.1.2): what a client may register, and how a URI presented to
//! the authorization endpoint is matched against the registered ones.
//!
//! oxide-auth's `RegisteredUrl` is not used for matching: its port-ignoring variant applies
//! to the host name `localhost` only, while RFC 8252 §7.3 and §8.3 want the opposite (any
//! port for the loopback IP literals, and `localhost` not relied upon).

use std::fmt;
use std::str::FromStr;

/// The longest redirect URI accepted.
const MAX_REDIRECT_URI_LENGTH: usize = 2_000;

/// A redirect URI a client may register, kept exactly as given (RFC 9700 §4.1.3 compares
/// strings): absolute, without a fragment (RFC 6749 §3.1.2), and one of
/// - `https://` with a host;
/// - `http://127.0.0.1` or `http://[::1]`, with any port and path: a native app's loopback
///   listener (RFC 8252 §7.3); any other `http` URI is refused (RFC 9700 §2.6);
/// - a private-use scheme in reverse-domain form, such as `com.example.app:/callback`
///   (RFC 8252 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RedirectUri(String);

/// What a redirect URI may be, as refusals say it.
pub const REDIRECT_URI_RULE: &str = "a redirect URI is an absolute https URI, an http URI on 127.0.0.1 or [::1], or a reverse-domain private-use scheme, without a fragment";

/// The value cannot be registered as a redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", REDIRECT_URI_RULE)]
pub struct InvalidRedirectUri;

impl FromStr for RedirectUri {
    type Err = InvalidRedirectUri;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.len() > MAX_REDIRECT_URI_LENGTH
            || value.contains('#')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidRedirectUri);
        }
        let parsed = url::Url::parse(value).map_err(|_| InvalidRedirectUri)?;
        let acceptable = match parsed.scheme() {
            "https" => parsed.host_str().is_some_and(|host| !host.is_empty()),
            "http" => {
                loopback_prefix(value).is_some()
                    && matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]"))
                    && parsed.username().is_empty()
            }
            // RFC 8252 §7.1: a reverse-domain name of something the client controls.
            scheme => scheme.contains('.') && !parsed.cannot_be_a_base(),
        };
        if !acceptable {
            return Err(InvalidRedirectUri);
        }
        Ok(Self(value.to_owned()))
    }
}

impl RedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` names this URI: the very same string, or, for a loopback URI,
    /// the same string but for the port (RFC 8252 §7.3: the app picks a free port each
    /// time).
    pub fn matches(&self, presented: &str) -> bool {
        if self.0 == presented {
            return true;
        }
        match (without_port(&self.0), without_port(presented)) {
            (Some(registered), Some(presented)) => registered == presented,
            _ => false,
        }
    }
}

/// `http://127.0.0.1` or `http://[::1]` when `value` starts with one of them followed by
/// a port, a path, a query or nothing.
fn loopback_prefix(value: &str) -> Option<&'static str> {
    ["http://127.0.0.1", "http://[::1]"]
        .into_iter()
        .find(|prefix| {
            value
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/', '?']))
        })
}

/// A loopback URI with its port taken out; `None` for any other URI.
fn without_port(value: &str) -> Option<String> {
    let prefix = loopback_prefix(value)?;
    let rest = &value[prefix.len()..];
    let rest = match rest.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(port_and_rest.len());
            port_and_rest[..digits].parse::<u16>().ok()?;
            &port_and_rest[digits..]
        }
        None => rest,
    };
    Some(format!("{prefix}{rest}"))
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for RedirectUri {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The redirect URI of an authorization request (RFC 6749 §3.1.2.3): the one presented,
/// if it is registered; without one, the client's only registered URI. `None` when there
/// is no such URI: the caller must answer with an error page, never a redirect.
pub fn resolve_redirect_uri<'a>(
    registered: &'a [RedirectUri],
    presented: Option<&'a str>,
) -> Option<&'a str> {
    match presented {
        Some(presented) => registered
            .iter()
            .any(|uri| uri.matches(presented))
            .then_some(presented),
        None => match registered {
            [only] => Some(only.as_str()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_registered() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]:9000/",
            "com.example.app:/oauth",
        ] {
            assert!(good.parse::<RedirectUri>().is_ok(), "{good}");
        }
        for bad in [
            "http://app.example.com/cb",
            "http://localhost:8080/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://127.0.0.1:80@evil.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://",
            "https://app.example.com/a b",
            "",
        ] {
            assert_eq!(bad.parse::<RedirectUri>(), Err(InvalidRedirectUri), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact_but_for_a_loopback_port() {
        let registered: RedirectUri = "https://app.example.com/cb".parse().unwrap();
        assert!(registered.matches("https://app.example.com/cb"));
        for other in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#x",
        ] {
            assert!(!registered.matches(other), "{other}");
        }
        let loopback: RedirectUri = "http://127.0.0.1:8080/cb".parse().unwrap();
        for same in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb",
            "http://127.0.0.1:8080/cb",
        ] {
            assert!(loopback.matches(same), "{same}");
        }
        for other in [
            "http://127.0.0.1:51234/other",
            "http://[::1]:8080/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:80x/cb",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1.evil.com/cb",
        ] {
            assert!(!loopback.matches(other), "{other}");
        }
    }

    #[test]
    fn without_a_redirect_uri_only_a_single_registered_one_is_used() {
        let one: Vec<RedirectUri> = vec!["https://a.example/cb".parse().unwrap()];
        let two: Vec<RedirectUri> = vec![
            "https://a.example/cb".parse().unwrap(),
            "https://b.example/cb".parse().unwrap(),
        ];
        assert_eq!(
            resolve_redirect_uri(&one, None),
            Some("https://a.example/cb")
        );
        assert_eq!(resolve_redirect_uri(&two, None), None);
        assert_eq!(
            resolve_redirect_uri(&two, Some("https://b.example/cb")),
            Some("https://b.example/cb")
        );
        assert_eq!(
            resolve_redirect_uri(&two, Some("https://c.example/cb")),
            None
        );
        assert_eq!(resolve_redirect_uri(&[], None), None);
    }
}
