use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use tenauth::config::{DatabaseUrl, Settings};
use tenauth::db::Database;
use tenauth::domain::{now, GrantType, TenantId};
use tenauth::keys::load_or_generate_secret_hash_key;
use tenauth::oauth::secrets::SecretHasher;
use tenauth::provisioning::{self, ClientSpec};
use tenauth::startup::Application;

/// Declares a test that runs once per backend, as `NAME::sqlite` and `NAME::postgres`.
/// The PostgreSQL variant needs `TEST_POSTGRES_URL`; without it, it prints that it was
/// skipped (to the real stderr, past the test harness's capture) instead of passing quietly.
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($db: $crate::helpers::TestDatabase) $body

            #[tokio::test]
            async fn sqlite() {
                scenario($crate::helpers::TestDatabase::sqlite()).await
            }

            #[tokio::test]
            async fn postgres() {
                match $crate::helpers::TestDatabase::postgres() {
                    Some(db) => scenario(db).await,
                    None => $crate::helpers::report_skipped(module_path!()),
                }
            }
        }
    )*};
}

pub fn report_skipped(test: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}::postgres: TEST_POSTGRES_URL is not set"
    );
}

/// A throw-away database: an SQLite file in a temporary directory, or a PostgreSQL
/// database created for the test and dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    dir: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    fn drop_database(&self) {
        let mut admin =
            PgConnection::establish(&self.admin_url).expect("connect to TEST_POSTGRES_URL");
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .expect("drop the test database");
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        self.drop_database();
    }
}

impl TestDatabase {
    /// The `DATABASE_URL` to give the `tenauth` binary (with the password, if any).
    pub fn raw_url(&self) -> String {
        match &self.url {
            DatabaseUrl::Postgres(raw) => raw.clone(),
            other => other.to_string(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = DatabaseUrl::Sqlite(dir.path().join("tenauth.db"));
        Self {
            url,
            dir,
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when `TEST_POSTGRES_URL` is not set.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tenauth_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|error| panic!("TEST_POSTGRES_URL is set but unreachable: {error}"));
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .expect("create the test database");
        let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(Self {
            url: DatabaseUrl::Postgres(url.to_string()),
            dir: tempfile::tempdir().expect("temporary directory"),
            postgres: Some(PostgresDatabase { admin_url, name }),
        })
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the database disappear under a running server: the SQLite file is deleted;
    /// the PostgreSQL database is dropped, its connections terminated.
    pub fn destroy(&self) {
        match (&self.url, &self.postgres) {
            (_, Some(postgres)) => postgres.drop_database(),
            (DatabaseUrl::Sqlite(path), None) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            (DatabaseUrl::Postgres(_), None) => unreachable!(),
        }
    }

    /// A pool of our own on the test database, for arranging and inspecting state.
    pub fn connect(&self) -> Database {
        Database::connect(&self.url).expect("connect to the test database")
    }
}

/// A running tenauth server and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// Our own pool on the server's database, for arranging and inspecting state.
    pub database: Database,
    /// The server's secret hasher (same key), to provision clients directly.
    pub hasher: SecretHasher,
    pub db: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request the server")
    }

    /// `POST` a form to the token endpoint, with HTTP Basic credentials if given.
    pub async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url("/oauth/token")).form(form);
        if let Some((id, secret)) = basic {
            request = request.header("Authorization", basic_header(id, secret));
        }
        request.send().await.expect("request the token endpoint")
    }

    /// A tenant with a confidential client that has every grant and scopes `read write`,
    /// and a user `alice` with password `alice-password`.
    pub fn provision_tenant(&self, slug: &str) -> Fixture {
        let tenant = provisioning::create_tenant(&self.database, "test", slug, slug, now())
            .expect("create tenant");
        let client = self.provision_client(tenant.id, &GrantType::ALL, "read write", true);
        let user = provisioning::create_user(
            &self.database,
            "test",
            tenant.id,
            "alice",
            "alice-password".into(),
            now(),
        )
        .expect("create user");
        Fixture {
            tenant_id: tenant.id,
            client,
            user_id: user.id,
            username: "alice".into(),
            password: "alice-password".into(),
        }
    }

    pub fn provision_client(
        &self,
        tenant_id: TenantId,
        grants: &[GrantType],
        scopes: &str,
        confidential: bool,
    ) -> TestClient {
        let spec = ClientSpec {
            name: "test client".into(),
            grant_types: grants.iter().copied().collect(),
            scopes: scopes.parse().expect("scopes"),
            confidential,
        };
        let (client, secret) = provisioning::create_client(
            &self.database,
            &self.hasher,
            "test",
            tenant_id,
            &spec,
            now(),
        )
        .expect("create client");
        TestClient {
            id: client.id.to_string(),
            secret: secret.map(|secret| secret.expose().to_owned()),
        }
    }

    /// Client credentials as HTTP Basic (confidential clients).
    pub async fn client_credentials(
        &self,
        client: &TestClient,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|scope| ("scope", scope)));
        self.token(
            &form,
            Some((&client.id, client.secret.as_deref().unwrap_or_default())),
        )
        .await
    }

    /// The password grant for `fixture`'s user through `fixture`'s client.
    pub async fn password_grant(
        &self,
        fixture: &Fixture,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", fixture.username.as_str()),
            ("password", fixture.password.as_str()),
        ];
        form.extend(scope.map(|scope| ("scope", scope)));
        self.token(&form, Some(fixture.client.basic())).await
    }

    pub async fn refresh(
        &self,
        client: &TestClient,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        form.extend(scope.map(|scope| ("scope", scope)));
        self.token(&form, Some(client.basic())).await
    }

    /// `GET` with a bearer token.
    pub async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request the server")
    }
}

