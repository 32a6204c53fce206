//! RFC 7662 introspection: the token kinds × states matrix, the answer's shape, errors.

use diesel::prelude::*;
use tenauth::db::models::user::User;
use tenauth::db::schema::{oauth_clients, tenants};
use tenauth::domain::{now, GrantType, TenantId, UserId};

use crate::helpers::{json_with_status, spawn_app, Fixture, TestApp, TestClient};

/// One token of each kind for a tenant, and a second confidential client to ask about
/// them (the issuing client may be revoked by the state under test).
struct Tokens {
    fixture: Fixture,
    introspector: TestClient,
    client_credentials: String,
    password: String,
    refresh: String,
    personal: String,
    personal_id: String,
}

async fn issue_all(app: &TestApp, slug: &str) -> Tokens {
    let fixture = app.provision_tenant(slug).await;
    let introspector = app
        .provision_client(
            fixture.tenant_id,
            &[GrantType::ClientCredentials],
            "read",
            true,
        )
        .await;
    let machine = json_with_status(app.client_credentials(&fixture.client, None).await, 200).await;
    let login = json_with_status(app.password_grant(&fixture, None).await, 200).await;
    let password = login["access_token"].as_str().unwrap().to_owned();
    let personal = json_with_status(
        app.http
            .post(app.url("/oauth/personal-access-tokens"))
            .bearer_auth(&password)
            .json(&serde_json::json!({"name": "cli", "scopes": ["read"]}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    Tokens {
        fixture,
        introspector,
        client_credentials: machine["access_token"].as_str().unwrap().to_owned(),
        password,
        refresh: login["refresh_token"].as_str().unwrap().to_owned(),
        personal: personal["access_token"].as_str().unwrap().to_owned(),
        personal_id: personal["id"].as_str().unwrap().to_owned(),
    }
}

pub async fn introspect(app: &TestApp, caller: &TestClient, token: &str) -> serde_json::Value {
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&caller.id, caller.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await
}

fn raw_update(
    app: &TestApp,
    work: impl FnOnce(&mut tenauth::db::DbConnection) -> QueryResult<usize> + Send + 'static,
) {
    app.database
        .write(move |conn| work(conn).map_err(tenauth::db::DbError::from))
        .unwrap();
}

fn set_tenant_status(app: &TestApp, tenant_id: TenantId, status: &'static str) {
    raw_update(app, move |conn| {
        diesel::update(tenants::table.find(tenant_id.get()))
            .set(tenants::status.eq(status))
            .execute(conn)
    });
}

/// Marks every client of the tenant but `keep` revoked, without touching their tokens:
/// introspection must see the client's state by itself.
fn revoke_clients_except(app: &TestApp, tenant_id: TenantId, keep: &str) {
    let keep = keep.to_owned();
    raw_update(app, move |conn| {
        diesel::update(
            oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant_id.get()))
                .filter(oauth_clients::id.ne(&keep)),
        )
        .set(oauth_clients::revoked_at.eq(now()))
        .execute(conn)
    });
}

async fn revoke(app: &TestApp, client: &TestClient, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn introspection_matrix_of_token_kinds_and_states(db) {
        let app = spawn_app(db).await;
        let platform = app.provision_client(TenantId::PLATFORM, &[GrantType::ClientCredentials], "", true).await;
        let foreign = app.provision_tenant("foreign").await;
        // Expected activity of: client_credentials, password access, refresh, personal.
        let states: [(&str, [bool; 4]); 9] = [
            ("fresh", [true, true, true, true]),
            ("revoked", [false, false, false, false]),
            ("rotated", [true, true, false, true]),
            ("client deleted", [false, false, false, false]),
            ("user disabled", [true, false, false, false]),
            ("tenant suspended", [false, false, false, false]),
            ("tenant deleted", [false, false, false, false]),
            ("foreign caller", [false, false, false, false]),
            ("platform caller", [true, true, true, true]),
        ];

        for (index, (state, expected)) in states.into_iter().enumerate() {
            let tokens = issue_all(&app, &format!("tenant-{index}")).await;
            let tenant_id = tokens.fixture.tenant_id;
            let mut caller = tokens.introspector.clone();
            match state {
                "fresh" => {}
                "revoked" => {
                    for token in [&tokens.client_credentials, &tokens.password, &tokens.refresh] {
                        assert_eq!(revoke(&app, &tokens.fixture.client, token).await.status(), 200);
                    }
                    let deleted = app.http.delete(app.url(&format!("/oauth/personal-access-tokens/{}", tokens.personal_id)))
                        .bearer_auth(&tokens.personal).send().await.unwrap();
                    assert_eq!(deleted.status(), 204);
                }
                "rotated" => {
                    json_with_status(app.refresh(&tokens.fixture.client, &tokens.refresh, None).await, 200).await;
                }
                "client deleted" => revoke_clients_except(&app, tenant_id, &tokens.introspector.id),
                "user disabled" => {
                    let user_id = tokens.fixture.user_id;
                    app.database.write(move |conn| User::disable(conn, tenant_id, UserId::new(user_id), now())).unwrap();
                }
                "tenant suspended" => set_tenant_status(&app, tenant_id, "suspended"),
                "tenant deleted" => set_tenant_status(&app, tenant_id, "deleted"),
                "foreign caller" => caller = foreign.client.clone(),
                "platform caller" => caller = platform.clone(),
                other => unreachable!("{other}"),
            }
            // A suspended or deleted tenant's own clients cannot authenticate: ask as the platform.
            if state.starts_with("tenant ") {
                caller = platform.clone();
            }

            let kinds = ["client_credentials", "password", "refresh", "personal"];
            let presented = [&tokens.client_credentials, &tokens.password, &tokens.refresh, &tokens.personal];
            for ((kind, token), active) in kinds.iter().zip(presented).zip(expected) {
                let answer = introspect(&app, &caller, token).await;
                assert_eq!(answer["active"], active, "{kind} token, state {state}: {answer}");
                if !active {
                    assert_eq!(answer, serde_json::json!({"active": false}), "{kind}, {state}: nothing but active:false");
                }
            }
        }
    }

    async fn an_active_answer_describes_the_token(db) {
        let app = spawn_app(db).await;
        let tokens = issue_all(&app, "acme").await;
        let caller = &tokens.introspector;
        let tenant = tokens.fixture.tenant_id.get();

        let machine = introspect(&app, caller, &tokens.client_credentials).await;
        assert_eq!(machine["token_type"], "Bearer");
        assert_eq!(machine["token_kind"], "access");
        assert_eq!(machine["tenant_id"], tenant);
        assert_eq!(machine["client_id"], tokens.fixture.client.id);
        assert_eq!(machine["sub"], tokens.fixture.client.id);
        assert_eq!(machine["scope"], "read write");
        assert_eq!(machine["iss"], app.address);
        assert!(machine.get("username").is_none());
        assert!(machine["exp"].as_i64().unwrap() > machine["iat"].as_i64().unwrap());
        assert!(machine["jti"].is_string());

        let user = introspect(&app, caller, &tokens.password).await;
        assert_eq!(user["username"], "alice");
        assert_eq!(user["sub"], tokens.fixture.user_id.to_string());

        let refresh = introspect(&app, caller, &tokens.refresh).await;
        assert_eq!(refresh["token_type"], "refresh_token");
        assert_eq!(refresh["token_kind"], "refresh");
        assert_eq!(refresh["tenant_id"], tenant);
        assert_eq!(refresh["username"], "alice");

        let personal = introspect(&app, caller, &tokens.personal).await;
        assert_eq!(personal["token_kind"], "personal");
        assert_eq!(personal["scope"], "read");

        // The hint only orders the search.
        let hinted = app.http.post(app.url("/oauth/introspect")).basic_auth(&caller.id, caller.secret.as_deref())
            .form(&[("token", tokens.refresh.as_str()), ("token_type_hint", "access_token")]).send().await.unwrap();
        assert_eq!(json_with_status(hinted, 200).await["active"], true);
        for garbage in ["garbage", "a.b.c", "", "eyJhbGciOiJFUzI1NiJ9.e30.x"] {
            if garbage.is_empty() { continue; }
            assert_eq!(introspect(&app, caller, garbage).await, serde_json::json!({"active": false}), "{garbage}");
        }
        let mut forged = tokens.password.clone();
        forged.truncate(forged.len() - 4);
        forged.push_str("AAAA");
        assert_eq!(introspect(&app, caller, &forged).await["active"], false, "a token with a forged signature");
    }

    async fn an_expired_token_of_every_kind_is_inactive(db) {
        let mut settings = crate::helpers::test_settings(&db);
        settings.access_token_ttl = std::time::Duration::from_secs(2);
        settings.refresh_token_ttl = std::time::Duration::from_secs(2);
        settings.personal_token_ttl = std::time::Duration::from_secs(2);
        let app = crate::helpers::spawn_app_with(db, settings).await;
        let tokens = issue_all(&app, "acme").await;

        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;

        for token in [&tokens.client_credentials, &tokens.password, &tokens.refresh, &tokens.personal] {
            assert_eq!(introspect(&app, &tokens.introspector, token).await, serde_json::json!({"active": false}));
        }
    }

    async fn introspection_requires_a_confidential_client_and_a_token(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let public = app.provision_client(acme.tenant_id, &[GrantType::Password], "", false).await;
        let token = json_with_status(app.client_credentials(&acme.client, None).await, 200).await["access_token"].as_str().unwrap().to_owned();

        let wrong = app.http.post(app.url("/oauth/introspect")).basic_auth(&acme.client.id, Some("wrong")).form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        assert_eq!(wrong.headers()["www-authenticate"], r#"Basic realm="tenauth""#);
        assert_eq!(wrong.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
        let anonymous = app.http.post(app.url("/oauth/introspect")).form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let by_public = app.http.post(app.url("/oauth/introspect")).form(&[("token", token.as_str()), ("client_id", public.id.as_str())]).send().await.unwrap();
        assert_eq!(by_public.status(), 401, "public clients may not introspect");
        let missing = app.http.post(app.url("/oauth/introspect")).basic_auth(&acme.client.id, acme.client.secret.as_deref()).form(&[("token_type_hint", "access_token")]).send().await.unwrap();
        assert_eq!(json_with_status(missing, 400).await["error"], "invalid_request");
    }

    async fn introspection_answers_503_when_the_database_is_gone(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let token = json_with_status(app.client_credentials(&acme.client, None).await, 200).await["access_token"].as_str().unwrap().to_owned();

        app.db.destroy();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        let response = app.http.post(app.url("/oauth/introspect")).basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&[("token", token.as_str())]).send().await.unwrap();
        assert!(response.headers().contains_key("retry-after"));
        let body = json_with_status(response, 503).await;
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body.get("active").is_none(), "never an answer about the token");
    }
}

both_backends! {
    async fn an_instance_started_before_a_key_rotation_accepts_tokens_signed_with_the_new_key(db) {
        let mut settings = crate::helpers::test_settings(&db);
        // Instances behind one address share one issuer (otherwise each names its own port).
        settings.issuer = Some("http://tenauth.test".to_owned());
        let url = db.url.clone();
        // The key the first instance loads was made an hour ago; the rotated one now.
        tenauth::keys::generate_key(&settings.keys_dir, now().and_utc().timestamp() - 3600).unwrap();
        let old = crate::helpers::spawn_app_with(db, settings.clone()).await;
        let acme = old.provision_tenant("acme").await;
        let rotated_kid = tenauth::keys::generate_key(&settings.keys_dir, now().and_utc().timestamp()).unwrap();
        // A second instance on the same database and keys directory, started after the rotation.
        let second_db = crate::helpers::TestDatabase::sqlite();
        let new = crate::helpers::spawn_app_with(second_db, tenauth::config::Settings { database_url: url, ..settings }).await;

        let body = json_with_status(new.client_credentials(&acme.client, None).await, 200).await;
        let token = body["access_token"].as_str().unwrap();

        let header = token.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(&base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap()).unwrap();
        assert_eq!(header["kid"], rotated_kid, "the new instance signs with the new key");
        assert_eq!(introspect(&old, &acme.client, token).await["active"], true, "the old instance, which never loaded that key, accepts it");
        let old_token = json_with_status(old.client_credentials(&acme.client, None).await, 200).await;
        assert_eq!(introspect(&new, &acme.client, old_token["access_token"].as_str().unwrap()).await["active"], true);
    }
}
