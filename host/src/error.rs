//! The host's one error type.
//!
//! Every failure a caller can see is one of these variants. The same value becomes the WIT `error`
//! variant for a plugin, an HTTP status plus a typed JSON body for the admin API, and a message plus a
//! non-zero exit for the CLI, so a refusal reads the same wherever it surfaces.

use serde::Serialize;

/// A refused or failed platform action, typed so that callers can react to the kind.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlazaError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        message: String,
        /// Milliseconds since the epoch when the quota resets, when known.
        resets_at: Option<u64>,
    },
    #[error("outside the 48 h customer-service window: {0}")]
    OutsideWindow(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl PlazaError {
    /// Stable machine-readable code, used in JSON error bodies and CLI output.
    pub fn code(&self) -> &'static str {
        match self {
            PlazaError::NotFound(_) => "not_found",
            PlazaError::PermissionDenied(_) => "permission_denied",
            PlazaError::Unauthorized(_) => "unauthorized",
            PlazaError::QuotaExceeded { .. } => "quota_exceeded",
            PlazaError::OutsideWindow(_) => "outside_window",
            PlazaError::Invalid(_) => "invalid",
            PlazaError::TooLarge(_) => "too_large",
            PlazaError::Conflict(_) => "conflict",
            PlazaError::Unavailable(_) => "unavailable",
            PlazaError::Internal(_) => "internal",
        }
    }

    /// The human-readable part without the code prefix.
    pub fn message(&self) -> String {
        match self {
            PlazaError::NotFound(m)
            | PlazaError::PermissionDenied(m)
            | PlazaError::Unauthorized(m)
            | PlazaError::OutsideWindow(m)
            | PlazaError::Invalid(m)
            | PlazaError::TooLarge(m)
            | PlazaError::Conflict(m)
            | PlazaError::Unavailable(m)
            | PlazaError::Internal(m) => m.clone(),
            PlazaError::QuotaExceeded { message, .. } => message.clone(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        PlazaError::NotFound(what.into())
    }
    pub fn invalid(what: impl Into<String>) -> Self {
        PlazaError::Invalid(what.into())
    }
    pub fn internal(what: impl std::fmt::Display) -> Self {
        PlazaError::Internal(what.to_string())
    }
}

impl From<sled::Error> for PlazaError {
    fn from(e: sled::Error) -> Self {
        PlazaError::Internal(format!("storage: {e}"))
    }
}

impl From<serde_json::Error> for PlazaError {
    fn from(e: serde_json::Error) -> Self {
        PlazaError::Internal(format!("stored record does not decode: {e}"))
    }
}

pub type Result<T, E = PlazaError> = std::result::Result<T, E>;

/// The JSON shape of an error everywhere it leaves the host: `{"error":{"code":…,"message":…}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<u64>,
}

impl From<&PlazaError> for ErrorBody {
    fn from(e: &PlazaError) -> Self {
        let resets_at = match e {
            PlazaError::QuotaExceeded { resets_at, .. } => *resets_at,
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: e.code(),
                message: e.message(),
                resets_at,
            },
        }
    }
}
