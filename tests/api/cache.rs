//! Cache headers: every answer that is not public metadata says `Cache-Control: no-store`
//! and `Pragma: no-cache` (tokens, secrets, per-user and per-tenant data, errors), checked
//! over every operation of the OpenAPI document, so that a new one is covered too.

use reqwest::header::HeaderMap;
use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{admin_token, call_with_token, json_with_status, spawn_app};

/// The public answers, which hold nothing secret and may be cached, with how long at most.
const PUBLIC: [(&str, u64); 3] = [
    // The test servers publish a new key at once (`keys_publish_delay` 0): a cached set
    // must not outlive that.
    ("/.well-known/jwks.json", 0),
    ("/.well-known/oauth-authorization-server", 60),
    ("/oauth/assets/tenauth.css", 3600),
];

fn assert_not_stored(headers: &HeaderMap, what: &str) {
    assert_eq!(
        headers
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(
        headers.get("pragma").and_then(|value| value.to_str().ok()),
        Some("no-cache"),
        "{what}"
    );
}

both_backends! {
    async fn every_answer_but_public_metadata_is_no_store_with_pragma(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let user_token = login["access_token"].as_str().unwrap().to_owned();
        let (client_id, secret) = acme.client.basic();

        let document = json_with_status(app.get("/openapi.json").await, 200).await;
        let mut operations = Vec::new();
        for (path, methods) in document["paths"].as_object().unwrap() {
            for method in methods.as_object().unwrap().keys() {
                operations.push((Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap(), path.clone()));
            }
        }
        // Deletions last, so every other operation still finds what it names.
        operations.sort_by_key(|(method, _)| *method == Method::DELETE);
        assert!(operations.len() >= 25, "{operations:?}");

        for (method, template) in &operations {
            let path = template
                .replace("{id}", &acme.tenant_id.to_string())
                .replace("{user_id}", &acme.user_id.to_string())
                .replace("{client_id}", client_id);
            let what = format!("{method} {template}");
            let response = if path.starts_with("/oauth/token") || path.starts_with("/oauth/introspect") || path.starts_with("/oauth/revoke") {
                app.http.request(method.clone(), app.url(&path)).basic_auth(client_id, Some(secret))
                    .form(&[("grant_type", "client_credentials"), ("token", user_token.as_str())]).send().await.unwrap()
            } else {
                let token = if path.starts_with("/oauth/") { &user_token } else { &admin };
                let body = (method == Method::POST || method == Method::PUT || method == Method::PATCH).then(|| serde_json::json!({}));
                call_with_token(&app, method.clone(), &path, token, body).await
            };
            assert!(response.status().as_u16() < 500, "{what}: {}", response.status());
            if let Some((_, longest)) = PUBLIC.iter().find(|(path, _)| path == template) {
                let policy = response.headers()["cache-control"].to_str().unwrap().to_owned();
                let max_age: u64 = policy.strip_prefix("public, max-age=").and_then(|age| age.parse().ok()).unwrap_or_else(|| panic!("{what}: {policy}"));
                assert!(max_age <= *longest, "{what}: {policy}");
            } else {
                assert_not_stored(response.headers(), &what);
            }
        }
        // Errors (and answers outside the document) too.
        assert_not_stored(app.get("/no-such-page").await.headers(), "404");
        assert_not_stored(app.token(&[("grant_type", "client_credentials")], Some((client_id, "wrong"))).await.headers(), "401");
    }

    async fn answers_carrying_a_token_a_secret_or_a_users_data_are_never_stored(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let issued = app.password_grant(&acme, None).await;
        assert_not_stored(issued.headers(), "token");
        let issued = json_with_status(issued, 200).await;
        let user_token = issued["access_token"].as_str().unwrap();

        let me = app.get_with_token("/oauth/me", user_token).await;
        assert_not_stored(me.headers(), "/oauth/me");
        json_with_status(me, 200).await;

        let created = call_with_token(&app, Method::POST, "/oauth/personal-access-tokens", user_token, Some(serde_json::json!({"name": "ci"}))).await;
        assert_not_stored(created.headers(), "personal token creation");
        json_with_status(created, 201).await;

        let clients = format!("/admin/tenants/{}/clients", acme.tenant_id);
        let created = call_with_token(&app, Method::POST, &clients, &tenant_admin, Some(serde_json::json!({"name": "backend", "grant_types": [GrantType::ClientCredentials.as_str()]}))).await;
        assert_not_stored(created.headers(), "client creation");
        let created = json_with_status(created, 201).await;
        let rotated = call_with_token(&app, Method::POST, &format!("{clients}/{}/secret", created["client_id"].as_str().unwrap()), &tenant_admin, None).await;
        assert_not_stored(rotated.headers(), "secret rotation");
        json_with_status(rotated, 200).await;

        let users = call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/users", acme.tenant_id), &tenant_admin, None).await;
        assert_not_stored(users.headers(), "admin GET");
        json_with_status(users, 200).await;
    }
}
