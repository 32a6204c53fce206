//! Push delivery of security events (RFC 8935): SETs POSTed to a receiver in commit order,
//! retried with backoff while it is down or failing, a failing stream kept until resumed,
//! one bad receiver never slowing another, and the SSRF rule on push endpoints.

use std::time::{Duration, Instant};

use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};

use crate::events::assert_verifies;
use crate::helpers::{
    admin_token, call_with_token, eventually, json_with_status, spawn_app, spawn_app_with,
    test_settings, Answer, Receiver, TestApp, TestClient,
};

/// A tenant with an admin token and a client-credentials client whose tokens the test
/// revokes to make events cheaply.
struct Tenant {
    id: TenantId,
    admin: String,
    client: TestClient,
}

async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let fixture = app.provision_tenant(slug).await;
    let admin = admin_token(app, fixture.tenant_id, "tenant:admin").await;
    let client = app
        .provision_client(
            fixture.tenant_id,
            &[GrantType::ClientCredentials],
            "read",
            true,
        )
        .await;
    Tenant {
        id: fixture.tenant_id,
        admin,
        client,
    }
}

/// Issues a token and revokes it (RFC 7009): one `token-revoked` event. Returns its jti.
async fn revoke_one(app: &TestApp, tenant: &Tenant) -> String {
    let token = json_with_status(app.client_credentials(&tenant.client, None).await, 200).await
        ["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&tenant.client.id, tenant.client.secret.as_deref())
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    crate::helpers::jwt_claims(&token)["jti"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_push(app: &TestApp, tenant: &Tenant, body: serde_json::Value) -> reqwest::Response {
    call_with_token(
        app,
        Method::POST,
        &format!("/admin/tenants/{}/event-streams", tenant.id),
        &tenant.admin,
        Some(body),
    )
    .await
}

async fn push_stream(app: &TestApp, tenant: &Tenant, receiver: &Receiver) -> String {
    let created = json_with_status(
        create_push(
            app,
            tenant,
            serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url()}}),
        )
        .await,
        201,
    )
    .await;
    created["stream_id"].as_str().unwrap().to_owned()
}

async fn stream_status(app: &TestApp, tenant: &Tenant, sid: &str) -> serde_json::Value {
    json_with_status(
        call_with_token(
            app,
            Method::GET,
            &format!("/admin/tenants/{}/event-streams/{sid}", tenant.id),
            &tenant.admin,
            None,
        )
        .await,
        200,
    )
    .await
}

