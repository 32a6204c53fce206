//! Hashing of secrets.
//!
//! - **Client secrets and refresh tokens** are 256-bit random values, so a slow password
//!   hash would buy nothing but lost throughput: they are stored as HMAC-SHA256 under the
//!   server's secret-hashing key (see `keys.rs`). A database dump alone therefore does not
//!   even allow checking a guess. Client secrets go through oxide-auth's `PasswordPolicy`
//!   trait, the seam oxide-auth defines for "how passphrases are stored and checked".
//! - **User passwords** are chosen by people: Argon2id at OWASP's recommended cost
//!   (19 MiB, 2 passes, 1 lane), run on a blocking thread by the callers.
//!
//! Every check is constant-time (`ring::hmac::verify`, Argon2's own verification), and a
//! check for an unknown client or user runs against a dummy value so that "unknown" and
//! "wrong" take the same time.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oxide_auth::primitives::registrar::{PasswordPolicy, RegistrarError};
use ring::hmac;

use crate::domain::{Password, PlainSecret};

/// Keyed hashing for high-entropy secrets.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(<key redacted>)")
    }
}

/// Domain separation: a client secret's MAC can never be replayed as a refresh token's.
const CLIENT_SECRET_LABEL: &[u8] = b"tenauth client secret\0";
const REFRESH_TOKEN_LABEL: &[u8] = b"tenauth refresh token\0";

impl SecretHasher {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    fn client_secret_message(client_id: &str, secret: &[u8]) -> Vec<u8> {
        // The client id is bound into the MAC, so a stored hash is only valid for its client.
        [CLIENT_SECRET_LABEL, client_id.as_bytes(), b"\0", secret].concat()
    }

    /// The stored form of a client secret.
    pub fn hash_client_secret(&self, client_id: &str, secret: &PlainSecret) -> String {
        URL_SAFE_NO_PAD.encode(self.store(client_id, secret.expose().as_bytes()))
    }

    /// Whether `presented` is the secret of `client_id`. With `stored = None` (unknown
    /// client, or a public one) it still does the full work and answers false.
    pub fn verify_client_secret(
        &self,
        client_id: &str,
        presented: &[u8],
        stored: Option<&str>,
    ) -> bool {
        let stored_tag = stored.and_then(|stored| URL_SAFE_NO_PAD.decode(stored).ok());
        let tag = stored_tag.as_deref().unwrap_or(&[0u8; 32]);
        let matches = self.check(client_id, presented, tag).is_ok();
        matches && stored_tag.is_some()
    }

    /// The stored, indexed form of a refresh token: looking a token up by it is the check.
    pub fn hash_refresh_token(&self, token: &str) -> String {
        let message = [REFRESH_TOKEN_LABEL, token.as_bytes()].concat();
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &message).as_ref())
    }
}

impl PasswordPolicy for SecretHasher {
    fn store(&self, client_id: &str, passphrase: &[u8]) -> Vec<u8> {
        hmac::sign(
            &self.key,
            &Self::client_secret_message(client_id, passphrase),
        )
        .as_ref()
        .to_vec()
    }

    fn check(
        &self,
        client_id: &str,
        passphrase: &[u8],
        stored: &[u8],
    ) -> Result<(), RegistrarError> {
        hmac::verify(
            &self.key,
            &Self::client_secret_message(client_id, passphrase),
            stored,
        )
        .map_err(|_| RegistrarError::Unspecified)
    }
}

/// Argon2id at OWASP's recommended minimum: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The password-hash cost in force, for documentation and benchmark reports.
pub const PASSWORD_HASH_COST: &str = "Argon2id m=19456 KiB, t=2, p=1";

/// Hashes a new password (PHC string). Slow by design: call it off the async workers.
pub fn hash_password(password: &Password) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("Argon2 hashing with valid parameters")
        .to_string()
}

/// Whether `password` matches `stored`; with `None` (unknown user) it verifies against a
/// dummy hash of the same cost and answers false.
pub fn verify_password(password: &Password, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password(&Password::attempt("tenauth dummy password".to_owned()).expect("short"))
    });
    let Ok(hash) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    let matches = argon2()
        .verify_password(password.expose().as_bytes(), &hash)
        .is_ok();
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_verifies_only_for_its_own_client() {
        let hasher = SecretHasher::new(&[7; 32]);
        let secret = PlainSecret::generate();
        let stored = hasher.hash_client_secret("client-a", &secret);

        assert!(hasher.verify_client_secret("client-a", secret.expose().as_bytes(), Some(&stored)));
        assert!(!hasher.verify_client_secret(
            "client-b",
            secret.expose().as_bytes(),
            Some(&stored)
        ));
        assert!(!hasher.verify_client_secret("client-a", b"wrong", Some(&stored)));
        assert!(!hasher.verify_client_secret("client-a", secret.expose().as_bytes(), None));
    }

    #[test]
    fn passwords_verify_with_argon2id() {
        let password = Password::new("correct horse".to_owned()).unwrap();
        let stored = hash_password(&password);
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&password, Some(&stored)));
        let wrong = Password::attempt("incorrect horse".to_owned()).unwrap();
        assert!(!verify_password(&wrong, Some(&stored)));
        assert!(!verify_password(&password, None));
    }
}
