//! The authorization endpoint (RFC 6749 §4.1.1–4.1.2) with PKCE (RFC 7636): validating the
//! request, the sign-in and consent steps, browser sessions, and the code sent back. No
//! actix here: `routes/pages.rs` renders the [`AuthorizeOutcome`] decided here, and sets
//! the cookies it names.
//!
//! oxide-auth: its `Pkce` extension encodes the challenge here (S256 only, and required)
//! and verifies the verifier at the token endpoint (`grants/authorization_code.rs`). Its
//! authorization flow and `Registrar` are not used: it matches redirect URIs its own way
//! (`domain/redirect.rs` says why that is not RFC 8252's), its errors cannot keep the
//! failures that must be shown on a page (unknown client, unregistered redirect URI:
//! never a redirect, RFC 6749 §4.1.2.1) apart from those redirected with their codes, it
//! knows no tenant, and its traits are synchronous over storage that here runs off the
//! async workers.
//!
//! Sessions: a signed-in browser holds one cookie per tenant naming a server-side session
//! (stored as its id's keyed hash) with an idle and an absolute expiry. Signing in always
//! starts a new session (no fixation). Anti-CSRF tokens are MACs of the session id, or
//! before sign-in of a random pre-session cookie, so nothing is stored for them.

use chrono::{Duration, NaiveDateTime};
use oxide_auth::code_grant::extensions::Pkce;
use std::borrow::Cow;

use super::form::Form;
use super::grants::password::check_credentials;
use super::grants::resolve_scope;
use super::{ErrorCode, OAuthError, OAuthServer};
use crate::db::models::client::Client;
use crate::db::models::code::NewAuthorizationCode;
use crate::db::models::session::{find_consent, remember_consent, BrowserSession};
use crate::db::models::tenant::Tenant;
use crate::db::DbError;
use crate::domain::session::{CODE_LIFETIME, SESSION_IDLE, SESSION_LIFETIME};
use crate::domain::{
    resolve_redirect_uri, ClientId, GrantType, PlainSecret, Scope, TenantId, UserId,
};

/// The longest `state` accepted (it is echoed in the redirect and in the pages).
const MAX_STATE_LENGTH: usize = 2_048;

/// The parameters of an authorization request, from the query string or, on the pages'
/// forms, from their hidden fields (each at most once: `Form`).
#[derive(Debug, Clone, Default)]
pub struct AuthorizationParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

impl AuthorizationParams {
    pub fn from_form(form: &mut Form) -> Self {
        Self {
            response_type: form.take("response_type"),
            client_id: form.take("client_id"),
            redirect_uri: form.take("redirect_uri"),
            scope: form.take("scope"),
            state: form.take("state"),
            code_challenge: form.take("code_challenge"),
            code_challenge_method: form.take("code_challenge_method"),
        }
    }

    /// The parameters that were given, as the pages' hidden fields carry them.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }
}

/// A request that passed every check: what a code will be bound to.
#[derive(Debug, Clone)]
pub struct ValidatedRequest {
    pub client: Client,
    pub tenant_name: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub state: Option<String>,
    /// The PKCE challenge in oxide-auth's encoding.
    pub pkce: String,
    pub params: AuthorizationParams,
}

/// What the browser brought along.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// Its cookies, by name.
    pub cookies: Vec<(String, String)>,
    /// False when the request's `Origin` (or else `Referer`) names another site.
    pub same_origin: bool,
}

impl Browser {
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(cookie, _)| cookie == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What the browser asks for.
#[derive(Debug, Clone)]
pub enum Step {
    /// `GET /oauth/authorize`: sign in, consent, or the redirect, as the session allows.
    Show,
    /// The sign-in form.
    SignIn {
        username: String,
        password: String,
        csrf: String,
    },
    /// The consent form.
    Decide { approve: bool, csrf: String },
}

/// A cookie to set (or, with `max_age` zero, to clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// `None`: until the browser closes.
    pub max_age: Option<Duration>,
}

