//! The admin API for a tenant's clients and tokens.

use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{
    admin_token, call_with_token, json_with_status, spawn_app, Fixture, TestApp, TestClient,
};
use crate::introspection::introspect;

fn client_from(body: &serde_json::Value) -> TestClient {
    TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().map(str::to_owned),
    }
}

async fn all_inactive(app: &TestApp, caller: &TestClient, tokens: &[String]) -> bool {
    for token in tokens {
        if introspect(app, caller, token).await["active"] != false {
            return false;
        }
    }
    true
}

async fn issue_some(app: &TestApp, fixture: &Fixture) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(
            json_with_status(app.client_credentials(&fixture.client, None).await, 200).await
                ["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let login = json_with_status(app.password_grant(fixture, None).await, 200).await;
    tokens.push(login["access_token"].as_str().unwrap().to_owned());
    tokens.push(login["refresh_token"].as_str().unwrap().to_owned());
    tokens
}

both_backends! {
    async fn a_tenant_admin_creates_reads_and_lists_its_clients(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let path = format!("/admin/tenants/{}/clients", acme.tenant_id);

        let created = call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"name": "backend", "grant_types": ["client_credentials"], "scopes": ["read"]}))).await;

        assert_eq!(created.headers()["cache-control"], "no-store");
        let created = json_with_status(created, 201).await;
        assert_eq!(created["tenant_id"], acme.tenant_id.get());
        assert_eq!(created["confidential"], true);
        assert!(created["client_secret"].as_str().unwrap().len() >= 43);
        let client = client_from(&created);
        let issued = json_with_status(app.client_credentials(&client, None).await, 200).await;
        assert_eq!(crate::helpers::jwt_claims(issued["access_token"].as_str().unwrap())["tenant_id"], acme.tenant_id.get());

        let listed = json_with_status(call_with_token(&app, Method::GET, &path, &token, None).await, 200).await;
        assert!(listed["items"].as_array().unwrap().iter().any(|item| item["client_id"] == created["client_id"]));
        assert!(!listed.to_string().contains(client.secret.as_deref().unwrap()), "never a secret again");
        let one = json_with_status(call_with_token(&app, Method::GET, &format!("{path}/{}", client.id), &token, None).await, 200).await;
        assert!(one.get("client_secret").is_none());
        let foreign = call_with_token(&app, Method::GET, &format!("{path}/{}", globex.client.id), &token, None).await;
        assert_eq!(foreign.status(), 404, "another tenant's client id is unknown here");
        let other_tenant = call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/clients", globex.tenant_id), &token, None).await;
        assert_eq!(other_tenant.status(), 403);

        for (body, error) in [
            (serde_json::json!({"name": "x", "grant_types": ["client_credentials"], "scopes": ["admin"]}), "invalid_request"),
            (serde_json::json!({"name": "x", "grant_types": ["implicit"]}), "invalid_request"),
            (serde_json::json!({"name": "x", "grant_types": ["client_credentials"], "confidential": false}), "invalid_request"),
            (serde_json::json!({"name": "x", "grant_types": ["password"], "scopes": ["bad scope"]}), "invalid_scope"),
            (serde_json::json!({"grant_types": ["password"]}), "invalid_request"),
        ] {
            let refused = json_with_status(call_with_token(&app, Method::POST, &path, &token, Some(body.clone())).await, 400).await;
            assert_eq!(refused["error"], error, "{body}");
        }
        let public = json_with_status(call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"name": "spa", "grant_types": ["password", "refresh_token"], "confidential": false}))).await, 201).await;
        assert_eq!(public["client_secret"], serde_json::Value::Null);
    }

    async fn scopes_resembling_the_servers_own_are_refused_in_every_tenant(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let platform_admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let create = |tenant: TenantId, token: String, scope: &'static str| {
            let app = &app;
            async move {
                let path = format!("/admin/tenants/{tenant}/clients");
                let body = serde_json::json!({"name": "x", "grant_types": ["client_credentials"], "scopes": ["read", scope]});
                call_with_token(app, Method::POST, &path, &token, Some(body)).await
            }
        };
        for scope in ["ADMIN", "Admin", "admin:x", "Platform:x", "platform", "platformx", "PLATFORM:TENANTS", "*", "tenant:admin:x", "Tenant:Admin"] {
            for (tenant, token) in [(acme.tenant_id, &tenant_admin), (TenantId::PLATFORM, &platform_admin)] {
                let refused = json_with_status(create(tenant, token.clone(), scope).await, 400).await;
                assert_eq!(refused["error"], "invalid_request", "{scope} in tenant {tenant}");
                assert!(refused["error_description"].as_str().unwrap().contains("reserved"), "{refused}");
            }
        }
        for scope in ["admin", "platform:tenants"] {
            let refused = json_with_status(create(acme.tenant_id, tenant_admin.clone(), scope).await, 400).await;
            assert!(refused["error_description"].as_str().unwrap().contains("platform tenant only"), "{refused}");
            json_with_status(create(TenantId::PLATFORM, platform_admin.clone(), scope).await, 201).await;
        }
        let created = json_with_status(create(acme.tenant_id, tenant_admin.clone(), "tenant:admin").await, 201).await;
        let issued = json_with_status(app.client_credentials(&client_from(&created), None).await, 200).await;
        assert_eq!(issued["scope"], "read tenant:admin");
    }

    async fn rotating_a_secret_retires_the_old_one_and_keeps_issued_tokens(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let issued = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let path = format!("/admin/tenants/{}/clients/{}/secret", acme.tenant_id, acme.client.id);

        let rotated = call_with_token(&app, Method::POST, &path, &token, None).await;

        assert_eq!(rotated.headers()["cache-control"], "no-store");
        let rotated = json_with_status(rotated, 200).await;
        let renewed = client_from(&rotated);
        assert_ne!(renewed.secret, acme.client.secret);
        assert_eq!(app.client_credentials(&acme.client, None).await.status(), 401, "the old secret is refused");
        json_with_status(app.client_credentials(&renewed, None).await, 200).await;
        assert_eq!(introspect(&app, &renewed, issued["access_token"].as_str().unwrap()).await["active"], true);
        let public = app.provision_client(acme.tenant_id, &[GrantType::Password], "", false).await;
        let refused = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/clients/{}/secret", acme.tenant_id, public.id), &token, None).await;
        assert_eq!(refused.status(), 400);
    }

    async fn deleting_a_client_revokes_it_and_every_token_it_holds(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let observer = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "", true).await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let tokens = issue_some(&app, &acme).await;
        let path = format!("/admin/tenants/{}/clients/{}", acme.tenant_id, acme.client.id);

        let receipt = json_with_status(call_with_token(&app, Method::DELETE, &path, &token, None).await, 200).await;

        assert_eq!(receipt, serde_json::json!({"client_id": acme.client.id, "revoked_access_tokens": 3, "revoked_refresh_tokens": 1}));
        assert!(all_inactive(&app, &observer, &tokens).await);
        assert_eq!(app.client_credentials(&acme.client, None).await.status(), 401);
        let shown = json_with_status(call_with_token(&app, Method::GET, &path, &token, None).await, 200).await;
        assert_eq!(shown["revoked"], true);
        assert_eq!(call_with_token(&app, Method::DELETE, &path, &token, None).await.status(), 404, "deleting twice");
        let clients = json_with_status(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/clients", acme.tenant_id), &token, None).await, 200).await;
        let personal = clients["items"].as_array().unwrap().iter().find(|client| client["personal_access"] == true).unwrap();
        let refused = call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{}/clients/{}", acme.tenant_id, personal["client_id"].as_str().unwrap()), &token, None).await;
        assert_eq!(refused.status(), 400);
    }

    async fn bulk_revocation_by_user_by_client_or_all_returns_counts(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let observer = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "", true).await;
        let token = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let path = format!("/admin/tenants/{}/revoke-tokens", acme.tenant_id);

        let tokens = issue_some(&app, &acme).await;
        let by_user = json_with_status(call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"user_id": acme.user_id}))).await, 200).await;
        assert_eq!(by_user, serde_json::json!({"revoked_access_tokens": 1, "revoked_refresh_tokens": 1}));
        assert!(all_inactive(&app, &observer, &tokens[2..]).await);
        assert!(!all_inactive(&app, &observer, &tokens[..1]).await, "client tokens survive a user revocation");

        let by_client = json_with_status(call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"client_id": acme.client.id}))).await, 200).await;
        assert_eq!(by_client, serde_json::json!({"revoked_access_tokens": 2, "revoked_refresh_tokens": 0}));
        assert!(all_inactive(&app, &observer, &tokens).await);

        let fresh = issue_some(&app, &acme).await;
        let all = json_with_status(call_with_token(&app, Method::POST, &path, &token, None).await, 200).await;
        assert_eq!(all["revoked_refresh_tokens"], 1);
        assert!(all["revoked_access_tokens"].as_u64().unwrap() >= 3);
        assert!(all_inactive(&app, &observer, &fresh).await);
        json_with_status(app.client_credentials(&acme.client, None).await, 200).await;

        let both = call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"user_id": 1, "client_id": "x"}))).await;
        assert_eq!(both.status(), 400);
    }
}

