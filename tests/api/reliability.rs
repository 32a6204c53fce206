//! Reliability under concurrency and across instances (issue 7, tests 3 and 4): concurrent
//! refreshes of one token, and two instances over one PostgreSQL database agreeing on
//! every revocation at once.

use diesel::prelude::*;
use tenauth::db::schema::oauth_refresh_tokens;
use tenauth::db::DbError;

use crate::helpers::{
    json_with_status, spawn_app, spawn_app_with, test_settings, TestApp, TestDatabase,
};
use crate::introspection::introspect;

/// Families holding more than one live (neither used nor revoked) refresh token.
fn families_with_two_live_tokens(app: &TestApp) -> Vec<(String, i64)> {
    app.database
        .read(|conn| {
            oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::used_at.is_null())
                .filter(oauth_refresh_tokens::revoked_at.is_null())
                .group_by(oauth_refresh_tokens::family_id)
                .select((oauth_refresh_tokens::family_id, diesel::dsl::count_star()))
                .load::<(String, i64)>(conn)
                .map_err(DbError::from)
        })
        .unwrap()
        .into_iter()
        .filter(|(_, live)| *live > 1)
        .collect()
}

/// A second instance on `first`'s database and keys directory, with the same issuer.
async fn second_instance(first: &TestApp) -> TestApp {
    let mut settings = test_settings(&first.db);
    settings.issuer = Some("http://tenauth.test".to_owned());
    spawn_app_with(TestDatabase::sqlite(), settings).await
}

/// `n` simultaneous refreshes of one refresh token, spread over `instances`; returns the
/// statuses.
async fn race_refreshes(
    instances: &[&TestApp],
    fixture: &crate::helpers::Fixture,
    n: usize,
) -> Vec<u16> {
    let login = json_with_status(instances[0].password_grant(fixture, None).await, 200).await;
    let refresh_token = login["refresh_token"].as_str().unwrap().to_owned();
    let attempts = (0..n)
        .map(|i| instances[i % instances.len()].refresh(&fixture.client, &refresh_token, None));
    let responses = futures_util::future::join_all(attempts).await;
    let mut statuses = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        if status == 400 {
            assert_eq!(
                json_with_status(response, 400).await["error"],
                "invalid_grant"
            );
        }
        statuses.push(status);
    }
    statuses
}

fn assert_at_most_one_winner(statuses: &[u16], n: usize) {
    assert!(
        statuses
            .iter()
            .all(|&status| status == 200 || status == 400),
        "n={n}: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|&&status| status == 200).count() <= 1,
        "n={n}: {statuses:?}"
    );
}

both_backends! {
    async fn concurrent_refreshes_of_one_token_give_at_most_one_success_and_one_live_token(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        for n in [2, 8, 32, 128] {
            for _ in 0..3 {
                let statuses = race_refreshes(&[&app], &acme, n).await;

                assert_at_most_one_winner(&statuses, n);
                assert_eq!(families_with_two_live_tokens(&app), [], "n={n}: never two live refresh tokens in one family");
            }
        }
    }
}

#[tokio::test]
async fn two_instances_on_postgresql_agree_on_concurrent_refreshes() {
    let Some(db) = TestDatabase::postgres() else {
        return crate::helpers::report_skipped(module_path!());
    };
    let mut settings = test_settings(&db);
    settings.issuer = Some("http://tenauth.test".to_owned());
    let a = spawn_app_with(db, settings).await;
    let b = second_instance(&a).await;
    let acme = a.provision_tenant("acme").await;
    for n in [2, 8, 32, 128] {
        for _ in 0..3 {
            let statuses = race_refreshes(&[&a, &b], &acme, n).await;

            assert_at_most_one_winner(&statuses, n);
            assert_eq!(families_with_two_live_tokens(&a), [], "n={n}");
        }
    }
}

#[tokio::test]
async fn two_instances_on_postgresql_never_answer_stale_over_1000_rounds() {
    let Some(db) = TestDatabase::postgres() else {
        return crate::helpers::report_skipped(module_path!());
    };
    let mut settings = test_settings(&db);
    settings.issuer = Some("http://tenauth.test".to_owned());
    let a = spawn_app_with(db, settings).await;
    let b = second_instance(&a).await;
    let acme = a.provision_tenant("acme").await;
    let mut stale = 0;

    for _ in 0..1_000 {
        let issued = json_with_status(a.client_credentials(&acme.client, None).await, 200).await;
        let token = issued["access_token"].as_str().unwrap();
        let revoked = b
            .http
            .post(b.url("/oauth/revoke"))
            .basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        if introspect(&a, &acme.client, token).await["active"] != false {
            stale += 1;
        }
    }

    assert_eq!(
        stale, 0,
        "a revocation on B is visible to the very next introspection on A"
    );
}
