//! The outbox never loses an event: `kill -9` between commit and delivery, many times and
//! under load, still delivers every committed change's event after restart, in order, and
//! nothing for a change that did not commit; two instances on one PostgreSQL share the
//! delivery without losing or reordering an event.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use tenauth::domain::{GrantType, TenantId};
use tenauth::startup::Application;

use crate::helpers::{
    admin_token, call_with_token, json_with_status, spawn_app, test_settings, CliInstallation,
    Receiver, ServeProcess, TestDatabase,
};

const ROUNDS: usize = 8;
const SERVE_ENV: &[(&str, &str)] = &[
    ("TENAUTH_ISSUER", "http://tenauth.test"),
    ("TENAUTH_EVENTS_ALLOW_HTTP_LOOPBACK", "1"),
    // A short timeout makes the lease short: a killed instance's streams are taken over
    // after 10 s instead of 15.
    ("TENAUTH_EVENTS_PUSH_TIMEOUT_MS", "1000"),
];

/// The jti a `token-revoked` SET names.
fn revoked_jti(set: &crate::helpers::receiver::Received) -> String {
    set.claims()["sub_id"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The outbox id of a SET (`evt-<id>`).
fn event_id(set: &crate::helpers::receiver::Received) -> i64 {
    set.claims()["jti"].as_str().unwrap()["evt-".len()..]
        .parse()
        .unwrap()
}

/// Checks one stream's deliveries: in order (first deliveries by increasing outbox id;
/// a redelivery only repeats an event already seen) and returns (distinct jtis,
/// duplicates).
fn check_order(received: &[crate::helpers::receiver::Received]) -> (HashSet<String>, usize) {
    let mut seen = HashSet::new();
    let mut last = 0;
    let mut duplicates = 0;
    for set in received {
        let id = event_id(set);
        if !seen.insert(id) {
            duplicates += 1;
            continue;
        }
        assert!(id > last, "event {id} delivered after {last}: out of order");
        last = id;
    }
    (received.iter().map(revoked_jti).collect(), duplicates)
}

/// Issues client-credentials tokens and revokes them until the server dies; records the
/// jtis whose revocation was answered 200 (committed).
async fn revoke_until_killed(base: String, basic: String, committed: Arc<Mutex<Vec<String>>>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    loop {
        let Ok(issued) = http
            .post(format!("{base}/oauth/token"))
            .header("Authorization", &basic)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
        else {
            return;
        };
        let Ok(issued) = issued.json::<serde_json::Value>().await else {
            return;
        };
        let Some(token) = issued["access_token"].as_str() else {
            continue;
        };
        let jti = crate::helpers::jwt_claims(token)["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        let Ok(revoked) = http
            .post(format!("{base}/oauth/revoke"))
            .header("Authorization", &basic)
            .form(&[("token", token)])
            .send()
            .await
        else {
            return;
        };
        if revoked.status() == 200 {
            committed.lock().unwrap().push(jti);
        }
    }
}

both_backends! {
    async fn kill_9_between_commit_and_delivery_loses_no_event_and_invents_none(db) {
        let dir = tempfile::tempdir().unwrap();
        let installation = CliInstallation::provision(&db, dir.path(), "alice-password-1");
        let basic = installation.client_basic();
        let receiver = Receiver::start();
        {
            let server = ServeProcess::start(&db, dir.path(), SERVE_ENV);
            let base = format!("http://127.0.0.1:{}", server.port);
            let http = reqwest::Client::new();
            let admin: serde_json::Value = http.post(format!("{base}/oauth/token")).header("Authorization", installation.admin_basic()).form(&[("grant_type", "client_credentials"), ("scope", "admin")]).send().await.unwrap().json().await.unwrap();
            let created = http.post(format!("{base}/admin/event-streams")).bearer_auth(admin["access_token"].as_str().unwrap())
                .json(&serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url()}, "events_requested": ["urn:tenauth:secevent:token-revoked"]}))
                .send().await.unwrap();
            assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        }
        let committed: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() as u64;
        for _ in 0..ROUNDS {
            let server = ServeProcess::start(&db, dir.path(), SERVE_ENV);
            let base = format!("http://127.0.0.1:{}", server.port);
            let tasks: Vec<_> = (0..4)
                .map(|_| tokio::spawn(revoke_until_killed(base.clone(), basic.clone(), committed.clone())))
                .collect();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            tokio::time::sleep(Duration::from_millis(200 + (seed >> 33) % 600)).await;
            drop(server); // SIGKILL, then reap
            for task in tasks {
                task.await.unwrap();
            }
        }
        let committed = committed.lock().unwrap().clone();
        assert!(committed.len() > ROUNDS, "the load revoked tokens: {}", committed.len());

        // One more start: it delivers what the killed ones left (after their leases lapse).
        let _server = ServeProcess::start(&db, dir.path(), SERVE_ENV);
        let database = db.connect();
        let revoked_in_db: HashSet<String> = database.read(|conn| {
            use diesel::prelude::*;
            use tenauth::db::schema::oauth_access_tokens::dsl::*;
            match conn {
                tenauth::db::DbConnection::Sqlite(conn) => oauth_access_tokens.filter(revoked_at.is_not_null()).select(id).load::<String>(conn),
                tenauth::db::DbConnection::Postgres(conn) => oauth_access_tokens.filter(revoked_at.is_not_null()).select(id).load::<String>(conn),
            }.map_err(tenauth::db::DbError::from)
        }).unwrap().into_iter().collect();
        let all_delivered = crate::helpers::eventually(Duration::from_secs(60), || {
            let received = receiver.accepted();
            let revoked_in_db = &revoked_in_db;
            async move {
                let delivered: HashSet<String> = received.iter().map(revoked_jti).collect();
                revoked_in_db.iter().all(|jti| delivered.contains(jti))
            }
        }).await;
        let received = receiver.accepted();
        let (delivered, duplicates) = check_order(&received);
        assert!(all_delivered, "{} revoked, {} delivered", revoked_in_db.len(), delivered.len());
        for jti in &committed {
            assert!(delivered.contains(jti), "the revocation of {jti} was answered 200 but its event never came");
        }
        for jti in &delivered {
            assert!(revoked_in_db.contains(jti), "an event for {jti}, whose revocation never committed");
        }
        eprintln!("crash test: {} committed revocations answered, {} events delivered, {duplicates} redelivered after a kill", committed.len(), delivered.len());
    }
}

