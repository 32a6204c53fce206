//! Signing keys for access tokens (ES256, ECDSA P-256 with SHA-256, via `ring`).
//!
//! On disk, in `TENAUTH_KEYS_DIR`, each key is two files named after its `kid`:
//! - `<kid>.pem`: the private key, PKCS#8 in PEM, mode 0600;
//! - `<kid>.jwk`: the public key as a JWK (RFC 7517), plus a `created_at` member
//!   (Unix seconds) that orders keys: the newest key signs, older ones only verify.
//!
//! The `kid` is the key's RFC 7638 thumbprint, so it is derived from the key itself and
//! checked on load. Several instances may share the directory (a mounted secret).
//!
//! Rotation: `tenauth keys rotate` adds a key, which is then the newest. A running server
//! re-reads the directory when its files change ([`Keys::reload_if_changed`], on the
//! schedule `serve` runs), so every instance sharing it signs with the new key and
//! publishes it within one interval; older keys stay published, and verify the tokens
//! they signed, until `tenauth keys prune` removes those retired longer ago than any
//! token lives.
//!
//! The directory also holds `secret-hash.key`: 256 random bits (base64, mode 0600), the
//! HMAC key under which client secrets and refresh tokens are hashed. Every instance must
//! use the same one; losing it invalidates every client secret and refresh token.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

const PEM_LABEL: &str = "PRIVATE KEY";

/// A key directory that cannot be used, with the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use key directory or file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid key file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no signing key in {0}: run `tenauth keys generate`")]
    NoKeys(PathBuf),
    #[error("key generation failed")]
    Generation,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The public half of a key, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// The `<kid>.jwk` file: the public JWK plus when the key was made.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct JwkFile {
    #[serde(flatten)]
    jwk: PublicJwk,
    created_at: i64,
}

/// One ES256 key pair.
pub struct SigningKey {
    pub kid: String,
    pub created_at: i64,
    pub jwk: PublicJwk,
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pkcs8(pkcs8: &[u8], created_at: i64) -> Result<Self, String> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| "not an ECDSA P-256 PKCS#8 private key".to_owned())?;
        let jwk = public_jwk(pair.public_key().as_ref());
        Ok(Self {
            kid: jwk.kid.clone(),
            created_at,
            jwk,
            pair,
        })
    }

    /// Whether `signature` is this key's ES256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            self.pair.public_key().as_ref(),
        )
        .verify(message, signature)
        .is_ok()
    }

    /// Signs `message` (ES256, the fixed-length `r || s` form JWS uses).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| KeyError::Generation)
    }
}

/// The public JWK of an uncompressed P-256 point (`0x04 || x || y`), with its RFC 7638
/// thumbprint as `kid`.
fn public_jwk(point: &[u8]) -> PublicJwk {
    let (x, y) = point[1..].split_at(32);
    let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
    // RFC 7638 §3.2: the required members, in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    PublicJwk {
        kty: "EC".to_owned(),
        crv: "P-256".to_owned(),
        x,
        y,
        kid: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        alg: "ES256".to_owned(),
        use_: "sig".to_owned(),
    }
}

/// Every key in the directory, newest first; the first one signs.
#[derive(Debug)]
pub struct KeyStore {
    keys: Vec<SigningKey>,
}

