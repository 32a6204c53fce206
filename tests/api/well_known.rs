//! Discovery: the JWKS verifies our tokens; the RFC 8414 metadata describes the server.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::helpers::{json_with_status, jwt_claims, spawn_app};

both_backends! {
    async fn an_access_token_verifies_with_the_jwks_key_and_carries_its_tenant(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let body = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;
        let token = body["access_token"].as_str().unwrap();

        let jwks = json_with_status(app.get("/.well-known/jwks.json").await, 200).await;

        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "at+jwt");
        let key = jwks["keys"].as_array().unwrap().iter().find(|key| key["kid"] == header["kid"]).expect("the token's kid is published");
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "ES256");
        assert!(key.get("d").is_none(), "no private part");
        let point = [vec![4u8], URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(), URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap()].concat();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(signing_input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap())
            .expect("the signature verifies with the published key");
        assert_eq!(jwt_claims(token)["tenant_id"], acme.tenant_id.get());
    }

    async fn the_metadata_names_the_issuer_endpoints_and_grants(db) {
        let app = spawn_app(db).await;

        let metadata = json_with_status(app.get("/.well-known/oauth-authorization-server").await, 200).await;

        assert_eq!(metadata["issuer"], app.address);
        assert_eq!(metadata["token_endpoint"], format!("{}/oauth/token", app.address));
        assert_eq!(metadata["jwks_uri"], format!("{}/.well-known/jwks.json", app.address));
        let grants = metadata["grant_types_supported"].as_array().unwrap();
        for grant in ["client_credentials", "password", "refresh_token", "authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"] {
            assert!(grants.iter().any(|g| g == grant), "{grant}");
        }
        assert!(metadata["token_endpoint_auth_methods_supported"].as_array().unwrap().iter().any(|m| m == "client_secret_basic"));
        assert_eq!(metadata["introspection_endpoint"], format!("{}/oauth/introspect", app.address));
        assert_eq!(metadata["revocation_endpoint"], format!("{}/oauth/revoke", app.address));
        assert_eq!(metadata["introspection_endpoint_auth_methods_supported"], serde_json::json!(["client_secret_basic", "client_secret_post"]));
        assert_eq!(metadata["scopes_supported"], serde_json::json!(["admin", "tenant:admin", "events:read", "platform:act-in-tenant"]));
        let documentation = metadata["service_documentation"].as_str().unwrap();
        assert_eq!(documentation, format!("{}/docs", app.address));
        let page = app.http.get(documentation).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(page.text().await.unwrap().contains("/oauth/introspect"));
    }
}