/// Two instances of tenauth on one PostgreSQL database, both delivering.
#[tokio::test]
async fn two_instances_on_one_postgresql_deliver_every_event_once_in_order() {
    let Some(db) = TestDatabase::postgres() else {
        crate::helpers::report_skipped(module_path!());
        return;
    };
    let second_settings = test_settings(&db);
    let first = spawn_app(db).await;
    let second = Application::build(second_settings).expect("the second instance");
    let second_url = format!("http://{}", second.address());
    tokio::spawn(second.run_until_stopped());

    let acme = first.provision_tenant("acme").await;
    let admin = admin_token(&first, acme.tenant_id, "tenant:admin").await;
    let platform = admin_token(&first, TenantId::PLATFORM, "admin").await;
    let client = first
        .provision_client(
            acme.tenant_id,
            &[GrantType::ClientCredentials],
            "read",
            true,
        )
        .await;
    let receivers: Vec<Receiver> = (0..3).map(|_| Receiver::start()).collect();
    for (index, receiver) in receivers.iter().enumerate() {
        let (path, token) = if index == 2 {
            ("/admin/event-streams".to_owned(), &platform)
        } else {
            (
                format!("/admin/tenants/{}/event-streams", acme.tenant_id),
                &admin,
            )
        };
        let body = serde_json::json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url()}});
        json_with_status(
            call_with_token(&first, Method::POST, &path, token, Some(body)).await,
            201,
        )
        .await;
    }

    // 1,000 revocations, half through each instance, 8 at a time.
    const CHANGES: usize = 1_000;
    let bases = [first.address.clone(), second_url];
    let jtis: Arc<Mutex<Vec<String>>> = Arc::default();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let base = bases[task % 2].clone();
            let client = client.clone();
            let jtis = jtis.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for _ in 0..CHANGES / 8 {
                    let issued: serde_json::Value = http
                        .post(format!("{base}/oauth/token"))
                        .basic_auth(&client.id, client.secret.as_deref())
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let token = issued["access_token"].as_str().unwrap();
                    let revoked = http
                        .post(format!("{base}/oauth/revoke"))
                        .basic_auth(&client.id, client.secret.as_deref())
                        .form(&[("token", token)])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(revoked.status(), 200);
                    jtis.lock().unwrap().push(
                        crate::helpers::jwt_claims(token)["jti"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let jtis: HashSet<String> = jtis.lock().unwrap().iter().cloned().collect();
    assert_eq!(jtis.len(), CHANGES);
    let mut total_duplicates = 0;
    for receiver in &receivers {
        let received = receiver.wait_for(CHANGES, Duration::from_secs(60)).await;
        let (delivered, duplicates) = check_order(&received);
        assert_eq!(delivered, jtis, "every event, on every stream");
        total_duplicates += duplicates;
    }
    eprintln!("two instances: {CHANGES} events on 3 streams, {total_duplicates} duplicates");
    assert!(
        total_duplicates <= CHANGES / 100,
        "duplicates must be rare: {total_duplicates}"
    );
}
