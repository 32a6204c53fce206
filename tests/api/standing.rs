//! The good-standing rule has one home (`domain::Standing`), and one copy in SQL for speed:
//! PostgreSQL's one-statement issuance. These tests check, on both backends and for every
//! combination of tenant status, client state and user state, that storage reads the
//! standing the rule is given, and that the issuing statement stores a token exactly when
//! the rule says it may (and PostgreSQL's one-statement rotation too, which also marks the
//! old refresh token used only then, and only once).

use std::collections::BTreeSet;
use std::time::Duration;

use tenauth::db::models::client::{revoke_clients, NewClient};
use tenauth::db::models::tenant::{NewTenant, Tenant};
use tenauth::db::models::token::issue::load_standing;
use tenauth::db::models::token::{
    AccessTokenState, NewAccessToken, NewRefreshToken, NewTokens, RefreshToken, Rotated,
};
use tenauth::db::models::user::{NewUser, User};
use tenauth::db::{Database, DbConnection, DbError};
use tenauth::domain::{
    now, ClientId, ClientStanding, FamilyId, GrantType, Standing, TenantId, TenantStatus, TokenId,
    TokenKind, UserId, UserStanding,
};
use tenauth::secrets::SecretHasher;

/// One tenant of a given status, with a client and users in every state.
struct Arranged {
    tenant_id: TenantId,
    status: TenantStatus,
    active_client: ClientId,
    revoked_client: ClientId,
    enabled_user: UserId,
    disabled_user: UserId,
    deleted_user: UserId,
}

/// A client and a user of another (active) tenant.
struct Foreign {
    tenant_id: TenantId,
    client: ClientId,
    user: UserId,
}

/// New tokens for `tenant_id`, `client_id` and `user_id` (a refresh token in `family_id`),
/// whatever their standing.
fn new_tokens<'a>(
    ids: &'a (TokenId, TokenId, FamilyId),
    hashes: &'a (
        tenauth::secrets::AccessTokenHash,
        tenauth::secrets::RefreshTokenHash,
    ),
    tenant_id: TenantId,
    client_id: &'a ClientId,
    user_id: Option<UserId>,
) -> NewTokens<'a> {
    let created_at = now();
    NewTokens {
        access: NewAccessToken {
            id: &ids.0,
            tenant_id,
            client_id,
            user_id,
            kind: TokenKind::Password,
            name: None,
            scopes: "read",
            created_at,
            expires_at: created_at + Duration::from_secs(60),
            token_hash: &hashes.0,
            exchange: None,
        },
        refresh: Some(NewRefreshToken {
            id: &ids.1,
            token_hash: &hashes.1,
            tenant_id,
            client_id,
            user_id,
            access_token_id: &ids.0,
            family_id: &ids.2,
            scopes: "read",
            created_at,
            expires_at: created_at + Duration::from_secs(600),
        }),
    }
}

fn new_ids(
    hasher: &SecretHasher,
) -> (
    (TokenId, TokenId, FamilyId),
    (
        tenauth::secrets::AccessTokenHash,
        tenauth::secrets::RefreshTokenHash,
    ),
) {
    let ids = (
        TokenId::generate(),
        TokenId::generate(),
        FamilyId::generate(),
    );
    let hashes = (
        hasher.hash_access_token(ids.0.as_str()),
        hasher.hash_presented_refresh_token(ids.1.as_str()).unwrap(),
    );
    (ids, hashes)
}

fn new_tenant(conn: &mut DbConnection, slug: &str) -> Result<TenantId, DbError> {
    NewTenant {
        slug,
        name: slug,
        now: now(),
    }
    .insert(conn)
}

fn new_client(conn: &mut DbConnection, tenant_id: TenantId) -> Result<ClientId, DbError> {
    let id = ClientId::generate();
    NewClient {
        id: &id,
        tenant_id,
        name: "client",
        secret_hash: None,
        grant_types: &BTreeSet::from([GrantType::Password]),
        scopes: &"read".parse().unwrap(),
        personal_access: false,
        browser: &Default::default(),
        now: now(),
    }
    .insert(conn)?;
    Ok(id)
}

fn new_user(conn: &mut DbConnection, tenant_id: TenantId, name: &str) -> Result<UserId, DbError> {
    NewUser {
        tenant_id,
        username: &name.parse().unwrap(),
        password_hash: "not-a-password-hash",
        now: now(),
    }
    .insert(conn)
}

