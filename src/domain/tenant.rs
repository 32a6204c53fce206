//! Where a tenant is in its lifecycle, and the error of a stored value naming no variant.

use std::str::FromStr;

/// Where a tenant is in its lifecycle. Only an active tenant's tokens are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
    Deleted,
}

impl TenantStatus {
    /// Whether the tenant still exists for its admins: active or suspended, not deleted.
    /// Its clients and users can be managed only then; only a deleted tenant can be erased.
    pub fn is_live(self) -> bool {
        self != Self::Deleted
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "deleted" => Ok(Self::Deleted),
            _ => Err(UnknownVariant),
        }
    }
}

/// A stored value that names no known variant (the schema's CHECK constraints make this
/// a sign of a foreign writer or a newer schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant")]
pub struct UnknownVariant;
