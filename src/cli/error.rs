//! [`CliError`]: why a command failed, printed as one line on standard error (and exit
//! status 1). Messages name what to fix; none carries a secret.

use crate::config::{ConfigError, DatabaseUrl};
use crate::db::DbError;
use crate::keys::KeyError;
use crate::lifecycle::clients::InvalidClientSpec;
use crate::lifecycle::LifecycleError;
use crate::startup::StartupError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database {url}: {source}")]
    Database { url: DatabaseUrl, source: DbError },
    #[error("cannot migrate the database {url}: {source}")]
    Migration { url: DatabaseUrl, source: DbError },
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    ClientSpec(#[from] InvalidClientSpec),
    /// A value given on the command line that cannot be used.
    #[error("{0}")]
    Invalid(&'static str),
    #[error("cannot read the password: {0}")]
    Stdin(std::io::Error),
    #[error("cannot start the command's runtime: {0}")]
    Runtime(std::io::Error),
}
