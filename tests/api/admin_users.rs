//! The admin API for a tenant's users.

use reqwest::Method;
use tenauth::domain::TenantId;

use crate::helpers::{admin_token, call_with_token, json_with_status, spawn_app, Fixture, TestApp};
use crate::introspection::introspect;

async fn login(app: &TestApp, fixture: &Fixture) -> (String, String) {
    let body = json_with_status(app.password_grant(fixture, None).await, 200).await;
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

both_backends! {
    async fn a_tenant_admin_creates_and_lists_users_who_can_then_log_in(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let path = format!("/admin/tenants/{}/users", acme.tenant_id);

        let created = json_with_status(call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"username": "Bob", "password": "bob-password"}))).await, 201).await;

        assert_eq!(created, serde_json::json!({"id": created["id"], "username": "bob", "tenant_id": acme.tenant_id.get()}));
        let bob = Fixture { username: "bob".into(), password: "bob-password".into(), user_id: created["id"].as_i64().unwrap(), ..acme };
        login(&app, &bob).await;
        let listed = json_with_status(call_with_token(&app, Method::GET, &path, &token, None).await, 200).await;
        let names: Vec<_> = listed["items"].as_array().unwrap().iter().map(|user| user["username"].as_str().unwrap().to_owned()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(!listed.to_string().contains("password"), "no hash or password in the list");

        let duplicate = call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"username": "BOB", "password": "another-one"}))).await;
        assert_eq!(duplicate.status(), 409);
        let short = call_with_token(&app, Method::POST, &path, &token, Some(serde_json::json!({"username": "carol", "password": "short"}))).await;
        assert_eq!(short.status(), 400);
        let foreign = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/users", globex.tenant_id), &token, Some(serde_json::json!({"username": "mallory", "password": "mallory-password"}))).await;
        assert_eq!(foreign.status(), 403);
    }

    async fn usernames_that_look_the_same_are_one_user_or_refused(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        app.provision_user(acme.tenant_id, "kate", "kate-password").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let path = format!("/admin/tenants/{}/users", acme.tenant_id);
        let create = |username: &'static str| {
            let (app, path, token) = (&app, &path, &token);
            async move { call_with_token(app, Method::POST, path, token, Some(serde_json::json!({"username": username, "password": "long-enough"}))).await }
        };

        for look_alike in ["ａｌｉｃｅ", "ＡＬＩＣＥ", "Alice"] {
            let duplicate = json_with_status(create(look_alike).await, 409).await;
            assert_eq!(duplicate["error"], "conflict", "{look_alike}");
        }
        for refused in ["\u{212a}ate", "☃", "ﬁona", "al ice", "ali\u{200b}ce"] {
            let refused_answer = json_with_status(create(refused).await, 400).await;
            assert_eq!(refused_answer["error"], "invalid_request", "{refused:?}");
        }
        let dotted = json_with_status(create("ALİCE").await, 201).await;
        assert_eq!(dotted["username"], "ali\u{307}ce", "Unicode lower case keeps the dot above");

        let sign_in = |username: &'static str, password: &'static str| {
            let fixture = Fixture { username: username.into(), password: password.into(), ..acme.clone() };
            let app = &app;
            async move { app.password_grant(&fixture, None).await }
        };
        for spelling in ["ａｌｉｃｅ", "ALICE"] {
            let issued = json_with_status(sign_in(spelling, "alice-password").await, 200).await;
            assert_eq!(crate::helpers::jwt_claims(issued["access_token"].as_str().unwrap())["sub"], acme.user_id.to_string(), "{spelling}");
        }
        let kelvin = json_with_status(sign_in("\u{212a}ate", "kate-password").await, 400).await;
        assert_eq!(kelvin["error"], "invalid_grant", "the Kelvin sign no longer signs in as kate");
    }

    async fn changing_a_password_revokes_the_users_tokens(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let (access, refresh) = login(&app, &acme).await;
        let path = format!("/admin/tenants/{}/users/{}/password", acme.tenant_id, acme.user_id);

        let counts = json_with_status(call_with_token(&app, Method::PUT, &path, &token, Some(serde_json::json!({"password": "new-password"}))).await, 200).await;

        assert_eq!(counts, serde_json::json!({"revoked_access_tokens": 1, "revoked_refresh_tokens": 1}));
        for presented in [&access, &refresh] {
            assert_eq!(introspect(&app, &acme.client, presented).await["active"], false);
        }
        assert_eq!(app.password_grant(&acme, None).await.status(), 400, "the old password is refused");
        let renewed = Fixture { password: "new-password".into(), ..acme };
        login(&app, &renewed).await;
        let unknown = call_with_token(&app, Method::PUT, &format!("/admin/tenants/{}/users/999/password", renewed.tenant_id), &token, Some(serde_json::json!({"password": "new-password"}))).await;
        assert_eq!(unknown.status(), 404);
    }

    async fn a_disabled_user_cannot_log_in_and_a_deleted_one_frees_its_name(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let token = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let (access, _) = login(&app, &acme).await;
        let user_path = format!("/admin/tenants/{}/users/{}", acme.tenant_id, acme.user_id);

        let disabled = json_with_status(call_with_token(&app, Method::POST, &format!("{user_path}/disable"), &token, None).await, 200).await;
        assert_eq!(disabled["disabled"], true);
        assert_eq!(introspect(&app, &acme.client, &access).await["active"], false);
        assert_eq!(app.password_grant(&acme, None).await.status(), 400);

        let deleted = json_with_status(call_with_token(&app, Method::DELETE, &user_path, &token, None).await, 200).await;
        assert_eq!(deleted["id"], acme.user_id);
        assert_eq!(deleted["revoked_access_tokens"], 1);
        assert_eq!(call_with_token(&app, Method::DELETE, &user_path, &token, None).await.status(), 404, "deleting twice");
        let again = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/users", acme.tenant_id), &token, Some(serde_json::json!({"username": "alice", "password": "alice-again"}))).await;
        assert_eq!(again.status(), 201, "the name is free again");
        let other_tenants_user = call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{}/users/{}", acme.tenant_id, globex.user_id), &token, None).await;
        assert_eq!(other_tenants_user.status(), 404, "a user id of another tenant is unknown here");
    }
}
