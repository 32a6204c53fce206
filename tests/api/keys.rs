use std::os::unix::fs::PermissionsExt;

use crate::helpers::{files_with_extension, run_cli, spawn_app_with, test_settings, TestDatabase};

#[tokio::test]
async fn serve_generates_a_key_on_first_start_and_reuses_it_afterwards() {
    let db = TestDatabase::sqlite();
    let settings = test_settings(&db);
    let keys_dir = settings.keys_dir.clone();
    assert!(!keys_dir.exists());

    let _first = spawn_app_with(TestDatabase::sqlite(), settings.clone()).await;
    let private_keys = files_with_extension(&keys_dir, "pem");
    assert_eq!(private_keys.len(), 1);
    assert_eq!(files_with_extension(&keys_dir, "jwk").len(), 1);
    let mode = std::fs::metadata(&private_keys[0])
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "private key is owner-only");

    let _second = spawn_app_with(TestDatabase::sqlite(), settings).await;
    assert_eq!(
        files_with_extension(&keys_dir, "pem"),
        private_keys,
        "the key is reused, not replaced"
    );
}

#[tokio::test]
async fn keys_generate_adds_a_new_key_beside_the_existing_ones() {
    let dir = tempfile::tempdir().unwrap();

    let first = run_cli(
        &["keys", "generate"],
        &[("TENAUTH_KEYS_DIR", "k")],
        dir.path(),
    );
    let second = run_cli(&["keys", "generate", "--keys-dir", "k"], &[], dir.path());

    for output in [&first, &second] {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let keys = files_with_extension(&dir.path().join("k"), "pem");
    assert_eq!(keys.len(), 2);
    let kid = keys[0].file_stem().unwrap().to_str().unwrap().to_owned();
    let printed = [first.stdout, second.stdout]
        .map(|out| String::from_utf8(out).unwrap())
        .concat();
    assert!(printed.contains(&kid), "the command prints the new kid");
}

#[test]
fn the_server_refuses_to_start_with_an_unreadable_key() {
    let db = TestDatabase::sqlite();
    let settings = test_settings(&db);
    std::fs::create_dir_all(&settings.keys_dir).unwrap();
    std::fs::write(settings.keys_dir.join("broken.pem"), "not a key").unwrap();

    let error = match tenauth::startup::Application::build(settings) {
        Ok(_) => panic!("the server started with a broken key"),
        Err(error) => error.to_string(),
    };

    assert!(error.contains("broken.pem"), "{error}");
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(app: &crate::helpers::TestApp) -> Vec<String> {
    let jwks = crate::helpers::json_with_status(app.get("/.well-known/jwks.json").await, 200).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn keys_rotate_makes_a_running_server_sign_with_the_new_key_and_keep_the_old_one_published() {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.keys_reload_interval = std::time::Duration::from_millis(100);
    let keys_dir = settings.keys_dir.clone();
    let app = spawn_app_with(db, settings).await;
    let acme = app.provision_tenant("acme").await;
    let before =
        crate::helpers::json_with_status(app.client_credentials(&acme.client, None).await, 200)
            .await;
    let before = before["access_token"].as_str().unwrap().to_owned();
    let old_kid = kid_of(&before);
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&old_kid));

    let output = run_cli(
        &["keys", "rotate"],
        &[("TENAUTH_KEYS_DIR", keys_dir.to_str().unwrap())],
        keys_dir.parent().unwrap(),
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut published = published_kids(&app).await;
    for _ in 0..50 {
        if published.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        published = published_kids(&app).await;
    }
    assert_eq!(
        published.len(),
        2,
        "the running server publishes the new key beside the old one"
    );
    assert_eq!(published[1], old_kid, "newest first");
    let new_kid = published[0].clone();
    assert!(String::from_utf8_lossy(&output.stdout).contains(&new_kid));
    // A key made in the same second as the newest is dated a second later, so it may take
    // up to that second to sign (no publication delay here).
    let mut after = String::new();
    for _ in 0..30 {
        let body =
            crate::helpers::json_with_status(app.client_credentials(&acme.client, None).await, 200)
                .await;
        after = body["access_token"].as_str().unwrap().to_owned();
        if kid_of(&after) == new_kid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let after = after.as_str();
    assert_eq!(kid_of(after), new_kid, "the new key signs from now on");
    let jwks = crate::helpers::json_with_status(app.get("/.well-known/jwks.json").await, 200).await;
    for token in [before.as_str(), after] {
        assert!(
            verifies_with(&jwks, token),
            "the published keys verify tokens signed before and after the rotation"
        );
        let answer = crate::introspection::introspect(&app, &acme.client, token).await;
        assert_eq!(answer["active"], true);
    }
}

/// Whether the JWT's ES256 signature verifies with the key of its `kid` in `jwks`.
fn verifies_with(jwks: &serde_json::Value, token: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let kid = kid_of(token);
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
    else {
        return false;
    };
    assert_eq!(
        (
            key["alg"].as_str(),
            key["use"].as_str(),
            key["crv"].as_str()
        ),
        (Some("ES256"), Some("sig"), Some("P-256"))
    );
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let point = [vec![4u8], coordinate("x"), coordinate("y")].concat();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(signing_input.as_bytes(), &signature)
        .is_ok()
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs() {
    let db = TestDatabase::sqlite();
    let mut settings = test_settings(&db);
    settings.keys_reload_interval = std::time::Duration::from_millis(100);
    settings.keys_publish_delay = std::time::Duration::from_secs(2);
    let keys_dir = settings.keys_dir.clone();
    // The first key was made well before, as on a running installation.
    let first = tenauth::keys::generate_key(
        &keys_dir,
        tenauth::domain::now().and_utc().timestamp() - 3600,
    )
    .unwrap();
    let app = spawn_app_with(db, settings).await;
    let acme = app.provision_tenant("acme").await;
    let signing_kid = || {
        let (app, client) = (&app, acme.client.clone());
        async move {
            let body =
                crate::helpers::json_with_status(app.client_credentials(&client, None).await, 200)
                    .await;
            kid_of(body["access_token"].as_str().unwrap())
        }
    };

    let output = run_cli(
        &["keys", "rotate"],
        &[("TENAUTH_KEYS_DIR", keys_dir.to_str().unwrap())],
        keys_dir.parent().unwrap(),
    );

    assert!(output.status.success());
    let mut published = published_kids(&app).await;
    for _ in 0..50 {
        if published.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        published = published_kids(&app).await;
    }
    assert_eq!(published.len(), 2, "the new key is published at once");
    assert_eq!(signing_kid().await, first, "while the old key still signs");
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    assert_eq!(
        signing_kid().await,
        published[0],
        "and once published long enough, the new key signs"
    );
}

#[test]
fn keys_prune_removes_only_keys_retired_longer_ago_than_any_token_lives() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let now = tenauth::domain::now().and_utc().timestamp();
    let day = 86_400;
    let oldest = tenauth::keys::generate_key(&keys_dir, now - 10 * day).unwrap();
    let retired_recently = tenauth::keys::generate_key(&keys_dir, now - 5 * day).unwrap();
    let newest = tenauth::keys::generate_key(&keys_dir, now - 3600).unwrap();
    let env = [
        ("TENAUTH_KEYS_DIR", "keys"),
        ("TENAUTH_ACCESS_TOKEN_TTL", "3600"),
        // The longest-lived tokens decide: 2 days.
        ("TENAUTH_PERSONAL_TOKEN_TTL", "172800"),
    ];

    let output = run_cli(&["keys", "prune"], &env, dir.path());

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&oldest), "{stdout}");
    let left: Vec<String> = files_with_extension(&keys_dir, "pem")
        .iter()
        .chain(&files_with_extension(&keys_dir, "jwk"))
        .map(|path| path.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert!(
        !left.contains(&oldest),
        "replaced 5 days ago, over 2 days: pruned"
    );
    assert!(
        left.contains(&retired_recently),
        "replaced an hour ago: its tokens may live"
    );
    assert!(left.contains(&newest), "the signing key stays");
    assert_eq!(left.len(), 4);

    let again = run_cli(&["keys", "prune"], &env, dir.path());
    assert!(String::from_utf8_lossy(&again.stdout).contains("no key to remove"));
}

#[test]
fn keys_init_prepares_a_shared_directory_once_and_then_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TENAUTH_KEYS_DIR", "shared")];

    let first = run_cli(&["keys", "init"], &env, dir.path());
    let keys_dir = dir.path().join("shared");
    let secret = std::fs::read(keys_dir.join("secret-hash.key")).unwrap();
    let signing = files_with_extension(&keys_dir, "pem");
    let second = run_cli(&["keys", "init"], &env, dir.path());

    for output in [&first, &second] {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(signing.len(), 1);
    assert!(String::from_utf8_lossy(&first.stdout).starts_with("generated"));
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("kept"));
    assert_eq!(
        files_with_extension(&keys_dir, "pem"),
        signing,
        "the second run keeps the key"
    );
    assert_eq!(
        std::fs::read(keys_dir.join("secret-hash.key")).unwrap(),
        secret,
        "and the secret-hashing key"
    );
}
