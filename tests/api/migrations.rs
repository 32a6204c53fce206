use tenauth::db::models::client::find_personal_access_client_id;
use tenauth::db::models::tenant::Tenant;
use tenauth::domain::{TenantId, TenantStatus};

use diesel::prelude::*;
use tenauth::db::schema::users;
use tenauth::db::DbError;

use crate::helpers::{json_with_status, jwt_claims, run_cli, spawn_app, Fixture};

both_backends! {
    async fn migrations_run_up_down_and_up_again(db) {
        let database = db.connect();

        let applied = database.migrate().expect("first migration").applied;
        assert!(!applied.is_empty());
        assert_platform_tenant_exists(&database);

        let reverted = database.revert_all_migrations().expect("down migrations");
        assert_eq!(reverted, applied.len());
        let gone = database.read(|conn| Tenant::find(conn, TenantId::PLATFORM));
        assert!(gone.is_err(), "tenants table should be dropped: {gone:?}");

        let reapplied = database.migrate().expect("second migration").applied;
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

both_backends! {
    async fn usernames_stored_before_the_profile_are_canonicalized_or_reported_never_merged(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let bob = app.provision_user(acme.tenant_id, "bob", "bob-password").await.id;
        let wide_alice = app.provision_user(acme.tenant_id, "wide-alice", "wide-password").await.id;
        let wide_bob = app.provision_user(acme.tenant_id, "wide-bob", "wide-bob-password").await.id;
        let snowman = app.provision_user(acme.tenant_id, "snowman", "snow-password").await.id;
        // As the old rule (Unicode lower case only) stored them, unchecked by the profile.
        // The fixture's `alice` is renamed out of the way so the wide one can become alice.
        for (user, old_form) in [(acme.user_id, "alice-2".to_owned()), (wide_alice.get(), "ａｌｉｃｅ".to_owned()), (wide_bob.get(), "ｂｏｂ".to_owned()), (snowman.get(), "☃".to_owned())] {
            app.database.write(move |conn| {
                diesel::update(users::table.find(user))
                    .set((users::username.eq(old_form), users::username_checked.eq(false)))
                    .execute(conn).map_err(DbError::from)
            }).unwrap();
        }

        let url = app.db.raw_url();
        for _ in 0..2 {
            let migrated = run_cli(&["migrate"], &[("DATABASE_URL", &url)], app.db.dir());
            assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
            let report = String::from_utf8_lossy(&migrated.stderr);
            let tenant = acme.tenant_id;
            assert!(report.contains(&format!("user {wide_bob} of tenant {tenant}: its username is the same as user {bob}'s")), "{report}");
            assert!(report.contains(&format!("user {snowman} of tenant {tenant}: the username profile (RFC 8265) refuses its username")), "{report}");
            assert_eq!(report.lines().filter(|line| line.contains("user ")).count(), 2, "the others are resolved: {report}");
            assert!(!report.contains('☃') && !report.contains("ｂｏｂ"), "ids, not names: {report}");
        }

        let stored = |user: i64| app.database.read(move |conn| users::table.find(user).select(users::username).first::<String>(conn).map_err(DbError::from)).unwrap();
        assert_eq!(stored(wide_alice.get()), "alice");
        assert_eq!(stored(acme.user_id), "alice-2");
        assert_eq!(stored(wide_bob.get()), "ｂｏｂ", "left as it was, not merged into bob");
        assert_eq!(stored(snowman.get()), "☃");

        let sign_in = |username: &'static str, password: &'static str| {
            let fixture = Fixture { username: username.into(), password: password.into(), ..acme.clone() };
            let app = &app;
            async move { app.password_grant(&fixture, None).await }
        };
        for spelling in ["alice", "ＡＬＩＣＥ", "Alice"] {
            let issued = json_with_status(sign_in(spelling, "wide-password").await, 200).await;
            assert_eq!(jwt_claims(issued["access_token"].as_str().unwrap())["sub"], wide_alice.to_string(), "{spelling}");
        }
        let issued = json_with_status(sign_in("ｂｏｂ", "bob-password").await, 200).await;
        assert_eq!(jwt_claims(issued["access_token"].as_str().unwrap())["sub"], bob.to_string(), "the canonical bob is bob");
        let refused = json_with_status(sign_in("ｂｏｂ", "wide-bob-password").await, 400).await;
        assert_eq!(refused["error"], "invalid_grant", "the unresolved row cannot sign in");
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
