//! Client authentication (RFC 6749 §2.3): `client_secret_basic` and `client_secret_post`,
//! one code path for the token, introspection and revocation endpoints.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::OAuthError;
use super::form::Form;
use crate::db::models::client::{Client, ClientWithTenant};
use crate::db::{DbConnection, DbError};
use crate::domain::{ClientId, PlainSecret};
use crate::secrets::SecretHasher;

/// The credentials a request presented, not yet checked.
#[derive(Debug)]
pub struct PresentedCredentials {
    pub client_id: String,
    pub secret: Option<PlainSecret>,
    /// Presented in the `Authorization` header: failures must carry a Basic challenge.
    pub via_basic: bool,
}

impl PresentedCredentials {
    /// The client id presented, if it is one at all (no client has any other shape).
    pub fn client_id(&self) -> Option<ClientId> {
        self.client_id.parse().ok()
    }
}

/// Reads the client's credentials from the `Authorization` header or the body, refusing
/// a request that uses both (RFC 6749 §2.3: one method per request).
pub fn extract_credentials(
    authorization: Option<&[u8]>,
    form: &mut Form,
) -> Result<PresentedCredentials, OAuthError> {
    let Some(authorization) = authorization else {
        let client_id = form
            .take("client_id")
            .ok_or_else(OAuthError::invalid_client)?;
        let secret = form.take("client_secret").map(PlainSecret::from_client);
        return Ok(PresentedCredentials {
            client_id,
            secret,
            via_basic: false,
        });
    };
    let (client_id, secret) = parse_basic(authorization)
        .ok_or_else(|| OAuthError::invalid_client().with_basic_challenge(true))?;
    if form.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        ));
    }
    if form
        .take("client_id")
        .is_some_and(|body_id| body_id != client_id)
    {
        return Err(OAuthError::invalid_request(
            "client_id in the body differs from the Authorization header",
        ));
    }
    Ok(PresentedCredentials {
        client_id,
        secret: (!secret.is_empty()).then(|| PlainSecret::from_client(secret)),
        via_basic: true,
    })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1 and Appendix B).
fn parse_basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space.
fn form_decode(component: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&component.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The client the credentials name, with its tenant; `None` when there is none (or the
/// id cannot be one).
pub fn find_client(
    conn: &mut DbConnection,
    credentials: &PresentedCredentials,
) -> Result<Option<ClientWithTenant>, DbError> {
    match credentials.client_id() {
        Some(client_id) => Client::find_with_tenant(conn, &client_id),
        None => Ok(None),
    }
}

/// Why client authentication failed. Both are the same `invalid_client` to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// An unknown client id, a wrong or missing secret (or a secret for a public client):
    /// counts against the presented id's failure budget.
    BadCredentials,
    /// The credentials are right, but the client or its tenant is not in good standing.
    NotInStanding,
}

/// Checks the credentials against the client they name (`found`: `None` when there is
/// no such client). Every failure costs the same work: an unknown client is verified
/// against a dummy hash. The reason goes to the log.
pub fn check_client(
    hasher: &SecretHasher,
    credentials: &PresentedCredentials,
    found: Option<ClientWithTenant>,
) -> Result<ClientWithTenant, ClientAuthFailure> {
    let stored_hash = found
        .as_ref()
        .and_then(|found| found.client.secret_hash.as_ref());
    let presented = credentials
        .secret
        .as_ref()
        .map(|secret| secret.expose().as_bytes());
    // Always one MAC verification, whatever is missing, so timing reveals nothing.
    let secret_matches = hasher.verify_client_secret(
        &credentials.client_id,
        presented.unwrap_or_default(),
        stored_hash,
    );

    let Some(found) = found else {
        log::info!(target: "tenauth::security", "client authentication failed: unknown client");
        return Err(ClientAuthFailure::BadCredentials);
    };
    let client = &found.client;
    let authenticated = match (client.is_confidential(), presented.is_some()) {
        (true, true) => secret_matches,
        // A public client identifies itself by id alone (RFC 6749 §2.1, §3.2.1).
        (false, false) => true,
        _ => false,
    };
    if !authenticated {
        log::info!(target: "tenauth::security", "client authentication failed: wrong or missing secret for client {}", client.id);
        return Err(ClientAuthFailure::BadCredentials);
    }
    if let Some(refusal) = found.standing().refusal() {
        log::info!(target: "tenauth::security", "client authentication refused for client {}: {refusal}", client.id);
        return Err(ClientAuthFailure::NotInStanding);
    }
    crate::logging::set_tenant(client.tenant_id);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))).into_bytes()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(
            parse_basic(&basic("my%20id%26x", "p%25s+s%3Aw")),
            Some(("my id&x".to_owned(), "p%s s:w".to_owned()))
        );
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
    }

    #[test]
    fn two_authentication_methods_are_refused() {
        let mut form = Form::parse(
            Some("application/x-www-form-urlencoded"),
            b"client_id=a&client_secret=b",
        )
        .unwrap();
        let error = extract_credentials(Some(&basic("a", "b")), &mut form).unwrap_err();
        assert_eq!(error.code, super::super::error::ErrorCode::InvalidRequest);
    }

    proptest::proptest! {
        /// Any header value is parsed or refused without a panic, and any id and secret
        /// encoded as Appendix B says come back as they were.
        #[test]
        fn basic_credentials_parse_or_are_refused(
            header in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            id in "\\PC{1,40}",
            secret in "\\PC{0,80}",
        ) {
            let _ = parse_basic(&header);
            let encode = |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
            let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret))));
            proptest::prop_assert_eq!(parse_basic(header.as_bytes()), Some((id, secret)));
        }
    }
}