both_backends! {
    async fn the_token_listing_shows_metadata_filtered_and_paginated_never_a_value(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let tokens = issue_some(&app, &acme).await;
        let revoke = app.http.post(app.url("/oauth/revoke")).basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&[("token", tokens[0].as_str())]).send().await.unwrap();
        assert_eq!(revoke.status(), 200);
        let path = format!("/admin/tenants/{}/tokens", acme.tenant_id);

        let all = json_with_status(call_with_token(&app, Method::GET, &path, &token, None).await, 200).await;
        let items = all["items"].as_array().unwrap();
        assert_eq!(items.len(), 4, "three of the client, plus the admin's own: {all}");
        for value in &tokens {
            assert!(!all.to_string().contains(value.as_str()), "no token value in the listing");
        }
        let active = json_with_status(call_with_token(&app, Method::GET, &format!("{path}?active=true&client_id={}", acme.client.id), &token, None).await, 200).await;
        assert_eq!(active["items"].as_array().unwrap().len(), 2);
        let inactive = json_with_status(call_with_token(&app, Method::GET, &format!("{path}?active=false"), &token, None).await, 200).await;
        assert_eq!(inactive["items"].as_array().unwrap().len(), 1);
        assert_eq!(inactive["items"][0]["active"], false);
        let users = json_with_status(call_with_token(&app, Method::GET, &format!("{path}?user_id={}", acme.user_id), &token, None).await, 200).await;
        assert_eq!(users["items"].as_array().unwrap().len(), 1);
        assert_eq!(users["items"][0]["kind"], "password");

        let first = json_with_status(call_with_token(&app, Method::GET, &format!("{path}?limit=3"), &token, None).await, 200).await;
        let after = first["next"].as_str().unwrap();
        let rest = json_with_status(call_with_token(&app, Method::GET, &format!("{path}?limit=3&after={after}"), &token, None).await, 200).await;
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest["next"], serde_json::Value::Null);
        assert_eq!(call_with_token(&app, Method::GET, &format!("{path}?active=maybe"), &token, None).await.status(), 400);
    }
}

