//! The server in-process: [`spawn_app`] builds the real application on port 0 over a test
//! database; [`TestApp`] talks to it over HTTP and arranges state through the library.

use std::time::Duration;

use tenauth::config::Settings;
use tenauth::db::Database;
use tenauth::domain::{now, Actor, GrantType, Password, TenantId};
use tenauth::keys::load_or_generate_secret_hash_key;
use tenauth::lifecycle::clients::{ClientRequest, ClientSpec};
use tenauth::lifecycle::users::CreatedUser;
use tenauth::lifecycle::Lifecycle;
use tenauth::secrets::SecretHasher;
use tenauth::startup::Application;

use super::databases::TestDatabase;

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

    /// The lifecycle service on the server's database, for arranging state as an admin.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle::new(self.database.clone(), self.hasher.clone())
    }

    /// A tenant with a confidential client that has every grant and scopes `read write`,
    /// and a user `alice` with password `alice-password`.
    pub async fn provision_tenant(&self, slug: &str) -> Fixture {
        let tenant = self
            .lifecycle()
            .create_tenant(
                Actor::Cli,
                slug.parse().expect("slug"),
                slug.parse().expect("name"),
                now(),
            )
            .await
            .expect("create tenant");
        let client = self
            .provision_client(tenant.id, &GrantType::ALL, "read write", true)
            .await;
        let user = self
            .provision_user(tenant.id, "alice", "alice-password")
            .await;
        Fixture {
            tenant_id: tenant.id,
            client,
            user_id: user.id.get(),
            username: "alice".into(),
            password: "alice-password".into(),
        }
    }

    /// A user of the tenant.
    pub async fn provision_user(
        &self,
        tenant_id: TenantId,
        username: &str,
        password: &str,
    ) -> CreatedUser {
        self.lifecycle()
            .create_user(
                Actor::Cli,
                tenant_id,
                username.parse().expect("username"),
                Password::new(password.to_owned()).expect("password"),
                now(),
            )
            .await
            .expect("create user")
    }

    pub async fn provision_client(
        &self,
        tenant_id: TenantId,
        grants: &[GrantType],
        scopes: &str,
        confidential: bool,
    ) -> TestClient {
        let spec = ClientSpec::parse(&ClientRequest {
            name: "test client",
            grant_types: grants.iter().map(|grant| grant.as_str()).collect(),
            scopes: scopes.split_whitespace().collect(),
            confidential,
            redirect_uris: if grants.contains(&GrantType::AuthorizationCode) {
                vec![TEST_REDIRECT_URI]
            } else {
                vec![]
            },
            ..ClientRequest::default()
        })
        .expect("client spec");
        let (client, secret) = self
            .lifecycle()
            .create_client(Actor::Cli, tenant_id, spec, now())
            .await
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

/// The redirect URI of the clients `provision_client` gives `authorization_code`: a
/// loopback URI, so any port of 127.0.0.1 matches it.
pub const TEST_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// A provisioned tenant: its confidential client and one user.
#[derive(Clone)]
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
    // Push receivers in tests listen on 127.0.0.1 (the SSRF rule has its own test).
    settings.events.policy.allow_loopback = true;
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

/// An access token for a new client of the tenant with the given scope (e.g. `admin` in
/// the platform tenant, `tenant:admin` in a tenant).
pub async fn admin_token(app: &TestApp, tenant_id: TenantId, scope: &str) -> String {
    let client = app
        .provision_client(tenant_id, &[GrantType::ClientCredentials], scope, true)
        .await;
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
