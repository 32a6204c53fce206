//! Parse at the edge: a request body must be a JSON object of the documented shape, and a
//! value that cannot be an id never reaches the database. Each refusal is the same answer
//! any other invalid value at that place gets, and it changes nothing.

use crate::helpers::{admin_token, call_with_token, json_with_status, spawn_app, TestApp};
use crate::introspection::introspect;
use tenauth::domain::{GrantType, TenantId};

/// Bodies that are JSON but not an object.
const NOT_OBJECTS: [&str; 6] = [
    r#"["slug","name"]"#,
    r#"["x"]"#,
    "[]",
    r#""acme""#,
    "42",
    "null",
];

/// Sends `body` as `application/json`.
async fn send_json(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> reqwest::Response {
    app.http
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_request(response: reqwest::Response, what: &str) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{what}: {body}"
    );
}

both_backends! {
    async fn every_json_endpoint_refuses_a_body_that_is_not_an_object_and_changes_nothing(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let user_token = login["access_token"].as_str().unwrap().to_owned();
        let introspector = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;

        // Every operation the document says takes a JSON body, read from the document so
        // that a new one is covered too.
        let document = json_with_status(app.get("/openapi.json").await, 200).await;
        let mut json_operations = Vec::new();
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                if operation["requestBody"]["content"]["application/json"].is_object() {
                    json_operations.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        assert!(json_operations.len() >= 6, "{json_operations:?}");

        for (method, template) in &json_operations {
            let path = template
                .replace("{id}", &acme.tenant_id.to_string())
                .replace("{user_id}", &acme.user_id.to_string())
                .replace("{sid}", "no-such-stream");
            let token = if path.starts_with("/oauth/") { &user_token } else { &admin };
            for body in NOT_OBJECTS {
                let response = send_json(&app, method, &path, token, body).await;
                assert_invalid_request(response, &format!("{method} {template} with {body}")).await;
            }
        }

        // Nothing was created, revoked or changed.
        let tenants = json_with_status(call_with_token(&app, reqwest::Method::GET, "/admin/tenants", &admin, None).await, 200).await;
        assert_eq!(tenants["items"].as_array().unwrap().len(), 2, "the platform and acme only: {tenants}");
        assert!(!tenants.to_string().contains("\"slug\":\"slug\""));
        assert_eq!(introspect(&app, &introspector, &user_token).await["active"], true, "no token was revoked");
        assert_eq!(app.password_grant(&acme, None).await.status(), 200, "the password is unchanged");
        let mine = json_with_status(app.get_with_token("/oauth/personal-access-tokens", &user_token).await, 200).await;
        assert_eq!(mine["tokens"], serde_json::json!([]));
    }

    async fn a_revoke_tokens_body_of_the_wrong_shape_revokes_nothing(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let introspector = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let token = login["access_token"].as_str().unwrap();
        let path = format!("/admin/tenants/{}/revoke-tokens", acme.tenant_id);

        // Each of these once read as "no body", which revokes every token of the tenant.
        for body in [
            r#"{"client_id": 5}"#,
            r#"{"user_id": "alice"}"#,
            r#"{"clientid": "x"}"#,
            r#"{"client_id": "nul\u0000byte"}"#,
            r#"{"user_id": 99999999999999999999}"#,
            "{not json",
        ] {
            assert_invalid_request(send_json(&app, "POST", &path, &admin, body).await, body).await;
        }
        assert_eq!(introspect(&app, &introspector, token).await["active"], true, "nothing was revoked");

        // An empty body, or `{}`, still means every token.
        let all = json_with_status(send_json(&app, "POST", &path, &admin, "{}").await, 200).await;
        assert!(all["revoked_access_tokens"].as_u64().unwrap() >= 1, "{all}");
        assert_eq!(introspect(&app, &introspector, token).await["active"], false);
    }

    async fn a_value_that_cannot_be_an_id_is_refused_at_the_edge_like_any_invalid_value(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let user_token = login["access_token"].as_str().unwrap().to_owned();
        let tenant = acme.tenant_id;
        // Percent-encoded as sent: a NUL byte (an error on PostgreSQL, were it to reach a
        // query), invalid UTF-8 and a number with a NUL after it; for numeric ids, one out
        // of range too. A plainly malformed value's answer is the one every other gets.
        let hostile = ["%29%00%C2%AE", "nul%00byte", "%FF%FE", "-1%00"];
        let out_of_range = "99999999999999999999";
        let plain = "not%20an%20id";

        let answer = |response: reqwest::Response| async move {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        };
        // Query parameters, one at a time.
        for (parameter, numeric) in [("client_id", false), ("user_id", true), ("after", false), ("limit", true), ("active", false)] {
            let listing = |value: &str| format!("/admin/tenants/{tenant}/tokens?{parameter}={value}");
            let expected = answer(app.get_with_token(&listing(plain), &admin).await).await;
            assert_eq!(expected.0, 400, "{parameter}: {}", expected.1);
            for value in hostile.into_iter().chain(numeric.then_some(out_of_range)) {
                let got = answer(app.get_with_token(&listing(value), &admin).await).await;
                assert_eq!(got, expected, "?{parameter}={value}");
            }
        }
        for (listing, parameter) in [("/admin/tenants", "after"), (&*format!("/admin/tenants/{tenant}/audit-events"), "before")] {
            let expected = answer(app.get_with_token(&format!("{listing}?{parameter}={plain}"), &admin).await).await;
            assert_eq!(expected.0, 400);
            for value in hostile.into_iter().chain([out_of_range]) {
                let got = answer(app.get_with_token(&format!("{listing}?{parameter}={value}"), &admin).await).await;
                assert_eq!(got, expected, "{listing}?{parameter}={value}");
            }
        }
        // Path parameters: the same 404 as a path that names nothing.
        let admin_paths = [
            ("GET", "/admin/tenants/{}", true),
            ("GET", "/admin/tenants/{tenant}/clients/{}", false),
            ("DELETE", "/admin/tenants/{tenant}/clients/{}", false),
            ("POST", "/admin/tenants/{tenant}/clients/{}/secret", false),
            ("POST", "/admin/tenants/{tenant}/users/{}/disable", true),
            ("DELETE", "/admin/tenants/{tenant}/users/{}", true),
        ];
        for (method, template, numeric) in admin_paths {
            let path = |value: &str| template.replace("{tenant}", &tenant.to_string()).replace("{}", value);
            let send = |value: &str| {
                app.http
                    .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(&path(value)))
                    .bearer_auth(&admin)
                    .send()
            };
            let expected = answer(send(plain).await.unwrap()).await;
            assert_eq!(expected.0, 404, "{method} {template}: {}", expected.1);
            for value in hostile.into_iter().chain(numeric.then_some(out_of_range)) {
                let got = answer(send(value).await.unwrap()).await;
                assert_eq!(got, expected, "{method} {template} with {value}");
            }
        }
        let revoke_own = |value: &str| {
            app.http
                .delete(app.url(&format!("/oauth/personal-access-tokens/{value}")))
                .bearer_auth(&user_token)
                .send()
        };
        let expected = answer(revoke_own(plain).await.unwrap()).await;
        assert_eq!(expected.0, 404);
        for value in hostile {
            assert_eq!(answer(revoke_own(value).await.unwrap()).await, expected, "personal token {value}");
        }
        // JSON fields that name ids.
        let path = format!("/admin/tenants/{tenant}/revoke-tokens");
        for body in [
            r#"{"client_id": "not an id"}"#,
            r#"{"client_id": ")\u0000®"}"#,
            r#"{"client_id": "\ud800"}"#,
            r#"{"user_id": 99999999999999999999}"#,
            r#"{"user_id": 1.5}"#,
        ] {
            assert_invalid_request(send_json(&app, "POST", &path, &admin, body).await, body).await;
        }
        // The server is fine, and nothing was revoked.
        assert_eq!(app.get_with_token("/oauth/me", &user_token).await.status(), 200);
    }
}

