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

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oxide_auth::primitives::registrar::{PasswordPolicy, RegistrarError};
use ring::{aead, hmac};

use crate::domain::{ClientId, Password, PlainSecret, MAX_PRESENTED_SECRET_LENGTH};

/// A keyed hash (HMAC-SHA256, base64url) of one kind of secret: what storage keeps, and
/// looks a refresh token up by, instead of the secret. Only [`SecretHasher`] makes one from
/// a secret, so a plaintext value can never be passed where a hash is expected, and the
/// kind keeps a refresh token's hash from being looked up as an access token's. `Debug`
/// is redacted.
pub struct SecretHash<K> {
    encoded: String,
    kind: PhantomData<K>,
}

/// The kinds of [`SecretHash`].
pub mod kind {
    /// A client secret (bound to its client id).
    pub enum ClientSecret {}
    /// A refresh token (the lookup key of its row).
    pub enum RefreshToken {}
    /// An access token's exact string (proof that a presented JWT is one we issued).
    pub enum AccessToken {}
    /// An authorization code (the lookup key of its row).
    pub enum AuthorizationCode {}
    /// A browser session id (the lookup key of its row).
    pub enum BrowserSession {}
}

pub type ClientSecretHash = SecretHash<kind::ClientSecret>;
pub type RefreshTokenHash = SecretHash<kind::RefreshToken>;
pub type AccessTokenHash = SecretHash<kind::AccessToken>;
pub type AuthorizationCodeHash = SecretHash<kind::AuthorizationCode>;
pub type BrowserSessionHash = SecretHash<kind::BrowserSession>;

impl<K> SecretHash<K> {
    fn new(tag: &[u8]) -> Self {
        Self {
            encoded: URL_SAFE_NO_PAD.encode(tag),
            kind: PhantomData,
        }
    }

    /// A hash read back from the column it was stored in (written from a hash made here).
    pub(crate) fn from_stored(encoded: String) -> Self {
        Self {
            encoded,
            kind: PhantomData,
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    fn tag(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(&self.encoded).ok()
    }
}

impl<K> Clone for SecretHash<K> {
    fn clone(&self) -> Self {
        Self::from_stored(self.encoded.clone())
    }
}

impl<K> PartialEq for SecretHash<K> {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded
    }
}

impl<K> Eq for SecretHash<K> {}

impl<K> std::fmt::Debug for SecretHash<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

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
const ACCESS_TOKEN_LABEL: &[u8] = b"tenauth access token\0";
const AUTHORIZATION_CODE_LABEL: &[u8] = b"tenauth authorization code\0";
const BROWSER_SESSION_LABEL: &[u8] = b"tenauth browser session\0";
const CSRF_LABEL: &[u8] = b"tenauth csrf\0";
const SEALING_KEY_LABEL: &[u8] = b"tenauth sealing key\0";

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
    pub fn hash_client_secret(
        &self,
        client_id: &ClientId,
        secret: &PlainSecret,
    ) -> ClientSecretHash {
        SecretHash::new(&self.store(client_id.as_str(), secret.expose().as_bytes()))
    }

    /// Whether `presented` is the secret of `client_id`. With `stored = None` (unknown
    /// client, or a public one) it still does the full work and answers false.
    pub fn verify_client_secret(
        &self,
        client_id: &str,
        presented: &[u8],
        stored: Option<&ClientSecretHash>,
    ) -> bool {
        let stored_tag = stored.and_then(SecretHash::tag);
        let tag = stored_tag.as_deref().unwrap_or(&[0u8; 32]);
        let matches = self.check(client_id, presented, tag).is_ok();
        matches && stored_tag.is_some()
    }

    /// The stored, indexed form of a refresh token we issue: looking a token up by it is
    /// the check.
    pub fn hash_refresh_token(&self, token: &PlainSecret) -> RefreshTokenHash {
        self.refresh_token_hash(token.expose())
    }

    /// The lookup key of a refresh token a client presented; `None` for a value too long
    /// to be one of ours ([`MAX_PRESENTED_SECRET_LENGTH`]), which is then not even hashed.
    pub fn hash_presented_refresh_token(&self, token: &str) -> Option<RefreshTokenHash> {
        self.presented_lookup_hash(REFRESH_TOKEN_LABEL, token)
    }

    fn refresh_token_hash(&self, token: &str) -> RefreshTokenHash {
        self.lookup_hash(REFRESH_TOKEN_LABEL, token)
    }

    /// The stored, indexed form of an authorization code we issue.
    pub fn hash_authorization_code(&self, code: &PlainSecret) -> AuthorizationCodeHash {
        self.lookup_hash(AUTHORIZATION_CODE_LABEL, code.expose())
    }

    /// The lookup key of a code a client presented; `None` when too long to be ours.
    pub fn hash_presented_authorization_code(&self, code: &str) -> Option<AuthorizationCodeHash> {
        self.presented_lookup_hash(AUTHORIZATION_CODE_LABEL, code)
    }

