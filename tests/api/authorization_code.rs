//! The authorization-code flow with PKCE through HTTP, as a browser without script would
//! drive it (cookies kept, redirects not followed): `/oauth/authorize`, its sign-in and
//! consent forms, the code at the token endpoint, sessions and logout.

use std::collections::HashMap;

use base64::Engine;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{
    admin_token, call_with_token, json_with_status, jwt_claims, spawn_app, TestApp, TestClient,
    TEST_REDIRECT_URI,
};
use crate::introspection::introspect;

/// A PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2).
fn pkce() -> (String, String) {
    let verifier = tenauth::domain::random_url_safe(32);
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

/// A cookie-keeping client that does not follow redirects.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(COOKIE, cookie)
        };
        let response = request.send().await.unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    async fn get(&mut self, path_and_query: &str) -> reqwest::Response {
        let request = self.http.get(self.app.url(path_and_query));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(String, String)]) -> reqwest::Response {
        let request = self.http.post(self.app.url(path)).form(form);
        self.send(request).await
    }
}

/// The authorize URL for `client` with an S256 challenge.
fn authorize_path(client: &TestClient, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    if !extra.iter().any(|(name, _)| *name == "state") {
        query.append_pair("state", "st-123");
    }
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    format!("/oauth/authorize?{}", query.finish())
}

/// The hidden and named fields of a page's form, with `extra` set.
fn form_fields(html: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for input in html.split("<input").skip(1) {
        let input = input.split('>').next().unwrap();
        if !input.contains("type=\"hidden\"") {
            continue;
        }
        let attribute = |name: &str| {
            input
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(|value| {
                    value
                        .replace("&amp;", "&")
                        .replace("&quot;", "\"")
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                })
        };
        if let (Some(name), Some(value)) = (attribute("name"), attribute("value")) {
            fields.push((name, value));
        }
    }
    fields.extend(
        extra
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    fields
}

fn query_of(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "a redirect");
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// Signs `username` in on the page `authorize` shows; returns the answer to the form.
async fn sign_in(
    browser: &mut Browser<'_>,
    authorize: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let page = browser.get(authorize).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("name=\"username\"") && html.contains("name=\"password\""),
        "{html}"
    );
    let form = form_fields(
        &html,
        &[
            ("username", username),
            ("password", password),
            ("action", "sign_in"),
        ],
    );
    browser.post("/oauth/authorize", &form).await
}

/// Approves on the consent page `response` shows; returns the redirect's query.
async fn approve(
    browser: &mut Browser<'_>,
    response: reqwest::Response,
) -> HashMap<String, String> {
    assert_eq!(response.status(), 200, "the consent page");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("value=\"approve\"") && html.contains("value=\"deny\""),
        "{html}"
    );
    let form = form_fields(&html, &[("decision", "approve")]);
    let redirected = browser.post("/oauth/authorize", &form).await;
    query_of(&location(&redirected))
}

