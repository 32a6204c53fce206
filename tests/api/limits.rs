//! Rate limits (per client, per tenant) and the failed-login throttle: 429 with
//! `Retry-After`, then recovery.

use std::time::Duration;

use tenauth::domain::GrantType;

use crate::helpers::{json_with_status, spawn_app_with, test_settings, TestApp, TestDatabase};

async fn app_with(
    db: TestDatabase,
    limits: impl FnOnce(&mut tenauth::config::LimitSettings),
) -> TestApp {
    let mut settings = test_settings(&db);
    settings.limits.client_rate = 0;
    settings.limits.tenant_rate = 0;
    limits(&mut settings.limits);
    spawn_app_with(db, settings).await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

both_backends! {
    async fn a_client_over_its_rate_gets_429_with_retry_after_and_then_recovers(db) {
        let app = app_with(db, |limits| limits.client_rate = 2).await;
        let acme = app.provision_tenant("acme").await;
        for _ in 0..4 {
            assert_eq!(
                app.client_credentials(&acme.client, None).await.status(),
                200,
                "the burst is twice the rate"
            );
        }

        let refused = app.client_credentials(&acme.client, None).await;

        assert_eq!(refused.status(), 429);
        let wait = retry_after(&refused);
        assert!((1..=2).contains(&wait), "{wait}");
        let body = json_with_status(refused, 429).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        let introspect = app
            .http
            .post(app.url("/oauth/introspect"))
            .basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            introspect.status(),
            429,
            "one bucket covers the three endpoints"
        );
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains(r#"tenauth_rate_limited_total{endpoint="token"} 1"#),
            "{metrics}"
        );
        assert!(metrics.contains(r#"tenauth_rate_limited_total{endpoint="introspect"} 1"#));
        tokio::time::sleep(Duration::from_secs(wait)).await;
        assert_eq!(
            app.client_credentials(&acme.client, None).await.status(),
            200,
            "recovered after Retry-After"
        );
    }

    async fn a_tenant_rate_covers_all_its_clients_and_no_other_tenant(db) {
        let app = app_with(db, |limits| limits.tenant_rate = 2).await;
        let acme = app.provision_tenant("acme").await;
        let second = app
            .provision_client(
                acme.tenant_id,
                &[GrantType::ClientCredentials],
                "read",
                true,
            )
            .await;
        let globex = app.provision_tenant("globex").await;
        for client in [&acme.client, &second, &acme.client, &second] {
            assert_eq!(app.client_credentials(client, None).await.status(), 200);
        }

        assert_eq!(app.client_credentials(&second, None).await.status(), 429);
        assert_eq!(
            app.client_credentials(&acme.client, None).await.status(),
            429
        );
        assert_eq!(
            app.client_credentials(&globex.client, None).await.status(),
            200,
            "another tenant is not held back"
        );
    }

    async fn failed_logins_throttle_the_username_whatever_its_case_or_forwarded_address(db) {
        let app = app_with(db, |limits| limits.user_failures = 3).await;
        let acme = app.provision_tenant("acme").await;
        let bob = app
            .provision_user(acme.tenant_id, "bob", "bob-password")
            .await;
        let login = |username: &'static str, password: &'static str, forwarded: &'static str| {
            let client = acme.client.clone();
            let app = &app;
            async move {
                app.http
                    .post(app.url("/oauth/token"))
                    .basic_auth(&client.id, client.secret.as_deref())
                    .header("X-Forwarded-For", forwarded)
                    .form(&[
                        ("grant_type", "password"),
                        ("username", username),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        for n in 0..3 {
            let refused = login(
                "alice",
                "wrong-password",
                ["10.0.0.1", "10.0.0.2", "10.0.0.3"][n],
            )
            .await;
            assert_eq!(
                json_with_status(refused, 400).await["error"],
                "invalid_grant"
            );
        }

        let throttled = login("ALICE", "alice-password", "192.0.2.77").await;

        assert_eq!(
            throttled.status(),
            429,
            "the right password, another case, another forwarded address: still throttled"
        );
        assert!(retry_after(&throttled) > 60, "until the window ends");
        assert_eq!(
            login("Alice", "alice-password", "10.9.9.9").await.status(),
            429
        );
        assert_eq!(
            login("bob", "bob-password", "10.0.0.1").await.status(),
            200,
            "another user of the same client is not held back"
        );
        assert_eq!(bob.username.as_str(), "bob");
    }

    async fn failed_logins_across_usernames_throttle_the_client(db) {
        let app = app_with(db, |limits| limits.client_failures = 4).await;
        let acme = app.provision_tenant("acme").await;
        for username in ["u1", "u2", "u3", "u4"] {
            let refused = app
                .token(
                    &[
                        ("grant_type", "password"),
                        ("username", username),
                        ("password", "guess"),
                    ],
                    Some(acme.client.basic()),
                )
                .await;
            assert_eq!(refused.status(), 400);
        }

        let throttled = app
            .token(
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "alice-password"),
                ],
                Some(acme.client.basic()),
            )
            .await;

        assert_eq!(throttled.status(), 429);
        assert_eq!(
            app.client_credentials(&acme.client, None).await.status(),
            200,
            "only password attempts are throttled"
        );
    }

    async fn wrong_client_secrets_past_the_budget_get_429_and_the_right_secret_still_works(db) {
        let app = app_with(db, |limits| limits.client_auth_failures = 5).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let id = acme.client.id.as_str();
        // Basic and client_secret_post, on the three endpoints: one count per presented id.
        let wrong = |endpoint: &'static str, basic: bool| {
            let app = &app;
            async move {
                let request = app.http.post(app.url(endpoint));
                let request = if basic {
                    request.basic_auth(id, Some("wrong-secret")).form(&[("grant_type", "client_credentials"), ("token", "x")])
                } else {
                    request.form(&[("grant_type", "client_credentials"), ("token", "x"), ("client_id", id), ("client_secret", "wrong-secret")])
                };
                request.send().await.unwrap()
            }
        };
        let attempts = [("/oauth/token", true), ("/oauth/introspect", false), ("/oauth/revoke", true), ("/oauth/token", false), ("/oauth/introspect", true)];
        for (endpoint, basic) in attempts {
            let refused = wrong(endpoint, basic).await;
            assert_eq!(json_with_status(refused, 401).await["error"], "invalid_client", "{endpoint}");
        }
        for (endpoint, basic) in attempts.into_iter().chain([("/oauth/revoke", false)]) {
            let throttled = wrong(endpoint, basic).await;
            assert_eq!(throttled.status(), 429, "{endpoint} basic={basic}");
            let wait = retry_after(&throttled);
            assert!((890..=900).contains(&wait), "until the window ends: {wait}");
            assert_eq!(json_with_status(throttled, 429).await["error"], "temporarily_unavailable");
        }

        assert_eq!(app.client_credentials(&acme.client, None).await.status(), 200, "the client itself is never locked out");
        assert_eq!(app.client_credentials(&globex.client, None).await.status(), 200);
        let unknown = app.token(&[("grant_type", "client_credentials")], Some(("no-such-client", "x"))).await;
        assert_eq!(unknown.status(), 401, "an unknown id has a budget of its own, like any id");
        for _ in 0..5 {
            app.token(&[("grant_type", "client_credentials")], Some(("bad id!", "x"))).await;
        }
        let malformed = app.token(&[("grant_type", "client_credentials")], Some(("other bad id!", "x"))).await;
        assert_eq!(malformed.status(), 429, "values that cannot be ids share one budget");
    }

    async fn public_clients_cannot_use_up_their_tenants_budget_for_confidential_ones(db) {
        let app = app_with(db, |limits| limits.tenant_rate = 6).await;
        let acme = app.provision_tenant("acme").await;
        let mut public = Vec::new();
        for _ in 0..14 {
            public.push(app.provision_client(acme.tenant_id, &[GrantType::Password, GrantType::RefreshToken], "read", false).await);
        }
        let mut throttled = 0;
        for client in public.iter().cycle().take(42) {
            let answer = app.http.post(app.url("/oauth/token"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "guess"), ("client_id", client.id.as_str())])
                .send().await.unwrap();
            match answer.status().as_u16() {
                400 => {}
                429 => throttled += 1,
                other => panic!("{other}"),
            }
        }
        assert!(throttled >= 25, "the public clients share one budget of the tenant: {throttled}");

        assert_eq!(app.client_credentials(&acme.client, None).await.status(), 200, "the confidential budget is untouched");
        let introspected = app.http.post(app.url("/oauth/introspect"))
            .basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&[("token", "x")]).send().await.unwrap();
        assert_eq!(json_with_status(introspected, 200).await["active"], false);
    }
}
