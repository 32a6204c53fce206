//! Token exchange (RFC 8693, issue 17): platform staff acting in a tenant with an audited
//! actor, and a service passing a user's identity on with fewer rights; every refusal;
//! every cascade; the race with a tenant deletion.

use diesel::prelude::*;
use reqwest::Method;
use tenauth::db::schema::oauth_access_tokens;
use tenauth::domain::{GrantType, TenantId};

use crate::helpers::{
    admin_token, call_with_token, json_with_status, jwt_claims, spawn_app, spawn_app_with,
    test_settings, Fixture, TestApp, TestClient,
};
use crate::introspection::introspect;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A platform support engineer: a platform user, the platform client that exchanges, and
/// the engineer's token from it (`platform:act-in-tenant read write`).
struct Staff {
    user_id: i64,
    client: TestClient,
    token: String,
}

async fn staff(app: &TestApp, scope: &str) -> Staff {
    staff_named(app, "support", scope).await
}

/// A platform engineer `username` (password `support-password`) with a client of their own.
async fn staff_named(app: &TestApp, username: &str, scope: &str) -> Staff {
    let user = app
        .provision_user(TenantId::PLATFORM, username, "support-password")
        .await;
    let client = app
        .provision_client(
            TenantId::PLATFORM,
            &[GrantType::Password, GrantType::TokenExchange],
            "platform:act-in-tenant read write",
            true,
        )
        .await;
    let token = staff_token(app, &client, username, scope).await;
    Staff {
        user_id: user.id.get(),
        client,
        token,
    }
}

