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