/// The session ids (revoked jtis) the SETs name, in arrival order.
fn revoked_jtis(received: &[crate::helpers::receiver::Received]) -> Vec<String> {
    received
        .iter()
        .map(|set| {
            set.claims()["sub_id"]["session"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

both_backends! {
    async fn pushes_every_set_in_commit_order_with_its_authorization_header(db) {
        let app = spawn_app(db).await;
        let acme = tenant(&app, "acme").await;
        let globex = tenant(&app, "globex").await;
        let receiver = Receiver::start();
        let created = json_with_status(create_push(&app, &acme, serde_json::json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url()},
            "authorization_header": "Bearer receiver-secret",
            "aud": "https://rs.acme.example",
        })).await, 201).await;
        assert_eq!(created["delivery"]["endpoint_url"], receiver.url());
        assert_eq!(created["authorization_header_set"], true);
        assert!(!created.to_string().contains("receiver-secret"), "the header is never shown");
        let sid = created["stream_id"].as_str().unwrap().to_owned();
        let stored: Option<String> = {
            let sid = sid.clone();
            app.database.read(move |conn| {
                use diesel::prelude::*;
                use tenauth::db::schema::event_streams::dsl::*;
                match conn {
                    tenauth::db::DbConnection::Sqlite(conn) => event_streams.find(&sid).select(authorization_header).first(conn),
                    tenauth::db::DbConnection::Postgres(conn) => event_streams.find(&sid).select(authorization_header).first(conn),
                }.map_err(tenauth::db::DbError::from)
            }).unwrap()
        };
        assert!(stored.is_some_and(|sealed| !sealed.contains("receiver-secret")), "stored sealed");

        let started = Instant::now();
        let mut jtis = Vec::new();
        for _ in 0..5 {
            jtis.push(revoke_one(&app, &acme).await);
            revoke_one(&app, &globex).await;
        }
        let received = receiver.wait_for(5, Duration::from_secs(10)).await;
        assert_eq!(revoked_jtis(&received), jtis, "every event, in commit order");
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.accepted().len(), 5, "no other tenant's event, no duplicate");

        let jwks: serde_json::Value = app.get("/.well-known/jwks.json").await.json().await.unwrap();
        for set in &received {
            assert_eq!(set.content_type.as_deref(), Some("application/secevent+jwt"));
            assert_eq!(set.authorization.as_deref(), Some("Bearer receiver-secret"));
            assert_verifies(&set.set, &jwks);
            let claims = set.claims();
            assert_eq!(claims["aud"], "https://rs.acme.example");
            assert_eq!(claims["iss"], app.address);
            assert_eq!(claims["sub_id"]["tenant"]["id"], acme.id.to_string());
            assert_eq!(set.event_type(), "urn:tenauth:secevent:token-revoked");
        }
        let status = stream_status(&app, &acme, &sid).await;
        assert_eq!(status["status"], "enabled");
        assert_eq!(status["pending"], 0);
        assert!(status.get("last_error").is_none());
        let polled = call_with_token(&app, Method::POST, &format!("/oauth/event-streams/{sid}/poll"), &acme.admin, Some(serde_json::json!({"ack": [], "returnImmediately": true}))).await;
        assert_eq!(polled.status(), 404, "a push stream's events are not polled away");

        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("tenauth_event_deliveries_total{delivery=\"push\",result=\"delivered\"} 5"), "{metrics}");
        assert!(metrics.contains("tenauth_events_pending{delivery=\"push\"} 0"));
        assert!(metrics.contains("tenauth_event_delivery_delay_seconds_count 5"));
    }

    async fn a_receiver_that_is_down_gets_everything_in_order_once_it_is_up(db) {
        let app = spawn_app(db).await;
        let acme = tenant(&app, "acme").await;
        // A port nothing listens on yet.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{address}/events");
        let created = json_with_status(create_push(&app, &acme, serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": url}})).await, 201).await;
        let sid = created["stream_id"].as_str().unwrap().to_owned();
        let mut jtis = Vec::new();
        for _ in 0..3 {
            jtis.push(revoke_one(&app, &acme).await);
        }
        assert!(eventually(Duration::from_secs(5), || async {
            stream_status(&app, &acme, &sid).await["failed_attempts"].as_i64().unwrap_or(0) >= 2
        }).await, "retried while down");
        let status = stream_status(&app, &acme, &sid).await;
        assert_eq!(status["status"], "enabled", "retrying, not failing, within the window");
        assert_eq!(status["last_error"], "cannot connect to the endpoint");
        assert_eq!(status["pending"], 3);
        assert!(status["failing_since"].is_string() && status["next_attempt_at"].is_string());

        jtis.push(revoke_one(&app, &acme).await);
        let receiver = Receiver::start_on(std::net::TcpListener::bind(address).unwrap());
        // The backoff has reached at most 4 s by now (1 + 2 + 4 with jitter at most 1).
        let received = receiver.wait_for(4, Duration::from_secs(10)).await;
        assert_eq!(revoked_jtis(&received), jtis, "resumed in order, nothing lost");
        assert!(eventually(Duration::from_secs(2), || async {
            let status = stream_status(&app, &acme, &sid).await;
            status["pending"] == 0 && status.get("last_error").is_none() && status.get("failed_attempts").is_none()
        }).await, "the retry state is cleared by the success");
    }

    async fn a_hanging_or_failing_receiver_does_not_slow_another_stream(db) {
        let mut settings = test_settings(&db);
        settings.events.push_timeout = Duration::from_secs(3);
        let app = spawn_app_with(db, settings).await;
        let acme = tenant(&app, "acme").await;
        let hanging = Receiver::start();
        hanging.answer(Answer::Hang);
        let failing = Receiver::start();
        failing.answer(Answer::Status(500));
        let healthy = Receiver::start();
        push_stream(&app, &acme, &hanging).await;
        let failing_sid = push_stream(&app, &acme, &failing).await;
        push_stream(&app, &acme, &healthy).await;

        for round in 0..3 {
            let jti = revoke_one(&app, &acme).await;
            let started = Instant::now();
            let received = healthy.wait_for(round + 1, Duration::from_secs(5)).await;
            assert_eq!(revoked_jtis(&received).last(), Some(&jti));
            // Well under the hanging receiver's 3 s timeout: not held up by it.
            assert!(started.elapsed() < Duration::from_secs(2), "round {round}: {:?}", started.elapsed());
        }
        assert!(hanging.requests() >= 1 && failing.requests() >= 1);
        let status = stream_status(&app, &acme, &failing_sid).await;
        assert_eq!(status["last_error"], "the receiver answered 500 (invalid_request)");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("tenauth_event_deliveries_total{delivery=\"push\",result=\"failed\"}"));
    }

    async fn past_its_retry_window_a_stream_turns_failing_and_resume_redelivers_in_order(db) {
        let mut settings = test_settings(&db);
        settings.events.retry_for = Duration::from_secs(1);
        let app = spawn_app_with(db, settings).await;
        let acme = tenant(&app, "acme").await;
        let receiver = Receiver::start();
        receiver.answer(Answer::Status(503));
        let sid = push_stream(&app, &acme, &receiver).await;
        let jtis = vec![revoke_one(&app, &acme).await, revoke_one(&app, &acme).await];
        assert!(eventually(Duration::from_secs(8), || async {
            stream_status(&app, &acme, &sid).await["status"] == "failing"
        }).await, "failing after the retry window");
        receiver.answer(Answer::Accept);
        let more = revoke_one(&app, &acme).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(receiver.accepted().is_empty(), "a failing stream is not pushed");
        assert_eq!(stream_status(&app, &acme, &sid).await["pending"], 3, "but keeps its events");

        let resumed = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams/{sid}/resume", acme.id), &acme.admin, None).await, 200).await;
        assert_eq!(resumed["status"], "enabled");
        let received = receiver.wait_for(3, Duration::from_secs(5)).await;
        assert_eq!(revoked_jtis(&received), [jtis, vec![more]].concat());

        // Paused: kept, not pushed, until resumed; an admin of another tenant cannot touch it.
        let globex = tenant(&app, "globex").await;
        assert_eq!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams/{sid}/pause", globex.id), &globex.admin, None).await.status(), 404);
        assert_eq!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams/{sid}/pause", acme.id), &globex.admin, None).await.status(), 403);
        let paused = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams/{sid}/pause", acme.id), &acme.admin, None).await, 200).await;
        assert_eq!(paused["status"], "paused");
        let held = revoke_one(&app, &acme).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(receiver.accepted().len(), 3);
        call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams/{sid}/resume", acme.id), &acme.admin, None).await;
        let received = receiver.wait_for(4, Duration::from_secs(5)).await;
        assert_eq!(revoked_jtis(&received).last(), Some(&held));
        let audit = json_with_status(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/audit-events", acme.id), &acme.admin, None).await, 200).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|event| event["action"].as_str()).collect();
        assert!(actions.contains(&"event_stream.pause") && actions.contains(&"event_stream.resume"), "{actions:?}");
    }

    async fn push_endpoints_cannot_reach_internal_addresses(db) {
        // The default policy: https to public addresses only.
        let mut settings = test_settings(&db);
        settings.events.policy.allow_loopback = false;
        let app = spawn_app_with(db, settings).await;
        let acme = tenant(&app, "acme").await;
        // A bare listener: any connection to it, TLS or not, shows in `accept`.
        let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        target.set_nonblocking(true).unwrap();
        let port = target.local_addr().unwrap().port();
        for (endpoint, case) in [
            (format!("http://127.0.0.1:{port}/events"), "http to loopback without the setting"),
            ("http://93.184.215.14/events".to_owned(), "http to a public address"),
            ("https://10.0.0.7/events".to_owned(), "a private address"),
            ("https://192.168.1.20/events".to_owned(), "a private address"),
            ("https://169.254.169.254/latest/meta-data".to_owned(), "link-local (cloud metadata)"),
            ("https://[fe80::1]/events".to_owned(), "IPv6 link-local"),
            ("https://[::ffff:127.0.0.1]/events".to_owned(), "IPv4-mapped loopback"),
            (format!("https://127.0.0.1:{port}/events"), "loopback over https"),
            (format!("https://localhost:{port}/events"), "a name resolving to loopback"),
            ("https://user:pw@rs.example.com/events".to_owned(), "credentials in the URL"),
        ] {
            let refused = create_push(&app, &acme, serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint}})).await;
            let body = json_with_status(refused, 400).await;
            assert_eq!(body["error"], "invalid_request", "{case}");
            assert!(body["error_description"].as_str().unwrap().contains("https"), "{case}: {body}");
        }

        // A name that resolved somewhere public at creation and resolves to loopback now
        // (DNS rebinding): stored as if created then, refused at delivery, never connected.
        let sid = tenauth::domain::StreamId::generate();
        let stream = tenauth::db::models::stream::EventStream {
            id: sid.clone(),
            tenant_id: Some(acme.id),
            delivery_method: tenauth::domain::DeliveryMethod::Push,
            endpoint_url: Some(format!("https://localhost:{port}/events")),
            authorization_header: None,
            audience: "urn:test".into(),
            events_requested: Vec::new(),
            status: tenauth::domain::StreamStatus::Enabled,
            delivery: tenauth::domain::DeliveryState::default(),
            created_at: tenauth::domain::now(),
        };
        app.database.write(move |conn| stream.insert(conn)).unwrap();
        revoke_one(&app, &acme).await;
        assert!(eventually(Duration::from_secs(5), || async {
            stream_status(&app, &acme, sid.as_str()).await["last_error"]
                == "the endpoint's host resolves to an address push delivery may not reach"
        }).await);
        assert_eq!(
            target.accept().map(|_| ()).map_err(|error| error.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "nothing connected to the loopback listener"
        );
    }

    async fn a_failure_after_a_success_starts_a_new_series_of_retries(db) {
        let mut settings = test_settings(&db);
        settings.events.retry_for = Duration::from_secs(2);
        let app = spawn_app_with(db, settings).await;
        let acme = tenant(&app, "acme").await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let created = json_with_status(create_push(&app, &acme, serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": format!("http://{address}/events")}})).await, 201).await;
        let sid = created["stream_id"].as_str().unwrap().to_owned();
        // Down for most of the retry window, then up for one event only.
        revoke_one(&app, &acme).await;
        revoke_one(&app, &acme).await;
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let receiver = Receiver::start_on(std::net::TcpListener::bind(address).unwrap());
        receiver.answer(Answer::AcceptUpTo(1, 503));
        assert_eq!(receiver.wait_for(1, Duration::from_secs(5)).await.len(), 1);
        assert!(eventually(Duration::from_secs(3), || async {
            stream_status(&app, &acme, &sid).await["last_error"] == "the receiver answered 503 (invalid_request)"
        }).await);
        let status = stream_status(&app, &acme, &sid).await;
        assert_eq!(status["status"], "enabled", "the window counts from the failure after the success: {status}");
        assert_eq!(status["failed_attempts"], 1);
    }

    async fn a_redirect_is_not_followed(db) {
        let app = spawn_app(db).await;
        let acme = tenant(&app, "acme").await;
        let elsewhere = Receiver::start();
        let redirecting = Receiver::start();
        redirecting.answer(Answer::Redirect(elsewhere.url()));
        let sid = push_stream(&app, &acme, &redirecting).await;
        revoke_one(&app, &acme).await;
        assert!(eventually(Duration::from_secs(5), || async {
            stream_status(&app, &acme, &sid).await["last_error"] == "the receiver answered 302"
        }).await);
        assert_eq!(elsewhere.requests(), 0, "the redirect target got nothing");
        assert_eq!(stream_status(&app, &acme, &sid).await["pending"], 1, "kept for a retry");
    }
}

both_backends! {
    async fn a_retired_signing_key_is_announced_once_to_every_tenants_streams(db) {
        let mut settings = test_settings(&db);
        settings.keys_reload_interval = Duration::from_millis(100);
        let keys_dir = settings.keys_dir.clone();
        let app = spawn_app_with(db, settings).await;
        let acme = tenant(&app, "acme").await;
        let globex = tenant(&app, "globex").await;
        let (acme_receiver, globex_receiver) = (Receiver::start(), Receiver::start());
        push_stream(&app, &acme, &acme_receiver).await;
        push_stream(&app, &globex, &globex_receiver).await;
        let jwks: serde_json::Value = app.get("/.well-known/jwks.json").await.json().await.unwrap();
        let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

        let now = tenauth::domain::now().and_utc().timestamp();
        let new_kid = tenauth::keys::rotate_key(&keys_dir, now).unwrap();
        for receiver in [&acme_receiver, &globex_receiver] {
            let received = receiver.wait_for(1, Duration::from_secs(5)).await;
            assert_eq!(received.len(), 1, "one event per stream");
            let set = &received[0];
            assert_eq!(set.event_type(), "urn:tenauth:secevent:signing-key-retired");
            assert_eq!(set.claims()["sub_id"], serde_json::json!({"format": "opaque", "id": old_kid}));
            let jwks: serde_json::Value = app.get("/.well-known/jwks.json").await.json().await.unwrap();
            assert_verifies(&set.set, &jwks);
            let header = crate::helpers::jwt_claims(&format!("x.{}", set.set.split('.').next().unwrap()));
            assert_eq!(header["kid"], new_kid, "signed with the key that signs now");
        }
        // Noticed on every tick, recorded once; a second instance finds it recorded.
        let again = old_kid.clone();
        app.database.write(move |conn| tenauth::db::models::event::record_event(conn, TenantId::PLATFORM, &tenauth::domain::SecurityEvent::SigningKeyRetired(again), tenauth::domain::now())).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(acme_receiver.accepted().len(), 1);
        let recorded: i64 = app.database.read(|conn| {
            use diesel::prelude::*;
            use tenauth::db::schema::security_events::dsl::*;
            match conn {
                tenauth::db::DbConnection::Sqlite(conn) => security_events.filter(kind.eq("signing-key-retired")).count().get_result(conn),
                tenauth::db::DbConnection::Postgres(conn) => security_events.filter(kind.eq("signing-key-retired")).count().get_result(conn),
            }.map_err(tenauth::db::DbError::from)
        }).unwrap();
        assert_eq!(recorded, 1);
    }
}
