//! The admin API's tenant lifecycle: who may call it, creation, suspension, deletion.

use diesel::prelude::*;
use tenauth::db::schema::{oauth_access_tokens, oauth_clients, oauth_refresh_tokens};
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{json_with_status, spawn_app, TestApp, TestClient};
use crate::introspection::introspect;

/// A platform admin's access token, and the client that got it.
async fn platform_admin(app: &TestApp) -> (TestClient, String) {
    let client = app
        .provision_client(
            TenantId::PLATFORM,
            &[GrantType::ClientCredentials],
            "admin",
            true,
        )
        .await;
    let body = json_with_status(app.client_credentials(&client, Some("admin")).await, 200).await;
    (client, body["access_token"].as_str().unwrap().to_owned())
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn count_live(app: &TestApp, tenant_id: TenantId) -> (i64, i64, i64) {
    let tenant = tenant_id.get();
    app.database
        .read(move |conn| {
            let access = oauth_access_tokens::table
                .filter(oauth_access_tokens::tenant_id.eq(tenant))
                .filter(oauth_access_tokens::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            let refresh = oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::tenant_id.eq(tenant))
                .filter(oauth_refresh_tokens::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            let clients = oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant))
                .filter(oauth_clients::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            Ok::<_, tenauth::db::DbError>((access, refresh, clients))
        })
        .unwrap()
}

both_backends! {
    async fn the_admin_api_needs_a_token_with_an_admin_scope(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let plain = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let tenant_admin_client = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "tenant:admin", true).await;
        let tenant_admin = json_with_status(app.client_credentials(&tenant_admin_client, None).await, 200).await;

        let missing = call(&app, reqwest::Method::GET, "/admin/tenants", None, None).await;
        assert_eq!(missing.status(), 401);
        let no_scope = call(&app, reqwest::Method::GET, "/admin/tenants", plain["access_token"].as_str(), None).await;
        assert_eq!(no_scope.status(), 403);
        assert!(no_scope.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
        assert_eq!(json_with_status(no_scope, 403).await["error"], "insufficient_scope");
        for (method, path) in [(reqwest::Method::GET, "/admin/tenants"), (reqwest::Method::POST, "/admin/tenants/2/suspend"), (reqwest::Method::DELETE, "/admin/tenants/2")] {
            let refused = call(&app, method, path, tenant_admin["access_token"].as_str(), None).await;
            assert_eq!(json_with_status(refused, 403).await["error"], "forbidden", "a tenant admin cannot {path}");
        }
        let create = call(&app, reqwest::Method::POST, "/admin/tenants", tenant_admin["access_token"].as_str(), Some(serde_json::json!({"slug": "x-corp", "name": "X"}))).await;
        assert_eq!(create.status(), 403);
    }

    async fn a_platform_admin_creates_lists_and_reads_tenants(db) {
        let app = spawn_app(db).await;
        let (_, token) = platform_admin(&app).await;

        let created = json_with_status(call(&app, reqwest::Method::POST, "/admin/tenants", Some(&token), Some(serde_json::json!({"slug": "acme-1", "name": "Acme"}))).await, 201).await;

        assert_eq!(created["slug"], "acme-1");
        assert_eq!(created["name"], "Acme");
        assert_eq!(created["status"], "active");
        assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
        let id = created["id"].as_i64().unwrap();
        for (body, status) in [
            (serde_json::json!({"slug": "acme-1", "name": "Again"}), 409),
            (serde_json::json!({"slug": "Acme", "name": "x"}), 400),
            (serde_json::json!({"slug": "ab", "name": "x"}), 400),
            (serde_json::json!({"slug": "a_b_c", "name": "x"}), 400),
            (serde_json::json!({"slug": "x".repeat(64), "name": "x"}), 400),
            (serde_json::json!({"name": "no slug"}), 400),
        ] {
            let response = call(&app, reqwest::Method::POST, "/admin/tenants", Some(&token), Some(body.clone())).await;
            assert_eq!(response.status(), status, "{body}");
            let answer: serde_json::Value = response.json().await.unwrap();
            assert!(answer["error"].is_string() && answer["error_description"].is_string(), "{answer}");
        }
        let one = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{id}"), Some(&token), None).await, 200).await;
        assert_eq!(one, created);
        assert_eq!(call(&app, reqwest::Method::GET, "/admin/tenants/999", Some(&token), None).await.status(), 404);
        assert_eq!(call(&app, reqwest::Method::GET, "/admin/tenants/not-a-number", Some(&token), None).await.status(), 404);

        let first_page = json_with_status(call(&app, reqwest::Method::GET, "/admin/tenants?limit=1", Some(&token), None).await, 200).await;
        assert_eq!(first_page["items"].as_array().unwrap().len(), 1);
        assert_eq!(first_page["items"][0]["id"], 1, "the platform tenant comes first");
        let next = first_page["next"].as_i64().unwrap();
        let second_page = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants?limit=1&after={next}"), Some(&token), None).await, 200).await;
        assert_eq!(second_page["items"][0]["id"], id);
        assert_eq!(call(&app, reqwest::Method::GET, "/admin/tenants?limit=0", Some(&token), None).await.status(), 400);

        let audit = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{id}/audit-events"), Some(&token), None).await, 200).await;
        assert_eq!(audit["items"][0]["action"], "tenant.create");
        assert!(audit["items"][0]["actor"].as_str().unwrap().starts_with("client:"));
    }

    async fn a_tenant_admin_reaches_its_own_tenant_only(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let client = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "tenant:admin", true).await;
        let token = json_with_status(app.client_credentials(&client, None).await, 200).await["access_token"].as_str().unwrap().to_owned();

        let own = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{}", acme.tenant_id), Some(&token), None).await, 200).await;
        assert_eq!(own["slug"], "acme");
        let existing = call(&app, reqwest::Method::GET, &format!("/admin/tenants/{}", globex.tenant_id), Some(&token), None).await;
        let missing = call(&app, reqwest::Method::GET, "/admin/tenants/999", Some(&token), None).await;
        assert_eq!(existing.status(), 403);
        assert_eq!(missing.status(), 403);
        assert_eq!(existing.text().await.unwrap(), missing.text().await.unwrap(), "no difference between another tenant and none");
        let audit = call(&app, reqwest::Method::GET, &format!("/admin/tenants/{}/audit-events", globex.tenant_id), Some(&token), None).await;
        assert_eq!(audit.status(), 403);
    }

    async fn a_tenants_admins_and_the_platform_set_whether_platform_staff_may_act_there(db) {
        use reqwest::Method;
        let app = spawn_app(db).await;
        let (_, platform) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let admin_of = |tenant_id: TenantId| {
            let app = &app;
            async move {
                let client = app.provision_client(tenant_id, &[GrantType::ClientCredentials], "tenant:admin", true).await;
                let token = json_with_status(app.client_credentials(&client, None).await, 200).await["access_token"].as_str().unwrap().to_owned();
                (client, token)
            }
        };
        let (acme_admin_client, acme_admin) = admin_of(acme.tenant_id).await;
        let (_, globex_admin) = admin_of(globex.tenant_id).await;
        let acme_path = format!("/admin/tenants/{}", acme.tenant_id);
        let patch = |token: String, path: String, body: serde_json::Value| {
            let app = &app;
            async move { call(app, Method::PATCH, &path, Some(&token), Some(body)).await }
        };
        let audited = || {
            let (app, path, token) = (&app, format!("{acme_path}/audit-events"), acme_admin.clone());
            async move {
                let trail = json_with_status(call(app, Method::GET, &path, Some(&token), None).await, 200).await;
                trail["items"].as_array().unwrap().iter().filter(|event| event["action"] == "tenant.platform_access").cloned().collect::<Vec<_>>()
            }
        };

        let shown = json_with_status(call(&app, Method::GET, &acme_path, Some(&acme_admin), None).await, 200).await;
        assert_eq!(shown["platform_access"], true, "on by default");

        // The tenant's own admin turns it off: answered, shown, audited once however often it is said.
        let changed = json_with_status(patch(acme_admin.clone(), acme_path.clone(), serde_json::json!({"platform_access": false})).await, 200).await;
        assert_eq!(changed["platform_access"], false);
        assert_eq!(changed["slug"], "acme");
        let again = json_with_status(patch(acme_admin.clone(), acme_path.clone(), serde_json::json!({"platform_access": false})).await, 200).await;
        assert_eq!(again["platform_access"], false);
        let shown = json_with_status(call(&app, Method::GET, &acme_path, Some(&platform), None).await, 200).await;
        assert_eq!(shown["platform_access"], false, "the platform sees the tenant's choice");
        let events = audited().await;
        assert_eq!(events.len(), 1, "one change, one audit event: {events:?}");
        assert_eq!(events[0]["actor"], format!("client:{}", acme_admin_client.id));
        assert_eq!(events[0]["details"]["platform_access"], false);

        // An empty merge patch changes nothing.
        let unchanged = json_with_status(patch(acme_admin.clone(), acme_path.clone(), serde_json::json!({})).await, 200).await;
        assert_eq!(unchanged["platform_access"], false);

        // Nobody else's admin, no token without an admin scope, no malformed body.
        assert_eq!(patch(globex_admin.clone(), acme_path.clone(), serde_json::json!({"platform_access": true})).await.status(), 403, "another tenant's admin");
        let reader = crate::helpers::admin_token(&app, acme.tenant_id, "read").await;
        assert_eq!(patch(reader, acme_path.clone(), serde_json::json!({"platform_access": true})).await.status(), 403, "a token without an admin scope");
        for (body, case) in [
            (serde_json::json!({"platform_access": "no"}), "not a boolean"),
            (serde_json::json!({"platform_access": true, "status": "deleted"}), "an unknown member"),
            (serde_json::json!({"name": "Renamed"}), "a member that cannot be patched"),
            (serde_json::json!([true]), "not an object"),
        ] {
            let refused = patch(acme_admin.clone(), acme_path.clone(), body).await;
            assert_eq!(refused.status(), 400, "{case}");
            assert_eq!(json_with_status(refused, 400).await["error"], "invalid_request", "{case}");
        }
        let shown = json_with_status(call(&app, Method::GET, &acme_path, Some(&acme_admin), None).await, 200).await;
        assert_eq!(shown["platform_access"], false, "refused changes lost nothing");

        // A platform admin may turn it back on; the platform tenant has no such setting.
        let restored = json_with_status(patch(platform.clone(), acme_path.clone(), serde_json::json!({"platform_access": true})).await, 200).await;
        assert_eq!(restored["platform_access"], true);
        assert_eq!(audited().await.len(), 2);
        let own = patch(platform.clone(), format!("/admin/tenants/{}", TenantId::PLATFORM), serde_json::json!({"platform_access": false})).await;
        assert_eq!(json_with_status(own, 400).await["error"], "invalid_request");
        // A deleted tenant has no settings left to change.
        let globex_path = format!("/admin/tenants/{}", globex.tenant_id);
        assert_eq!(call(&app, Method::DELETE, &globex_path, Some(&platform), None).await.status(), 200);
        assert_eq!(patch(platform.clone(), globex_path.clone(), serde_json::json!({"platform_access": false})).await.status(), 404);
        assert_eq!(patch(platform.clone(), globex_path, serde_json::json!({})).await.status(), 404, "not even an empty patch");
    }

    async fn the_platforms_audit_trail_is_apart_from_every_tenants(db) {
        use reqwest::Method;
        let app = spawn_app(db).await;
        let (_, platform) = platform_admin(&app).await;
        let created = json_with_status(call(&app, Method::POST, "/admin/tenants", Some(&platform), Some(serde_json::json!({"slug": "acme", "name": "Acme"}))).await, 201).await;
        let acme = created["id"].as_i64().unwrap();
        let client = serde_json::json!({"name": "ops", "grant_types": ["client_credentials"], "scopes": ["admin"], "confidential": true});
        json_with_status(call(&app, Method::POST, &format!("/admin/tenants/{}/clients", TenantId::PLATFORM), Some(&platform), Some(client.clone())).await, 201).await;
        let tenant_client = serde_json::json!({"name": "svc", "grant_types": ["client_credentials"], "scopes": ["read"], "confidential": true});
        json_with_status(call(&app, Method::POST, &format!("/admin/tenants/{acme}/clients"), Some(&platform), Some(tenant_client)).await, 201).await;

        let trail = |path: String, token: String| {
            let app = &app;
            async move {
                let page = json_with_status(call(app, Method::GET, &path, Some(&token), None).await, 200).await;
                page["items"].as_array().unwrap().iter().map(|event| (event["action"].as_str().unwrap().to_owned(), event["tenant_id"].as_i64().unwrap())).collect::<Vec<_>>()
            }
        };
        let platform_trail = trail("/admin/audit-events".to_owned(), platform.clone()).await;
        // The platform admin's own client (provisioned through the lifecycle), then "ops".
        assert_eq!(platform_trail, vec![("client.create".to_owned(), TenantId::PLATFORM.get()); 2], "the platform's own changes only");
        let acme_trail = trail(format!("/admin/tenants/{acme}/audit-events"), platform.clone()).await;
        assert_eq!(acme_trail, vec![("client.create".to_owned(), acme), ("tenant.create".to_owned(), acme)], "the tenant's, newest first");

        // Paged like a tenant's; only platform admins read it.
        let first = json_with_status(call(&app, Method::GET, "/admin/audit-events?limit=1", Some(&platform), None).await, 200).await;
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        let tenant_admin = crate::helpers::admin_token(&app, TenantId::new(acme), "tenant:admin").await;
        assert_eq!(call(&app, Method::GET, "/admin/audit-events", Some(&tenant_admin), None).await.status(), 403);
        assert_eq!(call(&app, Method::GET, "/admin/audit-events", None, None).await.status(), 401);
        assert_eq!(call(&app, Method::GET, "/admin/audit-events?limit=0", Some(&platform), None).await.status(), 400);
    }

    async fn suspension_makes_a_tenants_tokens_inactive_until_activation(db) {
        let app = spawn_app(db).await;
        let (platform, token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let live = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let revoked = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let response = app.http.post(app.url("/oauth/revoke")).basic_auth(&acme.client.id, acme.client.secret.as_deref()).form(&[("token", revoked["access_token"].as_str().unwrap())]).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let path = format!("/admin/tenants/{}", acme.tenant_id);

        let suspended = json_with_status(call(&app, reqwest::Method::POST, &format!("{path}/suspend"), Some(&token), None).await, 200).await;

        assert_eq!(suspended["status"], "suspended");
        assert!(suspended["suspended_at"].is_string());
        for token in [&live["access_token"], &live["refresh_token"]] {
            assert_eq!(introspect(&app, &platform, token.as_str().unwrap()).await["active"], false);
        }
        assert_eq!(app.client_credentials(&acme.client, None).await.status(), 401, "grants fail as invalid_client");
        assert_eq!(count_live(&app, acme.tenant_id).0, 1, "suspension revokes nothing");

        let active = json_with_status(call(&app, reqwest::Method::POST, &format!("{path}/activate"), Some(&token), None).await, 200).await;

        assert_eq!(active["status"], "active");
        assert_eq!(active["suspended_at"], serde_json::Value::Null);
        for token in [&live["access_token"], &live["refresh_token"]] {
            assert_eq!(introspect(&app, &platform, token.as_str().unwrap()).await["active"], true, "restored");
        }
        assert_eq!(introspect(&app, &platform, revoked["access_token"].as_str().unwrap()).await["active"], false, "a revoked token stays revoked");
        assert_eq!(call(&app, reqwest::Method::POST, "/admin/tenants/1/suspend", Some(&token), None).await.status(), 400);
        assert_eq!(call(&app, reqwest::Method::POST, "/admin/tenants/999/suspend", Some(&token), None).await.status(), 404);
        let audit = json_with_status(call(&app, reqwest::Method::GET, &format!("{path}/audit-events"), Some(&token), None).await, 200).await;
        let actions: Vec<_> = audit["items"].as_array().unwrap().iter().map(|event| event["action"].as_str().unwrap().to_owned()).collect();
        assert_eq!(&actions[..2], ["tenant.activate", "tenant.suspend"], "newest first: {actions:?}");
    }

    async fn deleting_a_tenant_revokes_every_token_and_client_and_returns_a_receipt(db) {
        let app = spawn_app(db).await;
        let (platform, token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let mut issued = Vec::new();
        for _ in 0..3 {
            issued.push(json_with_status(app.client_credentials(&acme.client, None).await, 200).await);
        }
        for _ in 0..2 {
            issued.push(json_with_status(app.password_grant(&acme, None).await, 200).await);
        }
        let bystander = json_with_status(app.client_credentials(&globex.client, None).await, 200).await;
        let (access, refresh, clients) = count_live(&app, acme.tenant_id);
        assert_eq!((access, refresh, clients), (5, 2, 2));

        let receipt = json_with_status(call(&app, reqwest::Method::DELETE, &format!("/admin/tenants/{}", acme.tenant_id), Some(&token), None).await, 200).await;

        assert_eq!(receipt["id"], acme.tenant_id.get());
        assert!(receipt["deleted_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(receipt["revoked_access_tokens"], access);
        assert_eq!(receipt["revoked_refresh_tokens"], refresh);
        assert_eq!(receipt["revoked_clients"], clients);
        assert_eq!(count_live(&app, acme.tenant_id), (0, 0, 0), "not one row of the tenant is left unrevoked");
        for body in &issued {
            for field in ["access_token", "refresh_token"] {
                if let Some(token) = body[field].as_str() {
                    assert_eq!(introspect(&app, &platform, token).await["active"], false);
                }
            }
        }
        assert_eq!(introspect(&app, &platform, bystander["access_token"].as_str().unwrap()).await["active"], true, "another tenant is untouched");
        let shown = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{}", acme.tenant_id), Some(&token), None).await, 200).await;
        assert_eq!(shown["status"], "deleted");
        assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/admin/tenants/{}", acme.tenant_id), Some(&token), None).await.status(), 404, "deleting twice");
        assert_eq!(call(&app, reqwest::Method::POST, &format!("/admin/tenants/{}/activate", acme.tenant_id), Some(&token), None).await.status(), 404, "a deleted tenant stays deleted");
        assert_eq!(call(&app, reqwest::Method::DELETE, "/admin/tenants/1", Some(&token), None).await.status(), 400);
        let audit = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{}/audit-events", acme.tenant_id), Some(&token), None).await, 200).await;
        assert_eq!(audit["items"][0]["action"], "tenant.delete");
        assert_eq!(audit["items"][0]["details"]["revoked_access_tokens"], access);
    }
}

/// Issues tokens of every kind (client credentials, password, refresh, personal) for
/// `fixture` from four tasks while `change` runs after a moment; returns every token
/// received with a 200 and how many requests were refused. Fails on any 5xx.
async fn issue_during<F: std::future::Future<Output = ()>>(
    app: &std::sync::Arc<TestApp>,
    fixture: &crate::helpers::Fixture,
    change: F,
) -> (Vec<String>, usize) {
    let login = json_with_status(app.password_grant(fixture, None).await, 200).await;
    let user_token = login["access_token"].as_str().unwrap().to_owned();
    let mut issuers = Vec::new();
    for kind in 0..4 {
        let (app, client, user_token) = (app.clone(), fixture.client.clone(), user_token.clone());
        let (username, password) = (fixture.username.clone(), fixture.password.clone());
        let mut refresh_token = login["refresh_token"].as_str().unwrap().to_owned();
        issuers.push(tokio::spawn(async move {
            let (mut received, mut refused) = (Vec::new(), 0);
            for _ in 0..40 {
                let response = match kind {
                    0 => app.client_credentials(&client, None).await,
                    1 => {
                        app.token(
                            &[
                                ("grant_type", "password"),
                                ("username", &username),
                                ("password", &password),
                            ],
                            Some(client.basic()),
                        )
                        .await
                    }
                    2 => app.refresh(&client, &refresh_token, None).await,
                    _ => app
                        .http
                        .post(app.url("/oauth/personal-access-tokens"))
                        .bearer_auth(&user_token)
                        .json(&serde_json::json!({"name": "race", "scopes": []}))
                        .send()
                        .await
                        .unwrap(),
                };
                assert!(
                    response.status().as_u16() < 500,
                    "no server error during the race"
                );
                if response.status().is_success() {
                    let body: serde_json::Value = response.json().await.unwrap();
                    if let Some(next) = body["refresh_token"].as_str() {
                        if kind == 2 {
                            refresh_token = next.to_owned();
                        }
                        received.push(next.to_owned());
                    }
                    received.push(body["access_token"].as_str().unwrap().to_owned());
                } else {
                    refused += 1;
                }
            }
            (received, refused)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    change.await;
    let (mut received, mut refused) = (
        vec![
            user_token,
            login["refresh_token"].as_str().unwrap().to_owned(),
        ],
        0,
    );
    for issuer in issuers {
        let (tokens, refusals) = issuer.await.unwrap();
        received.extend(tokens);
        refused += refusals;
    }
    assert!(
        received.len() > 2,
        "some tokens were issued before the change"
    );
    assert!(
        refused > 0,
        "the change happened while tokens were being issued"
    );
    (received, refused)
}

async fn assert_none_active(app: &TestApp, caller: &TestClient, tokens: &[String], what: &str) {
    for token in tokens {
        assert_eq!(
            introspect(app, caller, token).await["active"],
            false,
            "{what}: a token is still active"
        );
    }
}

both_backends! {
    async fn no_token_issued_during_a_tenant_deletion_outlives_it(db) {
        let app = std::sync::Arc::new(spawn_app(db).await);
        let (platform, admin_token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let path = format!("/admin/tenants/{}", acme.tenant_id);
        let delete = call(&app, reqwest::Method::DELETE, &path, Some(&admin_token), None);

        let (received, _) = issue_during(&app, &acme, async { assert_eq!(delete.await.status(), 200) }).await;

        assert_eq!(count_live(&app, acme.tenant_id), (0, 0, 0), "not one row of the tenant has revoked_at null");
        assert_none_active(&app, &platform, &received, "tenant deleted").await;
    }

    async fn no_token_issued_during_a_suspension_is_active_while_suspended(db) {
        let app = std::sync::Arc::new(spawn_app(db).await);
        let (platform, admin_token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let path = format!("/admin/tenants/{}/suspend", acme.tenant_id);
        let suspend = call(&app, reqwest::Method::POST, &path, Some(&admin_token), None);

        let (received, _) = issue_during(&app, &acme, async { assert_eq!(suspend.await.status(), 200) }).await;

        assert_none_active(&app, &platform, &received, "tenant suspended").await;
    }

    async fn no_token_issued_during_a_client_deletion_outlives_it(db) {
        let app = std::sync::Arc::new(spawn_app(db).await);
        let (platform, admin_token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let path = format!("/admin/tenants/{}/clients/{}", acme.tenant_id, acme.client.id);
        let delete = call(&app, reqwest::Method::DELETE, &path, Some(&admin_token), None);

        let (received, _) = issue_during(&app, &acme, async { assert_eq!(delete.await.status(), 200) }).await;

        let client_tokens: Vec<String> = received.into_iter().filter(|token| {
            !token.contains('.') || crate::helpers::jwt_claims(token)["client_id"] == acme.client.id
        }).collect();
        assert_none_active(&app, &platform, &client_tokens, "client deleted").await;
        let (client_id, tenant) = (acme.client.id.clone(), acme.tenant_id.get());
        let live: (i64, i64) = app.database.read(move |conn| {
            let access = oauth_access_tokens::table.filter(oauth_access_tokens::tenant_id.eq(tenant)).filter(oauth_access_tokens::client_id.eq(&client_id)).filter(oauth_access_tokens::revoked_at.is_null()).count().get_result(conn)?;
            let refresh = oauth_refresh_tokens::table.filter(oauth_refresh_tokens::tenant_id.eq(tenant)).filter(oauth_refresh_tokens::client_id.eq(&client_id)).filter(oauth_refresh_tokens::revoked_at.is_null()).count().get_result(conn)?;
            Ok::<_, tenauth::db::DbError>((access, refresh))
        }).unwrap();
        assert_eq!(live, (0, 0), "not one row of the client has revoked_at null");
    }

    async fn no_token_issued_during_a_user_deletion_outlives_it(db) {
        let app = std::sync::Arc::new(spawn_app(db).await);
        let (platform, admin_token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        let path = format!("/admin/tenants/{}/users/{}", acme.tenant_id, acme.user_id);
        let delete = call(&app, reqwest::Method::DELETE, &path, Some(&admin_token), None);

        let (received, _) = issue_during(&app, &acme, async { assert_eq!(delete.await.status(), 200) }).await;

        let subject = acme.user_id.to_string();
        let user_tokens: Vec<String> = received.into_iter().filter(|token| {
            !token.contains('.') || crate::helpers::jwt_claims(token)["sub"] == subject.as_str()
        }).collect();
        assert_none_active(&app, &platform, &user_tokens, "user deleted").await;
        let (user_id, tenant) = (acme.user_id, acme.tenant_id.get());
        let live: (i64, i64) = app.database.read(move |conn| {
            let access = oauth_access_tokens::table.filter(oauth_access_tokens::tenant_id.eq(tenant)).filter(oauth_access_tokens::user_id.eq(user_id)).filter(oauth_access_tokens::revoked_at.is_null()).count().get_result(conn)?;
            let refresh = oauth_refresh_tokens::table.filter(oauth_refresh_tokens::tenant_id.eq(tenant)).filter(oauth_refresh_tokens::user_id.eq(user_id)).filter(oauth_refresh_tokens::revoked_at.is_null()).count().get_result(conn)?;
            Ok::<_, tenauth::db::DbError>((access, refresh))
        }).unwrap();
        assert_eq!(live, (0, 0), "not one row of the user has revoked_at null");
    }
}

both_backends! {
    async fn erasing_a_deleted_tenant_leaves_nothing_of_it_but_one_audit_event(db) {
        let app = spawn_app(db).await;
        let (_, token) = platform_admin(&app).await;
        let acme = app.provision_tenant("acme").await;
        json_with_status(app.password_grant(&acme, None).await, 200).await;
        json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let url = match &app.db.url {
            tenauth::config::DatabaseUrl::Postgres(raw) => raw.clone(),
            other => other.to_string(),
        };
        let env = [("DATABASE_URL", url.as_str())];
        let id = acme.tenant_id.to_string();
        // More tokens than one erasure batch (tenants::ERASE_BATCH), so that it takes several.
        const SEEDED: i64 = tenauth::lifecycle::tenants::ERASE_BATCH + 500;
        let (tenant, client_id) = (acme.tenant_id.get(), acme.client.id.clone());
        app.database.write(move |conn| {
            let numbers = match conn {
                tenauth::db::DbConnection::Sqlite(_) => format!("(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {SEEDED}) SELECT n FROM seq) AS s"),
                tenauth::db::DbConnection::Postgres(_) => format!("generate_series(1, {SEEDED}) AS n"),
            };
            let id = "'seeded-' || n";
            diesel::sql_query(format!("INSERT INTO oauth_access_tokens (id, tenant_id, client_id, kind, scopes, created_at, expires_at) SELECT {id}, {tenant}, '{client_id}', 'client_credentials', 'read', '2026-01-01 00:00:00', '2099-01-01 00:00:00' FROM {numbers}")).execute(conn)?;
            diesel::sql_query(format!("INSERT INTO oauth_refresh_tokens (id, token_hash, tenant_id, client_id, access_token_id, family_id, scopes, created_at, expires_at) SELECT {id}, {id}, {tenant}, '{client_id}', {id}, {id}, 'read', '2026-01-01 00:00:00', '2099-01-01 00:00:00' FROM {numbers}")).execute(conn)?;
            Ok::<_, tenauth::db::DbError>(())
        }).unwrap();

        let refused = crate::helpers::run_cli(&["tenant", "erase", &id], &env, app.db.dir());
        assert!(!refused.status.success(), "an active tenant cannot be erased");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("only a deleted tenant"));
        assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/admin/tenants/{id}"), Some(&token), None).await.status(), 200);

        let erased = crate::helpers::run_cli(&["tenant", "erase", &id, "--json"], &env, app.db.dir());

        assert!(erased.status.success(), "{}", String::from_utf8_lossy(&erased.stderr));
        let report: serde_json::Value = serde_json::from_slice(&erased.stdout).unwrap();
        assert_eq!(report["erased"]["access_tokens"], 2 + SEEDED);
        assert_eq!(report["erased"]["refresh_tokens"], 1 + SEEDED);
        assert_eq!(report["erased"]["clients"], 2);
        assert_eq!(report["erased"]["users"], 1);
        let tenant = acme.tenant_id.get();
        let left = app.database.read(move |conn| {
            use tenauth::db::schema::{audit_events, users};
            let tokens: i64 = oauth_access_tokens::table.filter(oauth_access_tokens::tenant_id.eq(tenant)).count().get_result(conn)?;
            let refresh: i64 = oauth_refresh_tokens::table.filter(oauth_refresh_tokens::tenant_id.eq(tenant)).count().get_result(conn)?;
            let clients: i64 = oauth_clients::table.filter(oauth_clients::tenant_id.eq(tenant)).count().get_result(conn)?;
            let users: i64 = users::table.filter(users::tenant_id.eq(tenant)).count().get_result(conn)?;
            let actions: Vec<String> = audit_events::table.filter(audit_events::tenant_id.eq(tenant)).select(audit_events::action).load(conn)?;
            Ok::<_, tenauth::db::DbError>((tokens, refresh, clients, users, actions))
        }).unwrap();
        assert_eq!(left, (0, 0, 0, 0, vec!["tenant.erase".to_owned()]));
        let shown = json_with_status(call(&app, reqwest::Method::GET, &format!("/admin/tenants/{id}"), Some(&token), None).await, 200).await;
        assert_eq!(shown["slug"], format!("erased-{id}"));
        assert_eq!(shown["name"], "");
        let platform = crate::helpers::run_cli(&["tenant", "erase", "1"], &env, app.db.dir());
        assert!(!platform.status.success());
    }
}
