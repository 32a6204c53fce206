//! Metrics and logs: `/metrics` moves with the traffic, JSON log lines carry the request
//! id and tenant, and no credential ever reaches a log line.

use std::time::Duration;

use crate::helpers::{basic_header, json_with_status, spawn_app, CliInstallation, ServeProcess};
use crate::introspection::introspect;

/// The value of one sample line of the Prometheus text, e.g.
/// `tenauth_tokens_issued_total{grant="client_credentials"}`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

both_backends! {
    async fn metrics_move_when_requests_are_made(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let before = app.get("/metrics").await.text().await.unwrap();
        assert_eq!(sample(&before, r#"tenauth_tokens_issued_total{grant="client_credentials"}"#), None);

        let issued = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let token = issued["access_token"].as_str().unwrap();
        assert_eq!(introspect(&app, &acme.client, token).await["active"], true);
        assert_eq!(introspect(&app, &acme.client, "garbage").await["active"], false);
        let revoked = app.http.post(app.url("/oauth/revoke")).basic_auth(&acme.client.id, acme.client.secret.as_deref()).form(&[("token", token)]).send().await.unwrap();
        assert_eq!(revoked.status(), 200);
        assert_eq!(app.get("/admin/tenants/12345").await.status(), 401);
        assert_eq!(app.get("/no/such/path").await.status(), 404);

        let response = app.get("/metrics").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let after = response.text().await.unwrap();
        assert_eq!(sample(&after, r#"tenauth_tokens_issued_total{grant="client_credentials"}"#), Some(1.0));
        assert_eq!(sample(&after, r#"tenauth_introspections_total{result="active"}"#), Some(1.0));
        assert_eq!(sample(&after, r#"tenauth_introspections_total{result="inactive"}"#), Some(1.0));
        assert_eq!(sample(&after, "tenauth_revocations_total"), Some(1.0));
        assert_eq!(sample(&after, r#"tenauth_http_requests_total{method="POST",route="/oauth/token",status="200"}"#), Some(1.0));
        assert_eq!(sample(&after, r#"tenauth_http_requests_total{method="POST",route="/oauth/introspect",status="200"}"#), Some(2.0));
        assert_eq!(sample(&after, r#"tenauth_http_requests_total{method="GET",route="/admin/tenants/{id}",status="401"}"#), Some(1.0), "the route pattern, never the id:\n{after}");
        assert_eq!(sample(&after, r#"tenauth_http_requests_total{method="GET",route="unmatched",status="404"}"#), Some(1.0));
        assert!(!after.contains("12345") && !after.contains("/no/such/path"), "no path reaches a label");
        assert!(sample(&after, r#"tenauth_http_request_duration_seconds_count{method="POST",route="/oauth/token"}"#) == Some(1.0));
        assert!(after.lines().any(|line| line.starts_with("tenauth_db_connections{") && line.contains(r#"state="max""#)), "{after}");
    }

    async fn json_logs_name_the_request_and_tenant_and_never_a_credential(db) {
        let dir = tempfile::tempdir().unwrap();
        let password = "canary-password-Xq7!";
        let installation = CliInstallation::provision(&db, dir.path(), password);
        let (admin, tenant, client) = (&installation.admin, &installation.tenant, &installation.client);
        let mut server = ServeProcess::start(&db, dir.path(), &[("TENAUTH_LOG_FORMAT", "json"), ("RUST_LOG", "trace")]);
        let base = format!("http://127.0.0.1:{}", server.port);
        let http = reqwest::Client::new();
        let (client_id, client_secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
        let basic = basic_header(client_id, client_secret);
        let post = |path: &str, form: Vec<(&'static str, String)>| {
            http.post(format!("{base}{path}")).header("Authorization", basic.clone()).header("X-Request-Id", "canary-request-1").form(&form).send()
        };

        let login = post("/oauth/token", vec![("grant_type", "password".into()), ("username", "alice".into()), ("password", password.into())]).await.unwrap();
        let login: serde_json::Value = login.json().await.unwrap();
        let wrong_password = "canary-wrong-password-Zz9";
        let refused = post("/oauth/token", vec![("grant_type", "password".into()), ("username", "alice".into()), ("password", wrong_password.into())]).await.unwrap();
        assert_eq!(refused.status(), 400);
        let (access, refresh) = (login["access_token"].as_str().unwrap().to_owned(), login["refresh_token"].as_str().unwrap().to_owned());
        let rotated: serde_json::Value = post("/oauth/token", vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh.clone())]).await.unwrap().json().await.unwrap();
        let introspected: serde_json::Value = post("/oauth/introspect", vec![("token", rotated["access_token"].as_str().unwrap().to_owned())]).await.unwrap().json().await.unwrap();
        assert_eq!(introspected["active"], true);
        let personal = http.post(format!("{base}/oauth/personal-access-tokens")).bearer_auth(rotated["access_token"].as_str().unwrap()).json(&serde_json::json!({"name": "ci", "scopes": []})).send().await.unwrap();
        let personal: serde_json::Value = personal.json().await.unwrap();
        assert_eq!(post("/oauth/revoke", vec![("token", rotated["refresh_token"].as_str().unwrap().to_owned())]).await.unwrap().status(), 200);
        let me = http.get(format!("{base}/oauth/me")).bearer_auth(personal["access_token"].as_str().unwrap()).header("X-Tenant-ID", "999").send().await.unwrap();
        assert_eq!(me.status(), 403);
        let wrong_secret = "canary-wrong-secret-Yy8";
        let bad_client = http.post(format!("{base}/oauth/token")).header("Authorization", basic_header(client_id, wrong_secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(bad_client.status(), 401);
        server.signal("-TERM");
        server.wait(Duration::from_secs(15));

        let log = std::fs::read_to_string(&server.log).unwrap();
        let lines: Vec<serde_json::Value> = log.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))).collect();
        assert!(lines.len() > 10, "{log}");
        for line in &lines {
            for field in ["ts", "level", "target", "msg"] {
                assert!(line[field].is_string(), "{field} in {line}");
            }
        }
        assert!(lines.iter().any(|line| line["request_id"] == "canary-request-1"), "the caller's request id names its lines");
        assert!(lines.iter().any(|line| line["request_id"] == "canary-request-1" && line["tenant_id"] == tenant["id"]), "and the tenant, once the caller is known");
        let secrets = [
            ("client secret", client_secret.to_owned()),
            ("admin client secret", admin["client_secret"].as_str().unwrap().to_owned()),
            ("password", password.to_owned()),
            ("wrong password", wrong_password.to_owned()),
            ("wrong client secret", wrong_secret.to_owned()),
            ("Basic credentials", basic.trim_start_matches("Basic ").to_owned()),
            ("access token", access.clone()),
            ("refresh token", refresh.clone()),
            ("rotated access token", rotated["access_token"].as_str().unwrap().to_owned()),
            ("rotated refresh token", rotated["refresh_token"].as_str().unwrap().to_owned()),
            ("personal token", personal["access_token"].as_str().unwrap().to_owned()),
        ];
        for (what, value) in &secrets {
            assert!(!log.contains(value.as_str()), "the {what} reached the log");
            // Nor the unsigned part of a JWT, which would let one be reassembled.
            if let Some(payload) = value.split('.').nth(1) {
                assert!(!log.contains(payload), "the {what}'s claims reached the log");
            }
        }
        assert!(!log.to_ascii_lowercase().contains("authorization: "), "no Authorization header");
    }
}
