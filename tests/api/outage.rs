//! Database outage (issue 7, test 2): while the database is unreachable every request
//! answers promptly with 503 `temporarily_unavailable` and `Retry-After`, `/readyz` is 503
//! and `/healthz` 200, nothing answers 200 without a commit; once the database is back the
//! service recovers without a restart, tokens from before are active, none from during
//! the outage exist.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenauth::config::DatabaseUrl;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{json_with_status, spawn_app_with, test_settings, TestApp, TestDatabase};
use crate::introspection::introspect;

/// A TCP proxy to PostgreSQL that the test can cut and restore: the outage, without
/// stopping the PostgreSQL server other tests share.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Self {
            port,
            upstream,
            tasks: Arc::default(),
            acceptor: None,
        };
        proxy.accept_on(listener);
        proxy
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        self.acceptor = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        }));
    }

    /// Refuses new connections and cuts every open one.
    fn cut(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.accept_on(listener);
    }
}

async fn issue(app: &TestApp, fixture: &crate::helpers::Fixture) -> reqwest::Response {
    app.client_credentials(&fixture.client, None).await
}

/// The database becomes unreachable: answers during the outage, then after recovery.
async fn outage_scenario(
    app: TestApp,
    cut: impl std::future::Future<Output = ()>,
    restore: impl std::future::Future<Output = ()>,
) {
    let acme = app.provision_tenant("acme").await;
    let mut before = Vec::new();
    for _ in 0..5 {
        before.push(
            json_with_status(issue(&app, &acme).await, 200).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let count_tokens = |app: &TestApp| {
        app.database
            .read(|conn| tenauth::db::models::token::count_access_tokens(conn, acme.tenant_id))
            .unwrap()
    };
    let issued_before = count_tokens(&app);

    cut.await;

    assert_eq!(app.get("/healthz").await.status(), 200, "liveness stays up");
    assert_eq!(app.get("/readyz").await.status(), 503);
    for round in 0..6 {
        let started = Instant::now();
        let responses = [
            issue(&app, &acme).await,
            app.http
                .post(app.url("/oauth/introspect"))
                .basic_auth(&acme.client.id, acme.client.secret.as_deref())
                .form(&[("token", before[0].as_str())])
                .send()
                .await
                .unwrap(),
        ];
        // The first request to find the database gone may wait out one connect attempt
        // (the acquire timeout, 5 s); from then on requests fail fast.
        let bound = if round == 0 {
            Duration::from_secs(7)
        } else {
            Duration::from_secs(2)
        };
        assert!(
            started.elapsed() < bound,
            "answers promptly: {:?}",
            started.elapsed()
        );
        for response in responses {
            assert_eq!(
                response.status(),
                503,
                "only 503 while the database is gone"
            );
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(
                json_with_status(response, 503).await["error"],
                "temporarily_unavailable"
            );
        }
    }

    restore.await;

    let started = Instant::now();
    loop {
        let response = issue(&app, &acme).await;
        if response.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "recovers without a restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/readyz").await.status(), 200);
    for token in &before {
        assert_eq!(
            introspect(&app, &acme.client, token).await["active"],
            true,
            "tokens from before the outage survive it"
        );
    }
    assert_eq!(
        count_tokens(&app),
        issued_before + 1,
        "no token was stored during the outage"
    );
}

// Multi-threaded: the server's start-up blocks its thread while the proxy must accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_answers_503_and_recovers_without_a_restart() {
    let Some(db) = TestDatabase::postgres() else {
        return crate::helpers::report_skipped(module_path!());
    };
    let DatabaseUrl::Postgres(raw) = db.url.clone() else {
        unreachable!()
    };
    let mut url = url::Url::parse(&raw).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Arc::new(tokio::sync::Mutex::new(Proxy::start(upstream).await));
    url.set_port(Some(proxy.lock().await.port)).unwrap();
    let mut settings = test_settings(&db);
    settings.database_url = url.as_str().parse().unwrap();
    let app = spawn_app_with(db, settings).await;

    outage_scenario(app, async { proxy.lock().await.cut() }, async {
        proxy.lock().await.restore().await
    })
    .await;
}

#[tokio::test]
async fn an_sqlite_file_gone_answers_503_and_recovers_when_it_is_back() {
    let db = TestDatabase::sqlite();
    let DatabaseUrl::Sqlite(path) = db.url.clone() else {
        unreachable!()
    };
    let aside = path.with_extension("aside");
    let settings = test_settings(&db);
    let app = spawn_app_with(db, settings).await;

    let (from, to) = (path.clone(), aside.clone());
    let cut = async move {
        std::fs::rename(&from, &to).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let restore = async move {
        std::fs::rename(&aside, &path).unwrap();
    };
    outage_scenario(app, cut, restore).await;
}