impl KeyStore {
    /// Loads the keys in `dir`; fails if there are none.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        Self::load_with_fingerprint(dir).map(|(store, _)| store)
    }

    fn load_with_fingerprint(dir: &Path) -> Result<(Self, DirFingerprint), KeyError> {
        let fingerprint = DirFingerprint::of(dir)?;
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let path = entry.map_err(io_error(dir))?.path();
            if path.extension().is_some_and(|ext| ext == "pem") {
                keys.push(load_key(&path)?);
            }
        }
        if keys.is_empty() {
            return Err(KeyError::NoKeys(dir.to_owned()));
        }
        keys.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
        Ok((Self { keys }, fingerprint))
    }

    /// Loads the keys in `dir`, first creating the directory and one key if it holds none.
    /// Returns the store and whether a key was generated.
    pub fn load_or_generate(dir: &Path, now: i64) -> Result<(Self, bool), KeyError> {
        create_key_dir(dir)?;
        let has_key = fs::read_dir(dir)
            .map_err(io_error(dir))?
            .filter_map(Result::ok)
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "pem"));
        if !has_key {
            generate_key(dir, now)?;
        }
        Ok((Self::load(dir)?, !has_key))
    }

    /// The newest key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The key that signs at `now`: the newest key made at least `publish_delay` seconds
    /// earlier, so that every instance sharing the directory has loaded it and publishes
    /// it in its JWKS before any token carries its `kid`; the oldest key when none is that
    /// old (a fresh directory).
    pub fn signing_key_at(&self, now: i64, publish_delay: i64) -> &SigningKey {
        self.keys
            .iter()
            .find(|key| key.created_at.saturating_add(publish_delay) <= now)
            .unwrap_or_else(|| &self.keys[self.keys.len() - 1])
    }

    /// The keys that no longer sign at `now`, newest first, each with the time it was
    /// retired: when its successor started signing (made + `publish_delay`, as
    /// [`KeyStore::signing_key_at`] has it). A retired key still verifies the tokens it
    /// signed until `tenauth keys prune` removes it.
    pub fn retired_keys(&self, now: i64, publish_delay: i64) -> Vec<(&SigningKey, i64)> {
        self.keys
            .windows(2)
            .map(|pair| (&pair[1], pair[0].created_at.saturating_add(publish_delay)))
            .filter(|(_, retired)| *retired <= now)
            .collect()
    }

    /// The key with this `kid`, if it is one of ours.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// Every public key, newest first.
    pub fn public_keys(&self) -> impl Iterator<Item = &PublicJwk> {
        self.keys.iter().map(|key| &key.jwk)
    }
}

/// What the key files in a directory are: their names, sizes and modification times. A
/// change means a key was added, replaced or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DirFingerprint(Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)>);

impl DirFingerprint {
    fn of(dir: &Path) -> Result<Self, KeyError> {
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|ext| ext == "pem" || ext == "jwk")
            {
                let metadata = entry.metadata().map_err(io_error(&path))?;
                files.push((entry.file_name(), metadata.len(), metadata.modified().ok()));
            }
        }
        files.sort();
        Ok(Self(files))
    }
}

/// The server's keys: the store loaded last, replaced whole when the directory changes.
#[derive(Debug)]
pub struct Keys {
    dir: PathBuf,
    publish_delay: i64,
    current: std::sync::RwLock<(std::sync::Arc<KeyStore>, DirFingerprint)>,
}

impl Keys {
    /// Loads `dir`, first creating one key if it holds none (see [`KeyStore::load_or_generate`]).
    /// A new key signs once it is `publish_delay` old (see [`KeyStore::signing_key_at`]).
    pub fn load_or_generate(
        dir: &Path,
        now: i64,
        publish_delay: std::time::Duration,
    ) -> Result<(Self, bool), KeyError> {
        let (_, generated) = KeyStore::load_or_generate(dir, now)?;
        let current = KeyStore::load_with_fingerprint(dir)?;
        let keys = Self {
            dir: dir.to_owned(),
            publish_delay: i64::try_from(publish_delay.as_secs()).unwrap_or(i64::MAX),
            current: std::sync::RwLock::new((std::sync::Arc::new(current.0), current.1)),
        };
        Ok((keys, generated))
    }

    /// Seconds a new key is published before it signs.
    pub fn publish_delay(&self) -> i64 {
        self.publish_delay
    }