/// A JWT of our shape whose claims are the caller's own (it is not verified before its row
/// is looked up: the stored hash is the proof), with the given `jti` and `tenant_id`.
fn forged_token(jti: &str, tenant_id: serde_json::Value, issuer: &str) -> String {
    use base64::Engine;
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let header = encode(serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": "k"}));
    let claims = encode(serde_json::json!({
        "iss": issuer, "sub": "1", "aud": issuer, "client_id": "c", "tenant_id": tenant_id,
        "scope": "read", "jti": jti, "iat": 1, "exp": 4_000_000_000_i64,
    }));
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

both_backends! {
    async fn a_forged_token_whose_claims_cannot_be_ids_never_reaches_the_database(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let introspector = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let issuer = app.address.clone();
        for (jti, tenant) in [
            ("nul\u{0}byte", serde_json::json!(acme.tenant_id.get())),
            (")\u{0}\u{ae}", serde_json::json!(1)),
            ("a".repeat(65).as_str(), serde_json::json!(acme.tenant_id.get())),
            ("0198c0de-1f2e-7a3b-8c4d-5e6f70819203", serde_json::json!(-1)),
        ] {
            let token = forged_token(jti, tenant, &issuer);
            let bearer = app.get_with_token("/oauth/me", &token).await;
            assert_eq!(bearer.status(), 401, "{jti:?}");
            assert_eq!(introspect(&app, &introspector, &token).await, serde_json::json!({"active": false}));
            let revoked = app.http.post(app.url("/oauth/revoke")).basic_auth(&introspector.id, introspector.secret.as_deref())
                .form(&[("token", token.as_str())]).send().await.unwrap();
            assert_eq!(revoked.status(), 200, "like any unknown token");
        }
    }
}
