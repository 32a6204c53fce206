//! `POST /oauth/token`: the grants' success paths and every RFC 6749 §5.2 error.

use std::collections::BTreeSet;

use tenauth::db::models::client::NewClient;
use tenauth::db::models::user::User;
use tenauth::domain::{now, ClientId, GrantType, Scope, TenantId, UserId};

use crate::helpers::{basic_header, json_with_status, jwt_claims, spawn_app, TestApp};

fn assert_no_store(response: &reqwest::Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

/// Checks status, error code and the no-store headers of an error answer.
async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str, case: &str) {
    assert_eq!(response.status().as_u16(), status, "{case}: status");
    assert_no_store(&response);
    let body: serde_json::Value = response
        .json()
        .await
        .unwrap_or_else(|_| panic!("{case}: JSON body"));
    assert_eq!(body["error"], error, "{case}: {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.is_ascii(), "{case}: description is ASCII");
}

both_backends! {
    async fn client_credentials_issues_a_tenant_stamped_jwt_without_refresh_token(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;

        let response = app.client_credentials(&acme.client, Some("read")).await;

        assert_no_store(&response);
        let body = json_with_status(response, 200).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "read");
        assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3: no refresh token");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], acme.client.id);
        assert_eq!(claims["client_id"], acme.client.id);
        assert_eq!(claims["iss"], app.address);
        assert_eq!(claims["aud"], app.address);
        assert_eq!(claims["scope"], "read");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    }

    async fn client_credentials_without_scope_gets_every_allowed_scope(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;

        let body = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;

        assert_eq!(body["scope"], "read write");
    }

    async fn client_secret_post_authenticates_like_basic(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let secret = acme.client.secret.clone().unwrap();

        let response = app
            .token(&[("grant_type", "client_credentials"), ("client_id", &acme.client.id), ("client_secret", &secret)], None)
            .await;

        json_with_status(response, 200).await;
    }

    async fn password_grant_issues_a_user_token_and_a_refresh_token_stamped_with_the_tenant(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;

        let body = json_with_status(app.password_grant(&acme, Some("write")).await, 200).await;

        assert!(body["refresh_token"].as_str().unwrap().len() >= 43, "256-bit refresh token");
        assert_eq!(body["scope"], "write");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], acme.user_id.to_string());
        assert_eq!(claims["client_id"], acme.client.id);
    }

    async fn usernames_are_case_insensitive(db) {
        let app = spawn_app(db).await;
        let mut acme = app.provision_tenant("acme").await;
        acme.username = "ALICE".into();

        json_with_status(app.password_grant(&acme, None).await, 200).await;
    }

    async fn password_grant_without_the_refresh_grant_returns_no_refresh_token(db) {
        let app = spawn_app(db).await;
        let mut acme = app.provision_tenant("acme").await;
        acme.client = app.provision_client(acme.tenant_id, &[GrantType::Password], "read", true).await;

        let body = json_with_status(app.password_grant(&acme, None).await, 200).await;

        assert!(body.get("refresh_token").is_none());
    }

    async fn a_public_client_uses_the_password_grant_with_its_id_alone_but_not_client_credentials(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let public = app.provision_client(acme.tenant_id, &[GrantType::Password, GrantType::RefreshToken], "read", false).await;
        assert!(public.secret.is_none());

        let response = app
            .token(&[("grant_type", "password"), ("client_id", &public.id), ("username", "alice"), ("password", "alice-password")], None)
            .await;
        let body = json_with_status(response, 200).await;
        let refreshed = app
            .token(&[("grant_type", "refresh_token"), ("client_id", &public.id), ("refresh_token", body["refresh_token"].as_str().unwrap())], None)
            .await;
        json_with_status(refreshed, 200).await;

        let refused = app.token(&[("grant_type", "client_credentials"), ("client_id", &public.id)], None).await;
        assert_oauth_error(refused, 400, "unauthorized_client", "public client, client_credentials").await;
    }

    async fn a_user_of_another_tenant_gets_invalid_grant_like_a_wrong_password(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        app.provision_user(globex.tenant_id, "bob", "bob-password").await;
        let cases = [
            ("bob", "bob-password", "user of another tenant"),
            ("alice", "wrong-password", "wrong password"),
            ("nobody", "whatever-pass", "unknown user"),
            ("bad name", "whatever-pass", "malformed username"),
        ];

        let mut bodies = Vec::new();
        for (username, password, case) in cases {
            let response = app
                .token(&[("grant_type", "password"), ("username", username), ("password", password)], Some(acme.client.basic()))
                .await;
            assert_eq!(response.status(), 400, "{case}");
            bodies.push(response.text().await.unwrap());
        }

        assert!(bodies.iter().all(|body| body == &bodies[0]), "identical answers: {bodies:?}");
        assert!(bodies[0].contains("invalid_grant"));
    }

    async fn a_disabled_user_gets_invalid_grant_and_its_tokens_stop_working(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let body = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", &token).await.status(), 200);

        let (tenant_id, user_id) = (acme.tenant_id, acme.user_id);
        app.database.write(move |conn| User::disable(conn, tenant_id, UserId::new(user_id), now())).unwrap();

        let refused = app.password_grant(&acme, None).await;
        assert_oauth_error(refused, 400, "invalid_grant", "disabled user").await;
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", &token).await.status(), 401);
        let refresh = app.refresh(&acme.client, body["refresh_token"].as_str().unwrap(), None).await;
        assert_oauth_error(refresh, 400, "invalid_grant", "refresh for a disabled user").await;
    }

    async fn unknown_client_and_wrong_secret_get_the_same_401(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let form = [("grant_type", "client_credentials")];

        let unknown = app.token(&form, Some(("no-such-client", "secret"))).await;
        let wrong = app.token(&form, Some((&acme.client.id, "wrong-secret"))).await;
        let in_body = app
            .token(&[("grant_type", "client_credentials"), ("client_id", &acme.client.id), ("client_secret", "wrong")], None)
            .await;

        for (response, challenge) in [(unknown, true), (wrong, true), (in_body, false)] {
            assert_eq!(response.status(), 401);
            assert_no_store(&response);
            assert_eq!(response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()),
                challenge.then(|| r#"Basic realm="tenauth""#.to_owned()));
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body, serde_json::json!({"error": "invalid_client", "error_description": "client authentication failed"}));
        }
    }

    async fn every_rfc6749_error_has_its_code_status_and_headers(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let basic = Some(acme.client.basic());
        let cc_only = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;

        assert_oauth_error(app.token(&[("scope", "read")], basic).await, 400, "invalid_request", "missing grant_type").await;
        assert_oauth_error(app.token(&[("grant_type", "password"), ("username", "alice")], basic).await, 400, "invalid_request", "missing password").await;
        assert_oauth_error(app.token(&[("grant_type", "refresh_token")], basic).await, 400, "invalid_request", "missing refresh_token").await;
        assert_oauth_error(app.token(&[("grant_type", "client_credentials"), ("grant_type", "client_credentials")], basic).await, 400, "invalid_request", "repeated parameter").await;
        let secret = acme.client.secret.clone().unwrap();
        assert_oauth_error(app.token(&[("grant_type", "client_credentials"), ("client_secret", &secret)], basic).await, 400, "invalid_request", "two authentication methods").await;
        assert_oauth_error(app.token(&[("grant_type", "client_credentials")], None).await, 401, "invalid_client", "no client authentication").await;
        assert_oauth_error(app.token(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", "x")], basic).await, 400, "unsupported_grant_type", "unknown grant").await;
        assert_oauth_error(app.token(&[("grant_type", "password"), ("username", "alice"), ("password", "alice-password")], Some(cc_only.basic())).await, 400, "unauthorized_client", "grant not enabled").await;
        assert_oauth_error(app.token(&[("grant_type", "refresh_token"), ("refresh_token", "garbage")], basic).await, 400, "invalid_grant", "garbage refresh token").await;
        assert_oauth_error(app.client_credentials(&acme.client, Some("read delete")).await, 400, "invalid_scope", "scope beyond the client's").await;
        assert_oauth_error(app.client_credentials(&acme.client, Some("read  write")).await, 400, "invalid_scope", "malformed scope").await;
        assert_oauth_error(app.client_credentials(&acme.client, Some("r\u{e9}ad")).await, 400, "invalid_scope", "non-ASCII scope").await;

        let json = app.http.post(app.url("/oauth/token")).header("Authorization", basic_header(&acme.client.id, &secret))
            .json(&serde_json::json!({"grant_type": "client_credentials"})).send().await.unwrap();
        assert_oauth_error(json, 400, "invalid_request", "JSON body").await;
        let get = app.get("/oauth/token").await;
        assert_eq!(get.status(), 405);
        assert_eq!(get.headers()["allow"], "POST");
    }

    async fn appendix_b_basic_credentials_are_form_urlencoded(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        // A secret with every character Appendix B cares about (set directly: generated
        // secrets are base64url and never contain them).
        let secret = "p%s &+w:rd é";
        let id = ClientId::generate();
        let hash = app.hasher.hash_client_secret(&id, &tenauth::domain::PlainSecret::from_client(secret.into()));
        let (insert_id, tenant_id) = (id.clone(), acme.tenant_id);
        app.database.write(move |conn| NewClient {
            id: &insert_id, tenant_id, name: "special", secret_hash: Some(&hash),
            grant_types: &BTreeSet::from([GrantType::ClientCredentials]), scopes: &"read".parse().unwrap(),
            personal_access: false, browser: &Default::default(), now: now(),
        }.insert(conn)).unwrap();

        // urlencoded: '%' -> %25, ' ' -> '+', '&' -> %26, '+' -> %2B, ':' -> %3A, 'é' -> %C3%A9
        let ok = app.token(&[("grant_type", "client_credentials")], Some((id.as_str(), secret))).await;
        json_with_status(ok, 200).await;

        // Fully percent-encoded id works too; the raw, unencoded secret does not.
        let encoded_id: String = id.as_str().bytes().map(|b| format!("%{b:02X}")).collect();
        let raw = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{encoded_id}:{}", "p%s &+w:rd é".replace(' ', "+"))));
        let wrong = app.http.post(app.url("/oauth/token")).header("Authorization", raw)
            .form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(wrong.status(), 401, "'+' decodes to a space, so the unencoded '+' in the secret is wrong");
        let encoded_secret: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let right = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{encoded_id}:{encoded_secret}")));
        let ok = app.http.post(app.url("/oauth/token")).header("Authorization", right)
            .form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        json_with_status(ok, 200).await;
    }

    async fn platform_and_look_alike_scopes_are_refused_to_a_tenant_client(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        // Provisioning refuses such a client; write one directly, as old data might hold.
        let id = ClientId::generate();
        let secret = tenauth::domain::PlainSecret::generate();
        let hash = app.hasher.hash_client_secret(&id, &secret);
        let scopes: Scope = "read admin platform:tenants ADMIN Platform:x platformx * tenant:admin:x tenant:admin".parse().unwrap();
        let (insert_id, tenant_id) = (id.clone(), acme.tenant_id);
        app.database.write(move |conn| NewClient {
            id: &insert_id, tenant_id, name: "legacy", secret_hash: Some(&hash),
            grant_types: &BTreeSet::from([GrantType::ClientCredentials]), scopes: &scopes,
            personal_access: false, browser: &Default::default(), now: now(),
        }.insert(conn)).unwrap();
        let basic = Some((id.as_str(), secret.expose()));

        for scope in ["admin", "platform:tenants", "read admin", "ADMIN", "Platform:x", "platformx", "*", "read tenant:admin:x"] {
            let response = app.token(&[("grant_type", "client_credentials"), ("scope", scope)], basic).await;
            assert_oauth_error(response, 400, "invalid_scope", scope).await;
        }
        let default = json_with_status(app.token(&[("grant_type", "client_credentials")], basic).await, 200).await;
        assert_eq!(default["scope"], "read tenant:admin", "the default scope leaves platform and reserved scopes out");
    }

    async fn a_suspended_or_deleted_tenant_gets_invalid_client(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        json_with_status(app.client_credentials(&acme.client, None).await, 200).await;

        set_tenant_status(&app, acme.tenant_id, "suspended");

        let refused = app.client_credentials(&acme.client, None).await;
        assert_oauth_error(refused, 401, "invalid_client", "suspended tenant").await;
        let refused = app.password_grant(&acme, None).await;
        assert_oauth_error(refused, 401, "invalid_client", "suspended tenant, password grant").await;
    }
}

/// Changes a tenant's status behind the server's back (the admin API comes later).
fn set_tenant_status(app: &TestApp, tenant_id: TenantId, status: &'static str) {
    use diesel::prelude::*;
    use tenauth::db::schema::tenants;
    app.database
        .write(move |conn| {
            diesel::update(tenants::table.find(tenant_id.get()))
                .set(tenants::status.eq(status))
                .execute(conn)
                .map_err(tenauth::db::DbError::from)
        })
        .unwrap();
}

both_backends! {
    async fn a_body_over_64_kib_is_413_with_a_json_error(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let padding = "a".repeat(70 * 1024);

        let form = app.http.post(app.url("/oauth/token")).basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&pad={padding}")).send().await.unwrap();
        let token = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let json = app.http.post(app.url("/oauth/personal-access-tokens")).bearer_auth(token["access_token"].as_str().unwrap())
            .json(&serde_json::json!({"name": padding})).send().await.unwrap();

        for response in [form, json] {
            let body = json_with_status(response, 413).await;
            assert_eq!(body["error"], "invalid_request");
            assert_eq!(body["error_description"], "the request body is too large");
        }
        json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
    }
}
