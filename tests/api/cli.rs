use crate::helpers::run_cli;

#[test]
fn a_bad_configuration_stops_the_server_with_a_message_naming_the_variable() {
    let cases = [
        (
            "DATABASE_URL",
            "mysql://root@localhost/tenauth",
            "DATABASE_URL",
        ),
        (
            "DATABASE_URL",
            "host=127.0.0.1 dbname=tenauth",
            "DATABASE_URL",
        ),
        ("TENAUTH_BIND", "localhost", "TENAUTH_BIND"),
        ("TENAUTH_ISSUER", "auth.example.com", "TENAUTH_ISSUER"),
        ("TENAUTH_ACCESS_TOKEN_TTL", "0", "access-token-ttl"),
        ("TENAUTH_REFRESH_TOKEN_TTL", "soon", "refresh-token-ttl"),
    ];
    for (variable, value, expected) in cases {
        let dir = tempfile::tempdir().unwrap();

        let output = run_cli(&["serve"], &[(variable, value)], dir.path());

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert!(stderr.contains(expected), "{variable}={value}: {stderr}");
        let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            created.is_empty(),
            "{variable}={value} created files: {created:?}"
        );
    }
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();

    let output = run_cli(&["--help"], &[], dir.path());

    let stdout = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "keys"] {
        assert!(stdout.contains(command), "{stdout}");
    }
}

#[test]
fn bootstrap_json_prints_one_object_whose_credentials_get_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", "sqlite:t.db"), ("TENAUTH_KEYS_DIR", "k")];

    let output = run_cli(&["bootstrap", "--json"], &env, dir.path());

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    let created: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let object = created.as_object().unwrap();
    assert_eq!(object.len(), 2, "{created}");
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    assert!(secret.len() >= 43, "a 256-bit secret");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut settings = tenauth::config::Settings::with_database(
            tenauth::config::DatabaseUrl::Sqlite(dir.path().join("t.db")),
        );
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.keys_dir = dir.path().join("k");
        let application = tenauth::startup::Application::build(settings).unwrap();
        let address = application.address();
        tokio::spawn(application.run_until_stopped());
        let response = reqwest::Client::new()
            .post(format!("http://{address}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["scope"], "admin", "{body}");
        let claims = crate::helpers::jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["tenant_id"], 1);
    });
}

#[test]
fn tenant_client_and_user_create_print_json_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", "sqlite:t.db"), ("TENAUTH_KEYS_DIR", "k")];
    let json = |output: std::process::Output| -> serde_json::Value {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };

    let tenant = json(run_cli(
        &[
            "tenant", "create", "--slug", "acme", "--name", "Acme", "--json",
        ],
        &env,
        dir.path(),
    ));
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["status"], "active");
    let tenant_id = tenant["id"].to_string();
    let client = json(run_cli(
        &[
            "client",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "app",
            "--grant-type",
            "password,refresh_token",
            "--scope",
            "read",
            "--json",
        ],
        &env,
        dir.path(),
    ));
    assert!(client["client_secret"].as_str().unwrap().len() >= 43);
    let browser_client = json(run_cli(
        &[
            "client",
            "create",
            "--tenant",
            &tenant_id,
            "--name",
            "web",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://web.example/cb",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--post-logout-redirect-uri",
            "https://web.example/bye",
            "--skip-consent",
            "--json",
        ],
        &env,
        dir.path(),
    ));
    assert_eq!(
        browser_client["redirect_uris"],
        serde_json::json!(["https://web.example/cb", "http://127.0.0.1/cb"])
    );
    assert_eq!(
        browser_client["post_logout_redirect_uris"],
        serde_json::json!(["https://web.example/bye"])
    );
    assert_eq!(browser_client["skip_consent"], true);
    let user = json(run_cli(
        &[
            "user",
            "create",
            "--tenant",
            &tenant_id,
            "--username",
            "alice",
            "--password",
            "long-enough",
            "--json",
        ],
        &env,
        dir.path(),
    ));
    assert_eq!(user["username"], "alice");
    assert_eq!(user["tenant_id"], tenant["id"]);

    let refusals = [
        (
            vec!["tenant", "create", "--slug", "acme", "--name", "Again"],
            "exists",
        ),
        (
            vec!["tenant", "create", "--slug", "No Caps", "--name", "x"],
            "slug",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "x",
                "--grant-type",
                "client_credentials",
                "--scope",
                "admin",
            ],
            "platform",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                "999",
                "--name",
                "x",
                "--grant-type",
                "password",
            ],
            "no such tenant",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "x",
                "--grant-type",
                "implicit",
            ],
            "grant type",
        ),
        (
            vec![
                "client",
                "create",
                "--tenant",
                &tenant_id,
                "--name",
                "x",
                "--grant-type",
                "authorization_code",
                "--redirect-uri",
                "http://web.example/cb",
            ],
            "redirect URI",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant_id,
                "--username",
                "alice",
                "--password",
                "long-enough",
            ],
            "exists",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant_id,
                "--username",
                "bob",
                "--password",
                "short",
            ],
            "password",
        ),
    ];
    for (args, expected) in refusals {
        let output = run_cli(&args, &env, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_stops_with_a_clear_message_when_the_database_cannot_be_used_or_migrated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("garbage.db"),
        "this is not an SQLite database, not at all",
    )
    .unwrap();
    {
        // A table of the first migration's name already there, of another shape.
        let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
            dir.path().join("foreign.db").to_str().unwrap(),
        )
        .unwrap();
        diesel::RunQueryDsl::execute(
            diesel::sql_query("CREATE TABLE tenants (x TEXT)"),
            &mut conn,
        )
        .unwrap();
    }
    let cases = [
        ("sqlite:garbage.db", "garbage.db"),
        ("sqlite:foreign.db", "migrat"),
        ("sqlite:no/such/dir/t.db", "t.db"),
        ("postgres://postgres@127.0.0.1:1/tenauth", "database"),
    ];
    for (url, expected) in cases {
        let started = std::time::Instant::now();

        let output = run_cli(
            &["serve"],
            &[("DATABASE_URL", url), ("TENAUTH_BIND", "127.0.0.1:0")],
            dir.path(),
        );

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url} was accepted");
        assert!(stderr.to_lowercase().contains(expected), "{url}: {stderr}");
        assert!(
            !stderr.contains("panicked"),
            "{url}: a clear message, not a panic: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{url}: fails fast"
        );
    }
}