/// A provisioned tenant: its confidential client and one user.
pub struct Fixture {
    pub tenant_id: TenantId,
    pub client: TestClient,
    pub user_id: i64,
    pub username: String,
    pub password: String,
}

#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestClient {
    pub fn basic(&self) -> (&str, &str) {
        (&self.id, self.secret.as_deref().unwrap_or_default())
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))`, RFC 6749 Appendix B.
pub fn basic_header(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encode =
        |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// The response body as JSON, after checking the status.
pub async fn json_with_status(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status().as_u16();
    let body = response.text().await.expect("response body");
    assert_eq!(actual, status, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// The claims of a JWT, without verifying it (tests verify separately where it matters).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Settings for a test server: port 0, the given database, keys in the database's
/// scratch directory.
pub fn test_settings(db: &TestDatabase) -> Settings {
    let mut settings = Settings::with_database(db.url.clone());
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.keys_dir = db.dir().join("keys");
    // A rotated key signs at once here; the publication delay has its own test.
    settings.keys_publish_delay = Duration::ZERO;
    settings
}

pub async fn spawn_app(db: TestDatabase) -> TestApp {
    let settings = test_settings(&db);
    spawn_app_with(db, settings).await
}

pub async fn spawn_app_with(db: TestDatabase, settings: Settings) -> TestApp {
    let application = Application::build(settings.clone()).expect("build the application");
    let address = format!("http://{}", application.address());
    tokio::spawn(application.run_until_stopped());
    let hasher = SecretHasher::new(
        &load_or_generate_secret_hash_key(&settings.keys_dir).expect("secret-hash key"),
    );
    TestApp {
        address,
        http: reqwest::Client::new(),
        database: db.connect(),
        hasher,
        db,
    }
}

/// Runs the `tenauth` binary with a clean environment (no inherited tenauth settings).
pub fn run_cli(args: &[&str], env: &[(&str, &str)], dir: &Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenauth"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name == "DATABASE_URL" || name.starts_with("TENAUTH_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run the tenauth binary")
}

/// The files in `dir` with the given extension.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// An access token for a new client of the tenant with the given scope (e.g. `admin` in
/// the platform tenant, `tenant:admin` in a tenant).
pub async fn admin_token(app: &TestApp, tenant_id: TenantId, scope: &str) -> String {
    let client = app.provision_client(tenant_id, &[GrantType::ClientCredentials], scope, true);
    json_with_status(app.client_credentials(&client, None).await, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A request with a bearer token and an optional JSON body.
pub async fn call_with_token(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `tenauth serve` as a child process on a free port, in `dir`.
pub struct ServeProcess {
    child: std::process::Child,
    pub port: u16,
    /// Where its standard error goes.
    pub log: PathBuf,
}

impl ServeProcess {
    /// Starts it with `env` added, its standard error written to `dir/serve.log`.
    pub fn start(db: &TestDatabase, dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenauth"));
        for (name, _) in std::env::vars() {
            if name == "DATABASE_URL" || name.starts_with("TENAUTH_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", db.raw_url())
            .env("TENAUTH_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tenauth serve");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, log }
    }

    pub fn connect(&self) -> std::io::Result<TcpStream> {
        TcpStream::connect(("127.0.0.1", self.port))
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; its exit status.
    pub fn wait(&mut self, bound: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < bound,
                "the server did not stop within {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An installation provisioned through the CLI alone, for tests that run `tenauth serve`
/// as a process: a platform admin client (`bootstrap`), tenant `acme`, its client `web`
/// (every grant, scope `read`) and its user `alice` with `password`.
pub struct CliInstallation {
    pub admin: serde_json::Value,
    pub tenant: serde_json::Value,
    pub client: serde_json::Value,
}

impl CliInstallation {
    pub fn provision(db: &TestDatabase, dir: &Path, password: &str) -> Self {
        let url = db.raw_url();
        let cli = |args: &[&str]| -> serde_json::Value {
            let output = run_cli(args, &[("DATABASE_URL", &url)], dir);
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            serde_json::from_slice(&output.stdout).unwrap()
        };
        let admin = cli(&["bootstrap", "--json"]);
        let tenant = cli(&[
            "tenant", "create", "--slug", "acme", "--name", "Acme", "--json",
        ]);
        let tenant_id = tenant["id"].to_string();
        let client = cli(&[
            "client",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "web",
            "--grant-type",
            "client_credentials,password,refresh_token",
            "--scope",
            "read",
            "--json",
        ]);
        cli(&[
            "user",
            "create",
            "--tenant",
            &tenant_id,
            "--username",
            "alice",
            "--password",
            password,
            "--json",
        ]);
        Self {
            admin,
            tenant,
            client,
        }
    }

    /// `Authorization: Basic …` of the admin client.
    pub fn admin_basic(&self) -> String {
        basic_of(&self.admin)
    }

    /// `Authorization: Basic …` of the tenant's client.
    pub fn client_basic(&self) -> String {
        basic_of(&self.client)
    }
}

fn basic_of(credentials: &serde_json::Value) -> String {
    basic_header(
        credentials["client_id"].as_str().unwrap(),
        credentials["client_secret"].as_str().unwrap(),
    )
}