    /// The keys as last loaded.
    pub fn snapshot(&self) -> std::sync::Arc<KeyStore> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::sync::Arc::clone(&current.0)
    }

    /// Re-reads the directory if its key files changed; returns whether the keys were
    /// replaced. A directory that no longer loads (a half-copied secret, say) leaves the
    /// current keys in place and answers the error.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let fingerprint = DirFingerprint::of(&self.dir)?;
        if self
            .current
            .read()
            .map(|current| current.1 == fingerprint)
            .unwrap_or(false)
        {
            return Ok(false);
        }
        let (store, fingerprint) = KeyStore::load_with_fingerprint(&self.dir)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = (std::sync::Arc::new(store), fingerprint);
        Ok(true)
    }

    /// Runs [`Keys::reload_if_changed`] every `interval` on a background thread.
    pub fn spawn_reload_schedule(keys: std::sync::Arc<Self>, interval: std::time::Duration) {
        let started = std::thread::Builder::new()
            .name("tenauth-keys".to_owned())
            .spawn(move || loop {
                std::thread::sleep(interval);
                match keys.reload_if_changed() {
                    Ok(true) => log::info!(
                        "reloaded the signing keys from {}: {} signs",
                        keys.dir.display(),
                        keys.snapshot().signing_key().kid
                    ),
                    Ok(false) => {}
                    Err(error) => log::warn!("keeping the loaded signing keys: {error}"),
                }
            });
        if let Err(error) = started {
            log::error!("cannot start the key reload schedule: {error}");
        }
    }
}

/// Adds a key that is newer than every key in `dir` (keys are ordered by creation time,
/// in seconds, so a key made in the same second as the newest is dated one second later).
pub fn rotate_key(dir: &Path, now: i64) -> Result<String, KeyError> {
    let newest = KeyStore::load(dir)
        .ok()
        .map_or(i64::MIN, |store| store.signing_key().created_at);
    generate_key(dir, now.max(newest.saturating_add(1)))
}

/// How long after the longest token lifetime a retired key stays: room for instances
/// that loaded its successor late (a secret applied after it was made, a failing reload).
pub const PRUNE_GRACE_SECONDS: i64 = 86_400;

/// Removes the keys retired more than `max_token_lifetime` + [`PRUNE_GRACE_SECONDS`]
/// seconds before `now`: no live token can carry their signature. A key is retired when
/// its successor starts signing (made + `publish_delay`). The newest key always stays.
/// Returns the kids removed.
pub fn prune_keys(
    dir: &Path,
    now: i64,
    max_token_lifetime: i64,
    publish_delay: i64,
) -> Result<Vec<String>, KeyError> {
    let store = KeyStore::load(dir)?;
    let mut removed = Vec::new();
    for (key, retired) in store.retired_keys(now, publish_delay) {
        if retired
            .saturating_add(max_token_lifetime)
            .saturating_add(PRUNE_GRACE_SECONDS)
            < now
        {
            // The private key first: a reader never finds a .pem without its .jwk.
            for extension in ["pem", "jwk"] {
                let path = dir.join(format!("{}.{extension}", key.kid));
                fs::remove_file(&path).map_err(io_error(&path))?;
            }
            removed.push(key.kid.clone());
        }
    }
    Ok(removed)
}

/// `tenauth keys prune`'s policy: a key can go once no token it may have signed can still be
/// live, that is, once it has been retired longer than the longest lifetime of a signed
/// token (access and personal access tokens; refresh tokens are opaque, not signed).
pub fn prune_unneeded_keys(
    dir: &Path,
    now: i64,
    lifetimes: &crate::config::TokenLifetimes,
    publish_delay: std::time::Duration,
) -> Result<Vec<String>, KeyError> {
    let seconds =
        |duration: std::time::Duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    prune_keys(
        dir,
        now,
        seconds(lifetimes.access.max(lifetimes.personal)),
        seconds(publish_delay),
    )
}

/// `tenauth keys init`: prepares a keys directory for instances that will share it, with a
/// signing key and the secret-hashing key, each only if missing. The signing key's `kid`,
/// and whether it was generated now.
pub fn init_dir(dir: &Path, now: i64) -> Result<(String, bool), KeyError> {
    let (keys, generated) = KeyStore::load_or_generate(dir, now)?;
    load_or_generate_secret_hash_key(dir)?;
    Ok((keys.signing_key().kid.clone(), generated))
}

