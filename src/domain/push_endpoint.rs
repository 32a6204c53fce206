//! Where a push stream's SETs go (RFC 8935 §2), and which network addresses tenauth will
//! connect to for it: the one home of the rule against server-side request forgery. A push
//! endpoint is an admin's input that makes tenauth send requests, so it must not reach the
//! networks tenauth itself sits in (metadata services, databases, admin ports).
//!
//! The rule is applied twice: to the URL when the stream is created (scheme, host, and
//! the addresses its host resolves to then), and to every address a delivery connects to
//! (`delivery::guard`), so a host that later resolves somewhere forbidden (DNS rebinding)
//! is refused at delivery time too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a push endpoint must be, as the admin API states it.
pub const PUSH_ENDPOINT_RULE: &str =
    "endpoint_url must be an absolute https URL without credentials or fragment \
     (http only to a loopback address, and only when TENAUTH_EVENTS_ALLOW_HTTP_LOOPBACK=1), \
     whose host is not in a private, link-local or loopback range";

/// Which addresses a push may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    /// `TENAUTH_EVENTS_ALLOW_HTTP_LOOPBACK`: loopback addresses (and plain http to them)
    /// are allowed, for development and tests.
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// Judges the addresses a host resolved to: every one must be permitted (a host that
    /// resolves to a public address and a private one is refused: which one a connection
    /// uses is not ours to pick), and there must be one.
    pub fn permits_all(self, addresses: &[IpAddr]) -> bool {
        !addresses.is_empty() && addresses.iter().all(|address| self.permits(*address))
    }

    /// Whether a push may connect to `address`: public unicast only, plus loopback when
    /// allowed. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    pub fn permits(self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        if address.is_loopback() {
            return self.allow_loopback;
        }
        match address {
            IpAddr::V4(v4) => is_public_v4(v4),
            IpAddr::V6(v6) => is_public_v6(v6),
        }
    }
}

/// Not private (RFC 1918), shared (RFC 6598), link-local, unspecified, broadcast,
/// multicast, documentation, benchmarking, IETF protocol assignments (192.0.0.0/24) or
/// reserved.
fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_private()
        || (a == 192 && b == 0 && c == 0)
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// Global unicast, not unique-local (fc00::/7), link-local (fe80::/10), site-local
/// (fec0::/10), multicast, unspecified, documentation (2001:db8::/32), discard (100::/64),
/// or a form that reaches an IPv4 address: NAT64 (64:ff9b::/96), 6to4 (2002::/16), Teredo
/// (2001::/32), IPv4-compatible, -mapped (judged as IPv4 before) or -translated
/// (::ffff:0:0:0/96).
fn is_public_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    !(address.is_unspecified()
        || address.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        || (segments[0] == 0x2001 && segments[1] == 0x0000)
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0])
        || (segments[..4] == [0, 0, 0, 0] && segments[4] == 0xffff && segments[5] == 0)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x0064 && segments[1] == 0xff9b)
        || segments[0] == 0x2002
        || address.to_ipv4().is_some())
}

/// A push endpoint that passed the URL part of the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEndpoint(url::Url);

/// Why a URL is not a push endpoint (the message is [`PUSH_ENDPOINT_RULE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", PUSH_ENDPOINT_RULE)]
pub struct InvalidPushEndpoint;

impl PushEndpoint {
    /// Parses `value` under `policy`. A host given as an address is judged here; a host
    /// name is judged by the addresses it resolves to (`AddressPolicy::permits_all`, at creation and again
    /// at every delivery).
    pub fn parse(value: &str, policy: AddressPolicy) -> Result<Self, InvalidPushEndpoint> {
        if value.len() > 2048 {
            return Err(InvalidPushEndpoint);
        }
        let url = url::Url::parse(value).map_err(|_| InvalidPushEndpoint)?;
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(InvalidPushEndpoint);
        }
        if url.host().is_none() {
            return Err(InvalidPushEndpoint);
        }
        let literal = literal_address(&url);
        match url.scheme() {
            "https" => {}
            // Plain http only where nothing travels over a network: a loopback address
            // (named as one: a name's resolution is not trusted with that).
            "http" if policy.allow_loopback && literal.is_some_and(|ip| ip.is_loopback()) => {}
            _ => return Err(InvalidPushEndpoint),
        }
        if literal.is_some_and(|address| !policy.permits(address)) {
            return Err(InvalidPushEndpoint);
        }
        Ok(Self(url))
    }

    /// The host's address when the URL names one (no resolution to judge).
    pub fn literal_address(&self) -> Option<IpAddr> {
        literal_address(&self.0)
    }

    /// The host name and port to resolve (for a host that is not an address).
    pub fn host_and_port(&self) -> (String, u16) {
        let host = self.0.host_str().unwrap_or_default().to_owned();
        (host, self.0.port_or_known_default().unwrap_or(443))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

impl std::fmt::Display for PushEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
    };
    const LOOPBACK: AddressPolicy = AddressPolicy {
        allow_loopback: true,
    };

    #[test]
    fn only_public_addresses_unless_loopback_is_allowed() {
        for refused in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "127.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "224.0.0.1",
            "192.0.0.8",
            "fec0::1",
            "2001:0:4136:e378::1",
            "100::1",
            "::ffff:0:a00:1",
        ] {
            assert!(!STRICT.permits(refused.parse().unwrap()), "{refused}");
        }
        for permitted in ["93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"] {
            assert!(STRICT.permits(permitted.parse().unwrap()), "{permitted}");
        }
        assert!(LOOPBACK.permits("127.0.0.1".parse().unwrap()));
        assert!(LOOPBACK.permits("::1".parse().unwrap()));
        assert!(!LOOPBACK.permits("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn https_or_http_to_a_loopback_address_when_allowed() {
        assert!(PushEndpoint::parse("https://rs.example.com/events", STRICT).is_ok());
        for refused in [
            "http://rs.example.com/events",
            "http://127.0.0.1:8080/events",
            "https://127.0.0.1/events",
            "https://10.0.0.5/events",
            "https://[fe80::1]/events",
            "https://user:pw@rs.example.com/",
            "https://rs.example.com/#frag",
            "ftp://rs.example.com/",
            "/relative",
        ] {
            assert_eq!(
                PushEndpoint::parse(refused, STRICT),
                Err(InvalidPushEndpoint),
                "{refused}"
            );
        }
        assert!(PushEndpoint::parse("http://127.0.0.1:8080/events", LOOPBACK).is_ok());
        assert!(PushEndpoint::parse("http://[::1]:8080/events", LOOPBACK).is_ok());
        // A name is not trusted to stay loopback: plain http needs the address.
        assert!(PushEndpoint::parse("http://localhost:8080/events", LOOPBACK).is_err());
        assert!(PushEndpoint::parse("http://10.0.0.1/events", LOOPBACK).is_err());
    }

    #[test]
    fn every_resolved_address_must_be_permitted() {
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(STRICT.permits_all(&[public]));
        assert!(!STRICT.permits_all(&[public, private]));
        assert!(!STRICT.permits_all(&[]));
        let endpoint = PushEndpoint::parse("https://rs.example.com/", STRICT).unwrap();
        assert_eq!(endpoint.host_and_port(), ("rs.example.com".into(), 443));
    }
}