fn arrange(database: &Database, status: TenantStatus) -> Arranged {
    database
        .write(move |conn| {
            let tenant_id = new_tenant(conn, &format!("tenant-{}", status.as_str()))?;
            let arranged = Arranged {
                tenant_id,
                status,
                active_client: new_client(conn, tenant_id)?,
                revoked_client: new_client(conn, tenant_id)?,
                enabled_user: new_user(conn, tenant_id, "enabled")?,
                disabled_user: new_user(conn, tenant_id, "disabled")?,
                deleted_user: new_user(conn, tenant_id, "deleted")?,
            };
            revoke_clients(conn, tenant_id, Some(&arranged.revoked_client), now())?;
            User::disable(conn, tenant_id, arranged.disabled_user, now())?;
            User::mark_deleted(conn, tenant_id, arranged.deleted_user, now())?;
            if status != TenantStatus::Active {
                Tenant::set_status(conn, tenant_id, status, now())?;
            }
            Ok::<_, DbError>(arranged)
        })
        .unwrap()
}

/// Every combination for one tenant: (client, its standing or none for another tenant's
/// client) × (user, its standing), with a name for the failure message.
fn combinations(
    arranged: &Arranged,
    foreign: &Foreign,
) -> Vec<(String, ClientId, Option<UserId>, Option<Standing>)> {
    let clients = [
        (
            "active client",
            &arranged.active_client,
            Some(ClientStanding::Active),
        ),
        (
            "revoked client",
            &arranged.revoked_client,
            Some(ClientStanding::Revoked),
        ),
        ("another tenant's client", &foreign.client, None),
    ];
    let users = [
        ("no user", None, UserStanding::NoUser),
        (
            "enabled user",
            Some(arranged.enabled_user),
            UserStanding::Enabled,
        ),
        (
            "disabled user",
            Some(arranged.disabled_user),
            UserStanding::Disabled,
        ),
        (
            "deleted user",
            Some(arranged.deleted_user),
            UserStanding::Disabled,
        ),
        (
            "unknown user",
            Some(UserId::new(987_654)),
            UserStanding::Missing,
        ),
        (
            "another tenant's user",
            Some(foreign.user),
            UserStanding::Missing,
        ),
    ];
    let mut combinations = Vec::new();
    for (client_name, client_id, client) in &clients {
        for (user_name, user_id, user) in &users {
            let standing = client.map(|client| Standing {
                tenant: arranged.status,
                client,
                user: *user,
            });
            combinations.push((
                format!(
                    "{} tenant, {client_name}, {user_name}",
                    arranged.status.as_str()
                ),
                (*client_id).clone(),
                *user_id,
                standing,
            ));
        }
    }
    combinations
}

