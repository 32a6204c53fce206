use crate::helpers::spawn_app;

both_backends! {
    async fn healthz_and_readyz_answer_200_when_the_database_answers(db) {
        let app = spawn_app(db).await;

        let health = app.get("/healthz").await;
        assert_eq!(health.status(), 200);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 200);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "ready");
    }

    async fn readyz_is_503_with_a_json_error_when_the_database_is_gone_while_healthz_stays_200(db) {
        let app = spawn_app(db).await;
        assert_eq!(app.get("/readyz").await.status(), 200);

        app.db.destroy();

        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 503);
        assert!(ready.headers().contains_key("retry-after"));
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body["error_description"].is_string());
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_taken_from_a_sane_header_or_generated() {
    let app = spawn_app(crate::helpers::TestDatabase::sqlite()).await;

    let echoed = app
        .http
        .get(app.url("/healthz"))
        .header("X-Request-Id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    let generated = app.get("/healthz").await;
    let replaced = app
        .http
        .get(app.url("/readyz"))
        .header("X-Request-Id", "two words")
        .send()
        .await
        .unwrap();
    let on_error = app.get("/no/such/endpoint").await;

    assert_eq!(echoed.headers()["x-request-id"], "trace-42.a_b");
    for response in [&generated, &replaced, &on_error] {
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(id.len() >= 16 && id != "two words", "{id}");
    }
    assert_ne!(
        generated.headers()["x-request-id"],
        replaced.headers()["x-request-id"]
    );
}