    /// The stored, indexed form of a browser session id we issue.
    pub fn hash_session_id(&self, id: &PlainSecret) -> BrowserSessionHash {
        self.lookup_hash(BROWSER_SESSION_LABEL, id.expose())
    }

    /// The lookup key of a session id a browser presented; `None` when too long to be ours.
    pub fn hash_presented_session_id(&self, id: &str) -> Option<BrowserSessionHash> {
        self.presented_lookup_hash(BROWSER_SESSION_LABEL, id)
    }

    /// The anti-CSRF token of a form shown to the browser holding `binding` (its session
    /// id, or before sign-in its pre-session cookie): a MAC, so nothing is stored, and a
    /// token is worthless with any other cookie.
    pub fn csrf_token(&self, binding: &str) -> String {
        let message = [CSRF_LABEL, binding.as_bytes()].concat();
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &message).as_ref())
    }

    /// Whether `presented` is the anti-CSRF token for `binding` (constant-time).
    pub fn csrf_token_matches(&self, binding: &str, presented: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else {
            return false;
        };
        let message = [CSRF_LABEL, binding.as_bytes()].concat();
        hmac::verify(&self.key, &message, &tag).is_ok()
    }

    fn lookup_hash<K>(&self, label: &[u8], value: &str) -> SecretHash<K> {
        let message = [label, value.as_bytes()].concat();
        SecretHash::new(hmac::sign(&self.key, &message).as_ref())
    }

    fn presented_lookup_hash<K>(&self, label: &[u8], value: &str) -> Option<SecretHash<K>> {
        (value.len() <= MAX_PRESENTED_SECRET_LENGTH).then(|| self.lookup_hash(label, value))
    }

    /// The stored form of an access token's exact string.
    pub fn hash_access_token(&self, token: &str) -> AccessTokenHash {
        self.lookup_hash(ACCESS_TOKEN_LABEL, token)
    }

    /// The AES-256-GCM key for [`SecretHasher::seal`], derived from the secret-hashing key
    /// under its own label, so one key file serves both and neither use can stand in for
    /// the other.
    fn sealing_key(&self) -> aead::LessSafeKey {
        let derived = hmac::sign(&self.key, SEALING_KEY_LABEL);
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, derived.as_ref())
            .expect("an HMAC-SHA256 tag is an AES-256 key");
        aead::LessSafeKey::new(key)
    }

    /// Encrypts a secret tenauth must send later (a push stream's `Authorization` header),
    /// bound to `context` (its stream id): base64url of a random nonce and the ciphertext.
    /// Only such secrets are sealed; every secret tenauth only checks is hashed instead.
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; aead::NONCE_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .expect("the system random source works");
        let mut sealed = plaintext.as_bytes().to_vec();
        self.sealing_key()
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("a short secret fits AES-GCM's limits");
        URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// The secret [`SecretHasher::seal`] sealed for `context`; `None` if it was sealed for
    /// another context or under another key, or altered.
    pub fn open(&self, context: &str, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < aead::NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(aead::NONCE_LEN);
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .sealing_key()
            .open_in_place(
                aead::Nonce::try_assume_unique_for_key(nonce).ok()?,
                aead::Aad::from(context.as_bytes()),
                &mut in_out,
            )
            .ok()?;
        String::from_utf8(plaintext.to_vec()).ok()
    }

    /// Whether `token` is exactly the access token whose stored hash is `stored`
    /// (constant-time).
    pub fn access_token_matches(&self, token: &str, stored: &AccessTokenHash) -> bool {
        let Some(tag) = stored.tag() else {
            return false;
        };
        let message = [ACCESS_TOKEN_LABEL, token.as_bytes()].concat();
        hmac::verify(&self.key, &message, &tag).is_ok()
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
fn owasp_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters")
}

/// The password-hash cost in force, for documentation and benchmark reports.
pub const PASSWORD_HASH_COST: &str = "Argon2id m=19456 KiB, t=2, p=1";

/// Runs Argon2 work on a small pool of dedicated threads, one per core, and waits for it.
///
/// Each hash needs 19 MiB of working memory. Allocated afresh per hash on whatever
/// blocking thread a request landed on, the freed blocks stayed cached in glibc's arenas:
/// the server's peak RSS passed 700 MiB under the login benchmark. Here at most one hash
/// per core is in flight (which is also all the CPU can do), and each pool thread reuses
/// one scratch buffer (see [`argon2_output`]). Callers are already off the async workers.
fn on_hashing_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    type Job = Box<dyn FnOnce() + Send>;
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("tenauth-argon2-{index}"))
                .spawn(move || loop {
                    let job = match receiver.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("start a password-hashing thread");
        }
        Mutex::new(sender)
    });
    let (reply, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = reply.send(work());
    });
    sender
        .lock()
        .expect("the hashing pool's sender")
        .send(job)
        .expect("the hashing pool is running");
    result.recv().expect("the hashing job finished")
}

