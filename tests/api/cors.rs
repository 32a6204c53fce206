//! CORS: off by default; when origins are configured, those origins (and only they) get
//! the headers that let a browser read tenauth's answers.

use crate::helpers::{spawn_app, spawn_app_with, test_settings, TestDatabase};

const ORIGIN: &str = "https://app.example.com";

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app(TestDatabase::sqlite()).await;

    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn configured_origins_pass_preflight_and_read_answers_and_others_do_not() {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.cors_origins = vec![ORIGIN.to_owned()];
    let app = spawn_app_with(db, settings).await;
    let acme = app.provision_tenant("acme").await;

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    let token = app
        .http
        .post(app.url("/oauth/token"))
        .header("Origin", ORIGIN)
        .basic_auth(&acme.client.id, acme.client.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let foreign = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();

    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], ORIGIN);
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    assert_eq!(token.status(), 200);
    assert_eq!(token.headers()["access-control-allow-origin"], ORIGIN);
    assert!(token.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));
    assert_eq!(
        foreign.status(),
        200,
        "served, as to any client without CORS"
    );
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "but a browser may not read it"
    );
}