/// What the endpoint answers.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// An error shown on a page, never redirected (RFC 6749 §4.1.2.1), with its status.
    ErrorPage { status: u16, message: &'static str },
    /// `302 Found` to the client (a code or an error) or elsewhere.
    Redirect {
        location: String,
        cookies: Vec<SetCookie>,
    },
    SignIn {
        page: SignInPage,
        cookies: Vec<SetCookie>,
    },
    Consent {
        page: ConsentPage,
        cookies: Vec<SetCookie>,
    },
}

/// The sign-in page's content.
#[derive(Debug, Clone)]
pub struct SignInPage {
    pub tenant_name: String,
    pub client_name: String,
    pub csrf: String,
    pub params: AuthorizationParams,
    /// The one message for every failed attempt.
    pub error: Option<&'static str>,
}

/// The consent page's content.
#[derive(Debug, Clone)]
pub struct ConsentPage {
    pub tenant_name: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub csrf: String,
    pub params: AuthorizationParams,
}

/// The pages' answer while the database cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str =
    "The service is temporarily unavailable. Try again in a moment.";

/// The one answer to a failed sign-in, whatever failed (unknown user, wrong password,
/// disabled user, throttled).
pub const SIGN_IN_REFUSED: &str =
    "The username or password is incorrect, or signing in is not possible right now.";

const FORM_EXPIRED: &str =
    "This form has expired or was not sent by this site. Go back to the application and start again.";

impl AuthorizationParams {
    /// The client the request names, if it can be one.
    fn client_id(&self) -> Option<ClientId> {
        self.client_id.as_deref()?.parse().ok()
    }
}

impl OAuthServer {
    /// `/oauth/authorize`: the whole step, on the calling (blocking) thread.
    pub fn authorize_now(
        &self,
        params: AuthorizationParams,
        browser: &Browser,
        step: Step,
        now: NaiveDateTime,
    ) -> AuthorizeOutcome {
        match self.authorize_step(params, browser, step, now) {
            Ok(outcome) => outcome,
            Err(error) if error.code == ErrorCode::TemporarilyUnavailable => {
                AuthorizeOutcome::ErrorPage {
                    status: 503,
                    message: UNAVAILABLE_MESSAGE,
                }
            }
            Err(_) => AuthorizeOutcome::ErrorPage {
                status: 500,
                message: "Something went wrong. Try again later.",
            },
        }
    }

