//! The pages a person sees: `/oauth/authorize` (sign-in and consent, RFC 6749 §4.1.1),
//! `/oauth/logout`, and their stylesheet. Handlers read the request into the protocol's
//! terms (`oauth::authorize`), hand the step to a blocking thread, and render what it
//! decides: HTML from `templates.rs`, or a redirect, with the cookies it names.
//!
//! Every page is sent with a Content-Security-Policy that allows no script at all,
//! `frame-ancestors 'none'` and `X-Frame-Options: DENY` (no clickjacking of the consent
//! button), `Referrer-Policy: no-referrer` (the query holds the `state` and the PKCE
//! challenge), and `Cache-Control: no-store` (`cache_policy`).

mod templates;

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::AppState;
use crate::db::{blocking, DbError};
use crate::domain::now;
use crate::oauth::authorize::{
    AuthorizationParams, AuthorizeOutcome, Browser, SetCookie, Step, UNAVAILABLE_MESSAGE,
};
use crate::oauth::form::Form;
use crate::oauth::OAuthServer;

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

#[utoipa::path(get, path = "/oauth/authorize", tag = "browser",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query, description = "the client"),
        ("redirect_uri" = Option<String>, Query, description = "one of the client's registered redirect URIs (required when it has several)"),
        ("scope" = Option<String>, Query, description = "space-separated; by default the client's scopes"),
        ("state" = Option<String>, Query, description = "returned unchanged"),
        ("code_challenge" = String, Query, description = "PKCE (RFC 7636): BASE64URL(SHA-256(code_verifier))"),
        ("code_challenge_method" = String, Query, description = "`S256` (the only one accepted)"),
    ),
    responses(
        (status = 200, description = "the sign-in or the consent page", content_type = "text/html"),
        (status = 302, description = "back to the client's redirect URI with `code`, `state` and `iss`, or with `error`, `state` and `iss` (RFC 6749 §4.1.2, RFC 9207)"),
        (status = 400, description = "an error page: unknown client, unregistered redirect URI (never a redirect)", content_type = "text/html"),
    ))]
/// `GET /oauth/authorize`: signs the browser in, asks for consent, or sends the code.
pub async fn authorize(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = request.query_string().as_bytes().to_vec();
    respond(&request, &state, &query, false).await
}

#[utoipa::path(post, path = "/oauth/authorize", tag = "browser",
    request_body(content = AuthorizeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "the sign-in page again (with one generic message) or the consent page", content_type = "text/html"),
        (status = 302, description = "back to the client's redirect URI (a code, or `access_denied`)"),
        (status = 400, description = "an error page", content_type = "text/html"),
        (status = 403, description = "the anti-CSRF token is missing or not this browser's, or the form came from another site", content_type = "text/html"),
    ))]
/// `POST /oauth/authorize`: the sign-in and consent forms.
pub async fn authorize_form(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    respond(&request, &state, &body, true).await
}

/// The forms' fields, for the document (the authorization request's parameters ride along
/// as hidden fields).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct AuthorizeForm {
    /// The anti-CSRF token of the page.
    csrf: String,
    /// `sign_in` for the sign-in form.
    action: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// `approve` or `deny` for the consent form.
    decision: Option<String>,
    client_id: String,
}

async fn respond(
    request: &HttpRequest,
    state: &AppState,
    input: &[u8],
    posted: bool,
) -> HttpResponse {
    let Ok(mut form) = read_form(request, input, posted) else {
        return page(
            StatusCode::BAD_REQUEST,
            templates::error_page("The request is malformed: each parameter may be sent once."),
        );
    };
    let params = AuthorizationParams::from_form(&mut form);
    let step = if posted {
        match read_step(&mut form) {
            Some(step) => step,
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    templates::error_page(
                        "The form is incomplete. Go back to the application and start again.",
                    ),
                )
            }
        }
    } else {
        Step::Show
    };
    let browser = browser(request, &state.oauth.issuer);
    let server = Arc::clone(&state.oauth);
    let outcome =
        blocking(move || Ok::<_, DbError>(server.authorize_now(params, &browser, step, now())))
            .await;
    match outcome {
        Ok(outcome) => render(&state.oauth, outcome),
        Err(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            templates::error_page(UNAVAILABLE_MESSAGE),
        ),
    }
}

/// The parameters: the query string of a `GET`, the form body of a `POST` (each
/// parameter at most once).
fn read_form(
    request: &HttpRequest,
    input: &[u8],
    posted: bool,
) -> Result<Form, crate::oauth::OAuthError> {
    let content_type = if posted {
        request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
    } else {
        Some("application/x-www-form-urlencoded")
    };
    Form::parse(content_type, input)
}

/// What a posted form asks for.
fn read_step(form: &mut Form) -> Option<Step> {
    let csrf = form.take("csrf").unwrap_or_default();
    if let Some(decision) = form.take("decision") {
        return match decision.as_str() {
            "approve" => Some(Step::Decide {
                approve: true,
                csrf,
            }),
            "deny" => Some(Step::Decide {
                approve: false,
                csrf,
            }),
            _ => None,
        };
    }
    match form.take("action").as_deref() {
        Some("sign_in") => Some(Step::SignIn {
            username: form.take("username").unwrap_or_default(),
            password: form.take("password").unwrap_or_default(),
            csrf,
        }),
        _ => None,
    }
}