/// Redeems `code` at the token endpoint.
async fn redeem(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", TEST_REDIRECT_URI),
    ];
    let request = app.http.post(app.url("/oauth/token"));
    let request = match &client.secret {
        Some(secret) => request.basic_auth(&client.id, Some(secret)),
        None => {
            form.push(("client_id", client.id.as_str()));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

/// A client of `tenant` with the authorization-code grant.
/// With an https issuer, cookies are `__Host-` prefixed and `Secure` (and still
/// `HttpOnly`, `SameSite=Lax`).
#[tokio::test]
async fn with_an_https_issuer_cookies_are_host_prefixed_and_secure() {
    let db = crate::helpers::TestDatabase::sqlite();
    let mut settings = crate::helpers::test_settings(&db);
    settings.issuer = Some("https://login.example".into());
    let app = crate::helpers::spawn_app_with(db, settings).await;
    let acme = app.provision_tenant("acme").await;
    let client = browser_client(&app, acme.tenant_id, true).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new(&app);

    let page = browser.get(&authorize_path(&client, &challenge, &[])).await;

    let cookie = page.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-tenauth_form="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
}

async fn browser_client(app: &TestApp, tenant: TenantId, confidential: bool) -> TestClient {
    app.provision_client(
        tenant,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "read write",
        confidential,
    )
    .await
}

both_backends! {
    async fn a_user_signs_in_consents_and_the_client_redeems_the_code(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (verifier, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let authorize = authorize_path(&client, &challenge, &[("redirect_uri", TEST_REDIRECT_URI), ("scope", "read")]);

        let page = browser.get(&authorize).await;
        for (header, value) in [("x-frame-options", "DENY"), ("referrer-policy", "no-referrer"), ("cache-control", "no-store")] {
            assert_eq!(page.headers()[header], value, "{header}");
        }
        let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("script-src"), "{policy}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Sign in to acme") && html.contains("test client"), "tenant and client named: {html}");

        let consent = sign_in(&mut browser, &authorize, "alice", "alice-password").await;
        let answer = approve(&mut browser, consent).await;

        assert_eq!(answer["state"], "st-123");
        assert_eq!(answer["iss"], app.address, "RFC 9207");
        let code = &answer["code"];
        assert!(code.len() >= 43, "256-bit code");
        let tokens = json_with_status(redeem(&app, &client, code, &verifier).await, 200).await;
        let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], acme.user_id.to_string());
        assert_eq!(tokens["scope"], "read");
        let me = json_with_status(app.get_with_token("/oauth/me", tokens["access_token"].as_str().unwrap()).await, 200).await;
        assert_eq!(me["grant"], "authorization_code");
        assert_eq!(me["token_kind"], "access");
        let refreshed = app.refresh(&client, tokens["refresh_token"].as_str().unwrap(), None).await;
        json_with_status(refreshed, 200).await;

        // Signed in now: the next authorization remembers the consent and redirects at once.
        let (_, challenge) = pkce();
        let again = browser.get(&authorize_path(&client, &challenge, &[("scope", "read")])).await;
        assert!(query_of(&location(&again)).contains_key("code"), "no sign-in, no consent the second time");
    }

    async fn a_public_client_with_skip_consent_redeems_with_its_id_alone(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let created = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/clients", acme.tenant_id), &admin, Some(serde_json::json!({
            "name": "spa", "grant_types": ["authorization_code", "refresh_token"], "confidential": false,
            "redirect_uris": ["https://spa.example/cb", "http://127.0.0.1/cb"], "skip_consent": true, "scopes": ["read"]
        }))).await, 201).await;
        assert_eq!(created["redirect_uris"], serde_json::json!(["https://spa.example/cb", "http://127.0.0.1/cb"]));
        let client = TestClient { id: created["client_id"].as_str().unwrap().to_owned(), secret: None };
        let (verifier, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let loopback = "http://127.0.0.1:53123/cb";

        let signed_in = sign_in(&mut browser, &authorize_path(&client, &challenge, &[("redirect_uri", loopback)]), "alice", "alice-password").await;

        let redirected = location(&signed_in);
        assert!(redirected.starts_with(loopback), "any port of a loopback URI (RFC 8252 §7.3): {redirected}");
        let code = query_of(&redirected)["code"].clone();
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", verifier.as_str()), ("redirect_uri", loopback), ("client_id", client.id.as_str())];
        let tokens = json_with_status(app.token(&form, None).await, 200).await;
        assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["tenant_id"], acme.tenant_id.get());
    }

    async fn pkce_is_required_s256_only_and_checked(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let mut browser = Browser::new(&app);
        let (verifier, challenge) = pkce();
        let base = |extra: &[(&str, &str)]| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("response_type", "code").append_pair("client_id", &client.id).append_pair("state", "s");
            for (name, value) in extra {
                query.append_pair(name, value);
            }
            format!("/oauth/authorize?{}", query.finish())
        };
        for (case, extra) in [
            ("missing", vec![]),
            ("plain", vec![("code_challenge", challenge.as_str()), ("code_challenge_method", "plain")]),
            ("no method means plain", vec![("code_challenge", challenge.as_str())]),
            ("malformed", vec![("code_challenge", "short"), ("code_challenge_method", "S256")]),
        ] {
            let refused = browser.get(&base(&extra)).await;
            let answer = query_of(&location(&refused));
            assert_eq!(answer["error"], "invalid_request", "{case}");
            assert_eq!(answer["state"], "s", "{case}");
            assert_eq!(answer["iss"], app.address, "{case}");
        }

        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        let code = approve(&mut browser, consent).await["code"].clone();
        let (other_verifier, _) = pkce();
        let wrong = json_with_status(redeem(&app, &client, &code, &other_verifier).await, 400).await;
        assert_eq!(wrong["error"], "invalid_grant");
        let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
        let missing = app.token(&form, Some(client.basic())).await;
        assert_eq!(json_with_status(missing, 400).await["error"], "invalid_grant", "no verifier");
        // Failed verifications spend nothing: the holder of the verifier still redeems it.
        json_with_status(redeem(&app, &client, &code, &verifier).await, 200).await;
    }

    async fn an_unknown_client_or_unregistered_redirect_uri_gets_a_page_never_a_redirect(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let unknown = TestClient { id: "no-such-client".into(), secret: None };
        for (case, path) in [
            ("unknown client", authorize_path(&unknown, &challenge, &[("redirect_uri", "https://evil.example/cb")])),
            ("missing client", "/oauth/authorize?response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb".to_owned()),
            ("unregistered", authorize_path(&client, &challenge, &[("redirect_uri", "https://evil.example/cb")])),
            ("different path", authorize_path(&client, &challenge, &[("redirect_uri", "http://127.0.0.1/other")])),
            ("another loopback host", authorize_path(&client, &challenge, &[("redirect_uri", "http://[::1]/callback")])),
        ] {
            let answer = browser.get(&path).await;
            assert_eq!(answer.status(), 400, "{case}");
            assert!(answer.headers().get(LOCATION).is_none(), "{case}: never a redirect");
            assert!(answer.text().await.unwrap().contains("Cannot continue"), "{case}");
        }
        let other_port = browser.get(&authorize_path(&client, &challenge, &[("redirect_uri", "http://127.0.0.1:9/callback")])).await;
        assert_eq!(other_port.status(), 200, "a loopback redirect URI matches on any port");
        let unsupported = browser.get(&authorize_path(&client, &challenge, &[]).replace("response_type=code", "response_type=token")).await;
        assert_eq!(query_of(&location(&unsupported))["error"], "unsupported_response_type");
    }

    async fn a_code_is_used_once_and_a_replay_revokes_what_it_issued(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let other = browser_client(&app, acme.tenant_id, true).await;
        let mut browser = Browser::new(&app);
        let (verifier, challenge) = pkce();
        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        let code = approve(&mut browser, consent).await["code"].clone();

        let stolen = json_with_status(redeem(&app, &other, &code, &verifier).await, 400).await;
        assert_eq!(stolen["error"], "invalid_grant", "another client's code");
        let tokens = json_with_status(redeem(&app, &client, &code, &verifier).await, 200).await;
        let replayed = json_with_status(redeem(&app, &client, &code, &verifier).await, 400).await;

        assert_eq!(replayed["error"], "invalid_grant");
        for token in [&tokens["access_token"], &tokens["refresh_token"]] {
            assert_eq!(introspect(&app, &client, token.as_str().unwrap()).await["active"], false, "revoked by the replay");
        }
    }

    async fn of_sixteen_concurrent_redemptions_exactly_one_wins(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let mut browser = Browser::new(&app);
        let (verifier, challenge) = pkce();
        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        let code = approve(&mut browser, consent).await["code"].clone();

        let answers = futures_util::future::join_all((0..16).map(|_| redeem(&app, &client, &code, &verifier))).await;

        let statuses: Vec<u16> = answers.iter().map(|answer| answer.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|status| **status == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|status| **status == 400).count(), 15, "{statuses:?}");
    }

    async fn an_expired_code_is_invalid_grant(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (verifier, challenge) = pkce();
        let code = tenauth::domain::PlainSecret::generate();
        let hash = app.hasher.hash_authorization_code(&code);
        let pkce = format!("S256:{challenge}");
        let (client_id, tenant_id, user_id) = (client.id.parse().unwrap(), acme.tenant_id, tenauth::domain::UserId::new(acme.user_id));
        let past = tenauth::domain::now() - chrono::Duration::seconds(120);
        app.database.write(move |conn| tenauth::db::models::code::NewAuthorizationCode {
            code_hash: &hash, tenant_id, client_id: &client_id, user_id, redirect_uri: TEST_REDIRECT_URI,
            redirect_uri_given: true, pkce: &pkce, scopes: &"read".parse().unwrap(), now: past, expires_at: past + chrono::Duration::seconds(60),
        }.insert(conn)).unwrap();

        let expired = json_with_status(redeem(&app, &client, code.expose(), &verifier).await, 400).await;
        assert_eq!(expired["error"], "invalid_grant");
    }

    async fn forms_need_this_browsers_csrf_token_and_this_site_as_origin(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let authorize = authorize_path(&client, &challenge, &[]);
        let mut victim = Browser::new(&app);
        let mut attacker = Browser::new(&app);
        let html = attacker.get(&authorize).await.text().await.unwrap();
        let attackers_form = form_fields(&html, &[("username", "alice"), ("password", "alice-password"), ("action", "sign_in")]);
        victim.get(&authorize).await;

        let foreign = victim.post("/oauth/authorize", &attackers_form).await;
        assert_eq!(foreign.status(), 403, "another browser's token");
        let without: Vec<_> = attackers_form.iter().filter(|(name, _)| name != "csrf").cloned().collect();
        assert_eq!(victim.post("/oauth/authorize", &without).await.status(), 403, "no token");
        let cross_site = attacker.http.post(app.url("/oauth/authorize")).header("Origin", "https://evil.example").form(&attackers_form);
        assert_eq!(attacker.send(cross_site).await.status(), 403, "posted from another site");
        assert!(victim.cookies.keys().all(|name| !name.contains("session")), "nobody was signed in");
    }

    async fn signing_in_starts_a_new_session_bound_to_one_tenant(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let acme_client = browser_client(&app, acme.tenant_id, true).await;
        let globex_client = browser_client(&app, globex.tenant_id, true).await;
        let (_, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let session_name = format!("tenauth_session_{}", acme.tenant_id);
        browser.cookies.insert(session_name.clone(), "planted-by-an-attacker".into());

        let consent = sign_in(&mut browser, &authorize_path(&acme_client, &challenge, &[]), "alice", "alice-password").await;

        assert_eq!(consent.status(), 200);
        let issued = browser.cookies[&session_name].clone();
        assert_ne!(issued, "planted-by-an-attacker", "no session fixation");
        assert!(issued.len() >= 43);
        let globex_page = browser.get(&authorize_path(&globex_client, &challenge, &[])).await.text().await.unwrap();
        assert!(globex_page.contains("Sign in to globex"), "acme's session does not sign in to globex");
        // globex's own alice (the fixture gives every tenant one): a second session, of globex.
        assert_eq!(sign_in(&mut browser, &authorize_path(&globex_client, &challenge, &[]), "alice", "alice-password").await.status(), 200);
        let globex_session = format!("tenauth_session_{}", globex.tenant_id);
        assert!(browser.cookies.contains_key(&globex_session), "{:?}", browser.cookies.keys());
        assert_eq!(browser.cookies[&session_name], issued, "acme's session is untouched");
        app.provision_user(acme.tenant_id, "only-in-acme", "acme-only-password").await;
        let refused = sign_in(&mut Browser::new(&app), &authorize_path(&globex_client, &challenge, &[]), "only-in-acme", "acme-only-password").await;
        assert!(refused.text().await.unwrap().contains("incorrect"), "a user of another tenant cannot sign in here");
    }

    async fn a_wrong_password_shows_one_generic_message_and_the_throttle_applies(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let authorize = authorize_path(&client, &challenge, &[]);
        let mut browser = Browser::new(&app);
        let mut messages = Vec::new();
        for (username, password) in [("alice", "wrong-password"), ("nobody", "whatever-1"), ("alice", "wrong-again")] {
            let page = sign_in(&mut browser, &authorize, username, password).await;
            assert_eq!(page.status(), 200);
            let html = page.text().await.unwrap();
            assert!(html.contains("role=\"alert\""), "{html}");
            messages.push(html.split("role=\"alert\">").nth(1).unwrap().split('<').next().unwrap().to_owned());
        }
        assert!(messages.windows(2).all(|pair| pair[0] == pair[1]), "one message: {messages:?}");
        // alice's fifth failure reaches the throttle (5 per window): then even her right
        // password gets the same page, and no session.
        for password in ["wrong-3", "wrong-4", "wrong-5"] {
            sign_in(&mut browser, &authorize, "alice", password).await;
        }
        let throttled = sign_in(&mut browser, &authorize, "alice", "alice-password").await.text().await.unwrap();
        assert!(throttled.contains(&messages[0]), "{throttled}");
        assert!(browser.cookies.keys().all(|name| !name.contains("session")), "not signed in while throttled");
    }

    async fn deny_redirects_with_access_denied(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        let html = consent.text().await.unwrap();

        let denied = browser.post("/oauth/authorize", &form_fields(&html, &[("decision", "deny")])).await;

        let answer = query_of(&location(&denied));
        assert_eq!(answer["error"], "access_denied");
        assert_eq!(answer["state"], "st-123");
        assert!(!answer.contains_key("code"));
    }

    async fn a_suspended_tenant_ends_sessions_and_its_codes_redeem_nothing(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (verifier, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        let code = approve(&mut browser, consent).await["code"].clone();
        let platform = admin_token(&app, TenantId::PLATFORM, "admin").await;

        json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/suspend", acme.tenant_id), &platform, None).await, 200).await;

        let refused = redeem(&app, &client, &code, &verifier).await;
        assert_eq!(refused.status(), 401, "the client of a suspended tenant cannot authenticate");
        json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/activate", acme.tenant_id), &platform, None).await, 200).await;
        let page = browser.get(&authorize_path(&client, &challenge, &[])).await.text().await.unwrap();
        assert!(page.contains("Sign in to acme"), "the suspension ended the session");
    }

    async fn logout_ends_the_session_and_returns_only_to_a_registered_uri(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let created = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/clients", acme.tenant_id), &admin, Some(serde_json::json!({
            "name": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://web.example/cb"],
            "post_logout_redirect_uris": ["https://web.example/bye"], "skip_consent": true
        }))).await, 201).await;
        let client = TestClient { id: created["client_id"].as_str().unwrap().to_owned(), secret: created["client_secret"].as_str().map(str::to_owned) };
        let (_, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let authorize = authorize_path(&client, &challenge, &[]);
        location(&sign_in(&mut browser, &authorize, "alice", "alice-password").await);

        let elsewhere = browser.get(&format!("/oauth/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", client.id)).await;
        assert_eq!(elsewhere.status(), 200, "an unregistered URI is not followed");
        assert!(browser.get(&authorize).await.text().await.unwrap().contains("Sign in"), "signed out");

        location(&sign_in(&mut browser, &authorize, "alice", "alice-password").await);
        let back = browser.get(&format!("/oauth/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fweb.example%2Fbye&state=x", client.id)).await;
        assert_eq!(location(&back), "https://web.example/bye?state=x");
        assert!(browser.get(&authorize).await.text().await.unwrap().contains("Sign in"));
    }

    async fn hostile_values_are_never_reflected_unescaped(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let hostile = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
        let mut browser = Browser::new(&app);
        let page = browser.get(&authorize_path(&client, &challenge, &[("state", hostile)])).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        let refused = sign_in(&mut browser, &authorize_path(&client, &challenge, &[("state", hostile)]), hostile, hostile).await;
        let html = refused.text().await.unwrap();
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        for path in [
            format!("/oauth/authorize?client_id={hostile}"),
            format!("/oauth/authorize?client_id={}&redirect_uri={hostile}", client.id),
            format!("/oauth/logout?client_id={hostile}&post_logout_redirect_uri={hostile}"),
        ] {
            let answer = browser.get(&path).await;
            assert!(answer.status().as_u16() < 500);
            let html = answer.text().await.unwrap();
            assert!(!html.contains("<script") && !html.contains("<img"), "{path}: {html}");
        }
    }

    async fn clients_register_redirect_uris_and_the_metadata_says_so(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let path = format!("/admin/tenants/{}/clients", acme.tenant_id);
        for (case, body) in [
            ("no redirect URI", serde_json::json!({"name": "x", "grant_types": ["authorization_code"]})),
            ("plain http", serde_json::json!({"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["http://app.example/cb"]})),
            ("fragment", serde_json::json!({"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example/cb#x"]})),
            ("localhost", serde_json::json!({"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["http://localhost:3000/cb"]})),
        ] {
            let refused = json_with_status(call_with_token(&app, Method::POST, &path, &admin, Some(body)).await, 400).await;
            assert_eq!(refused["error"], "invalid_request", "{case}");
        }
        let metadata = json_with_status(app.get("/.well-known/oauth-authorization-server").await, 200).await;
        assert_eq!(metadata["authorization_endpoint"], format!("{}/oauth/authorize", app.address));
        assert_eq!(metadata["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
        assert!(metadata["grant_types_supported"].as_array().unwrap().contains(&serde_json::json!("authorization_code")));
    }

    async fn disabling_a_user_or_changing_its_password_ends_its_sessions(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let bob = app.provision_user(acme.tenant_id, "bob", "bob-password").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let (_, challenge) = pkce();
        let authorize = authorize_path(&client, &challenge, &[]);
        let mut alice_browser = Browser::new(&app);
        let mut bob_browser = Browser::new(&app);
        assert_eq!(sign_in(&mut alice_browser, &authorize, "alice", "alice-password").await.status(), 200);
        assert_eq!(sign_in(&mut bob_browser, &authorize, "bob", "bob-password").await.status(), 200);

        let password = format!("/admin/tenants/{}/users/{}/password", acme.tenant_id, acme.user_id);
        json_with_status(call_with_token(&app, Method::PUT, &password, &admin, Some(serde_json::json!({"password": "new-password"}))).await, 200).await;
        let disable = format!("/admin/tenants/{}/users/{}/disable", acme.tenant_id, bob.id);
        assert!(call_with_token(&app, Method::POST, &disable, &admin, None).await.status().is_success());

        for browser in [&mut alice_browser, &mut bob_browser] {
            let page = browser.get(&authorize).await.text().await.unwrap();
            assert!(page.contains("Sign in to acme"), "the session ended: {page}");
        }
    }

    async fn the_purge_deletes_expired_codes_and_ended_sessions(db) {
        use diesel::prelude::*;
        use tenauth::db::schema::{browser_sessions, oauth_authorization_codes};
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let consent = sign_in(&mut browser, &authorize_path(&client, &challenge, &[]), "alice", "alice-password").await;
        approve(&mut browser, consent).await;
        let count = |app: &TestApp| app.database.read(|conn| {
            let codes: i64 = oauth_authorization_codes::table.count().get_result(conn)?;
            let sessions: i64 = browser_sessions::table.count().get_result(conn)?;
            Ok::<_, tenauth::db::DbError>((codes, sessions))
        }).unwrap();
        assert_eq!(count(&app), (1, 1));

        app.lifecycle().purge_tokens(std::time::Duration::from_secs(0), tenauth::domain::now()).await.unwrap();
        assert_eq!(count(&app), (1, 1), "a live code and a live session stay");
        let later = tenauth::domain::now() + chrono::Duration::hours(13);
        app.lifecycle().purge_tokens(std::time::Duration::from_secs(0), later).await.unwrap();

        assert_eq!(count(&app), (0, 0));
    }

    async fn the_oauth2_crate_completes_the_flow_unchanged(db) {
        use oauth2::basic::BasicClient;
        use oauth2::{AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, TokenUrl};
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let registered = browser_client(&app, acme.tenant_id, true).await;
        let client = BasicClient::new(ClientId::new(registered.id.clone()))
            .set_client_secret(ClientSecret::new(registered.secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(app.url("/oauth/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(app.url("/oauth/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(TEST_REDIRECT_URI.to_owned()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorize_url, csrf_state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read".into()))
            .set_pkce_challenge(challenge)
            .url();

        // The library's URL, as a browser would open it.
        let mut browser = Browser::new(&app);
        let path = &authorize_url.as_str()[app.address.len()..];
        let consent = sign_in(&mut browser, path, "alice", "alice-password").await;
        let answer = approve(&mut browser, consent).await;
        assert_eq!(&answer["state"], csrf_state.secret());

        let http = oauth2::reqwest::ClientBuilder::new().redirect(oauth2::reqwest::redirect::Policy::none()).build().unwrap();
        let tokens = client
            .exchange_code(AuthorizationCode::new(answer["code"].clone()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("the library redeems the code");
        assert_eq!(tokens.scopes().unwrap()[0].as_str(), "read");
        let claims = jwt_claims(tokens.access_token().secret());
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert!(tokens.refresh_token().is_some());
    }

    async fn a_consent_form_needs_the_token_of_its_own_session(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        app.provision_user(acme.tenant_id, "bob", "bob-password").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (_, challenge) = pkce();
        let authorize = authorize_path(&client, &challenge, &[]);
        let mut alice = Browser::new(&app);
        let mut bob = Browser::new(&app);
        let alices_page = sign_in(&mut alice, &authorize, "alice", "alice-password").await.text().await.unwrap();
        sign_in(&mut bob, &authorize, "bob", "bob-password").await;

        let foreign = bob.post("/oauth/authorize", &form_fields(&alices_page, &[("decision", "approve")])).await;

        assert_eq!(foreign.status(), 403, "alice's consent token in bob's session");
        let without: Vec<_> = form_fields(&alices_page, &[("decision", "approve")]).into_iter().filter(|(name, _)| name != "csrf").collect();
        assert_eq!(alice.post("/oauth/authorize", &without).await.status(), 403, "no token");
    }

    async fn a_user_lists_and_takes_back_a_remembered_consent(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let client = browser_client(&app, acme.tenant_id, true).await;
        let (verifier, challenge) = pkce();
        let mut browser = Browser::new(&app);
        let authorize = authorize_path(&client, &challenge, &[("scope", "read")]);
        let consent = sign_in(&mut browser, &authorize, "alice", "alice-password").await;
        let code = approve(&mut browser, consent).await["code"].clone();
        let tokens = json_with_status(redeem(&app, &client, &code, &verifier).await, 200).await;
        let token = tokens["access_token"].as_str().unwrap();

        let listed = json_with_status(app.get_with_token("/oauth/consents", token).await, 200).await;
        assert_eq!(listed["consents"][0]["client_id"], client.id.as_str());
        assert_eq!(listed["consents"][0]["scopes"], serde_json::json!(["read"]));
        let client_token = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        assert_eq!(app.get_with_token("/oauth/consents", client_token["access_token"].as_str().unwrap()).await.status(), 403, "a client's own token has no user");

        let forgotten = call_with_token(&app, Method::DELETE, &format!("/oauth/consents/{}", client.id), token, None).await;
        assert_eq!(forgotten.status(), 204);
        let again = call_with_token(&app, Method::DELETE, &format!("/oauth/consents/{}", client.id), token, None).await;
        assert_eq!(again.status(), 404);
        let page = browser.get(&authorize).await.text().await.unwrap();
        assert!(page.contains("value=\"approve\""), "asked again: {page}");
    }
}
