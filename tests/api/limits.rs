//! Rate limits (per client, per tenant) and the failed-login throttle: 429 with
//! `Retry-After`, then recovery.

use std::time::Duration;

use tenauth::domain::GrantType;

use crate::helpers::{json_with_status, spawn_app_with, test_settings, TestApp, TestDatabase};

async fn app_with(limits: impl FnOnce(&mut tenauth::config::LimitSettings)) -> TestApp {
    let db = TestDatabase::sqlite();
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

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_then_recovers() {
    let app = app_with(|limits| limits.client_rate = 2).await;
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

#[tokio::test]
async fn a_tenant_rate_covers_all_its_clients_and_no_other_tenant() {
    let app = app_with(|limits| limits.tenant_rate = 2).await;
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

#[tokio::test]
async fn failed_logins_throttle_the_username_whatever_its_case_or_forwarded_address() {
    let app = app_with(|limits| limits.user_failures = 3).await;
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

#[tokio::test]
async fn failed_logins_across_usernames_throttle_the_client() {
    let app = app_with(|limits| limits.client_failures = 4).await;
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
