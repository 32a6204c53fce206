//! Throw-away databases: one per test, on SQLite or PostgreSQL.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};
use tenauth::config::DatabaseUrl;
use tenauth::db::Database;

/// A throw-away database: an SQLite file in a temporary directory, or a PostgreSQL
/// database created for the test and dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    dir: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    fn drop_database(&self) {
        let mut admin =
            PgConnection::establish(&self.admin_url).expect("connect to TEST_POSTGRES_URL");
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .expect("drop the test database");
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        self.drop_database();
    }
}

impl TestDatabase {
    /// The `DATABASE_URL` to give the `tenauth` binary (with the password, if any).
    pub fn raw_url(&self) -> String {
        match &self.url {
            DatabaseUrl::Postgres(raw) => raw.clone(),
            other => other.to_string(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = DatabaseUrl::Sqlite(dir.path().join("tenauth.db"));
        Self {
            url,
            dir,
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when `TEST_POSTGRES_URL` is not set.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tenauth_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|error| panic!("TEST_POSTGRES_URL is set but unreachable: {error}"));
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .expect("create the test database");
        let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(Self {
            url: DatabaseUrl::Postgres(url.to_string()),
            dir: tempfile::tempdir().expect("temporary directory"),
            postgres: Some(PostgresDatabase { admin_url, name }),
        })
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the database disappear under a running server: the SQLite file is deleted;
    /// the PostgreSQL database is dropped, its connections terminated.
    pub fn destroy(&self) {
        match (&self.url, &self.postgres) {
            (_, Some(postgres)) => postgres.drop_database(),
            (DatabaseUrl::Sqlite(path), None) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            (DatabaseUrl::Postgres(_), None) => unreachable!(),
        }
    }

    /// A pool of our own on the test database, for arranging and inspecting state.
    pub fn connect(&self) -> Database {
        Database::connect(&self.url).expect("connect to the test database")
    }
}