    fn authorize_step(
        &self,
        params: AuthorizationParams,
        browser: &Browser,
        step: Step,
        now: NaiveDateTime,
    ) -> Result<AuthorizeOutcome, OAuthError> {
        let request = match self.validate_authorization(params)? {
            Ok(request) => request,
            Err(outcome) => return Ok(outcome),
        };
        if !matches!(step, Step::Show) && !browser.same_origin {
            log::warn!(target: "tenauth::security", "authorization form for client {} posted from another origin", request.client.id);
            return Ok(AuthorizeOutcome::ErrorPage {
                status: 403,
                message: FORM_EXPIRED,
            });
        }
        let tenant_id = request.client.tenant_id;
        let session_name = self.session_cookie_name(tenant_id);
        let presented_session = browser.cookie(&session_name);
        // Signing in replaces whatever session was presented: no need to look it up.
        let session = match (presented_session, &step) {
            (_, Step::SignIn { .. }) | (None, _) => None,
            (Some(id), _) => self
                .find_session(tenant_id, id, now)?
                .map(|user| (id.to_owned(), user)),
        };
        match step {
            Step::Show => match session {
                Some((session_id, user_id)) => {
                    self.after_sign_in(request, &session_id, user_id, Vec::new(), now)
                }
                None => Ok(self.sign_in_page(request, browser, None)),
            },
            Step::SignIn {
                username,
                password,
                csrf,
            } => {
                let pre_session = browser.cookie(&self.pre_session_cookie_name());
                let genuine = pre_session.is_some_and(|pre| {
                    self.hasher
                        .csrf_token_matches(&pre_session_binding(pre), &csrf)
                });
                if !genuine {
                    log::warn!(target: "tenauth::security", "sign-in form for client {} refused: missing or foreign anti-CSRF token", request.client.id);
                    return Ok(AuthorizeOutcome::ErrorPage {
                        status: 403,
                        message: FORM_EXPIRED,
                    });
                }
                let user = match check_credentials(self, &request.client, &username, password) {
                    Ok(user) => user,
                    Err(error)
                        if matches!(
                            error.code,
                            ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
                        ) =>
                    {
                        return Err(error);
                    }
                    Err(_) => {
                        return Ok(self.sign_in_page(request, browser, Some(SIGN_IN_REFUSED)))
                    }
                };
                // A new session id at every sign-in (no fixation); the old one ends, in the
                // same write.
                let old =
                    presented_session.and_then(|old| self.hasher.hash_presented_session_id(old));
                let session_id = PlainSecret::generate();
                let id_hash = self.hasher.hash_session_id(&session_id);
                let user_id = user.id;
                self.db.write(move |conn| {
                    if let Some(old) = old {
                        BrowserSession::end(conn, &old)?;
                    }
                    BrowserSession::insert(
                        conn,
                        &id_hash,
                        tenant_id,
                        user_id,
                        now,
                        now + SESSION_LIFETIME,
                    )
                })?;
                log::info!(target: "tenauth::security", "user {user_id} of tenant {tenant_id} signed in through client {}", request.client.id);
                let cookie = SetCookie {
                    name: session_name,
                    value: session_id.expose().to_owned(),
                    max_age: None,
                };
                self.after_sign_in(request, session_id.expose(), user_id, vec![cookie], now)
            }
            Step::Decide { approve, csrf } => {
                let Some((session_id, user_id)) = session else {
                    return Ok(self.sign_in_page(request, browser, None));
                };
                if !self
                    .hasher
                    .csrf_token_matches(&session_binding(&session_id), &csrf)
                {
                    log::warn!(target: "tenauth::security", "consent form for client {} refused: missing or foreign anti-CSRF token", request.client.id);
                    return Ok(AuthorizeOutcome::ErrorPage {
                        status: 403,
                        message: FORM_EXPIRED,
                    });
                }
                if !approve {
                    let location = self.error_location(
                        &request,
                        ErrorCode::AccessDenied,
                        "the user denied the request",
                    );
                    return Ok(AuthorizeOutcome::Redirect {
                        location,
                        cookies: Vec::new(),
                    });
                }
                let (client_id, scope) = (request.client.id.clone(), request.scope.clone());
                self.db.write(move |conn| {
                    remember_consent(conn, tenant_id, user_id, &client_id, &scope, now)
                })?;
                self.issue_code(&request, user_id, Vec::new(), now)
            }
        }
    }

    /// Signed in: the code, unless the user has still to consent.
    fn after_sign_in(
        &self,
        request: ValidatedRequest,
        session_id: &str,
        user_id: UserId,
        cookies: Vec<SetCookie>,
        now: NaiveDateTime,
    ) -> Result<AuthorizeOutcome, OAuthError> {
        let client = &request.client;
        let consented = client.browser.skip_consent || {
            let (tenant_id, client_id) = (client.tenant_id, client.id.clone());
            self.db
                .read(move |conn| find_consent(conn, tenant_id, user_id, &client_id))?
                .is_some_and(|approved| request.scope.is_subset_of(&approved))
        };
        if consented {
            return self.issue_code(&request, user_id, cookies, now);
        }
        let page = ConsentPage {
            tenant_name: request.tenant_name.clone(),
            client_name: client.name.clone(),
            scopes: request.scope.iter().map(str::to_owned).collect(),
            csrf: self.hasher.csrf_token(&session_binding(session_id)),
            params: request.params,
        };
        Ok(AuthorizeOutcome::Consent { page, cookies })
    }

