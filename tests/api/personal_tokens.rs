//! Personal access tokens, and the bearer-token guard that protects their endpoints.

use crate::helpers::{json_with_status, jwt_claims, spawn_app, Fixture, TestApp};

async fn user_token(app: &TestApp, fixture: &Fixture) -> String {
    let body = json_with_status(app.password_grant(fixture, None).await, 200).await;
    body["access_token"].as_str().unwrap().to_owned()
}

async fn create(app: &TestApp, token: &str, body: serde_json::Value) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/personal-access-tokens"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn a_user_creates_lists_and_revokes_a_personal_access_token(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = user_token(&app, &acme).await;

        let created = json_with_status(create(&app, &token, serde_json::json!({"name": "ci", "scopes": ["read"]})).await, 201).await;

        let personal = created["access_token"].as_str().unwrap();
        let claims = jwt_claims(personal);
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], acme.user_id.to_string());
        assert_eq!(claims["jti"], created["id"]);
        assert_eq!(created["scopes"], serde_json::json!(["read"]));
        assert_eq!(created["name"], "ci");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert_eq!(lifetime, 365 * 86_400);
        assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));

        let listed = json_with_status(app.get_with_token("/oauth/personal-access-tokens", personal).await, 200).await;
        let tokens = listed["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0]["id"], created["id"]);
        assert_eq!(tokens[0]["revoked"], false);
        assert!(!listed.to_string().contains(personal), "the list never shows a token value");

        let id = created["id"].as_str().unwrap();
        let deleted = app.http.delete(app.url(&format!("/oauth/personal-access-tokens/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", personal).await.status(), 401);
        let listed = json_with_status(app.get_with_token("/oauth/personal-access-tokens", &token).await, 200).await;
        assert_eq!(listed["tokens"][0]["revoked"], true);
    }

    async fn a_personal_token_outlives_the_client_its_owner_signed_in_with_but_not_the_owner(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = user_token(&app, &acme).await;
        let created = json_with_status(create(&app, &token, serde_json::json!({"name": "ci"})).await, 201).await;
        let personal = created["access_token"].as_str().unwrap().to_owned();
        let admin = crate::helpers::admin_token(&app, acme.tenant_id, "tenant:admin").await;

        let deleted = crate::helpers::call_with_token(&app, reqwest::Method::DELETE, &format!("/admin/tenants/{}/clients/{}", acme.tenant_id, acme.client.id), &admin, None).await;
        json_with_status(deleted, 200).await;

        assert_eq!(app.get_with_token("/oauth/me", &token).await.status(), 401, "the sign-in's own token is revoked with its client");
        let me = json_with_status(app.get_with_token("/oauth/me", &personal).await, 200).await;
        assert_eq!(me["token_kind"], "personal", "the personal token belongs to the personal-access client: it stays");

        let removed = crate::helpers::call_with_token(&app, reqwest::Method::DELETE, &format!("/admin/tenants/{}/users/{}", acme.tenant_id, acme.user_id), &admin, None).await;
        assert!(removed.status().is_success());
        assert_eq!(app.get_with_token("/oauth/me", &personal).await.status(), 401, "deleting the owner revokes it");
    }

    async fn personal_token_scopes_are_limited_to_the_callers_token(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let body = json_with_status(app.password_grant(&acme, Some("read")).await, 200).await;
        let token = body["access_token"].as_str().unwrap();

        let wider = json_with_status(create(&app, token, serde_json::json!({"name": "x", "scopes": ["read", "write"]})).await, 400).await;
        assert_eq!(wider["error"], "invalid_scope");
        let no_name = json_with_status(create(&app, token, serde_json::json!({"name": "  ", "scopes": []})).await, 400).await;
        assert_eq!(no_name["error"], "invalid_request");
        let not_json = app.http.post(app.url("/oauth/personal-access-tokens")).bearer_auth(token).body("name=x").send().await.unwrap();
        assert_eq!(json_with_status(not_json, 400).await["error"], "invalid_request");
    }

    async fn only_a_users_token_manages_personal_tokens_and_only_its_own(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let alice = user_token(&app, &acme).await;
        let created = json_with_status(create(&app, &alice, serde_json::json!({"name": "ci", "scopes": []})).await, 201).await;
        let id = created["id"].as_str().unwrap();
        app.provision_user(acme.tenant_id, "bob", "bob-password").await;
        let bob_fixture = Fixture { username: "bob".into(), password: "bob-password".into(), ..acme };
        let bob = user_token(&app, &bob_fixture).await;
        let machine = json_with_status(app.client_credentials(&bob_fixture.client, None).await, 200).await;

        let forbidden = create(&app, machine["access_token"].as_str().unwrap(), serde_json::json!({"name": "x"})).await;
        assert_eq!(json_with_status(forbidden, 403).await["error"], "forbidden");
        let others = app.http.delete(app.url(&format!("/oauth/personal-access-tokens/{id}"))).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(json_with_status(others, 404).await["error"], "not_found");
        let listed = json_with_status(app.get_with_token("/oauth/personal-access-tokens", &bob).await, 200).await;
        assert_eq!(listed["tokens"].as_array().unwrap().len(), 0);
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", created["access_token"].as_str().unwrap()).await.status(), 200, "alice's token still works");
    }

    async fn the_bearer_guard_answers_rfc6750_challenges(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = user_token(&app, &acme).await;

        let missing = app.get("/oauth/personal-access-tokens").await;
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()["www-authenticate"], r#"Bearer realm="tenauth""#);

        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        for bad in ["garbage", "a.b.c", tampered.as_str()] {
            let response = app.get_with_token("/oauth/personal-access-tokens", bad).await;
            assert_eq!(response.status(), 401, "{bad}");
            assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="tenauth", error="invalid_token""#);
        }

        let mismatch = app.http.get(app.url("/oauth/personal-access-tokens")).bearer_auth(&token).header("X-Tenant-ID", "1").send().await.unwrap();
        let body = json_with_status(mismatch, 403).await;
        assert_eq!(body["error"], "forbidden");
        assert!(!body.to_string().contains(&acme.tenant_id.to_string()), "never names a tenant: {body}");
        let matching = app.http.get(app.url("/oauth/personal-access-tokens")).bearer_auth(&token)
            .header("X-Tenant-ID", acme.tenant_id.to_string()).send().await.unwrap();
        assert_eq!(matching.status(), 200);
    }

    async fn an_expired_access_token_is_refused(db) {
        let mut settings = crate::helpers::test_settings(&db);
        settings.access_token_ttl = std::time::Duration::from_secs(2);
        let app = crate::helpers::spawn_app_with(db, settings).await;
        let acme = app.provision_tenant("acme").await;
        let token = user_token(&app, &acme).await;
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", &token).await.status(), 200);

        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;

        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", &token).await.status(), 401);
    }
}
