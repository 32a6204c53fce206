use std::sync::Arc;
use std::time::Duration;

use tenauth::db::models::client::find_personal_access_client_id;
use tenauth::db::models::token::NewAccessToken;
use tenauth::db::{Database, DbError};
use tenauth::domain::{now, TenantId, TokenKind};

fn insert_token(
    database: &Database,
    id: &str,
    tenant_id: TenantId,
    client_id: &str,
) -> Result<(), DbError> {
    let created_at = now();
    database.write(|conn| {
        NewAccessToken {
            id,
            tenant_id,
            client_id,
            user_id: None,
            kind: TokenKind::ClientCredentials,
            name: None,
            scopes: "",
            created_at,
            expires_at: created_at + Duration::from_secs(60),
            token_hash: "not-a-real-hash",
        }
        .insert(conn)
    })
}

fn platform_client(database: &Database) -> String {
    database
        .read(|conn| find_personal_access_client_id(conn, TenantId::PLATFORM))
        .unwrap()
        .unwrap()
}

both_backends! {
    async fn inserting_a_token_for_a_tenant_that_does_not_exist_is_a_foreign_key_violation(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let client_id = platform_client(&database);

        // The same insert succeeds for a tenant that exists: only the tenant differs.
        insert_token(&database, "jti-platform", TenantId::PLATFORM, &client_id).expect("insert for the platform tenant");
        let missing = insert_token(&database, "jti-missing", TenantId::new(999), &client_id)
            .expect_err("a token of a missing tenant must be refused");

        assert!(missing.is_foreign_key_violation(), "{missing:?}");
    }

    async fn concurrent_writers_all_succeed_without_database_is_locked(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let client_id = Arc::new(platform_client(&database));
        // A second pool on the same database plays the part of another process.
        let other_process = db.connect();

        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let database = if writer % 2 == 0 { database.clone() } else { other_process.clone() };
                let client_id = Arc::clone(&client_id);
                std::thread::spawn(move || {
                    (0..25)
                        .map(|n| insert_token(&database, &format!("jti-{writer}-{n}"), TenantId::PLATFORM, &client_id))
                        .collect::<Vec<_>>()
                })
            })
            .collect();

        for writer in writers {
            for outcome in writer.join().unwrap() {
                outcome.expect("every concurrent write succeeds");
            }
        }
    }
}
