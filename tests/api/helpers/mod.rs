//! What the tests share, by concern: [`databases`] (a throw-away SQLite file or PostgreSQL
//! database per test, and `both_backends!`), [`app`] (the server in-process, with an HTTP
//! client and fixtures), [`installation`] (the real `tenauth` binary: CLI runs, `serve` as a
//! process, an installation provisioned through the CLI alone).

use std::io::Write;

pub mod app;
pub mod databases;
pub mod installation;
pub mod receiver;

pub use app::*;
pub use databases::*;
pub use installation::*;
pub use receiver::{eventually, Answer, Receiver};

/// Declares a test that runs once per backend, as `NAME::sqlite` and `NAME::postgres`.
/// The PostgreSQL variant needs `TEST_POSTGRES_URL`; without it, it prints that it was
/// skipped (to the real stderr, past the test harness's capture) instead of passing quietly.
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn scenario($db: $crate::helpers::TestDatabase) $body

            #[tokio::test]
            async fn sqlite() {
                scenario($crate::helpers::TestDatabase::sqlite()).await
            }

            #[tokio::test]
            async fn postgres() {
                match $crate::helpers::TestDatabase::postgres() {
                    Some(db) => scenario(db).await,
                    None => $crate::helpers::report_skipped(module_path!()),
                }
            }
        }
    )*};
}

pub fn report_skipped(test: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}::postgres: TEST_POSTGRES_URL is not set"
    );
}
