//! Secrets in plaintext: generated from the system CSPRNG, shown once, never printed.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// `n` bytes from the system's CSPRNG, base64url-encoded without padding.
pub fn random_url_safe(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The longest secret a client may present (a refresh token; ours are 43 characters).
/// Anything longer cannot be ours and is not even hashed.
pub const MAX_PRESENTED_SECRET_LENGTH: usize = 512;

/// A secret in plaintext (client secret, refresh token): 256 random bits, shown to its
/// owner once and stored only as a hash. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    /// A fresh 256-bit secret.
    pub fn generate() -> Self {
        Self(random_url_safe(32))
    }

    /// Wraps a secret received from a client.
    pub fn from_client(value: String) -> Self {
        Self(value)
    }

    /// The plaintext, for the one response that hands it out and for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(<redacted>)")
    }
}
