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
