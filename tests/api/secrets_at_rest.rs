//! No secret is stored in plaintext: dump every table and search it for what was issued.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::helpers::{json_with_status, spawn_app, TestApp};

#[derive(QueryableByName)]
struct Dumped {
    #[diesel(sql_type = Text)]
    row: String,
}

const TABLES: [&str; 6] = [
    "tenants",
    "users",
    "oauth_clients",
    "oauth_access_tokens",
    "oauth_refresh_tokens",
    "audit_events",
];

/// Everything the database holds, as text: the SQLite file and its WAL byte for byte, or
/// every PostgreSQL row as JSON.
fn dump(app: &TestApp) -> String {
    match &app.db.url {
        tenauth::config::DatabaseUrl::Sqlite(path) => {
            let mut bytes = std::fs::read(path).unwrap();
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            bytes.extend(std::fs::read(wal).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        tenauth::config::DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::PgConnection::establish(url).unwrap();
            let mut dumped = String::new();
            for table in TABLES {
                let rows: Vec<Dumped> =
                    diesel::sql_query(format!("SELECT row_to_json(t)::text AS row FROM {table} t"))
                        .load(&mut conn)
                        .unwrap();
                assert!(
                    !rows.is_empty() || table == "oauth_refresh_tokens",
                    "{table} has rows"
                );
                for row in rows {
                    dumped.push_str(&row.row);
                }
            }
            dumped
        }
    }
}

both_backends! {
    async fn no_plaintext_secret_password_or_token_is_stored(db) {
        let app = spawn_app(db).await;
        let acme = app.provision_tenant("acme").await;
        let login = json_with_status(app.password_grant(&acme, None).await, 200).await;
        let rotated = json_with_status(app.refresh(&acme.client, login["refresh_token"].as_str().unwrap(), None).await, 200).await;
        let machine = json_with_status(app.client_credentials(&acme.client, None).await, 200).await;

        let dumped = dump(&app);

        assert!(dumped.contains(&acme.client.id), "the dump does hold the data (client id found)");
        let secrets = [
            ("client secret", acme.client.secret.clone().unwrap()),
            ("password", acme.password.clone()),
            ("refresh token", login["refresh_token"].as_str().unwrap().to_owned()),
            ("rotated refresh token", rotated["refresh_token"].as_str().unwrap().to_owned()),
            ("access token", login["access_token"].as_str().unwrap().to_owned()),
            ("access token signature", machine["access_token"].as_str().unwrap().rsplit('.').next().unwrap().to_owned()),
        ];
        for (what, secret) in secrets {
            assert!(!dumped.contains(&secret), "the {what} is stored in plaintext");
        }
    }
}
