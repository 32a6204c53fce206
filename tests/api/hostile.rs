//! Hostile input (issue 7, test 5), black-box over every route of the router: CR/LF, NUL,
//! invalid UTF-8, SQL-looking strings, Unicode look-alikes and long values in every path
//! parameter, query parameter, form field, JSON field and credential. No 5xx, never a
//! canary echoed in an answer or a log line, and the OAuth endpoints give these values
//! the same answer as any other invalid value.

use std::time::Duration;

use crate::helpers::{basic_header, CliInstallation, ServeProcess};

const CANARY: &str = "CANARY7f3a9c";

/// Hostile values, each carrying the canary (as raw text; percent-encoded where needed).
fn hostile_values() -> Vec<String> {
    [
        "line\r\nInjected: header",
        "nul\0byte",
        "' OR '1'='1",
        "1; DROP TABLE tenants; --",
        "\u{430}dmin",              // Cyrillic a
        "\u{ff21}\u{ff24}\u{ff2d}", // fullwidth ADM
        "right\u{202e}left",
        "../../etc/passwd",
        "{\"json\": true}",
        "%FF%FE%00",
    ]
    .iter()
    .map(|value| format!("{value}{CANARY}"))
    .chain([format!("{}{CANARY}", "x".repeat(4_000))])
    .collect()
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

both_backends! {
    async fn hostile_values_in_every_field_of_every_route_get_no_5xx_and_no_echo(db) {
        let dir = tempfile::tempdir().unwrap();
        let installation = CliInstallation::provision(&db, dir.path(), "alice-password-1");
        let client = &installation.client;
        let server = ServeProcess::start(&db, dir.path(), &[("RUST_LOG", "info"), ("TENAUTH_RATE_LIMIT_CLIENT", "0"), ("TENAUTH_RATE_LIMIT_TENANT", "0"), ("TENAUTH_LOGIN_FAILURES_PER_USER", "0"), ("TENAUTH_LOGIN_FAILURES_PER_CLIENT", "0")]);
        let base = format!("http://127.0.0.1:{}", server.port);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let (admin_basic, client_basic) = (installation.admin_basic(), installation.client_basic());
        let admin_token: serde_json::Value = http.post(format!("{base}/oauth/token")).header("Authorization", &admin_basic).form(&[("grant_type", "client_credentials")]).send().await.unwrap().json().await.unwrap();
        let bearer = format!("Bearer {}", admin_token["access_token"].as_str().unwrap());
        let mut requests = 0;
        let mut check = |what: String, status: reqwest::StatusCode, body: String| {
            requests += 1;
            assert!(status.as_u16() < 500, "{what}: {status} {body}");
            assert!(!body.contains(CANARY), "{what}: the value came back: {body}");
        };
        let form_fields = ["grant_type", "username", "password", "refresh_token", "scope", "token", "token_type_hint", "client_id", "client_secret"];
        let json_fields = ["slug", "name", "username", "password", "client_id"];

        for value in hostile_values() {
            // Every route, the value in each path parameter and in every query parameter.
            for endpoint in tenauth::routes::endpoints() {
                let path = endpoint.path.replace("{id}", &encode(&value)).replace("{client_id}", &encode(&value)).replace("{user_id}", &encode(&value));
                let query = ["limit", "after", "before", "active", "client_id", "user_id"].iter().map(|name| format!("{name}={}", encode(&value))).collect::<Vec<_>>().join("&");
                let mut request = http.request(reqwest::Method::from_bytes(endpoint.method.as_str().as_bytes()).unwrap(), format!("{base}{path}?{query}")).header("Authorization", &bearer).header("X-Tenant-ID", encode(&value)).header("X-Request-Id", encode(&value));
                request = if endpoint.path.starts_with("/oauth/") && endpoint.method.as_str() == "POST" && !endpoint.path.contains("personal") {
                    let form: Vec<(&str, &str)> = form_fields.iter().map(|field| (*field, value.as_str())).collect();
                    request.header("Authorization", &client_basic).form(&form)
                } else {
                    let mut body = serde_json::Map::new();
                    for field in json_fields {
                        body.insert(field.into(), value.clone().into());
                    }
                    body.insert("grant_types".into(), serde_json::json!([value]));
                    body.insert("scopes".into(), serde_json::json!([value]));
                    request.json(&body)
                };
                let response = request.send().await.unwrap();
                let (status, echoed) = (response.status(), response.headers().get("x-request-id").map(|id| id.to_str().unwrap_or_default().to_owned()));
                assert!(!echoed.unwrap_or_default().contains(CANARY), "an insane X-Request-Id is replaced");
                check(format!("{} {}", endpoint.method, endpoint.path), status, response.text().await.unwrap());
            }
            // The OAuth endpoints: the same answer as for any other invalid value.
            let token = |form: Vec<(&'static str, String)>, basic: String| http.post(format!("{base}/oauth/token")).header("Authorization", basic).form(&form).send();
            for (form, basic, expected) in [
                (vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", value.clone())], client_basic.clone(), (400, "invalid_grant")),
                (vec![("grant_type", "password".to_owned()), ("username", value.clone()), ("password", "x".to_owned())], client_basic.clone(), (400, "invalid_grant")),
                (vec![("grant_type", "password".to_owned()), ("username", "alice".to_owned()), ("password", value.clone())], client_basic.clone(), (400, "invalid_grant")),
                (vec![("grant_type", "client_credentials".to_owned()), ("scope", value.clone())], client_basic.clone(), (400, "invalid_scope")),
                (vec![("grant_type", value.clone())], client_basic.clone(), (400, "unsupported_grant_type")),
                (vec![("grant_type", "client_credentials".to_owned())], basic_header(&value, "secret"), (401, "invalid_client")),
                (vec![("grant_type", "client_credentials".to_owned())], basic_header(client["client_id"].as_str().unwrap(), &value), (401, "invalid_client")),
            ] {
                let response = token(form.clone(), basic).await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!((status, body["error"].as_str().unwrap()), expected, "{:?}", form.iter().map(|(name, _)| name).collect::<Vec<_>>());
            }
            let introspected = http.post(format!("{base}/oauth/introspect")).header("Authorization", &client_basic).form(&[("token", value.as_str())]).send().await.unwrap();
            assert_eq!(introspected.text().await.unwrap(), r#"{"active":false}"#, "like any unknown token");
            let revoked = http.post(format!("{base}/oauth/revoke")).header("Authorization", &client_basic).form(&[("token", value.as_str())]).send().await.unwrap();
            assert_eq!(revoked.status(), 200, "like any unknown token");
        }

        assert!(requests > 300);
        let mut server = server;
        server.signal("-TERM");
        server.wait(Duration::from_secs(15));
        let log = std::fs::read_to_string(&server.log).unwrap();
        let leaked: Vec<&str> = log.lines().filter(|line| line.contains(CANARY)).map(|line| &line[..line.len().min(300)]).collect();
        assert!(leaked.is_empty(), "a hostile value reached the log: {leaked:#?}");
        assert!(!log.contains("panicked"), "no panic");
    }
}