/// Argon2's output for `password` and `salt` under `params`, computed in this thread's
/// reusable scratch memory (what `argon2`'s own `hash_password` does, minus allocating
/// 19 MiB per call).
fn argon2_output(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: Salt<'_>,
) -> password_hash::Result<Output> {
    thread_local! {
        static SCRATCH: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    let mut salt_buffer = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buffer)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.resize(blocks, Block::default());
        Output::init_with(output_len, |out| {
            Ok(argon2.hash_password_into_with_memory(
                password,
                salt,
                out,
                &mut scratch[..blocks],
            )?)
        })
    })
}

/// Hashes a new password (PHC string). Slow by design: call it off the async workers.
pub fn hash_password(password: &Password) -> String {
    let password = password.clone();
    on_hashing_pool(move || {
        let salt = SaltString::generate(&mut OsRng);
        let params = owasp_params();
        let output = argon2_output(
            Algorithm::Argon2id,
            Version::V0x13,
            params.clone(),
            password.expose().as_bytes(),
            salt.as_salt(),
        )
        .expect("Argon2 hashing with valid parameters");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).expect("encodable parameters"),
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string()
    })
}

/// Whether `password` matches `stored` (a PHC string, whose own parameters are used);
/// with `None` (unknown user) it verifies against a dummy hash of the same cost and
/// answers false.
pub fn verify_password(password: &Password, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password(&Password::attempt("tenauth dummy password".to_owned()).expect("short"))
    });
    let known = stored.is_some();
    let stored = stored.unwrap_or(dummy).to_owned();
    let password = password.clone();
    let matches = on_hashing_pool(move || {
        let Ok(hash) = PasswordHash::new(&stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let parsed = Algorithm::try_from(hash.algorithm)
            .ok()
            .zip(
                hash.version
                    .map_or(Ok(Version::default()), Version::try_from)
                    .ok(),
            )
            .zip(Params::try_from(&hash).ok());
        let Some(((algorithm, version), params)) = parsed else {
            return false;
        };
        // `Output`'s equality is constant-time.
        argon2_output(
            algorithm,
            version,
            params,
            password.expose().as_bytes(),
            salt,
        )
        .is_ok_and(|computed| computed == expected)
    });
    matches && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_in_its_context_and_under_its_key() {
        let hasher = SecretHasher::new(&[7; 32]);
        let sealed = hasher.seal("stream-a", "Bearer s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            hasher.seal("stream-a", "Bearer s3cret"),
            "a fresh nonce each time"
        );
        assert_eq!(
            hasher.open("stream-a", &sealed).as_deref(),
            Some("Bearer s3cret")
        );
        assert_eq!(hasher.open("stream-b", &sealed), None);
        assert_eq!(SecretHasher::new(&[8; 32]).open("stream-a", &sealed), None);
        let mut altered = sealed.into_bytes();
        altered[20] ^= 1;
        assert_eq!(
            hasher.open("stream-a", &String::from_utf8(altered).unwrap()),
            None
        );
    }

    #[test]
    fn a_client_secret_verifies_only_for_its_own_client() {
        let hasher = SecretHasher::new(&[7; 32]);
        let secret = PlainSecret::generate();
        let client_a: ClientId = "client-a".parse().unwrap();
        let stored = hasher.hash_client_secret(&client_a, &secret);

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
    fn refresh_token_hashes_are_keyed_and_over_long_values_are_not_hashed() {
        let hasher = SecretHasher::new(&[7; 32]);
        let token = PlainSecret::generate();
        let issued = hasher.hash_refresh_token(&token);
        assert_eq!(
            hasher.hash_presented_refresh_token(token.expose()),
            Some(issued.clone())
        );
        assert_ne!(
            SecretHasher::new(&[8; 32]).hash_refresh_token(&token),
            issued
        );
        let longest = "x".repeat(MAX_PRESENTED_SECRET_LENGTH);
        assert!(hasher.hash_presented_refresh_token(&longest).is_some());
        assert_eq!(
            hasher.hash_presented_refresh_token(&format!("{longest}x")),
            None
        );
        assert_eq!(format!("{issued:?}"), "SecretHash(<redacted>)");
    }

    #[test]
    fn an_access_token_hash_matches_only_its_exact_string() {
        let hasher = SecretHasher::new(&[7; 32]);
        let stored = hasher.hash_access_token("header.claims.signature");
        assert!(hasher.access_token_matches("header.claims.signature", &stored));
        assert!(!hasher.access_token_matches("header.claims.signaturf", &stored));
        assert!(!hasher.access_token_matches("x", &SecretHash::from_stored("%%%".into())));
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
