//! Access tokens as JWTs (RFC 9068), signed ES256 with the newest key in `keys/` (and, with
//! the same signing code, Security Event Tokens: `security_events.rs`).
//!
//! The signature proves a token is ours; it does not prove it is still good. Its `jti`
//! is the primary key of its row, and every validation also checks that row (revocation,
//! tenant, client and user state), so the database stays the authority.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::domain::{ClientId, Exchange, TokenActor};
use crate::keys::{KeyError, KeyStore};

/// Longest token we try to decode; anything longer is garbage by definition.
const MAX_TOKEN_LENGTH: usize = 4096;

/// The claims of a tenauth access token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The user id for user tokens, the client id for client-credentials tokens.
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub tenant_id: i64,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The refresh-token family the token was issued with (OpenID Connect's "session id",
    /// which RFC 9068 §2.2.1 lets an access token carry): what a `token-family-revoked`
    /// security event names, so that a resource server verifying offline can refuse the
    /// family's access tokens too. Absent for tokens without refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// For a token from token exchange, who acts with it (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActorClaim>,
}

/// The `act` claim (RFC 8693 §4.1): the actor of a token from token exchange, the party
/// acting on behalf of its `sub`: the exchanging client and, for platform staff acting in a
/// tenant, the platform user (`sub`), with the actor's tenant. Introspection and
/// `/oauth/me` show the same object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ActorClaim {
    /// The platform user's id, or else the exchanging client's id.
    pub sub: String,
    pub client_id: String,
    /// The actor's tenant: the platform tenant for platform staff.
    pub tenant_id: i64,
}

/// What a token's exchange (RFC 8693) decides of its claims, for issuance and for the
/// check of a presented token alike: `aud` (RFC 9068 §2.2: the resource the token is for),
/// the client a delegation was made for or else the issuer; and `act` (§4.1).
pub fn exchange_claims(issuer: &str, exchange: Option<&Exchange>) -> (String, Option<ActorClaim>) {
    let audience = exchange
        .and_then(|exchange| exchange.audience.as_ref())
        .map_or(issuer, ClientId::as_str);
    let act = exchange.map(|exchange| ActorClaim::from(&exchange.actor));
    (audience.to_owned(), act)
}

impl From<&TokenActor> for ActorClaim {
    fn from(actor: &TokenActor) -> Self {
        Self {
            sub: actor.subject(),
            client_id: actor.client_id.to_string(),
            tenant_id: actor.tenant_id.get(),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Why a string is not a valid token of ours (for the log; clients only learn "invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("not an ES256 at+jwt header")]
    WrongHeader,
    #[error("signed by a key that is not ours")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("unreadable claims")]
    BadClaims,
}

/// Signs `claims` with the key that signs at their `iat` (see [`KeyStore::signing_key_at`]).
pub fn encode(
    keys: &KeyStore,
    publish_delay: i64,
    claims: &AccessTokenClaims,
) -> Result<String, KeyError> {
    sign(keys, publish_delay, "at+jwt", claims.iat, claims)
}

/// Signs any claims as a compact JWS of type `typ` (RFC 7515 §4.1.9), with the key that
/// signs at `iat`: access tokens (`at+jwt`) and Security Event Tokens (`secevent+jwt`).
pub fn sign(
    keys: &KeyStore,
    publish_delay: i64,
    typ: &str,
    iat: i64,
    claims: &impl serde::Serialize,
) -> Result<String, KeyError> {
    let key = keys.signing_key_at(iat, publish_delay);
    let header = Header {
        alg: "ES256".to_owned(),
        typ: typ.to_owned(),
        kid: key.kid.clone(),
    };
    // Serializing these plain structs cannot fail.
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::Generation)?;
    let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Generation)?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Checks the structure and the header (ES256, `at+jwt`) and returns the claims **without
/// checking the signature or the key**: for callers that prove the token genuine another
/// way (its stored hash, see `bearer.rs`). The `kid` need not be one this process has
/// loaded: an instance started before a key rotation still recognizes the tokens that
/// instances started after it sign with the new key, through their stored hash.
pub fn decode_claims(token: &str) -> Result<AccessTokenClaims, JwtError> {
    decode(token).map(|(claims, _)| claims)
}

/// Checks the header and the signature and returns the claims. Does not check expiry or
/// revocation: that is the caller's job, against `now` and the database.
pub fn verify(keys: &KeyStore, token: &str) -> Result<AccessTokenClaims, JwtError> {
    let (claims, kid) = decode(token)?;
    let (signing_input, signature) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    let key = keys.find(&kid).ok_or(JwtError::UnknownKey)?;
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }
    Ok(claims)
}

/// The claims and the `kid` of a well-formed ES256 `at+jwt` token.
fn decode(token: &str) -> Result<(AccessTokenClaims, String), JwtError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode_part = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode_part(header)?).map_err(|_| JwtError::WrongHeader)?;
    if header.alg != "ES256" || header.typ != "at+jwt" {
        return Err(JwtError::WrongHeader);
    }
    let claims = serde_json::from_slice(&decode_part(claims)?).map_err(|_| JwtError::BadClaims)?;
    Ok((claims, header.kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "http://issuer".into(),
            sub: "client".into(),
            aud: "http://issuer".into(),
            client_id: "client".into(),
            tenant_id: 7,
            scope: "read".into(),
            jti: "jti".into(),
            iat: 1,
            exp: 2,
            sid: Some("family".into()),
            act: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, _) = KeyStore::load_or_generate(dir.path(), 0).unwrap();
        let token = encode(&keys, 0, &claims()).unwrap();

        assert_eq!(verify(&keys, &token), Ok(claims()));

        let mut forged = claims();
        forged.tenant_id = 8;
        let (header, rest) = token.split_once('.').unwrap();
        let signature = rest.split_once('.').unwrap().1;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{header}.{forged_payload}.{signature}");
        assert_eq!(verify(&keys, &tampered), Err(JwtError::BadSignature));
        assert_eq!(verify(&keys, "a.b"), Err(JwtError::Malformed));
        assert_eq!(verify(&keys, "garbage"), Err(JwtError::Malformed));
    }
}