    fn sign_in_page(
        &self,
        request: ValidatedRequest,
        browser: &Browser,
        error: Option<&'static str>,
    ) -> AuthorizeOutcome {
        let name = self.pre_session_cookie_name();
        let (pre_session, cookies) = match browser.cookie(&name) {
            Some(existing) if existing.len() <= 64 => (existing.to_owned(), Vec::new()),
            _ => {
                let fresh = PlainSecret::generate().expose().to_owned();
                let cookie = SetCookie {
                    name,
                    value: fresh.clone(),
                    max_age: None,
                };
                (fresh, vec![cookie])
            }
        };
        let page = SignInPage {
            tenant_name: request.tenant_name,
            client_name: request.client.name,
            csrf: self.hasher.csrf_token(&pre_session_binding(&pre_session)),
            params: request.params,
            error,
        };
        AuthorizeOutcome::SignIn { page, cookies }
    }

    /// Stores a new code for the user and sends the browser back with it (RFC 6749
    /// §4.1.2, with `iss`: RFC 9207).
    fn issue_code(
        &self,
        request: &ValidatedRequest,
        user_id: UserId,
        cookies: Vec<SetCookie>,
        now: NaiveDateTime,
    ) -> Result<AuthorizeOutcome, OAuthError> {
        let code = PlainSecret::generate();
        let code_hash = self.hasher.hash_authorization_code(&code);
        let stored = request.clone();
        self.db.write(move |conn| {
            NewAuthorizationCode {
                code_hash: &code_hash,
                tenant_id: stored.client.tenant_id,
                client_id: &stored.client.id,
                user_id,
                redirect_uri: &stored.redirect_uri,
                redirect_uri_given: stored.redirect_uri_given,
                pkce: &stored.pkce,
                scopes: &stored.scope,
                now,
                expires_at: now + CODE_LIFETIME,
            }
            .insert(conn)
        })?;
        let location = with_parameters(
            &request.redirect_uri,
            &[
                ("code", Some(code.expose())),
                ("state", request.state.as_deref()),
                ("iss", Some(self.issuer.as_str())),
            ],
        );
        Ok(AuthorizeOutcome::Redirect { location, cookies })
    }