fn load_key(pem_path: &Path) -> Result<SigningKey, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        path: pem_path.to_owned(),
        reason,
    };
    let pem = fs::read_to_string(pem_path).map_err(io_error(pem_path))?;
    let der = decode_pem(&pem).ok_or_else(|| invalid("not a PEM \"PRIVATE KEY\" block".into()))?;
    let jwk_path = pem_path.with_extension("jwk");
    let jwk_text = fs::read_to_string(&jwk_path).map_err(io_error(&jwk_path))?;
    let jwk_file: JwkFile = serde_json::from_str(&jwk_text).map_err(|error| KeyError::Invalid {
        path: jwk_path.clone(),
        reason: error.to_string(),
    })?;
    let key = SigningKey::from_pkcs8(&der, jwk_file.created_at).map_err(invalid)?;
    if key.jwk != jwk_file.jwk {
        return Err(KeyError::Invalid {
            path: jwk_path,
            reason: "does not match the private key beside it".to_owned(),
        });
    }
    if pem_path.file_stem().and_then(|stem| stem.to_str()) != Some(key.kid.as_str()) {
        return Err(invalid(format!("its file name should be {}.pem", key.kid)));
    }
    Ok(key)
}

/// Writes a new key pair to `dir` and returns its `kid`. The files are written under
/// temporary names and renamed into place, the private key last, so a concurrent reader
/// never sees a half-written key.
pub fn generate_key(dir: &Path, now: i64) -> Result<String, KeyError> {
    create_key_dir(dir)?;
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError::Generation)?;
    let key = SigningKey::from_pkcs8(pkcs8.as_ref(), now).map_err(|_| KeyError::Generation)?;
    let jwk_file = JwkFile {
        jwk: key.jwk.clone(),
        created_at: now,
    };
    let jwk_json = serde_json::to_string_pretty(&jwk_file).map_err(|_| KeyError::Generation)?;
    write_atomically(
        &dir.join(format!("{}.jwk", key.kid)),
        jwk_json.as_bytes(),
        0o644,
    )?;
    write_atomically(
        &dir.join(format!("{}.pem", key.kid)),
        encode_pem(pkcs8.as_ref()).as_bytes(),
        0o600,
    )?;
    Ok(key.kid)
}

const SECRET_HASH_KEY_FILE: &str = "secret-hash.key";

/// The HMAC key for hashing secrets, created (256 random bits) when the directory has none.
pub fn load_or_generate_secret_hash_key(dir: &Path) -> Result<Vec<u8>, KeyError> {
    create_key_dir(dir)?;
    let path = dir.join(SECRET_HASH_KEY_FILE);
    if !path.exists() {
        let key = crate::domain::random_url_safe(32);
        write_atomically(&path, key.as_bytes(), 0o600)?;
        log::info!("generated the secret-hashing key {}", path.display());
    }
    let text = fs::read_to_string(&path).map_err(io_error(&path))?;
    let key = URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .filter(|key| key.len() >= 32)
        .ok_or_else(|| KeyError::Invalid {
            path: path.clone(),
            reason: "expected at least 256 bits, base64url-encoded".to_owned(),
        })?;
    Ok(key)
}

/// Creates the key directory (owner-only) if it does not exist; an existing one is left as is.
fn create_key_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))
}

fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    // The mode given to open() is filtered by the umask; set it exactly.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_error(&temporary))?;
    file.write_all(contents).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    fs::rename(&temporary, path).map_err(io_error(path))
}

fn encode_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    pem
}

fn decode_pem(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .trim()
        .strip_prefix(&format!("-----BEGIN {PEM_LABEL}-----"))?
        .strip_suffix(&format!("-----END {PEM_LABEL}-----"))?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_the_kid_is_the_rfc7638_thumbprint() {
        let dir = std::env::temp_dir().join(format!("tenauth-keys-{}", std::process::id()));
        let kid = generate_key(&dir, 100).unwrap();
        let store = KeyStore::load(&dir).unwrap();
        assert_eq!(store.signing_key().kid, kid);
        assert_eq!(kid.len(), 43, "base64url of a SHA-256 digest");
        let mode = fs::metadata(dir.join(format!("{kid}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_newest_key_signs() {
        let dir = std::env::temp_dir().join(format!("tenauth-keys-newest-{}", std::process::id()));
        let old = generate_key(&dir, 100).unwrap();
        let new = generate_key(&dir, 200).unwrap();
        let store = KeyStore::load(&dir).unwrap();
        assert_eq!(store.signing_key().kid, new);
        assert!(store.find(&old).is_some());
        assert_eq!(store.public_keys().count(), 2);
        fs::remove_dir_all(dir).unwrap();
    }
}
