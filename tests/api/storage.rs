use std::sync::Arc;
use std::time::Duration;

use tenauth::db::models::client::find_personal_access_client_id;
use tenauth::db::models::token::{NewAccessToken, NewRefreshToken, NewTokens, RefreshToken};
use tenauth::db::{Database, DbError};
use tenauth::domain::{now, ClientId, TenantId, TokenKind, UserId};
use tenauth::secrets::SecretHasher;

/// A hasher for stand-in token hashes.
fn hasher() -> SecretHasher {
    SecretHasher::new(&[0; 32])
}

fn insert_token(
    database: &Database,
    id: &str,
    tenant_id: TenantId,
    client_id: &ClientId,
) -> Result<(), DbError> {
    let created_at = now();
    let (id, client_id) = (id.parse().unwrap(), client_id.clone());
    database.write(move |conn| {
        NewAccessToken {
            id: &id,
            tenant_id,
            client_id: &client_id,
            user_id: None,
            kind: TokenKind::ClientCredentials,
            name: None,
            scopes: "",
            created_at,
            expires_at: created_at + Duration::from_secs(60),
            token_hash: &hasher().hash_access_token("not-a-real-token"),
            exchange: None,
        }
        .insert(conn)
    })
}

fn platform_client(database: &Database) -> ClientId {
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

both_backends! {
    async fn a_failing_write_rolls_back_alone_while_concurrent_writes_commit(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let client_id = Arc::new(platform_client(&database));

        // Good and bad writes interleaved from many threads, so that on SQLite they share
        // the writer's batches.
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let database = database.clone();
                let client_id = Arc::clone(&client_id);
                std::thread::spawn(move || {
                    (0..20)
                        .map(|n| {
                            let tenant = if n % 3 == 0 { TenantId::new(999) } else { TenantId::PLATFORM };
                            (tenant, insert_token(&database, &format!("jti-{writer}-{n}"), tenant, &client_id))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();

        let mut committed = 0;
        for writer in writers {
            for (tenant, outcome) in writer.join().unwrap() {
                if tenant == TenantId::PLATFORM {
                    outcome.expect("a good write commits");
                    committed += 1;
                } else {
                    assert!(outcome.expect_err("a bad write fails").is_foreign_key_violation());
                }
            }
        }
        let count = database.read(|conn| tenauth::db::models::token::count_access_tokens(conn, TenantId::PLATFORM)).unwrap();
        assert_eq!(count, committed, "every good write, and only those, is stored");
    }
}

/// Tries to store an access token (and, with `with_refresh`, its refresh token) through
/// the issuing statement; whether it did.
fn issue_if_permitted(
    database: &Database,
    jti: &str,
    client_id: &str,
    user_id: Option<i64>,
    with_refresh: bool,
) -> bool {
    let created_at = now();
    let refresh_id = format!("refresh-{jti}").parse().unwrap();
    let refresh_hash = hasher()
        .hash_presented_refresh_token(&format!("refresh-{jti}"))
        .unwrap();
    let (jti, client_id) = (jti.parse().unwrap(), client_id.parse().unwrap());
    let user_id = user_id.map(UserId::new);
    database
        .write_single_statement(move |conn| {
            NewTokens {
                access: NewAccessToken {
                    id: &jti,
                    tenant_id: TenantId::PLATFORM,
                    client_id: &client_id,
                    user_id,
                    kind: TokenKind::Password,
                    name: None,
                    scopes: "read",
                    created_at,
                    expires_at: created_at + Duration::from_secs(60),
                    token_hash: &hasher().hash_access_token("not-a-real-token"),
                    exchange: None,
                },
                refresh: with_refresh.then_some(NewRefreshToken {
                    id: &refresh_id,
                    token_hash: &refresh_hash,
                    tenant_id: TenantId::PLATFORM,
                    client_id: &client_id,
                    user_id,
                    access_token_id: &jti,
                    family_id: &"family".parse().unwrap(),
                    scopes: "read",
                    created_at,
                    expires_at: created_at + Duration::from_secs(600),
                }),
            }
            .insert_if_permitted(conn)
        })
        .expect("the issuing statement runs")
}

both_backends! {
    async fn the_issuing_statement_stores_both_rows_only_while_issuance_is_permitted(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let client_id = platform_client(&database);
        let count = |database: &Database| {
            database
                .read(|conn| tenauth::db::models::token::count_access_tokens(conn, TenantId::PLATFORM))
                .unwrap()
        };

        // Permitted: the access row and its refresh row, both stored.
        assert!(issue_if_permitted(&database, "jti-ok", client_id.as_str(), None, true));
        assert_eq!(count(&database), 1);
        let (hash, jti) = (hasher().hash_presented_refresh_token("refresh-jti-ok").unwrap(), "jti-ok".to_owned());
        let refresh = database
            .read(move |conn| RefreshToken::find_by_hash(conn, &hash))
            .unwrap()
            .expect("the refresh row is stored with the access row");
        assert_eq!(refresh.access_token_id.as_str(), jti);

        // Refused, and nothing stored: a user that is not in the tenant, a client that
        // does not exist, a revoked client.
        assert!(!issue_if_permitted(&database, "jti-no-user", client_id.as_str(), Some(424_242), true));
        assert!(!issue_if_permitted(&database, "jti-no-client", "no-such-client", None, false));
        let revoked = client_id.clone();
        database
            .write(move |conn| {
                tenauth::db::models::client::revoke_clients(conn, TenantId::PLATFORM, Some(&revoked), now())
            })
            .unwrap();
        assert!(!issue_if_permitted(&database, "jti-revoked", client_id.as_str(), None, true));
        assert_eq!(count(&database), 1, "no refused issuance left a row");
        let hash = hasher().hash_presented_refresh_token("refresh-jti-no-user").unwrap();
        assert!(database.read(move |conn| RefreshToken::find_by_hash(conn, &hash)).unwrap().is_none());
    }
}
