//! The revocation rule has one home (`revoke_tokens`, with its event recorded by
//! `record_event` in the same transaction) and one copy in SQL for speed: PostgreSQL's
//! one-statement RFC 7009 revocation of an access token (`RevokeAccessTokenAndReport`),
//! which leaves a token with live exchanged tokens to the rule itself. This test builds
//! every combination of what such a revocation can meet twice, revokes one copy through
//! `revoke_and_report` (the statement, on PostgreSQL) and the other through the rule, and
//! checks that both end in the same rows and the same events, on both backends (on SQLite
//! both are the rule: the check is then of the expected end state alone).

use std::time::Duration;

use diesel::prelude::*;
use tenauth::db::models::event::{events_after, record_event, revoke_and_report};
use tenauth::db::models::token::{
    revoke_tokens, NewAccessToken, NewRefreshToken, RevocationCounts,
};
use tenauth::db::schema::{oauth_access_tokens, oauth_refresh_tokens};
use tenauth::db::{DbConnection, DbError};
use tenauth::domain::{
    now, ClientId, Exchange, FamilyId, RevocationTarget, SecurityEvent, TenantId, TokenActor,
    TokenId, TokenKind, UserId,
};
use tenauth::secrets::SecretHasher;

/// What an access token about to be revoked can meet.
#[derive(Debug, Clone, Copy)]
struct Case {
    already_revoked: bool,
    /// Refresh tokens issued with it, and whether the second of them is revoked already.
    refresh_tokens: usize,
    one_refresh_revoked: bool,
    /// A token exchanged from it: none, live, or revoked already.
    exchanged: Exchanged,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Exchanged {
    None,
    Live,
    Revoked,
}

/// The rows of one copy of a case.
struct Built {
    access: TokenId,
    refresh: Vec<TokenId>,
    exchanged: Option<TokenId>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for already_revoked in [false, true] {
        for refresh_tokens in [0, 1, 2] {
            for exchanged in [Exchanged::None, Exchanged::Live, Exchanged::Revoked] {
                cases.push(Case {
                    already_revoked,
                    refresh_tokens,
                    one_refresh_revoked: refresh_tokens == 2,
                    exchanged,
                });
            }
        }
    }
    cases
}

fn build(
    conn: &mut DbConnection,
    hasher: &SecretHasher,
    case: Case,
    tenant_id: TenantId,
    client_id: &ClientId,
    user_id: UserId,
) -> Result<Built, DbError> {
    let created_at = now();
    let expires_at = created_at + Duration::from_secs(600);
    let access = TokenId::generate();
    let hash = hasher.hash_access_token(access.as_str());
    NewAccessToken {
        id: &access,
        tenant_id,
        client_id,
        user_id: Some(user_id),
        kind: TokenKind::Password,
        name: None,
        scopes: "read",
        created_at,
        expires_at,
        token_hash: &hash,
        exchange: None,
    }
    .insert(conn)?;
    let family = FamilyId::generate();
    let mut refresh = Vec::new();
    for _ in 0..case.refresh_tokens {
        let id = TokenId::generate();
        let hash = hasher.hash_presented_refresh_token(id.as_str()).unwrap();
        NewRefreshToken {
            id: &id,
            token_hash: &hash,
            tenant_id,
            client_id,
            user_id: Some(user_id),
            access_token_id: &access,
            family_id: &family,
            scopes: "read",
            created_at,
            expires_at,
        }
        .insert(conn)?;
        refresh.push(id);
    }
    let exchanged = match case.exchanged {
        Exchanged::None => None,
        Exchanged::Live | Exchanged::Revoked => {
            let id = TokenId::generate();
            let hash = hasher.hash_access_token(id.as_str());
            let exchange = Exchange {
                subject_token_id: access.clone(),
                actor: TokenActor {
                    tenant_id,
                    client_id: client_id.clone(),
                    user_id: None,
                },
                audience: None,
            };
            NewAccessToken {
                id: &id,
                tenant_id,
                client_id,
                user_id: Some(user_id),
                kind: TokenKind::Exchanged,
                name: None,
                scopes: "read",
                created_at,
                expires_at,
                token_hash: &hash,
                exchange: Some(&exchange),
            }
            .insert(conn)?;
            Some(id)
        }
    };
    let revoked = |conn: &mut DbConnection, id: &TokenId| {
        diesel::update(oauth_access_tokens::table.filter(oauth_access_tokens::id.eq(id.as_str())))
            .set(oauth_access_tokens::revoked_at.eq(created_at))
            .execute(conn)
    };
    if case.already_revoked {
        revoked(conn, &access)?;
    }
    if let (Exchanged::Revoked, Some(id)) = (case.exchanged, &exchanged) {
        revoked(conn, id)?;
    }
    if case.one_refresh_revoked {
        diesel::update(
            oauth_refresh_tokens::table.filter(oauth_refresh_tokens::id.eq(refresh[1].as_str())),
        )
        .set(oauth_refresh_tokens::revoked_at.eq(created_at))
        .execute(conn)?;
    }
    Ok(Built {
        access,
        refresh,
        exchanged,
    })
}

/// Which of a copy's rows are revoked: the access token, each refresh token, the
/// exchanged token.
fn revoked_rows(
    conn: &mut DbConnection,
    built: &Built,
) -> Result<(bool, Vec<bool>, Option<bool>), DbError> {
    let access_revoked = |conn: &mut DbConnection, id: &TokenId| -> Result<bool, DbError> {
        Ok(oauth_access_tokens::table
            .filter(oauth_access_tokens::id.eq(id.as_str()))
            .select(oauth_access_tokens::revoked_at.is_not_null())
            .get_result(conn)?)
    };
    let mut refresh = Vec::new();
    for id in &built.refresh {
        refresh.push(
            oauth_refresh_tokens::table
                .filter(oauth_refresh_tokens::id.eq(id.as_str()))
                .select(oauth_refresh_tokens::revoked_at.is_not_null())
                .get_result(conn)?,
        );
    }
    let exchanged = match &built.exchanged {
        Some(id) => Some(access_revoked(conn, id)?),
        None => None,
    };
    Ok((access_revoked(conn, &built.access)?, refresh, exchanged))
}

/// The event kinds the tenant's outbox holds for a copy's tokens, in order: the access
/// token's, then the exchanged token's.
fn events_of(
    conn: &mut DbConnection,
    tenant_id: TenantId,
    built: &Built,
) -> Result<(usize, usize), DbError> {
    let events = events_after(conn, tenant_id, 0, 10_000)?;
    let naming = |id: &TokenId| {
        events
            .iter()
            .filter(|event| event.parts.token.as_deref() == Some(id.as_str()))
            .count()
    };
    Ok((
        naming(&built.access),
        built.exchanged.as_ref().map_or(0, naming),
    ))
}

both_backends! {
    async fn the_one_statement_revocation_agrees_with_the_rule(db) {
        let database = db.connect();
        database.migrate().unwrap();
        let hasher = SecretHasher::new(&[0; 32]);
        let (tenant_id, client_id, user_id) = database
            .write(|conn| {
                let tenant_id = tenauth::db::models::tenant::NewTenant { slug: "acme", name: "acme", now: now() }.insert(conn)?;
                let client_id = ClientId::generate();
                tenauth::db::models::client::NewClient {
                    id: &client_id,
                    tenant_id,
                    name: "client",
                    secret_hash: None,
                    grant_types: &std::collections::BTreeSet::from([tenauth::domain::GrantType::Password]),
                    scopes: &"read".parse().unwrap(),
                    personal_access: false,
                    browser: &Default::default(),
                    now: now(),
                }
                .insert(conn)?;
                let user_id = tenauth::db::models::user::NewUser {
                    tenant_id,
                    username: &"alice".parse().unwrap(),
                    password_hash: "not-a-password-hash",
                    now: now(),
                }
                .insert(conn)?;
                Ok::<_, DbError>((tenant_id, client_id, user_id))
            })
            .unwrap();

        for case in cases() {
            let (hasher, client) = (hasher.clone(), client_id.clone());
            let (statement, rule) = database
                .write(move |conn| {
                    Ok::<_, DbError>((
                        build(conn, &hasher, case, tenant_id, &client, user_id)?,
                        build(conn, &hasher, case, tenant_id, &client, user_id)?,
                    ))
                })
                .unwrap();
            let at = now();

            // The statement (PostgreSQL), as RFC 7009 runs it: no transaction around it.
            let target = RevocationTarget::AccessToken(statement.access.clone());
            let by_statement: RevocationCounts = database
                .write_single_statement(move |conn| revoke_and_report(conn, tenant_id, &target, at))
                .unwrap();
            // The rule: `revoke_tokens`, and the event if it revoked anything, in one transaction.
            let target = RevocationTarget::AccessToken(rule.access.clone());
            let by_rule: RevocationCounts = database
                .write(move |conn| {
                    let counts = revoke_tokens(conn, tenant_id, &target, at)?;
                    if counts.access_tokens + counts.refresh_tokens > 0 {
                        record_event(conn, tenant_id, &SecurityEvent::of_revocation(&target), at)?;
                    }
                    Ok::<_, DbError>(counts)
                })
                .unwrap();

            assert_eq!(by_statement, by_rule, "{case:?}: the counts");
            let (rows, events) = database
                .read(move |conn| {
                    Ok::<_, DbError>((
                        (revoked_rows(conn, &statement)?, revoked_rows(conn, &rule)?),
                        (events_of(conn, tenant_id, &statement)?, events_of(conn, tenant_id, &rule)?),
                    ))
                })
                .unwrap();
            assert_eq!(rows.0, rows.1, "{case:?}: the rows revoked");
            assert_eq!(events.0, events.1, "{case:?}: the events recorded");
            // And the rule's end state: everything revoked; one event for the token unless
            // nothing changed, one for a live exchanged token.
            let (access, refresh, exchanged) = rows.0;
            assert!(access && refresh.iter().all(|revoked| *revoked), "{case:?}");
            assert_eq!(exchanged, (case.exchanged != Exchanged::None).then_some(true), "{case:?}");
            let changed = !case.already_revoked || refresh.len() > usize::from(case.one_refresh_revoked) || case.exchanged == Exchanged::Live;
            let expected_events = (usize::from(changed), usize::from(case.exchanged == Exchanged::Live));
            assert_eq!(events.0, expected_events, "{case:?}: the events");
        }
    }
}