    /// Checks the request in RFC 6749 §4.1.2.1's order: first what decides whether the
    /// browser may be sent back to the client at all (an error page otherwise), then the
    /// rest (sent back to the client with its error code).
    pub fn validate_authorization(
        &self,
        params: AuthorizationParams,
    ) -> Result<Result<ValidatedRequest, AuthorizeOutcome>, DbError> {
        let page = |message| {
            Ok(Err(AuthorizeOutcome::ErrorPage {
                status: 400,
                message,
            }))
        };
        let Some(client_id) = params.client_id() else {
            return page("The request does not name a known application.");
        };
        let found = self.db.read(move |conn| {
            let Some(client) = Client::find_with_tenant(conn, &client_id)? else {
                return Ok(None);
            };
            let tenant = Tenant::find(conn, client.client.tenant_id)?;
            Ok::<_, DbError>(Some((client, tenant)))
        })?;
        let Some((found, Some(tenant))) = found else {
            return page("The request does not name a known application.");
        };
        if found.standing().refusal().is_some() {
            return page("This application is not available.");
        }
        let client = found.client;
        let Some(redirect_uri) = resolve_redirect_uri(
            &client.browser.redirect_uris,
            params.redirect_uri.as_deref(),
        )
        .map(str::to_owned) else {
            return page("The redirect URI is not registered for this application.");
        };
        let redirect_uri_given = params.redirect_uri.is_some();
        let state = params.state.clone();
        let issuer = self.issuer.clone();
        let refuse = |code: ErrorCode, description: &'static str| {
            Ok(Err(AuthorizeOutcome::Redirect {
                location: error_location(
                    &redirect_uri,
                    code,
                    description,
                    state.as_deref(),
                    &issuer,
                ),
                cookies: Vec::new(),
            }))
        };
        if state
            .as_ref()
            .is_some_and(|state| state.len() > MAX_STATE_LENGTH)
        {
            return refuse(ErrorCode::InvalidRequest, "state is too long");
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return refuse(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            );
        }
        match params.response_type.as_deref() {
            Some("code") => {}
            None => return refuse(ErrorCode::InvalidRequest, "response_type is missing"),
            Some(_) => {
                return refuse(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )
            }
        }
        let Some(pkce) = pkce_challenge(&params) else {
            return refuse(
                ErrorCode::InvalidRequest,
                "PKCE is required: code_challenge with code_challenge_method=S256",
            );
        };
        let requested = match params.scope.as_deref().map(str::parse::<Scope>).transpose() {
            Ok(requested) => requested,
            Err(_) => return refuse(ErrorCode::InvalidScope, "the scope is malformed"),
        };
        let scope = match resolve_scope(requested, &client) {
            Ok(scope) => scope,
            Err(error) => return refuse(ErrorCode::InvalidScope, error.description),
        };
        if let Some(refusal) = scope.refusal_in(client.tenant_id) {
            return refuse(ErrorCode::InvalidScope, refusal.description());
        }
        Ok(Ok(ValidatedRequest {
            tenant_name: tenant.name,
            client,
            redirect_uri,
            redirect_uri_given,
            scope,
            state: params.state.clone(),
            pkce,
            params,
        }))
    }

    /// The error redirect for a validated request (RFC 6749 §4.1.2.1, with `iss`).
    fn error_location(
        &self,
        request: &ValidatedRequest,
        code: ErrorCode,
        description: &str,
    ) -> String {
        error_location(
            &request.redirect_uri,
            code,
            description,
            request.state.as_deref(),
            &self.issuer,
        )
    }

    /// The user of the tenant's session `presented`, if it is one and still stands: not
    /// past its absolute or idle expiry, its tenant active and its user enabled. A use
    /// restarts the idle expiry.
    fn find_session(
        &self,
        tenant_id: TenantId,
        presented: &str,
        now: NaiveDateTime,
    ) -> Result<Option<UserId>, DbError> {
        let Some(id_hash) = self.hasher.hash_presented_session_id(presented) else {
            return Ok(None);
        };
        let lookup = id_hash.clone();
        let Some(session) = self
            .db
            .read(move |conn| BrowserSession::find(conn, &lookup))?
        else {
            return Ok(None);
        };
        let stands = session.tenant_id == tenant_id
            && session.expires_at > now
            && session.last_seen_at + SESSION_IDLE > now
            && session.standing.refusal().is_none();
        if !stands {
            return Ok(None);
        }
        self.db
            .write(move |conn| BrowserSession::touch(conn, &id_hash, now))?;
        Ok(Some(session.user_id))
    }

    /// Ends every session among the browser's cookies (`/oauth/logout`), and tells which
    /// cookies to clear.
    pub fn end_sessions_now(&self, browser: &Browser) -> Result<Vec<SetCookie>, DbError> {
        let mut cleared = Vec::new();
        for (name, value) in &browser.cookies {
            if !self.is_session_cookie_name(name) {
                continue;
            }
            if let Some(id_hash) = self.hasher.hash_presented_session_id(value) {
                self.db
                    .write(move |conn| BrowserSession::end(conn, &id_hash))?;
            }
            cleared.push(SetCookie {
                name: name.clone(),
                value: String::new(),
                max_age: Some(Duration::zero()),
            });
        }
        Ok(cleared)
    }

    /// Where logout may send the browser: `post_logout_redirect_uri` if it is registered
    /// for the client named, with `state`.
    pub fn post_logout_location(
        &self,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Option<String>, DbError> {
        let (Some(client_id), Some(uri)) = (
            client_id.and_then(|id| id.parse::<ClientId>().ok()),
            post_logout_redirect_uri,
        ) else {
            return Ok(None);
        };
        let Some(found) = self
            .db
            .read(move |conn| Client::find_with_tenant(conn, &client_id))?
        else {
            return Ok(None);
        };
        let registered = found
            .client
            .browser
            .post_logout_redirect_uris
            .iter()
            .any(|registered| registered.as_str() == uri);
        Ok(registered.then(|| with_parameters(uri, &[("state", state)])))
    }

    /// Cookies are `__Host-` prefixed (and `Secure`) when the issuer is https.
    pub fn cookies_are_secure(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    fn cookie_prefix(&self) -> &'static str {
        if self.cookies_are_secure() {
            "__Host-tenauth"
        } else {
            "tenauth"
        }
    }

    /// One session cookie per tenant: signing in to one tenant's application signs the
    /// browser in to no other tenant.
    fn session_cookie_name(&self, tenant_id: TenantId) -> String {
        format!("{}_session_{tenant_id}", self.cookie_prefix())
    }

    fn is_session_cookie_name(&self, name: &str) -> bool {
        name.strip_prefix(self.cookie_prefix())
            .and_then(|rest| rest.strip_prefix("_session_"))
            .is_some_and(|tenant| tenant.parse::<i64>().is_ok())
    }

    fn pre_session_cookie_name(&self) -> String {
        format!("{}_form", self.cookie_prefix())
    }
}

