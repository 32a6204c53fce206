//! RFC 7009 revocation: both cascade directions and the three ownership cases.

use tenauth::domain::GrantType;

use crate::helpers::{json_with_status, spawn_app, TestApp, TestClient};
use crate::introspection::introspect;

async fn revoke(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn is_active(app: &TestApp, caller: &TestClient, token: &str) -> bool {
    introspect(app, caller, token).await["active"] == true
}

both_backends! {
    async fn revoking_an_access_token_revokes_the_refresh_token_issued_with_it(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let other = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let (access, refresh) = (login["access_token"].as_str().unwrap(), login["refresh_token"].as_str().unwrap());

        let response = revoke(&app, &acme.client, &[("token", access), ("token_type_hint", "access_token")]).await;

        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(!is_active(&app, &acme.client, access).await);
        assert!(!is_active(&app, &acme.client, refresh).await, "cascades to its refresh token");
        assert_eq!(json_with_status(app.refresh(&acme.client, refresh, None).await, 400).await["error"], "invalid_grant");
        assert!(is_active(&app, &acme.client, other["access_token"].as_str().unwrap()).await, "another grant is untouched");
        assert!(is_active(&app, &acme.client, other["refresh_token"].as_str().unwrap()).await);
    }

    async fn revoking_a_refresh_token_revokes_its_family_and_their_access_tokens(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let first = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let second = json_with_status(app.refresh(&acme.client, first["refresh_token"].as_str().unwrap(), None).await, 200).await;

        // The hint is wrong on purpose: the search covers both types.
        let response = revoke(&app, &acme.client, &[("token", second["refresh_token"].as_str().unwrap()), ("token_type_hint", "access_token")]).await;

        assert_eq!(response.status(), 200);
        for token in [&first["access_token"], &second["access_token"], &second["refresh_token"]] {
            assert!(!is_active(&app, &acme.client, token.as_str().unwrap()).await, "{token}");
        }
    }

    async fn a_client_revokes_only_its_own_tokens(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let sibling = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let access = login["access_token"].as_str().unwrap();
        let refresh = login["refresh_token"].as_str().unwrap();

        for token in [access, refresh] {
            let response = revoke(&app, &sibling, &[("token", token)]).await;
            assert_eq!(json_with_status(response, 400).await["error"], "unauthorized_client");
            let foreign = revoke(&app, &globex.client, &[("token", token)]).await;
            assert_eq!(foreign.status(), 200, "another tenant's token looks unknown");
            assert_eq!(foreign.text().await.unwrap(), "");
        }

        assert!(is_active(&app, &acme.client, access).await, "untouched");
        assert!(is_active(&app, &acme.client, refresh).await, "untouched");
    }

    async fn unknown_garbage_and_already_revoked_tokens_are_200(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = json_with_status(app.client_credentials(&acme.client, None).await, 200).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(revoke(&app, &acme.client, &[("token", &token)]).await.status(), 200);

        for presented in [token.as_str(), "garbage", "a.b.c", "x".repeat(5000).as_str()] {
            assert_eq!(revoke(&app, &acme.client, &[("token", presented)]).await.status(), 200);
        }
        let missing = revoke(&app, &acme.client, &[("token_type_hint", "refresh_token")]).await;
        assert_eq!(json_with_status(missing, 400).await["error"], "invalid_request");
        let unauthenticated = app.http.post(app.url("/oauth/revoke")).form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(unauthenticated.status(), 401);
    }

    async fn oauth_me_describes_the_bearer_token_and_refuses_a_mismatching_tenant_header(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, Some("read")).await, 200).await;
        let token = login["access_token"].as_str().unwrap();

        let me = json_with_status(app.get_with_token("/oauth/me", token).await, 200).await;

        assert_eq!(me["sub"], acme.user_id.to_string());
        assert_eq!(me["tenant_id"], acme.tenant_id.get());
        assert_eq!(me["client_id"], acme.client.id);
        assert_eq!(me["scope"], "read");
        assert_eq!(me["token_kind"], "access");
        assert!(me["exp"].is_i64());

        let matching = app.http.get(app.url("/oauth/me")).bearer_auth(token).header("X-Tenant-ID", acme.tenant_id.to_string()).send().await.unwrap();
        assert_eq!(matching.status(), 200);
        let mismatch = app.http.get(app.url("/oauth/me")).bearer_auth(token).header("X-Tenant-ID", "999").send().await.unwrap();
        let body = json_with_status(mismatch, 403).await;
        assert_eq!(body, serde_json::json!({"error": "forbidden", "error_description": "the request is not allowed"}));

        assert_eq!(revoke(&app, &acme.client, &[("token", token)]).await.status(), 200);
        let revoked = app.get_with_token("/oauth/me", token).await;
        assert_eq!(revoked.status(), 401);
        assert_eq!(revoked.headers()["www-authenticate"], r#"Bearer realm="tenauth", error="invalid_token""#);
    }
}
