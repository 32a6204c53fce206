//! Purge: only tokens that expired or were revoked before the retention period go.

use std::time::Duration;

use diesel::prelude::*;
use tenauth::db::models::client::find_personal_access_client_id;
use tenauth::db::models::token::{NewAccessToken, NewRefreshToken};
use tenauth::db::schema::{oauth_access_tokens, oauth_refresh_tokens};
use tenauth::db::{Database, DbError};
use tenauth::domain::{now, FamilyId, TenantId, TokenId, TokenKind};
use tenauth::secrets::SecretHasher;

use crate::helpers::run_cli;

const DAY: Duration = Duration::from_secs(86_400);

/// A hasher for stand-in token hashes (these tokens are never presented).
fn hasher() -> SecretHasher {
    SecretHasher::new(&[0; 32])
}

/// Access tokens `a-*` and refresh tokens `r-*` in every state that matters.
fn arrange(database: &Database) {
    let client_id = database
        .read(|conn| find_personal_access_client_id(conn, TenantId::PLATFORM))
        .unwrap()
        .unwrap();
    database
        .write(move |conn| {
            let now = now();
            // (id, expires_at, revoked_at)
            let access = [
                ("a-expired-long-ago", now - 10 * DAY, None),
                ("a-revoked-long-ago", now + DAY, Some(now - 10 * DAY)),
                ("a-expired-recently", now - DAY, None),
                ("a-revoked-recently", now + DAY, Some(now - DAY)),
                ("a-live", now + DAY, None),
            ];
            for (id, expires_at, revoked_at) in access {
                NewAccessToken {
                    id: &id.parse().unwrap(),
                    tenant_id: TenantId::PLATFORM,
                    client_id: &client_id,
                    user_id: None,
                    kind: TokenKind::ClientCredentials,
                    name: None,
                    scopes: "",
                    created_at: now - 20 * DAY,
                    expires_at,
                    token_hash: &hasher().hash_access_token(id),
                    exchange: None,
                }
                .insert(conn)?;
                diesel::update(oauth_access_tokens::table.find(id))
                    .set(oauth_access_tokens::revoked_at.eq(revoked_at))
                    .execute(conn)?;
            }
            // (id, expires_at, used_at, revoked_at)
            let refresh = [
                ("r-expired-long-ago", now - 10 * DAY, None, None),
                ("r-revoked-long-ago", now + DAY, None, Some(now - 10 * DAY)),
                (
                    "r-used-long-ago-not-expired",
                    now + DAY,
                    Some(now - 10 * DAY),
                    None,
                ),
                ("r-live", now + DAY, None, None),
            ];
            for (id, expires_at, used_at, revoked_at) in refresh {
                NewRefreshToken {
                    id: &id.parse().unwrap(),
                    token_hash: &hasher().hash_presented_refresh_token(id).unwrap(),
                    tenant_id: TenantId::PLATFORM,
                    client_id: &client_id,
                    user_id: None,
                    access_token_id: &"a-live".parse().unwrap(),
                    family_id: &"f".parse().unwrap(),
                    scopes: "",
                    created_at: now - 20 * DAY,
                    expires_at,
                }
                .insert(conn)?;
                diesel::update(oauth_refresh_tokens::table.find(id))
                    .set((
                        oauth_refresh_tokens::used_at.eq(used_at),
                        oauth_refresh_tokens::revoked_at.eq(revoked_at),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, DbError>(())
        })
        .unwrap();
}

fn remaining(database: &Database) -> (Vec<String>, Vec<String>) {
    database
        .read(|conn| {
            let access = oauth_access_tokens::table
                .select(oauth_access_tokens::id)
                .order(oauth_access_tokens::id)
                .load(conn)?;
            let refresh = oauth_refresh_tokens::table
                .select(oauth_refresh_tokens::id)
                .order(oauth_refresh_tokens::id)
                .load(conn)?;
            Ok::<_, DbError>((access, refresh))
        })
        .unwrap()
}

both_backends! {
    async fn purge_deletes_only_tokens_expired_or_revoked_before_the_retention(db) {
        let database = db.connect();
        database.migrate().unwrap();
        arrange(&database);

        let output = run_cli(&["purge", "--older-than", "7", "--json"], &[("DATABASE_URL", &db.raw_url())], db.dir());

        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let counts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(counts, serde_json::json!({"deleted_access_tokens": 2, "deleted_refresh_tokens": 2}));
        let (access, refresh) = remaining(&database);
        assert_eq!(access, ["a-expired-recently", "a-live", "a-revoked-recently"]);
        assert_eq!(refresh, ["r-live", "r-used-long-ago-not-expired"], "a used refresh token stays until it expires, for reuse detection");
    }

    async fn purge_walks_every_row_of_tables_larger_than_one_batch(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let client_id = database
            .read(|conn| find_personal_access_client_id(conn, TenantId::PLATFORM))
            .unwrap()
            .unwrap();
        // 2.3 batches per table; every third token (the stale ones) expired long ago.
        const TOKENS: usize = 2_345;
        database
            .write(move |conn| {
                let now = now();
                for n in 0..TOKENS {
                    let name = format!("bulk-{n:05}");
                    let id: TokenId = name.parse().unwrap();
                    let expires_at = if n % 3 == 0 { now - 10 * DAY } else { now + DAY };
                    NewAccessToken {
                        id: &id,
                        tenant_id: TenantId::PLATFORM,
                        client_id: &client_id,
                        user_id: None,
                        kind: TokenKind::ClientCredentials,
                        name: None,
                        scopes: "",
                        created_at: now - 20 * DAY,
                        expires_at,
                        token_hash: &hasher().hash_access_token(&name),
                        exchange: None,
                    }
                    .insert(conn)?;
                    NewRefreshToken {
                        id: &id,
                        token_hash: &hasher().hash_presented_refresh_token(&name).unwrap(),
                        tenant_id: TenantId::PLATFORM,
                        client_id: &client_id,
                        user_id: None,
                        access_token_id: &id,
                        family_id: &name.parse::<FamilyId>().unwrap(),
                        scopes: "",
                        created_at: now - 20 * DAY,
                        expires_at,
                    }
                    .insert(conn)?;
                }
                Ok::<_, DbError>(())
            })
            .unwrap();

        let output = run_cli(&["purge", "--json"], &[("DATABASE_URL", &db.raw_url())], db.dir());

        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stale = TOKENS.div_ceil(3);
        let counts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(counts, serde_json::json!({"deleted_access_tokens": stale, "deleted_refresh_tokens": stale}));
        let (access, refresh) = remaining(&database);
        assert_eq!((access.len(), refresh.len()), (TOKENS - stale, TOKENS - stale));
        assert!(access.iter().chain(&refresh).all(|id| id[5..].parse::<usize>().unwrap() % 3 != 0));
    }

    async fn serve_purges_on_its_schedule(db) {
        let mut settings = crate::helpers::test_settings(&db);
        settings.purge_interval = Some(Duration::from_millis(300));
        let app = crate::helpers::spawn_app_with(db, settings).await;
        arrange(&app.database);

        let mut left = remaining(&app.database);
        for _ in 0..50 {
            if left.0.len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = remaining(&app.database);
        }

        assert_eq!(left.0, ["a-expired-recently", "a-live", "a-revoked-recently"]);
        assert_eq!(left.1, ["r-live", "r-used-long-ago-not-expired"]);
    }
}