both_backends! {
    async fn issuance_sql_agrees_with_the_standing_rule(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let foreign = database
            .write(|conn| {
                let other = new_tenant(conn, "other")?;
                Ok::<_, DbError>(Foreign { tenant_id: other, client: new_client(conn, other)?, user: new_user(conn, other, "stranger")? })
            })
            .unwrap();
        let hasher = SecretHasher::new(&[0; 32]);
        let mut checked = 0;
        let mut stored = 0;
        for status in [TenantStatus::Active, TenantStatus::Suspended, TenantStatus::Deleted] {
            let arranged = arrange(&database, status);
            for (case, client_id, user_id, expected) in combinations(&arranged, &foreign) {
                let tenant_id = arranged.tenant_id;
                let permitted = Standing::refusal_of(expected.as_ref()).is_none();

                // Storage reads the standing the rule is given.
                let (client, read_client) = (client_id.clone(), client_id.clone());
                let read = database.read(move |conn| load_standing(conn, tenant_id, &read_client, user_id)).unwrap();
                assert_eq!(read, expected, "{case}: the standing read");

                // The issuing statement (SQL on PostgreSQL, the rule on SQLite) agrees.
                let (ids, hashes) = new_ids(&hasher);
                let issued = database
                    .write_single_statement(move |conn| {
                        new_tokens(&ids, &hashes, tenant_id, &client, user_id)
                            .insert_if_permitted(conn)
                            .map(|stored| (stored, ids.0.clone()))
                    })
                    .unwrap();
                assert_eq!(issued.0, permitted, "{case}: issued");
                checked += 1;

                // A rotation stores its tokens, and marks the old refresh token used, exactly
                // when the rule permits; a second rotation of the same token is refused as a
                // reuse (the old token: one of the other tenant's, whose standing is good).
                let (old_ids, old_hashes) = new_ids(&hasher);
                let old_hash = old_hashes.1.clone();
                let (foreign_tenant, foreign_client, foreign_user) = (foreign.tenant_id, foreign.client.clone(), foreign.user);
                let old = database
                    .write(move |conn| {
                        new_tokens(&old_ids, &old_hashes, foreign_tenant, &foreign_client, Some(foreign_user)).insert(conn)?;
                        RefreshToken::find_by_hash(conn, &old_hashes.1)
                    })
                    .unwrap()
                    .expect("the old refresh token");
                for attempt in ["first", "second"] {
                    let (ids, hashes) = new_ids(&hasher);
                    let (client, old) = (client_id.clone(), old.clone());
                    let rotated = database
                        .write_single_statement(move |conn| {
                            new_tokens(&ids, &hashes, tenant_id, &client, user_id).rotate_if_permitted(conn, &old, now())
                        })
                        .unwrap();
                    let expected = match (permitted, attempt) {
                        (false, _) => Rotated::NotPermitted,
                        (true, "first") => Rotated::Stored,
                        (true, _) => Rotated::AlreadyUsed,
                    };
                    assert_eq!(rotated, expected, "{case}: {attempt} rotation");
                }
                let after = database.read(move |conn| RefreshToken::find_by_hash(conn, &old_hash)).unwrap().expect("the old refresh token");
                assert_eq!(after.used_at.is_some(), permitted, "{case}: the old refresh token marked used");

                // And a stored token is judged by the same rule when it is read back.
                if issued.0 {
                    stored += 1;
                    let jti = issued.1;
                    let state = database.read(move |conn| AccessTokenState::find(conn, tenant_id, &jti)).unwrap().expect("stored");
                    assert_eq!(state.standing.refusal(), None, "{case}: read back");
                }
            }
        }
        assert_eq!(checked, 3 * 3 * 6, "every combination");
        assert_eq!(stored, 2, "only an active tenant's active client, with no user or an enabled one");
    }

    async fn a_stored_token_stands_or_falls_with_its_tenant_client_and_user(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let arranged = arrange(&database, TenantStatus::Active);
        let hasher = SecretHasher::new(&[0; 32]);
        let tenant_id = arranged.tenant_id;
        // Tokens written directly (as if issued before the change), one per client and user.
        let mut tokens = Vec::new();
        for (client_id, client) in [(&arranged.active_client, ClientStanding::Active), (&arranged.revoked_client, ClientStanding::Revoked)] {
            for (user_id, user) in [(None, UserStanding::NoUser), (Some(arranged.enabled_user), UserStanding::Enabled), (Some(arranged.disabled_user), UserStanding::Disabled), (Some(arranged.deleted_user), UserStanding::Disabled)] {
                let (jti, client_id) = (TokenId::generate(), client_id.clone());
                let (insert_jti, hash) = (jti.clone(), hasher.hash_access_token(jti.as_str()));
                database.write(move |conn| {
                    let created_at = now();
                    NewAccessToken {
                        id: &insert_jti, tenant_id, client_id: &client_id, user_id, kind: TokenKind::Password, name: None,
                        scopes: "read", created_at, expires_at: created_at + Duration::from_secs(60), token_hash: &hash, exchange: None,
                    }
                    .insert(conn)
                }).unwrap();
                tokens.push((jti, Standing { tenant: TenantStatus::Active, client, user }));
            }
        }
        for status in [TenantStatus::Active, TenantStatus::Suspended, TenantStatus::Deleted] {
            database.write(move |conn| Tenant::set_status(conn, tenant_id, status, now())).unwrap();
            for (jti, standing) in &tokens {
                let expected = Standing { tenant: status, ..*standing };
                let jti = jti.clone();
                let state = database.read(move |conn| AccessTokenState::find(conn, tenant_id, &jti)).unwrap().expect("stored");
                assert_eq!(state.standing, expected);
                assert_eq!(state.standing.refusal(), expected.refusal(), "{expected:?}");
            }
        }
    }
}