/// The browser's cookies, and whether the request came from this site: its `Origin`, or
/// else its `Referer`, names this server as the browser reaches it. Neither, or an
/// `Origin: null`, proves nothing either way: browsers send `null` for a form posted from a
/// page with `Referrer-Policy: no-referrer` (ours), so the anti-CSRF token, bound to a
/// `SameSite=Lax` cookie, decides alone then.
fn browser(request: &HttpRequest, issuer: &str) -> Browser {
    let cookies = request
        .cookies()
        .map(|cookies| {
            cookies
                .iter()
                .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    // This server as the browser reaches it: the issuer's origin (behind a proxy), or the
    // connection's (reached directly).
    let info = request.connection_info();
    let own_origins = [
        format!("{}://{}", info.scheme(), info.host()),
        url::Url::parse(issuer)
            .map(|issuer| issuer.origin().ascii_serialization())
            .unwrap_or_default(),
    ];
    let header_value = |name| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or("invalid").to_owned())
            .filter(|value| value != "null")
    };
    let same_origin = match (header_value(header::ORIGIN), header_value(header::REFERER)) {
        (Some(origin), _) => own_origins.contains(&origin),
        (None, Some(referer)) => url::Url::parse(&referer)
            .map(|referer| own_origins.contains(&referer.origin().ascii_serialization()))
            .unwrap_or(false),
        (None, None) => true,
    };
    Browser {
        cookies,
        same_origin,
    }
}

fn render(server: &OAuthServer, outcome: AuthorizeOutcome) -> HttpResponse {
    match outcome {
        AuthorizeOutcome::ErrorPage { status, message } => page(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            templates::error_page(message),
        ),
        AuthorizeOutcome::Redirect { location, cookies } => {
            let mut response = HttpResponse::Found();
            response.insert_header((header::LOCATION, location));
            set_cookies(server, &mut response, cookies);
            response.finish()
        }
        AuthorizeOutcome::SignIn {
            page: sign_in,
            cookies,
        } => {
            let mut response = page_builder(StatusCode::OK);
            set_cookies(server, &mut response, cookies);
            response.body(templates::sign_in(&sign_in).into_string())
        }
        AuthorizeOutcome::Consent {
            page: consent,
            cookies,
        } => {
            let mut response = page_builder(StatusCode::OK);
            set_cookies(server, &mut response, cookies);
            response.body(templates::consent(&consent).into_string())
        }
    }
}

/// Cookies are `HttpOnly`, `SameSite=Lax` and for the whole site; `Secure` (and named
/// `__Host-…` by `oauth::authorize`) when the issuer is https.
fn set_cookies(server: &OAuthServer, response: &mut HttpResponseBuilder, cookies: Vec<SetCookie>) {
    for cookie in cookies {
        let mut built = Cookie::build(cookie.name, cookie.value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(server.cookies_are_secure())
            .finish();
        if let Some(max_age) = cookie.max_age {
            built.set_max_age(actix_web::cookie::time::Duration::seconds(
                max_age.num_seconds(),
            ));
        }
        response.cookie(built);
    }
}

fn page_builder(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    response
}

fn page(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    page_builder(status).body(markup.into_string())
}

#[utoipa::path(get, path = "/oauth/logout", tag = "browser",
    params(
        ("client_id" = Option<String>, Query, description = "the client asking (needed for post_logout_redirect_uri)"),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "one of the client's registered post-logout redirect URIs"),
        ("state" = Option<String>, Query, description = "returned unchanged with the redirect"),
    ),
    responses(
        (status = 200, description = "signed out", content_type = "text/html"),
        (status = 302, description = "signed out, and sent to the registered post_logout_redirect_uri"),
    ))]
/// `GET /oauth/logout`: ends every tenauth session the browser holds.
pub async fn logout(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = request.query_string().as_bytes().to_vec();
    end_session(&request, &state, &query, false).await
}

#[utoipa::path(post, path = "/oauth/logout", tag = "browser",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "signed out", content_type = "text/html"),
        (status = 302, description = "signed out, and sent to the registered post_logout_redirect_uri"),
    ))]
/// `POST /oauth/logout`: as `GET`, with the parameters in the form.
pub async fn logout_form(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    end_session(&request, &state, &body, true).await
}

/// The logout form, for the document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct LogoutForm {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn end_session(
    request: &HttpRequest,
    state: &AppState,
    input: &[u8],
    posted: bool,
) -> HttpResponse {
    let mut form = read_form(request, input, posted).unwrap_or_default();
    let (client_id, uri, logout_state) = (
        form.take("client_id"),
        form.take("post_logout_redirect_uri"),
        form.take("state"),
    );
    let browser = browser(request, &state.oauth.issuer);
    let server = Arc::clone(&state.oauth);
    let ended = blocking(move || {
        let cleared = server.end_sessions_now(&browser)?;
        let location = server.post_logout_location(
            client_id.as_deref(),
            uri.as_deref(),
            logout_state.as_deref(),
        )?;
        Ok::<_, DbError>((cleared, location))
    })
    .await;
    let Ok((cleared, location)) = ended else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            templates::error_page(UNAVAILABLE_MESSAGE),
        );
    };
    let mut response = match &location {
        Some(location) => {
            let mut response = HttpResponse::Found();
            response.insert_header((header::LOCATION, location.as_str()));
            response
        }
        None => page_builder(StatusCode::OK),
    };
    set_cookies(&state.oauth, &mut response, cleared);
    match location {
        Some(_) => response.finish(),
        None => response.body(templates::signed_out().into_string()),
    }
}

#[utoipa::path(get, path = "/oauth/assets/tenauth.css", tag = "browser",
    responses((status = 200, description = "the pages' stylesheet", content_type = "text/css")))]
/// The one stylesheet of the pages.
pub async fn stylesheet() -> HttpResponse {
    let mut response = HttpResponse::Ok();
    super::cache_policy::public_for(&mut response, std::time::Duration::from_secs(3600));
    response
        .content_type("text/css; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(templates::STYLESHEET)
}
