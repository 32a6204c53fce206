use tenauth::db::models::client::find_personal_access_client_id;
use tenauth::db::models::tenant::Tenant;
use tenauth::domain::{TenantId, TenantStatus};

use crate::helpers::run_cli;

both_backends! {
    async fn migrations_run_up_down_and_up_again(db) {
        let database = db.connect();

        let applied = database.migrate().expect("first migration");
        assert!(!applied.is_empty());
        assert_platform_tenant_exists(&database);

        let reverted = database.revert_all_migrations().expect("down migrations");
        assert_eq!(reverted, applied.len());
        let gone = database.read(|conn| Tenant::find(conn, TenantId::PLATFORM));
        assert!(gone.is_err(), "tenants table should be dropped: {gone:?}");

        let reapplied = database.migrate().expect("second migration");
        assert_eq!(reapplied, applied);
        assert_platform_tenant_exists(&database);
    }

    async fn migrate_command_applies_the_migrations_then_finds_nothing_pending(db) {
        let url = db.url.to_string();
        let url = match &db.url {
            tenauth::config::DatabaseUrl::Postgres(raw) => raw.clone(),
            _ => url,
        };

        let first = run_cli(&["migrate"], &[("DATABASE_URL", &url)], db.dir());
        assert!(first.status.success(), "{:?}: {}", first.status, String::from_utf8_lossy(&first.stderr));
        assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));

        let second = run_cli(&["--database-url", &url, "migrate"], &[], db.dir());
        assert!(second.status.success(), "{:?}: {}", second.status, String::from_utf8_lossy(&second.stderr));
        let stdout = String::from_utf8_lossy(&second.stdout);
        assert!(stdout.contains("no pending migrations"), "first: {:?} second: {stdout:?}", String::from_utf8_lossy(&first.stdout));
        assert_platform_tenant_exists(&db.connect());
    }
}

fn assert_platform_tenant_exists(database: &tenauth::db::Database) {
    let platform = database
        .read(|conn| Tenant::find(conn, TenantId::PLATFORM))
        .expect("query tenants")
        .expect("the platform tenant exists");
    assert_eq!(platform.slug, "platform");
    assert_eq!(platform.status, TenantStatus::Active);
    let personal_client = database
        .read(|conn| find_personal_access_client_id(conn, TenantId::PLATFORM))
        .expect("query clients");
    assert!(
        personal_client.is_some(),
        "the platform tenant has a personal-access client"
    );
}
