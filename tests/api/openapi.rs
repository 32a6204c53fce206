//! `/openapi.json` describes every route the router serves, and nothing else.

use std::collections::BTreeSet;

use crate::helpers::{json_with_status, spawn_app, TestDatabase};

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_router_and_no_other() {
    let app = spawn_app(TestDatabase::sqlite()).await;

    let document = json_with_status(app.get("/openapi.json").await, 200).await;

    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let routed: BTreeSet<(String, String)> = tenauth::routes::endpoints()
        .iter()
        .map(|endpoint| {
            (
                endpoint.path.to_owned(),
                endpoint.method.as_str().to_ascii_lowercase(),
            )
        })
        .collect();
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| ["get", "post", "put", "delete", "patch"].contains(&key.as_str()))
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(phantom.is_empty(), "documented but not routed: {phantom:?}");
    assert!(routed.len() >= 30);

    let token = &document["paths"]["/oauth/token"]["post"];
    assert!(
        token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
        "{token}"
    );
    assert!(token["responses"]["401"].is_object() && token["responses"]["429"].is_object());
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["client_secret_basic"]["scheme"], "basic");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "ErrorBody",
        "TokenResponse",
        "Introspection",
        "TenantView",
        "CreatedClient",
        "DeletionReceiptView",
    ] {
        assert!(
            schemas.contains_key(schema),
            "schema {schema} missing: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(
        document["paths"]["/admin/tenants/{id}"]["delete"]["security"][0]["bearer"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn another_method_on_a_known_path_is_405_naming_the_allowed_ones() {
    let app = spawn_app(TestDatabase::sqlite()).await;

    let put = app
        .http
        .put(app.url("/admin/tenants"))
        .send()
        .await
        .unwrap();
    let get = app.get("/oauth/revoke").await;

    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "POST, GET");
    assert_eq!(json_with_status(put, 405).await["error"], "invalid_request");
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(app.get("/no/such/thing").await.status(), 404);
}
