//! The outbox of security events: every change that ends tokens writes exactly one event,
//! in its own transaction, naming its tenant and what it covers; a refused change writes
//! none, and a tenant's changes write nothing for another tenant.

use reqwest::Method;
use tenauth::db::models::event::{events_after, StoredEvent};
use tenauth::domain::{EventKind, TenantId};

use crate::helpers::{
    admin_token, call_with_token, json_with_status, jwt_claims, spawn_app, TestApp,
};

/// An event's kind, client, user and token, as the test expects them.
type Expected = (EventKind, Option<String>, Option<i64>, Option<String>);

/// A SET's header says `secevent+jwt` and its signature verifies with the published key.
pub fn assert_verifies(set: &str, jwks: &serde_json::Value) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&decode(set.split('.').next().unwrap())).unwrap();
    assert_eq!(header["typ"], "secevent+jwt");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
        .expect("published");
    let point = [
        vec![4u8],
        decode(key["x"].as_str().unwrap()),
        decode(key["y"].as_str().unwrap()),
    ]
    .concat();
    let (signing_input, signature) = set.rsplit_once('.').unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(signing_input.as_bytes(), &decode(signature))
        .expect("the SET verifies against the JWKS");
}

fn events(app: &TestApp, tenant_id: TenantId) -> Vec<StoredEvent> {
    app.database
        .read(move |conn| events_after(conn, tenant_id, 0, 1_000))
        .unwrap()
}