async fn staff_token(app: &TestApp, client: &TestClient, username: &str, scope: &str) -> String {
    let form = [
        ("grant_type", "password"),
        ("username", username),
        ("password", "support-password"),
        ("scope", scope),
    ];
    json_with_status(app.token(&form, Some(client.basic())).await, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `POST /oauth/token` with the token-exchange grant.
async fn exchange(
    app: &TestApp,
    client: &TestClient,
    subject_token: &str,
    audience: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", audience),
    ];
    form.extend(scope.map(|scope| ("scope", scope)));
    app.token(&form, Some(client.basic())).await
}

fn tenant_audience(tenant_id: TenantId) -> String {
    format!("urn:tenauth:tenant:{tenant_id}")
}

/// A user token of the fixture's tenant, `read write`.
async fn user_token(app: &TestApp, fixture: &Fixture) -> String {
    json_with_status(app.password_grant(fixture, None).await, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn error_of(response: reqwest::Response, status: u16) -> String {
    json_with_status(response, status).await["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How many exchanged tokens are stored, live or not.
fn exchanged_rows(app: &TestApp) -> i64 {
    app.database
        .read(|conn| {
            Ok::<_, tenauth::db::DbError>(
                oauth_access_tokens::table
                    .filter(oauth_access_tokens::kind.eq("exchanged"))
                    .count()
                    .get_result(conn)?,
            )
        })
        .unwrap()
}

/// The token-exchange events of a trail (`path` is an audit-events listing).
async fn exchange_events(app: &TestApp, path: &str, token: &str) -> Vec<serde_json::Value> {
    let trail = json_with_status(
        call_with_token(app, Method::GET, path, token, None).await,
        200,
    )
    .await;
    trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "token.exchange")
        .cloned()
        .collect()
}

both_backends! {
    async fn platform_staff_act_in_a_tenant_as_themselves_audited_in_both_trails(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let support = staff(&app, "platform:act-in-tenant").await;

        let answer = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await, 200).await;

        // RFC 8693 §2.2.1: an access token, no refresh token.
        assert_eq!(answer["issued_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["scope"], "read");
        assert!(answer.get("refresh_token").is_none());
        let expires_in = answer["expires_in"].as_u64().unwrap();
        assert!(expires_in <= 900 && expires_in > 800, "TENAUTH_EXCHANGE_TOKEN_TTL by default: {expires_in}");
        let token = answer["access_token"].as_str().unwrap();

        // The JWT: the target tenant, the platform user as subject and actor (§4.1).
        let claims = jwt_claims(token);
        assert_eq!(claims["tenant_id"], acme.tenant_id.get());
        assert_eq!(claims["sub"], support.user_id.to_string());
        assert_eq!(claims["act"], serde_json::json!({"sub": support.user_id.to_string(), "client_id": support.client.id, "tenant_id": 1}));
        assert_eq!(claims["scope"], "read");

        // A resource server of the tenant sees a token of its own tenant, acted with by a platform person.
        let seen = introspect(&app, &acme.client, token).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["tenant_id"], acme.tenant_id.get());
        assert_eq!(seen["token_kind"], "exchanged");
        assert_eq!(seen["act"], claims["act"]);
        assert_eq!(seen["sub"], support.user_id.to_string());
        let me = json_with_status(app.get_with_token("/oauth/me", token).await, 200).await;
        assert_eq!(me["token_kind"], "exchanged");
        assert_eq!(me["act"], claims["act"]);
        assert_eq!(me["tenant_id"], acme.tenant_id.get());

        // Both trails, each naming the token: the tenant's ("a platform user acted in your tenant") and the platform's own.
        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let in_tenant = exchange_events(&app, &format!("/admin/tenants/{}/audit-events", acme.tenant_id), &tenant_admin).await;
        assert_eq!(in_tenant.len(), 1, "{in_tenant:?}");
        assert_eq!(in_tenant[0]["actor"], format!("platform-user:{}", support.user_id));
        assert_eq!(in_tenant[0]["subject"], claims["jti"]);
        let platform_admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let in_platform = exchange_events(&app, "/admin/audit-events", &platform_admin).await;
        assert_eq!(in_platform.len(), 1, "{in_platform:?}");
        assert_eq!(in_platform[0]["actor"], format!("user:{}", support.user_id));
        assert_eq!(in_platform[0]["subject"], claims["jti"]);
        assert_eq!(in_platform[0]["details"]["tenant_id"], acme.tenant_id.get());
        assert!(exchange_events(&app, "/admin/tenants/1/audit-events", &platform_admin).await.len() == 1, "the platform tenant's trail is the platform trail");

        // The tenant's admins see it among their tokens, as what it is.
        let listed = json_with_status(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/tokens?active=true", acme.tenant_id), &tenant_admin, None).await, 200).await;
        let listed: Vec<_> = listed["items"].as_array().unwrap().iter().filter(|token| token["id"] == claims["jti"]).collect();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["kind"], "exchanged");

        // Counted like every grant.
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains(r#"tenauth_tokens_issued_total{grant="token_exchange"} 1"#), "{metrics}");
        // Listed in the metadata.
        let metadata = json_with_status(app.get("/.well-known/oauth-authorization-server").await, 200).await;
        assert!(metadata["grant_types_supported"].as_array().unwrap().iter().any(|grant| grant == EXCHANGE));
    }

    async fn a_service_passes_a_users_identity_to_another_with_fewer_rights(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let subject = user_token(&app, &acme).await;

        let answer = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, Some("read")).await, 200).await;
        assert_eq!(answer["issued_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(answer["scope"], "read");
        let token = answer["access_token"].as_str().unwrap();
        let claims = jwt_claims(token);
        assert_eq!(claims["sub"], acme.user_id.to_string(), "still the user");
        assert_eq!(claims["aud"], backend.id.as_str(), "for the other client");
        assert_eq!(claims["client_id"], acme.client.id.as_str());
        assert_eq!(claims["act"], serde_json::json!({"sub": acme.client.id, "client_id": acme.client.id, "tenant_id": acme.tenant_id.get()}));

        let seen = introspect(&app, &backend, token).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["aud"], backend.id.as_str());
        assert_eq!(seen["act"], claims["act"]);
        assert_eq!(seen["username"], "alice");
        assert_eq!(seen["token_kind"], "exchanged");

        // Without a scope: the subject token's; never more than it.
        let same = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        assert_eq!(same["scope"], "read write");
        assert_eq!(error_of(exchange(&app, &acme.client, &subject, &backend.id, Some("read delete")).await, 400).await, "invalid_scope");

        // One event in the tenant's trail per exchange, and one in the platform's.
        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let events = exchange_events(&app, &format!("/admin/tenants/{}/audit-events", acme.tenant_id), &tenant_admin).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["actor"], format!("client:{}", acme.client.id));
        let platform_admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        assert_eq!(exchange_events(&app, "/admin/audit-events", &platform_admin).await.len(), 2);
    }

    async fn every_exchange_outside_the_two_uses_is_refused_and_stores_nothing(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let globex = app.provision_tenant("globex").await;
        let support = staff(&app, "platform:act-in-tenant read").await;
        let acme_target = tenant_audience(acme.tenant_id);
        let acme_user = user_token(&app, &acme).await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let globex_backend = app.provision_client(globex.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let globex_user = user_token(&app, &globex).await;

        // Use 1 with a tenant user's token, presented by a platform client.
        assert_eq!(error_of(exchange(&app, &support.client, &acme_user, &acme_target, Some("read")).await, 400).await, "invalid_grant");
        // A platform user whose token lacks platform:act-in-tenant.
        let plain_staff = staff_token(&app, &support.client, "support", "read").await;
        assert_eq!(error_of(exchange(&app, &support.client, &plain_staff, &acme_target, Some("read")).await, 400).await, "invalid_grant");
        // A tenant client asking to act in a tenant (its own included).
        assert_eq!(error_of(exchange(&app, &acme.client, &support.token, &acme_target, Some("read")).await, 400).await, "invalid_target");
        assert_eq!(error_of(exchange(&app, &acme.client, &acme_user, &acme_target, Some("read")).await, 400).await, "invalid_target");
        // admin and platform scopes never reach a tenant; nor a scope no client of it holds.
        for scope in ["admin", "platform:act-in-tenant", "read admin", "delete"] {
            assert_eq!(error_of(exchange(&app, &support.client, &support.token, &acme_target, Some(scope)).await, 400).await, "invalid_scope", "{scope}");
        }
        assert_eq!(error_of(exchange(&app, &support.client, &support.token, &acme_target, None).await, 400).await, "invalid_request", "scope is required to act in a tenant");
        // The platform tenant and unknown tenants are no targets.
        for target in ["urn:tenauth:tenant:1", "urn:tenauth:tenant:999", "urn:tenauth:tenant:x", "https://elsewhere"] {
            assert_eq!(error_of(exchange(&app, &support.client, &support.token, target, Some("read")).await, 400).await, "invalid_target", "{target}");
        }
        // Use 2 across tenants: a subject token of another tenant, an audience of another tenant.
        assert_eq!(error_of(exchange(&app, &acme.client, &globex_user, &backend.id, Some("read")).await, 400).await, "invalid_grant");
        assert_eq!(error_of(exchange(&app, &acme.client, &acme_user, &globex_backend.id, Some("read")).await, 400).await, "invalid_target");
        // The exchanging client itself is no audience; nor is a platform user's token a tenant user's.
        assert_eq!(error_of(exchange(&app, &acme.client, &acme_user, &acme.client.id, Some("read")).await, 400).await, "invalid_target");
        // A client's own token has no user to pass on.
        let own = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        assert_eq!(error_of(exchange(&app, &acme.client, own["access_token"].as_str().unwrap(), &backend.id, None).await, 400).await, "invalid_grant");
        // An inactive subject token: revoked, or not a token at all.
        let revoked = user_token(&app, &acme).await;
        let revocation = app.http.post(app.url("/oauth/revoke")).basic_auth(&acme.client.id, acme.client.secret.as_deref()).form(&[("token", revoked.as_str())]).send().await.unwrap();
        assert_eq!(revocation.status(), 200);
        assert_eq!(error_of(exchange(&app, &acme.client, &revoked, &backend.id, None).await, 400).await, "invalid_grant");
        assert_eq!(error_of(exchange(&app, &acme.client, "not-a-token", &backend.id, None).await, 400).await, "invalid_grant");
        // A client without the grant.
        let no_grant = app.provision_client(acme.tenant_id, &[GrantType::Password], "read", true).await;
        assert_eq!(error_of(exchange(&app, &no_grant, &acme_user, &backend.id, None).await, 400).await, "unauthorized_client");
        // Malformed requests.
        let malformed: [(&[(&str, &str)], &str); 6] = [
            (&[("grant_type", EXCHANGE), ("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", &backend.id)], "invalid_request"),
            (&[("grant_type", EXCHANGE), ("subject_token", &acme_user), ("audience", &backend.id)], "invalid_request"),
            (&[("grant_type", EXCHANGE), ("subject_token", &acme_user), ("subject_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), ("audience", &backend.id)], "invalid_request"),
            (&[("grant_type", EXCHANGE), ("subject_token", &acme_user), ("subject_token_type", ACCESS_TOKEN_TYPE)], "invalid_request"),
            (&[("grant_type", EXCHANGE), ("subject_token", &acme_user), ("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", &backend.id), ("requested_token_type", "urn:ietf:params:oauth:token-type:id_token")], "invalid_request"),
            (&[("grant_type", EXCHANGE), ("subject_token", &acme_user), ("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", &backend.id), ("resource", "https://rs.example")], "invalid_target"),
        ];
        for (form, expected) in malformed {
            assert_eq!(error_of(app.token(form, Some(acme.client.basic())).await, 400).await, expected, "{form:?}");
        }
        assert_eq!(exchanged_rows(&app), 0, "nothing was stored");

        // No chains: an exchanged token is no subject token.
        let exchanged = json_with_status(exchange(&app, &acme.client, &acme_user, &backend.id, Some("read")).await, 200).await;
        let exchanged = exchanged["access_token"].as_str().unwrap();
        assert_eq!(error_of(exchange(&app, &acme.client, exchanged, &backend.id, Some("read")).await, 400).await, "invalid_grant");
        let staff_exchanged = json_with_status(exchange(&app, &support.client, &support.token, &acme_target, Some("read")).await, 200).await;
        assert_eq!(error_of(exchange(&app, &support.client, staff_exchanged["access_token"].as_str().unwrap(), &tenant_audience(globex.tenant_id), Some("read")).await, 400).await, "invalid_grant");

        // A tenant that refuses platform access.
        let tenant_admin = admin_token(&app, globex.tenant_id, "tenant:admin").await;
        let off = call_with_token(&app, Method::PATCH, &format!("/admin/tenants/{}", globex.tenant_id), &tenant_admin, Some(serde_json::json!({"platform_access": false}))).await;
        assert_eq!(off.status(), 200);
        assert_eq!(error_of(exchange(&app, &support.client, &support.token, &tenant_audience(globex.tenant_id), Some("read")).await, 400).await, "invalid_target");
        assert_eq!(exchanged_rows(&app), 2);
    }

    async fn an_exchanged_token_never_outlives_its_subject_token(db) {
        let mut settings = test_settings(&db);
        settings.access_token_ttl = std::time::Duration::from_secs(2);
        let app = spawn_app_with(db, settings).await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let subject = user_token(&app, &acme).await;
        let answer = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        assert!(answer["expires_in"].as_u64().unwrap() <= 2, "{answer}");
        let claims = jwt_claims(answer["access_token"].as_str().unwrap());
        assert!(claims["exp"].as_i64().unwrap() <= jwt_claims(&subject)["exp"].as_i64().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(error_of(exchange(&app, &acme.client, &subject, &backend.id, None).await, 400).await, "invalid_grant", "an expired subject token");
        assert_eq!(introspect(&app, &backend, answer["access_token"].as_str().unwrap()).await["active"], false);
    }
}

/// Every cause that must end platform staff's exchanged tokens, each applied to a fresh
/// token (and, where it applies, a delegation's).
#[derive(Debug, Clone, Copy)]
enum Cause {
    RevokeSubjectToken,
    DisablePlatformUser,
    DeletePlatformUser,
    DeleteExchangingClient,
    PlatformAccessOff,
    SuspendTenant,
    DeleteTenant,
}

async fn apply(app: &TestApp, cause: Cause, acme: &Fixture, support: &Staff, admin: &str) {
    let tenant = acme.tenant_id;
    let (method, path, body) = match cause {
        Cause::RevokeSubjectToken => {
            let revoked = app
                .http
                .post(app.url("/oauth/revoke"))
                .basic_auth(&support.client.id, support.client.secret.as_deref())
                .form(&[("token", support.token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(revoked.status(), 200);
            return;
        }
        Cause::DisablePlatformUser => (
            Method::POST,
            format!("/admin/tenants/1/users/{}/disable", support.user_id),
            None,
        ),
        Cause::DeletePlatformUser => (
            Method::DELETE,
            format!("/admin/tenants/1/users/{}", support.user_id),
            None,
        ),
        Cause::DeleteExchangingClient => (
            Method::DELETE,
            format!("/admin/tenants/1/clients/{}", support.client.id),
            None,
        ),
        Cause::PlatformAccessOff => (
            Method::PATCH,
            format!("/admin/tenants/{tenant}"),
            Some(serde_json::json!({"platform_access": false})),
        ),
        Cause::SuspendTenant => (
            Method::POST,
            format!("/admin/tenants/{tenant}/suspend"),
            None,
        ),
        Cause::DeleteTenant => (Method::DELETE, format!("/admin/tenants/{tenant}"), None),
    };
    let status = call_with_token(app, method, &path, admin, body)
        .await
        .status();
    assert!(status.is_success(), "{cause:?}: {status}");
}

fn live_exchanged_rows(app: &TestApp) -> i64 {
    app.database
        .read(|conn| {
            Ok::<_, tenauth::db::DbError>(
                oauth_access_tokens::table
                    .filter(oauth_access_tokens::kind.eq("exchanged"))
                    .filter(oauth_access_tokens::revoked_at.is_null())
                    .count()
                    .get_result(conn)?,
            )
        })
        .unwrap()
}

both_backends! {
    async fn every_cause_ends_platform_staffs_exchanged_tokens(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        // A platform resource server: a suspended or deleted tenant's own clients cannot ask.
        let introspector = app.provision_client(TenantId::PLATFORM, &[GrantType::ClientCredentials], "read", true).await;
        let causes = [
            Cause::RevokeSubjectToken,
            Cause::DisablePlatformUser,
            Cause::DeletePlatformUser,
            Cause::DeleteExchangingClient,
            Cause::PlatformAccessOff,
            Cause::SuspendTenant,
            Cause::DeleteTenant,
        ];
        for (round, cause) in causes.into_iter().enumerate() {
            let acme = app.provision_tenant(&format!("acme{round}")).await;
            let bystander = app.provision_tenant(&format!("bystander{round}")).await;
            let support = staff_in_round(&app, round).await;
            let target = tenant_audience(acme.tenant_id);
            let answer = json_with_status(exchange(&app, &support.client, &support.token, &target, Some("read")).await, 200).await;
            let token = answer["access_token"].as_str().unwrap().to_owned();
            let elsewhere = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(bystander.tenant_id), Some("read")).await, 200).await;
            let elsewhere = elsewhere["access_token"].as_str().unwrap().to_owned();
            assert_eq!(introspect(&app, &introspector, &token).await["active"], true, "{cause:?}: active before");

            apply(&app, cause, &acme, &support, &admin).await;

            assert_eq!(introspect(&app, &introspector, &token).await["active"], false, "{cause:?}: inactive after");
            let elsewhere_active = introspect(&app, &introspector, &elsewhere).await["active"] == true;
            let staff_wide = matches!(cause, Cause::RevokeSubjectToken | Cause::DisablePlatformUser | Cause::DeletePlatformUser | Cause::DeleteExchangingClient);
            assert_eq!(elsewhere_active, !staff_wide, "{cause:?}: the token in another tenant");
            if matches!(cause, Cause::SuspendTenant) {
                let path = format!("/admin/tenants/{}/activate", acme.tenant_id);
                assert!(call_with_token(&app, Method::POST, &path, &admin, None).await.status().is_success());
                assert_eq!(introspect(&app, &introspector, &token).await["active"], true, "a suspension ends when the tenant is reactivated");
            }
        }
    }

    async fn revoking_or_deleting_what_a_delegation_came_from_ends_it(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;

        // The subject token revoked (RFC 7009): the exchanged token goes with it, marked revoked.
        let subject = user_token(&app, &acme).await;
        let delegated = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        let revoked = app.http.post(app.url("/oauth/revoke")).basic_auth(&acme.client.id, acme.client.secret.as_deref()).form(&[("token", subject.as_str())]).send().await.unwrap();
        assert_eq!(revoked.status(), 200);
        assert_eq!(introspect(&app, &backend, delegated["access_token"].as_str().unwrap()).await["active"], false);
        assert_eq!(live_exchanged_rows(&app), 0, "revoked in the same write as its subject token");

        // The exchanging client deleted.
        let exchanger = app.provision_client(acme.tenant_id, &[GrantType::TokenExchange], "read write", true).await;
        let subject = user_token(&app, &acme).await;
        let delegated = json_with_status(exchange(&app, &exchanger, &subject, &backend.id, None).await, 200).await;
        let path = format!("/admin/tenants/{}/clients/{}", acme.tenant_id, exchanger.id);
        assert!(call_with_token(&app, Method::DELETE, &path, &admin, None).await.status().is_success());
        assert_eq!(introspect(&app, &backend, delegated["access_token"].as_str().unwrap()).await["active"], false);
        assert_eq!(introspect(&app, &backend, &subject).await["active"], true, "the user's own token stays");
        assert_eq!(live_exchanged_rows(&app), 0);

        // The audience deleted: a token for a client that is gone serves nobody.
        let delegated = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        let path = format!("/admin/tenants/{}/clients/{}", acme.tenant_id, backend.id);
        assert!(call_with_token(&app, Method::DELETE, &path, &admin, None).await.status().is_success());
        assert_eq!(introspect(&app, &acme.client, delegated["access_token"].as_str().unwrap()).await["active"], false);
        assert_eq!(live_exchanged_rows(&app), 0);
    }
}

/// A fresh platform engineer for each round (their user and client may be deleted).
async fn staff_in_round(app: &TestApp, round: usize) -> Staff {
    staff_named(app, &format!("support{round}"), "platform:act-in-tenant").await
}

both_backends! {
    async fn no_token_exchanged_during_a_tenant_deletion_outlives_it(db) {
        let app = std::sync::Arc::new(spawn_app(db).await);
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let support = std::sync::Arc::new(staff(&app, "platform:act-in-tenant").await);
        let subject = user_token(&app, &acme).await;

        let mut exchangers = Vec::new();
        for use_ in 0..2 {
            let (app, support, acme, backend, subject) = (app.clone(), support.clone(), acme.clone(), backend.clone(), subject.clone());
            exchangers.push(tokio::spawn(async move {
                let (mut received, mut refused) = (Vec::new(), 0);
                for _ in 0..40 {
                    let response = if use_ == 0 {
                        exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await
                    } else {
                        exchange(&app, &acme.client, &subject, &backend.id, None).await
                    };
                    assert!(response.status().as_u16() < 500, "no server error during the race");
                    if response.status().is_success() {
                        let body: serde_json::Value = response.json().await.unwrap();
                        received.push(body["access_token"].as_str().unwrap().to_owned());
                    } else {
                        refused += 1;
                    }
                }
                (received, refused)
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let path = format!("/admin/tenants/{}", acme.tenant_id);
        assert_eq!(call_with_token(&app, Method::DELETE, &path, &admin, None).await.status(), 200);
        let (mut received, mut refused) = (Vec::new(), 0);
        for exchanger in exchangers {
            let (tokens, refusals) = exchanger.await.unwrap();
            received.extend(tokens);
            refused += refusals;
        }
        assert!(!received.is_empty(), "some tokens were exchanged before the deletion");
        assert!(refused > 0, "the deletion happened while tokens were being exchanged");
        assert_eq!(live_exchanged_rows(&app), 0, "not one exchanged row has revoked_at null");
        let platform = app.provision_client(TenantId::PLATFORM, &[GrantType::ClientCredentials], "read", true).await;
        for token in &received {
            assert_eq!(introspect(&app, &platform, token).await["active"], false);
        }
    }
}

/// Makes every write of a platform-trail `token.exchange` audit event fail, as a fault
/// after the token's insert would.
fn fail_platform_trail_writes(app: &TestApp) {
    let statements: &[&str] = if matches!(app.db.url, tenauth::config::DatabaseUrl::Postgres(_)) {
        &[
            "CREATE FUNCTION fail_platform_trail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            "CREATE TRIGGER fail_platform_trail BEFORE INSERT ON audit_events FOR EACH ROW \
             WHEN (NEW.tenant_id = 1 AND NEW.action = 'token.exchange') \
             EXECUTE FUNCTION fail_platform_trail()",
        ]
    } else {
        &[
            "CREATE TRIGGER fail_platform_trail BEFORE INSERT ON audit_events \
           WHEN NEW.tenant_id = 1 AND NEW.action = 'token.exchange' \
           BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ]
    };
    for statement in statements {
        let statement = statement.to_string();
        app.database
            .write(move |conn| {
                diesel::sql_query(statement).execute(conn)?;
                Ok::<_, tenauth::db::DbError>(())
            })
            .unwrap();
    }
}

both_backends! {
    async fn the_token_and_both_audit_events_commit_together_or_not_at_all(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let support = staff(&app, "platform:act-in-tenant").await;
        fail_platform_trail_writes(&app);

        let failed = exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await;

        assert_eq!(failed.status(), 500, "the injected fault");
        let body = failed.text().await.unwrap();
        assert!(!body.contains("injected"), "no database error in the answer: {body}");
        assert_eq!(exchanged_rows(&app), 0, "no token without its platform event");
        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let in_tenant = exchange_events(&app, &format!("/admin/tenants/{}/audit-events", acme.tenant_id), &tenant_admin).await;
        assert!(in_tenant.is_empty(), "no tenant event without the token: {in_tenant:?}");
    }

    async fn exchanges_are_rate_limited_like_every_grant(db) {
        let mut settings = test_settings(&db);
        settings.limits.client_rate = 1;
        let app = spawn_app_with(db, settings).await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let exchanger = app.provision_client(acme.tenant_id, &[GrantType::TokenExchange], "read", true).await;
        let subject = user_token(&app, &acme).await;

        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(exchange(&app, &exchanger, &subject, &backend.id, None).await.status().as_u16());
        }

        assert_eq!(&statuses[..2], &[200, 200], "the burst: {statuses:?}");
        assert!(statuses[2..].contains(&429), "then the client's rate: {statuses:?}");
    }
}

both_backends! {
    async fn an_exchanged_token_is_its_exchanging_clients_to_revoke_and_a_delegation_is_not_for_tenauth(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let support = staff(&app, "platform:act-in-tenant").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let revoke = |client: TestClient, token: String| {
            let app = &app;
            async move {
                app.http.post(app.url("/oauth/revoke")).basic_auth(&client.id, client.secret.as_deref()).form(&[("token", token.as_str())]).send().await.unwrap().status().as_u16()
            }
        };

        // RFC 7009 §2.1: the client it was issued to is the exchanging client, of the platform.
        let staff_token = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await, 200).await;
        let staff_token = staff_token["access_token"].as_str().unwrap().to_owned();
        // A client of the tenant did not get it: another tenant's token to it, answered like an unknown one and left alone.
        assert_eq!(revoke(acme.client.clone(), staff_token.clone()).await, 200);
        assert_eq!(introspect(&app, &acme.client, &staff_token).await["active"], true, "left alone");
        assert_eq!(revoke(support.client.clone(), staff_token.clone()).await, 200);
        assert_eq!(introspect(&app, &acme.client, &staff_token).await["active"], false);

        // A delegation is for its audience: tenauth's own endpoints refuse it (RFC 9068 §4).
        let subject = user_token(&app, &acme).await;
        let delegated = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        let delegated = delegated["access_token"].as_str().unwrap();
        assert_eq!(app.get_with_token("/oauth/me", delegated).await.status(), 401);
        let personal = app.http.post(app.url("/oauth/personal-access-tokens")).bearer_auth(delegated).json(&serde_json::json!({"name": "longer", "scopes": []})).send().await.unwrap();
        assert_eq!(personal.status(), 401, "no personal token from a delegation");
        assert_eq!(introspect(&app, &backend, delegated).await["active"], true, "still its audience's");
    }

    async fn platform_staff_changes_in_a_tenant_are_audited_as_theirs(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "tenant:admin", true).await;
        let support = staff(&app, "platform:act-in-tenant").await;
        let answer = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("tenant:admin")).await, 200).await;
        let token = answer["access_token"].as_str().unwrap();

        let path = format!("/admin/tenants/{}/users", acme.tenant_id);
        let created = call_with_token(&app, Method::POST, &path, token, Some(serde_json::json!({"username": "bob", "password": "bob-password-1"}))).await;
        assert_eq!(created.status(), 201);

        let tenant_admin = admin_token(&app, acme.tenant_id, "tenant:admin").await;
        let trail = json_with_status(call_with_token(&app, Method::GET, &format!("/admin/tenants/{}/audit-events", acme.tenant_id), &tenant_admin, None).await, 200).await;
        let created = trail["items"].as_array().unwrap().iter().find(|event| event["action"] == "user.create" && event["actor"] != "cli").cloned().unwrap();
        assert_eq!(created["actor"], format!("platform-user:{}", support.user_id));
        // The platform's own wholesale revocation marks the tokens its staff hold elsewhere.
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let revoked = call_with_token(&app, Method::POST, "/admin/tenants/1/revoke-tokens", &admin, Some(serde_json::json!({}))).await;
        assert_eq!(revoked.status(), 200);
        assert_eq!(live_exchanged_rows(&app), 0);
    }
}

/// The `token-revoked` events of a tenant's outbox: the jtis they name.
fn revoked_events(app: &TestApp, tenant_id: TenantId) -> Vec<String> {
    use tenauth::domain::EventKind;
    app.database
        .read(move |conn| tenauth::db::models::event::events_after(conn, tenant_id, 0, 1_000))
        .unwrap()
        .into_iter()
        .filter(|event| event.kind == EventKind::TokenRevoked)
        .filter_map(|event| event.parts.token)
        .collect()
}

both_backends! {
    async fn a_cascade_tells_each_exchanged_tokens_tenant_which_token_ended(db) {
        let app = spawn_app(db).await;
        let admin = admin_token(&app, TenantId::PLATFORM, "admin").await;
        let acme = app.provision_tenant("acme").await;
        let backend = app.provision_client(acme.tenant_id, &[GrantType::ClientCredentials], "read", true).await;
        let jti_of = |answer: &serde_json::Value| jwt_claims(answer["access_token"].as_str().unwrap())["jti"].as_str().unwrap().to_owned();

        // RFC 7009 on a subject token (on PostgreSQL, not the one-statement path: each exchanged token needs its event).
        let subject = user_token(&app, &acme).await;
        let delegated = json_with_status(exchange(&app, &acme.client, &subject, &backend.id, None).await, 200).await;
        let support = staff_named(&app, "first", "platform:act-in-tenant").await;
        let staff_token = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await, 200).await;
        for (client, token) in [(&acme.client, &subject), (&support.client, &support.token)] {
            let revoked = app.http.post(app.url("/oauth/revoke")).basic_auth(&client.id, client.secret.as_deref()).form(&[("token", token.as_str())]).send().await.unwrap();
            assert_eq!(revoked.status(), 200);
        }
        let events = revoked_events(&app, acme.tenant_id);
        assert!(events.contains(&jwt_claims(&subject)["jti"].as_str().unwrap().to_owned()), "the subject token's own event: {events:?}");
        assert!(events.contains(&jti_of(&delegated)), "the delegated token's: {events:?}");
        assert!(events.contains(&jti_of(&staff_token)), "the platform staff's token's, in the tenant it acted in: {events:?}");
        assert_eq!(live_exchanged_rows(&app), 0);

        // A platform user deleted or disabled, a platform client deleted, platform access turned off.
        let causes: [(&str, Method, String, Option<serde_json::Value>); 4] = [
            ("second", Method::DELETE, "/admin/tenants/1/users/{user}".into(), None),
            ("disabled", Method::POST, "/admin/tenants/1/users/{user}/disable".into(), None),
            ("third", Method::DELETE, "/admin/tenants/1/clients/{client}".into(), None),
            ("fourth", Method::PATCH, format!("/admin/tenants/{}", acme.tenant_id), Some(serde_json::json!({"platform_access": false}))),
        ];
        for (name, method, path, body) in causes {
            let support = staff_named(&app, name, "platform:act-in-tenant").await;
            let answer = json_with_status(exchange(&app, &support.client, &support.token, &tenant_audience(acme.tenant_id), Some("read")).await, 200).await;
            let path = path.replace("{user}", &support.user_id.to_string()).replace("{client}", &support.client.id);
            assert!(call_with_token(&app, method, &path, &admin, body).await.status().is_success(), "{name}");
            assert!(revoked_events(&app, acme.tenant_id).contains(&jti_of(&answer)), "{name}: the tenant's receivers hear of it");
            assert_eq!(live_exchanged_rows(&app), 0, "{name}");
        }
    }
}
