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