async fn revoke(app: &TestApp, client: &crate::helpers::TestClient, token: &str) {
    let answer = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

both_backends! {
    async fn every_change_that_ends_tokens_writes_one_event_in_its_transaction(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let platform = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let bob = app.provision_user(acme.tenant_id, "bob", "bob-password").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let access = login["access_token"].as_str().unwrap().to_owned();
        let jti = jwt_claims(&access)["jti"].as_str().unwrap().to_owned();
        let tenant = acme.tenant_id;
        let mut expected: Vec<Expected> = Vec::new();

        revoke(&app, &acme.client, &access).await;
        revoke(&app, &acme.client, &access).await;
        expected.push((EventKind::TokenRevoked, None, None, Some(jti)));
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        revoke(&app, &acme.client, login["refresh_token"].as_str().unwrap()).await;
        expected.push((EventKind::FamilyRevoked, None, None, None));
        let bobs = json_with_status(app.token(&[("grant_type", "password"), ("username", "bob"), ("password", "bob-password")], Some(acme.client.basic())).await, 200).await;
        assert!(bobs["access_token"].is_string());
        let bulk = format!("/admin/tenants/{tenant}/revoke-tokens");
        json_with_status(call_with_token(&app, Method::POST, &bulk, &admin, Some(serde_json::json!({"user_id": bob.id.get()}))).await, 200).await;
        expected.push((EventKind::TokensRevoked, None, Some(bob.id.get()), None));
        json_with_status(call_with_token(&app, Method::POST, &bulk, &admin, Some(serde_json::json!({"user_id": bob.id.get()}))).await, 200).await;
        // Nothing left to revoke: no second event.
        let refused = call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}/clients/no-such-client"), &admin, None).await;
        assert_eq!(refused.status(), 404, "a refused change writes no event");
        let other = app.provision_client(tenant, &[tenauth::domain::GrantType::ClientCredentials], "read", true).await;
        json_with_status(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}/clients/{}", other.id), &admin, None).await, 200).await;
        expected.push((EventKind::ClientRevoked, Some(other.id.clone()), None, None));
        assert!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/users/{}/disable", bob.id), &admin, None).await.status().is_success());
        expected.push((EventKind::UserDisabled, None, Some(bob.id.get()), None));
        json_with_status(call_with_token(&app, Method::PUT, &format!("/admin/tenants/{tenant}/users/{}/password", acme.user_id), &admin, Some(serde_json::json!({"password": "new-password"}))).await, 200).await;
        expected.push((EventKind::PasswordChanged, None, Some(acme.user_id), None));
        assert!(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}/users/{}", bob.id), &admin, None).await.status().is_success());
        expected.push((EventKind::UserDeleted, None, Some(bob.id.get()), None));
        for (action, kind) in [("suspend", EventKind::TenantSuspended), ("activate", EventKind::TenantActivated)] {
            json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{tenant}/{action}"), &platform, None).await, 200).await;
            expected.push((kind, None, None, None));
        }
        for _ in 0..3 {
            json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        }
        json_with_status(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{tenant}"), &platform, None).await, 200).await;
        expected.push((EventKind::TenantDeleted, None, None, None));

        let recorded = events(&app, tenant);
        let seen: Vec<_> = recorded.iter().map(|event| (event.kind, event.parts.client.as_ref().map(ToString::to_string), event.parts.user.map(|user| user.get()), event.parts.token.clone())).collect();
        assert_eq!(seen.len(), expected.len(), "{seen:?}");
        for (seen, expected) in seen.iter().zip(&expected) {
            assert_eq!(seen.0, expected.0);
            assert_eq!(seen.1, expected.1, "{:?}", expected.0);
            assert_eq!(seen.2, expected.2, "{:?}", expected.0);
            if expected.3.is_some() {
                assert_eq!(seen.3, expected.3, "{:?}", expected.0);
            }
        }
        assert!(recorded[1].parts.token.is_some(), "the family is named");
        assert!(recorded.windows(2).all(|pair| pair[0].id < pair[1].id && pair[0].txn != pair[1].txn), "one transaction, one txn");
        assert!(recorded.iter().all(|event| event.tenant_id == tenant));
        assert!(events(&app, globex.tenant_id).is_empty(), "nothing for another tenant");

        // Each event as a SET: signed like the access tokens, verifiable against the JWKS.
        let now = tenauth::domain::now().and_utc().timestamp();
        let (keys, _) = tenauth::keys::KeyStore::load_or_generate(&app.db.dir().join("keys"), now).unwrap();
        let jwks = json_with_status(app.get("/.well-known/jwks.json").await, 200).await;
        for event in &recorded {
            let set = tenauth::oauth::security_events::SetClaims::of(event, &app.address, "https://rs.example", now).sign(&keys, 0).unwrap();
            assert_verifies(&set, &jwks);
            let claims = jwt_claims(&set);
            assert_eq!(claims["sub_id"]["format"], "complex");
            assert_eq!(claims["sub_id"]["tenant"]["id"], tenant.to_string());
            assert_eq!(claims["aud"], "https://rs.example");
            assert_eq!(claims["txn"], event.txn);
            assert!(claims["events"].get(event.kind.type_uri()).is_some(), "{claims}");
        }
        let deleted = jwt_claims(&tenauth::oauth::security_events::SetClaims::of(recorded.last().unwrap(), &app.address, "rs", now).sign(&keys, 0).unwrap());
        assert!(deleted["events"].get("urn:tenauth:secevent:tenant-deleted").is_some());
    }
}

/// Polls `sid` with `token`: the answer.
async fn poll(app: &TestApp, sid: &str, token: &str, body: serde_json::Value) -> reqwest::Response {
    call_with_token(
        app,
        Method::POST,
        &format!("/oauth/event-streams/{sid}/poll"),
        token,
        Some(body),
    )
    .await
}

fn jtis(answer: &serde_json::Value) -> Vec<String> {
    let mut jtis: Vec<String> = answer["sets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    jtis.sort_by_key(|jti| jti.trim_start_matches("evt-").parse::<i64>().unwrap());
    jtis
}

both_backends! {
    async fn a_receiver_polls_its_tenants_events_and_acknowledges_them(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let acme_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let globex_admin = admin_token(&app, globex.tenant_id, "tenant:admin").await;
        let platform = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let reader = admin_token(&app, acme.tenant_id, "events:read").await;
        let nobody = admin_token(&app, acme.tenant_id, "read").await;
        let poll_stream = serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"}});

        let created = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(poll_stream.clone())).await, 201).await;
        let sid = created["stream_id"].as_str().unwrap().to_owned();
        assert_eq!(created["delivery"]["endpoint_url"], format!("{}/oauth/event-streams/{sid}/poll", app.address));
        let deletions_only = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["urn:tenauth:secevent:tenant-deleted"]}))).await, 201).await;
        // Several kinds, the wanted one last: the SQL that picks a stream's kinds matches whole names.
        let two_kinds = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["urn:tenauth:secevent:tenant-suspended", "urn:tenauth:secevent:token-revoked"]}))).await, 201).await;
        let globex_stream = json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", globex.tenant_id), &globex_admin, Some(poll_stream.clone())).await, 201).await;
        let platform_stream = json_with_status(call_with_token(&app, Method::POST, "/admin/event-streams", &platform, Some(poll_stream.clone())).await, 201).await;
        for (body, case) in [
            (serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://rs.invalid/events"}}), "a push endpoint whose host does not resolve"),
            (serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936", "endpoint_url": "https://rs.example/events"}}), "a poll stream with an endpoint"),
            (serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": ["urn:example:unknown"]}), "unknown event type"),
        ] {
            let refused = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(body)).await;
            assert_eq!(refused.status(), 400, "{case}");
        }
        assert_eq!(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/event-streams", globex.tenant_id), &acme_admin, None).await.status(), 403, "another tenant's streams");
        let sid_of_globex = globex_stream["stream_id"].as_str().unwrap();
        assert_eq!(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/event-streams/{sid_of_globex}", acme.tenant_id), &acme_admin, None).await.status(), 404, "another tenant's stream id under one's own tenant");

        // Changes in both tenants.
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        revoke(&app, &acme.client, login["access_token"].as_str().unwrap()).await;
        let bob = app.provision_user(acme.tenant_id, "bob", "bob-password").await;
        assert!(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/users/{}/disable", acme.tenant_id, bob.id), &acme_admin, None).await.status().is_success());
        let globex_login = json_with_status(app.password_grant(&globex, None).await, 200).await;
        revoke(&app, &globex.client, globex_login["access_token"].as_str().unwrap()).await;

        assert_eq!(poll(&app, &sid, &nobody, serde_json::json!({})).await.status(), 403, "a token without the scope");
        let app_client = app.provision_client(acme.tenant_id, &[tenauth::domain::GrantType::Password], "events:read", true).await;
        let user_login = json_with_status(app.token(&[("grant_type", "password"), ("username", "alice"), ("password", "alice-password")], Some(app_client.basic())).await, 200).await;
        assert_eq!(poll(&app, &sid, user_login["access_token"].as_str().unwrap(), serde_json::json!({})).await.status(), 403, "events:read in a user's token");
        let as_issuer = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8936"}, "aud": app.address}))).await;
        assert_eq!(as_issuer.status(), 400, "aud may not be the issuer");
        assert_eq!(poll(&app, &sid, &globex_admin, serde_json::json!({})).await.status(), 404, "another tenant's token");
        let first = json_with_status(poll(&app, &sid, &reader, serde_json::json!({"maxEvents": 1})).await, 200).await;
        assert_eq!(first["moreAvailable"], true);
        let all = json_with_status(poll(&app, &sid, &reader, serde_json::json!({"returnImmediately": true})).await, 200).await;
        assert_eq!(jtis(&all).len(), 2, "acme's two events, nothing of globex: {all}");
        assert_eq!(jtis(&first), jtis(&all)[..1], "unacknowledged events come again, oldest first");
        let jwks = json_with_status(app.get("/.well-known/jwks.json").await, 200).await;
        for (jti, set) in all["sets"].as_object().unwrap() {
            assert_verifies(set.as_str().unwrap(), &jwks);
            let claims = jwt_claims(set.as_str().unwrap());
            assert_eq!(&claims["jti"], jti);
            assert_eq!(claims["aud"], created["aud"]);
            assert_eq!(claims["sub_id"]["tenant"]["id"], acme.tenant_id.to_string());
        }
        let first_jti = jtis(&all)[0].clone();
        let after_ack = json_with_status(poll(&app, &sid, &reader, serde_json::json!({"ack": [first_jti]})).await, 200).await;
        assert_eq!(jtis(&after_ack), jtis(&all)[1..], "acknowledged events are gone");
        let drained = json_with_status(poll(&app, &sid, &acme_admin, serde_json::json!({"ack": jtis(&after_ack), "maxEvents": 10})).await, 200).await;
        assert!(jtis(&drained).is_empty());
        assert_eq!(drained["moreAvailable"], false);

        let platform_sets = json_with_status(poll(&app, platform_stream["stream_id"].as_str().unwrap(), &platform, serde_json::json!({})).await, 200).await;
        assert_eq!(jtis(&platform_sets).len(), 3, "the platform-wide stream gets every tenant's events");
        let globex_sets = json_with_status(poll(&app, sid_of_globex, &globex_admin, serde_json::json!({})).await, 200).await;
        assert_eq!(jtis(&globex_sets).len(), 1);
        let filtered = json_with_status(poll(&app, deletions_only["stream_id"].as_str().unwrap(), &acme_admin, serde_json::json!({})).await, 200).await;
        assert!(jtis(&filtered).is_empty(), "it asked for tenant deletions only");
        let two_kinds_id = two_kinds["stream_id"].as_str().unwrap();
        let picked = json_with_status(poll(&app, two_kinds_id, &acme_admin, serde_json::json!({})).await, 200).await;
        assert_eq!(jtis(&picked).len(), 1, "the revocation, not the user's disabling: {picked}");
        assert_eq!(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{}/event-streams/{two_kinds_id}", acme.tenant_id), &acme_admin, None).await.status(), 204);

        let listed = json_with_status(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, None).await, 200).await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);
        for _ in 2..10 {
            json_with_status(call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(poll_stream.clone())).await, 201).await;
        }
        let eleventh = call_with_token(&app, Method::POST, &format!("/admin/tenants/{}/event-streams", acme.tenant_id), &acme_admin, Some(poll_stream.clone())).await;
        assert_eq!(eleventh.status(), 409, "at most 10 streams per tenant");
        assert_eq!(call_with_token(&app, Method::DELETE, &format!("/admin/tenants/{}/event-streams/{sid}", acme.tenant_id), &acme_admin, None).await.status(), 204);
        assert_eq!(poll(&app, &sid, &reader, serde_json::json!({})).await.status(), 404, "a deleted stream");
    }
}
