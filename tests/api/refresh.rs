//! The refresh token grant: rotation, reuse detection, ownership, scope, concurrency.

use tenauth::domain::GrantType;

use crate::helpers::{json_with_status, jwt_claims, spawn_app, Fixture, TestApp};

async fn login(app: &TestApp, fixture: &Fixture) -> serde_json::Value {
    json_with_status(app.password_grant(fixture, None).await, 200).await
}

fn field<'a>(body: &'a serde_json::Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

async fn assert_invalid_grant(response: reqwest::Response, case: &str) {
    let body = json_with_status(response, 400).await;
    assert_eq!(body["error"], "invalid_grant", "{case}");
}

both_backends! {
    async fn refresh_rotates_the_refresh_token_and_keeps_tenant_user_and_scope(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let first = login(&app, &acme).await;

        let second = json_with_status(app.refresh(&acme.client, field(&first, "refresh_token"), None).await, 200).await;

        assert_ne!(field(&second, "refresh_token"), field(&first, "refresh_token"), "rotated");
        assert_eq!(second["scope"], "read write");
        let claims = jwt_claims(field(&second, "access_token"));
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], acme.user_id.to_string());
        // The new refresh token works in turn; the old access token still works.
        json_with_status(app.refresh(&acme.client, field(&second, "refresh_token"), None).await, 200).await;
        assert_eq!(app.get_with_token("/oauth/personal-access-tokens", field(&first, "access_token")).await.status(), 200);
    }

    async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let first = login(&app, &acme).await;
        let second = json_with_status(app.refresh(&acme.client, field(&first, "refresh_token"), None).await, 200).await;

        assert_invalid_grant(app.refresh(&acme.client, field(&first, "refresh_token"), None).await, "reuse").await;

        assert_invalid_grant(app.refresh(&acme.client, field(&second, "refresh_token"), None).await, "descendant after reuse").await;
        for body in [&first, &second] {
            let status = app.get_with_token("/oauth/personal-access-tokens", field(body, "access_token")).await.status();
            assert_eq!(status, 401, "every access token of the family is revoked");
        }
        // Another grant of the same user is untouched.
        let other = login(&app, &acme).await;
        json_with_status(app.refresh(&acme.client, field(&other, "refresh_token"), None).await, 200).await;
    }

    async fn a_narrower_scope_may_be_requested_on_refresh_and_a_wider_one_may_not(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let first = json_with_status(app.password_grant(&acme, Some("read")).await, 200).await;

        let wider = app.refresh(&acme.client, field(&first, "refresh_token"), Some("read write")).await;
        let body = json_with_status(wider, 400).await;
        assert_eq!(body["error"], "invalid_scope");

        let full = login(&app, &acme).await;
        let narrower = json_with_status(app.refresh(&acme.client, field(&full, "refresh_token"), Some("write")).await, 200).await;
        assert_eq!(narrower["scope"], "write");
        // The family keeps the original grant's scope (RFC 6749 §6).
        let again = json_with_status(app.refresh(&acme.client, field(&narrower, "refresh_token"), None).await, 200).await;
        assert_eq!(again["scope"], "read write");
    }

    async fn a_refresh_token_of_another_client_or_tenant_is_invalid_grant_and_left_untouched(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let sibling = app.provision_client(acme.tenant_id, &GrantType::ALL, "read write", true).await;
        let body = login(&app, &acme).await;
        let refresh_token = field(&body, "refresh_token");

        assert_invalid_grant(app.refresh(&sibling, refresh_token, None).await, "same tenant, other client").await;
        assert_invalid_grant(app.refresh(&globex.client, refresh_token, None).await, "other tenant").await;

        json_with_status(app.refresh(&acme.client, refresh_token, None).await, 200).await;
    }

    async fn an_expired_refresh_token_is_invalid_grant(db) {
        let mut settings = crate::helpers::test_settings(&db);
        settings.refresh_token_ttl = std::time::Duration::from_secs(1);
        let app = crate::helpers::spawn_app_with(db, settings).await;
        let acme = app.provision_tenant("acme").await;
        let body = login(&app, &acme).await;

        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

        assert_invalid_grant(app.refresh(&acme.client, field(&body, "refresh_token"), None).await, "expired").await;
    }

    async fn of_32_concurrent_refreshes_of_one_token_exactly_one_succeeds(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let body = login(&app, &acme).await;
        let refresh_token = field(&body, "refresh_token").to_owned();

        let attempts = (0..32).map(|_| app.refresh(&acme.client, &refresh_token, None));
        let responses = futures_util::future::join_all(attempts).await;

        let statuses: Vec<u16> = responses.iter().map(|response| response.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|&&status| status == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|&status| status == 200 || status == 400), "{statuses:?}");
    }
}
