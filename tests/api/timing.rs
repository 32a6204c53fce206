//! Timing (issue 7, test 6): the answers that must not tell apart an unknown client from
//! a wrong secret (even one sharing a long prefix with the right one), or an unknown user
//! from a wrong password, take the same time. Samples are interleaved so that the
//! machine's noise falls on every case alike, and medians are compared.
//!
//! What this can see: a missing dummy Argon2 hash for unknown users (20x: ~1 ms against
//! ~20 ms) or a missing HMAC/database lookup worth a few percent of a request; a
//! comparison that stops at the first differing byte (nanoseconds) is below what HTTP
//! timing can resolve, and is excluded by construction: every check is `ring::hmac::verify`
//! or Argon2's own verification (see src/secrets.rs).

use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::helpers::{spawn_app_with, test_settings, TestApp, TestDatabase};

async fn app() -> TestApp {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.limits.client_rate = 0;
    settings.limits.tenant_rate = 0;
    settings.limits.user_failures = 0;
    settings.limits.client_failures = 0;
    settings.limits.client_auth_failures = 0;
    spawn_app_with(db, settings).await
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Interleaved samples of each case; the medians.
async fn medians<F, Fut>(cases: usize, rounds: usize, request: F) -> Vec<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut samples = vec![Vec::with_capacity(rounds); cases];
    for round in 0..rounds {
        for offset in 0..cases {
            let case = (round + offset) % cases;
            let started = Instant::now();
            let response = request(case).await;
            let elapsed = started.elapsed();
            assert!(
                response.status().is_client_error(),
                "case {case}: {}",
                response.status()
            );
            samples[case].push(elapsed);
        }
    }
    samples.iter_mut().map(|case| median(case)).collect()
}

fn assert_alike(medians: &[Duration], names: &[&str]) {
    let (low, high) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
    let spread = (high.as_secs_f64() - low.as_secs_f64()) / low.as_secs_f64();
    let report: Vec<String> = names
        .iter()
        .zip(medians)
        .map(|(name, median)| format!("{name}: {median:?}"))
        .collect();
    assert!(
        spread < 0.25,
        "median latencies differ by {:.0}%: {report:?}",
        spread * 100.0
    );
}

#[tokio::test]
async fn unknown_client_wrong_secret_and_wrong_secret_with_the_right_prefix_take_the_same_time() {
    let app = app().await;
    let acme = app.provision_tenant("acme").await;
    let secret = acme.client.secret.clone().unwrap();
    let prefix_secret = format!(
        "{}{}",
        &secret[..secret.len() - 1],
        if secret.ends_with('A') { 'B' } else { 'A' }
    );
    let cases = [
        (
            "unknown client",
            "no-such-client-id-0000000".to_owned(),
            secret.clone(),
        ),
        (
            "wrong secret",
            acme.client.id.clone(),
            "x".repeat(secret.len()),
        ),
        (
            "wrong last character",
            acme.client.id.clone(),
            prefix_secret,
        ),
    ];
    // Warm the connection and the statement caches.
    for (_, id, secret) in &cases {
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
    }

    let medians = medians(cases.len(), 300, |case| {
        {
            let (_, id, secret) = &cases[case];
            app.http
                .post(app.url("/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
        }
        .map(Result::unwrap)
    })
    .await;

    assert_alike(&medians, &cases.map(|(name, _, _)| name));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_take_the_same_time() {
    let app = app().await;
    let acme = app.provision_tenant("acme").await;
    let cases = [("unknown user", "nobody-here"), ("wrong password", "alice")];
    let login = |case: usize| {
        let form = [
            ("grant_type", "password"),
            ("username", cases[case].1),
            ("password", "wrong-password-123"),
        ];
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(&acme.client.id, acme.client.secret.as_deref())
            .form(&form)
            .send()
    };
    for case in 0..cases.len() {
        login(case).await.unwrap();
    }

    let medians = medians(cases.len(), 40, |case| login(case).map(Result::unwrap)).await;

    assert_alike(&medians, &cases.map(|(name, _)| name));
}
