//! Identifiers: every id that crosses tenauth is one of these types, parsed once where it
//! enters (a path, a query, a form, a JSON body, a stored row) and never a bare string or
//! integer inside. A value that cannot be an id of ours is refused at the edge, so it never
//! reaches a query (a NUL byte, for one, is an error on PostgreSQL, not "no such row").

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};

/// The value cannot be an id of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed {0}")]
pub struct MalformedId(&'static str);

/// The shape of every opaque text id tenauth makes: 1 to 64 characters of base64url
/// (what [`ClientId::generate`] makes), which also covers hyphenated UUIDs (token and
/// family ids) and the hex ids of clients made by migrations.
fn is_opaque_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new UUIDv7, hyphenated: its time-ordered prefix keeps index inserts at the right
/// edge of the B-tree instead of at random pages.
fn new_uuid_v7() -> String {
    let mut random = [0u8; 10];
    SystemRandom::new()
        .fill(&mut random)
        .expect("the system random number generator failed");
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Declares an opaque text id: parsed by [`is_opaque_id`], displayed as is, deserialized
/// through `FromStr` (so a malformed one fails extraction at the edge).
macro_rules! opaque_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = MalformedId;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                if is_opaque_id(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(MalformedId($what))
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = MalformedId;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                if is_opaque_id(&value) {
                    Ok(Self(value))
                } else {
                    Err(MalformedId($what))
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::try_from(value).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// An OAuth client's public identifier: random, URL-safe text.
    ClientId,
    "client id"
);

opaque_id!(
    /// A token's id: the `jti` of an access token (the primary key of its row), the key
    /// of a refresh token's row.
    TokenId,
    "token id"
);

opaque_id!(
    /// A refresh-token family: every refresh token descended from one grant, and the
    /// access tokens issued with them, share it (RFC 9700 §4.14.2).
    FamilyId,
    "family id"
);

opaque_id!(
    /// An event stream (a receiver of security events).
    StreamId,
    "stream id"
);

impl StreamId {
    /// A new random stream id (128 bits, base64url).
    pub fn generate() -> Self {
        Self(super::secret::random_url_safe(16))
    }
}

impl ClientId {
    /// A new random client id (128 bits, base64url).
    pub fn generate() -> Self {
        Self(super::secret::random_url_safe(16))
    }
}

impl TokenId {
    /// A new token id (a UUIDv7).
    pub fn generate() -> Self {
        Self(new_uuid_v7())
    }
}

impl FamilyId {
    /// A new family, for a new grant (a UUIDv7).
    pub fn generate() -> Self {
        Self(new_uuid_v7())
    }
}

/// Declares an integer id (a database sequence).
macro_rules! integer_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl AsRef<i64> for $name {
            fn as_ref(&self) -> &i64 {
                &self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                value.parse().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

integer_id!(
    /// A tenant's id. Every token, client, user and audit event belongs to exactly one.
    TenantId
);

integer_id!(
    /// A user's id. Users are always looked up together with their tenant.
    UserId
);

impl TenantId {
    /// The platform tenant, created by the first migration: its admins manage every other
    /// tenant, and only it may hold platform scopes.
    pub const PLATFORM: TenantId = TenantId(1);

    pub fn is_platform(self) -> bool {
        self == Self::PLATFORM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_ids_are_1_to_64_url_safe_characters() {
        for good in [
            "a",
            "0198c0de-1f2e-7a3b-8c4d-5e6f70819203",
            "AbC_-9",
            &"x".repeat(64),
        ] {
            assert!(good.parse::<TokenId>().is_ok(), "{good:?}");
            assert!(good.parse::<ClientId>().is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "nul\0byte",
            "a b",
            "caf\u{e9}",
            "a/b",
            "%00",
            &"x".repeat(65),
        ] {
            assert_eq!(
                bad.parse::<TokenId>(),
                Err(MalformedId("token id")),
                "{bad:?}"
            );
            assert_eq!(
                bad.parse::<ClientId>(),
                Err(MalformedId("client id")),
                "{bad:?}"
            );
            assert!(FamilyId::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_parse_and_token_ids_are_time_ordered() {
        let first = TokenId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = TokenId::generate();
        assert!(first < second, "UUIDv7s sort by creation time");
        assert_eq!(first.as_str().parse::<TokenId>(), Ok(first));
        let client = ClientId::generate();
        assert_eq!(client.as_str().parse::<ClientId>(), Ok(client));
    }

    #[test]
    fn ids_deserialize_through_their_parsers() {
        assert!(serde_json::from_str::<ClientId>("\"ok-id\"").is_ok());
        assert!(serde_json::from_str::<ClientId>("\"nul\\u0000\"").is_err());
        assert_eq!(serde_json::from_str::<UserId>("7").unwrap(), UserId::new(7));
        assert!(serde_json::from_str::<UserId>("99999999999999999999").is_err());
        assert!(serde_json::from_str::<UserId>("\"7\"").is_err());
    }
}