both_backends! {
    async fn a_tenant_admin_is_refused_every_endpoint_of_another_tenant_alike(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let client = &globex.client.id;
        let user = globex.user_id;
        let endpoints = |tenant: i64| -> Vec<(Method, String, Option<serde_json::Value>)> {
            vec![
                (Method::GET, format!("/admin/tenants/{tenant}"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/suspend"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/activate"), None),
                (Method::DELETE, format!("/admin/tenants/{tenant}"), None),
                (Method::GET, format!("/admin/tenants/{tenant}/audit-events"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/clients"), Some(serde_json::json!({"name": "x", "grant_types": ["password"]}))),
                (Method::GET, format!("/admin/tenants/{tenant}/clients"), None),
                (Method::GET, format!("/admin/tenants/{tenant}/clients/{client}"), None),
                (Method::DELETE, format!("/admin/tenants/{tenant}/clients/{client}"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/clients/{client}/secret"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/users"), Some(serde_json::json!({"username": "x", "password": "long-enough"}))),
                (Method::GET, format!("/admin/tenants/{tenant}/users"), None),
                (Method::PUT, format!("/admin/tenants/{tenant}/users/{user}/password"), Some(serde_json::json!({"password": "long-enough"}))),
                (Method::POST, format!("/admin/tenants/{tenant}/users/{user}/disable"), None),
                (Method::DELETE, format!("/admin/tenants/{tenant}/users/{user}"), None),
                (Method::GET, format!("/admin/tenants/{tenant}/tokens"), None),
                (Method::POST, format!("/admin/tenants/{tenant}/revoke-tokens"), None),
            ]
        };

        let existing = endpoints(globex.tenant_id.get());
        let missing = endpoints(999);
        for ((method, path, body), (_, missing_path, missing_body)) in existing.into_iter().zip(missing) {
            let response = call_with_token(&app, method.clone(), &path, &token, body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 403, "{method} {path}: {text}");
            assert!(text.contains(r#""error":"forbidden""#), "{method} {path}: {text}");
            let unknown = call_with_token(&app, method.clone(), &missing_path, &token, missing_body).await;
            assert_eq!(unknown.status(), 403, "{method} {missing_path}");
            assert_eq!(unknown.text().await.unwrap(), text, "{method}: another tenant and no tenant look alike");
        }
        // Nothing of globex changed.
        json_with_status(app.client_credentials(&globex.client, None).await, 200).await;
        json_with_status(app.password_grant(&globex, None).await, 200).await;
    }
}
