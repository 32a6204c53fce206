//! Crash safety (issue 7, test 1): `kill -9` at a random moment under a mixed load, 20
//! rounds. Every token a client received with a 200 still introspects active after the
//! restarts, SQLite's integrity and foreign-key checks are clean, and the server restarts
//! with no manual step.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::helpers::{CliInstallation, ServeProcess};

const ROUNDS: usize = 20;
/// Each restart binds another port: the issuer is fixed, as behind a real address.
const ISSUER: &[(&str, &str)] = &[("TENAUTH_ISSUER", "http://tenauth.test")];

/// A token received with a 200 that must stay active.
type Received = Arc<Mutex<Vec<String>>>;

/// Requests from one load task until the server dies: `kind` 0 issues client-credentials
/// tokens, 1 logs in with the password grant, 2 follows a refresh chain (only its last
/// refresh token must stay active: the earlier ones were rotated).
async fn load(base: String, basic: String, kind: usize, received: Received) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut chain: Option<String> = None;
    loop {
        let form: Vec<(&str, String)> = match (kind, &chain) {
            (0, _) => vec![("grant_type", "client_credentials".into())],
            (2, Some(refresh)) => vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", refresh.clone()),
            ],
            _ => vec![
                ("grant_type", "password".into()),
                ("username", "alice".into()),
                ("password", "alice-password-1".into()),
            ],
        };
        let Ok(response) = http
            .post(format!("{base}/oauth/token"))
            .header("Authorization", &basic)
            .form(&form)
            .send()
            .await
        else {
            return; // the server is gone
        };
        if response.status() != 200 {
            assert!(
                response.status().as_u16() < 500 || response.status() == 503,
                "{}",
                response.status()
            );
            continue;
        }
        let Ok(body) = response.json::<serde_json::Value>().await else {
            return; // killed while answering: nothing was received
        };
        let access = body["access_token"].as_str().unwrap().to_owned();
        let mut received = received.lock().unwrap();
        received.push(access);
        if kind == 2 {
            chain = body["refresh_token"].as_str().map(str::to_owned);
        }
    }
}

both_backends! {
    async fn kill_9_under_load_loses_no_token_that_was_answered(db) {
        let dir = tempfile::tempdir().unwrap();
        let installation = CliInstallation::provision(&db, dir.path(), "alice-password-1");
        let basic = installation.client_basic();
        let received: Received = Arc::default();
        let mut chains_last: Vec<String> = Vec::new();
        let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() as u64;

        for _ in 0..ROUNDS {
            let server = ServeProcess::start(&db, dir.path(), ISSUER);
            let base = format!("http://127.0.0.1:{}", server.port);
            let chain_tokens: Received = Arc::default();
            let tasks: Vec<_> = (0..6)
                .map(|task| {
                    let received = if task % 3 == 2 { chain_tokens.clone() } else { received.clone() };
                    tokio::spawn(load(base.clone(), basic.clone(), task % 3, received))
                })
                .collect();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            tokio::time::sleep(Duration::from_millis(100 + (seed >> 33) % 300)).await;

            drop(server); // SIGKILL, then reap

            for task in tasks {
                task.await.unwrap();
            }
            // Of each refresh chain, the last access token received must stay active, as
            // must every access token of the other tasks; earlier chain tokens stay active
            // too (rotation revokes nothing), so keep them all.
            chains_last.extend(chain_tokens.lock().unwrap().drain(..));
        }

        let server = ServeProcess::start(&db, dir.path(), ISSUER);
        let base = format!("http://127.0.0.1:{}", server.port);
        let http = reqwest::Client::new();
        let admin_basic = installation.admin_basic();
        let mut tokens = received.lock().unwrap().clone();
        tokens.extend(chains_last);
        assert!(tokens.len() > ROUNDS, "the load got tokens issued: {}", tokens.len());
        for token in &tokens {
            let answer: serde_json::Value = http.post(format!("{base}/oauth/introspect")).header("Authorization", &admin_basic).form(&[("token", token.as_str())]).send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["active"], true, "a token answered with 200 before a kill -9 is lost");
        }
        drop(server);
        if let tenauth::config::DatabaseUrl::Sqlite(path) = &db.url {
            use diesel::{Connection, RunQueryDsl};
            #[derive(diesel::QueryableByName)]
            struct Check {
                #[diesel(sql_type = diesel::sql_types::Text)]
                integrity_check: String,
            }
            let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
            assert_eq!(check.iter().map(|row| row.integrity_check.as_str()).collect::<Vec<_>>(), ["ok"]);
            let violations = diesel::sql_query("PRAGMA foreign_key_check").execute(&mut conn).unwrap();
            assert_eq!(violations, 0, "foreign keys hold");
        }
    }
}
