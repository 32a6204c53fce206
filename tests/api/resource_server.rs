//! End to end with `examples/resource_server.rs`: a service that verifies tenauth's JWTs
//! offline and hears of revocations through a push stream refuses a token within a second
//! of its revocation, its user's disabling, its client's deletion, its family's revocation,
//! its tenant's suspension or deletion, and never calls introspection.

use std::time::{Duration, Instant};

use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{admin_token, call_with_token, json_with_status, spawn_app, TestApp};

#[path = "../../examples/resource_server.rs"]
#[allow(dead_code)]
mod example;

const AUDIENCE: &str = "urn:example:resource-server";
const PUSH_SECRET: &str = "Bearer rs-push-secret";

/// The example service, started for `app`.
struct ResourceServer {
    url: String,
    http: reqwest::Client,
}

impl ResourceServer {
    fn start(app: &TestApp) -> Self {
        let (address, server) = example::start(example::Config {
            issuer: app.address.clone(),
            bind: "127.0.0.1:0".parse().unwrap(),
            scope: "read".into(),
            audience: AUDIENCE.into(),
            push_secret: Some(PUSH_SECRET.into()),
        })
        .unwrap();
        tokio::spawn(server);
        Self {
            url: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    /// `GET /api/whoami` with the token, naming `tenant`.
    async fn call(&self, token: &str, tenant: TenantId) -> u16 {
        self.http
            .get(format!("{}/api/whoami", self.url))
            .bearer_auth(token)
            .header("X-Tenant-ID", tenant.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// How long after now the service starts refusing the token (at most `bound`).
    async fn refuses_within(&self, token: &str, tenant: TenantId, bound: Duration) -> Duration {
        let started = Instant::now();
        while self.call(token, tenant).await == 200 {
            assert!(started.elapsed() < bound, "still accepted after {bound:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(self.call(token, tenant).await, 401);
        started.elapsed()
    }
}

fn token_of(answer: &serde_json::Value) -> String {
    answer["access_token"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn the_example_resource_server_refuses_revoked_tokens_within_a_second(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let tenant = acme.tenant_id;
        let admin = admin_token(&app, tenant, "tenant:admin").await;
        let platform = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let rs = ResourceServer::start(&app);
        let created = call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/event-streams"), &admin, Some(serde_json::json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": format!("{}/events", rs.url)},
            "aud": AUDIENCE,
            "authorization_header": PUSH_SECRET,
        }))).await;
        json_with_status(created, 201).await;
        let bound = Duration::from_secs(1);
        let user_token = || async { token_of(&json_with_status(app.password_grant(&acme, Some("read")).await, 200).await) };

        // Accepted, and the service's own checks.
        let token = user_token().await;
        assert_eq!(rs.call(&token, tenant).await, 200);
        assert_eq!(rs.call(&token, TenantId::new(tenant.get() + 1)).await, 401, "X-Tenant-ID must be the token's");
        let write_only = token_of(&json_with_status(app.password_grant(&acme, Some("write")).await, 200).await);
        assert_eq!(rs.call(&write_only, tenant).await, 403, "the scope is checked");

        // The token revoked (RFC 7009).
        let revoke = |token: String| {
            let app = &app;
            let client = acme.client.clone();
            async move {
                let answer = app.http.post(app.url("/oauth/revoke"))
                    .basic_auth(&client.id, client.secret.as_deref())
                    .form(&[("token", token.as_str())]).send().await.unwrap();
                assert_eq!(answer.status(), 200);
            }
        };
        revoke(token.clone()).await;
        rs.refuses_within(&token, tenant, bound).await;

        // Its refresh-token family revoked: the family's access token is refused too.
        let login = json_with_status(app.password_grant(&acme, Some("read")).await, 200).await;
        let token = token_of(&login);
        assert_eq!(rs.call(&token, tenant).await, 200);
        revoke(login["refresh_token"].as_str().unwrap().to_owned()).await;
        rs.refuses_within(&token, tenant, bound).await;

        // The user disabled.
        let token = user_token().await;
        let other_user = app.provision_user(tenant, "carol", "carol-password").await;
        let carols = token_of(&json_with_status(app.token(&[("grant_type", "password"), ("username", "carol"), ("password", "carol-password"), ("scope", "read")], Some(acme.client.basic())).await, 200).await);
        assert_eq!(rs.call(&token, tenant).await, 200);
        assert!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/users/{}/disable", acme.user_id), &admin, None).await.status().is_success());
        rs.refuses_within(&token, tenant, bound).await;
        assert_eq!(rs.call(&carols, tenant).await, 200, "another user's token stays good");
        let _ = other_user;

        // The client deleted.
        let service = app.provision_client(tenant, &[GrantType::ClientCredentials], "read", true).await;
        let token = token_of(&json_with_status(app.client_credentials(&service, None).await, 200).await);
        assert_eq!(rs.call(&token, tenant).await, 200);
        assert!(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}/clients/{}", service.id), &admin, None).await.status().is_success());
        rs.refuses_within(&token, tenant, bound).await;
        assert_eq!(rs.call(&carols, tenant).await, 200, "another client's token stays good");

        // The tenant suspended, then re-activated: refused, then accepted again.
        assert!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/suspend"), &platform, None).await.status().is_success());
        rs.refuses_within(&carols, tenant, bound).await;
        assert!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/activate"), &platform, None).await.status().is_success());
        let started = Instant::now();
        while rs.call(&carols, tenant).await != 200 {
            assert!(started.elapsed() < bound, "accepted again after re-activation");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The tenant deleted.
        assert!(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}"), &platform, None).await.status().is_success());
        rs.refuses_within(&carols, tenant, bound).await;

        // All of it without one introspection.
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(!metrics.contains("tenauth_introspections_total{"), "{metrics}");
    }
}
