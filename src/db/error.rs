//! [`DbError`]: what can go wrong in storage, keeping an outage (answer 503, let the
//! client retry) apart from a failed query (a bug: 500) and from "no such row", which is
//! never an error but an `Option`.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time, or the connection was lost: the caller should
    /// answer 503 and let the client retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The SQLite file the server opened is no longer at its path.
    #[error("the SQLite database file was removed or replaced while the server was running")]
    FileReplaced,
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(DieselError),
    /// The blocking task died (a panic in a query closure).
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<DieselError> for DbError {
    /// A lost connection or a lock that could not be had is an outage, not a query bug.
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(_, info) if is_sqlite_busy(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            // Lock order is kept so these should not happen; if PostgreSQL still picks a
            // victim, the client may simply retry.
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                Self::Unavailable(info.message().to_owned())
            }
            _ => Self::Query(error),
        }
    }
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<diesel::r2d2::Error> for DbError {
    fn from(error: diesel::r2d2::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<r2d2::Error> for DbError {
    fn from(error: r2d2::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl DbError {
    /// True when the database could not be reached (as opposed to a failed query).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::FileReplaced)
    }

    /// True when a unique constraint rejected the write (a duplicate name).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// True when a constraint rejected the write because of a missing parent row.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

/// Parses a stored column value into its domain type; one that does not parse is
/// [`DbError::corrupt`].
pub(crate) fn parse_column<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, DbError> {
    value.parse().map_err(|_| DbError::corrupt(what))
}

impl DbError {
    /// A stored value that does not parse into its type: a foreign writer or a newer schema
    /// (the schema's CHECK constraints keep tenauth's own writes well-formed).
    pub(crate) fn corrupt(what: &str) -> Self {
        Self::Query(DieselError::DeserializationError(
            format!("stored {what} does not parse").into(),
        ))
    }
}