fn session_binding(session_id: &str) -> String {
    format!("session:{session_id}")
}

fn pre_session_binding(pre_session: &str) -> String {
    format!("pre-session:{pre_session}")
}

/// The PKCE challenge in oxide-auth's encoding, if the request carries a well-formed S256
/// one (RFC 7636 §4.2: 43 characters of base64url for S256; `plain` and a missing method,
/// which means `plain`, are refused as OAuth 2.1 and RFC 9700 §2.1.1 ask).
fn pkce_challenge(params: &AuthorizationParams) -> Option<String> {
    let challenge = params.code_challenge.as_deref()?;
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return None;
    }
    let encoded = Pkce::required()
        .challenge(
            params.code_challenge_method.as_deref().map(Cow::Borrowed),
            Some(Cow::Borrowed(challenge)),
        )
        .ok()??;
    encoded.into_private_value().ok()?
}

/// RFC 6749 §4.1.2.1's error redirect, with `iss` (RFC 9207).
fn error_location(
    redirect_uri: &str,
    code: ErrorCode,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    with_parameters(
        redirect_uri,
        &[
            ("error", Some(code.as_str())),
            ("error_description", Some(description)),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

/// `uri` with the parameters added to its query (RFC 6749 §4.1.2: keeping the query it
/// has).
fn with_parameters(uri: &str, parameters: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(uri) else {
        return uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in parameters {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_added_to_the_redirect_uris_own_query() {
        assert_eq!(
            with_parameters(
                "https://app.example/cb?x=1",
                &[("code", Some("a b")), ("state", None)]
            ),
            "https://app.example/cb?x=1&code=a+b"
        );
        assert_eq!(
            with_parameters("com.example.app:/cb", &[("code", Some("c"))]),
            "com.example.app:/cb?code=c"
        );
    }

    #[test]
    fn only_a_well_formed_s256_challenge_is_taken() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let params = |method: Option<&str>, challenge: Option<&str>| AuthorizationParams {
            code_challenge: challenge.map(str::to_owned),
            code_challenge_method: method.map(str::to_owned),
            ..AuthorizationParams::default()
        };
        assert!(pkce_challenge(&params(Some("S256"), Some(challenge))).is_some());
        assert!(pkce_challenge(&params(Some("plain"), Some(challenge))).is_none());
        assert!(pkce_challenge(&params(None, Some(challenge))).is_none());
        assert!(pkce_challenge(&params(Some("S256"), None)).is_none());
        assert!(pkce_challenge(&params(Some("S256"), Some("short"))).is_none());
        assert!(pkce_challenge(&params(
            Some("S256"),
            Some(&format!("{}=", &challenge[..42]))
        ))
        .is_none());
    }
}
