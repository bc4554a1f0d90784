//! Host-side bindings of `plaza:platform@0.1.0`.
//!
//! One module per supported API version (as Zed does): when 0.2.0 ships, `v0_2_0` is added beside
//! this one, unchanged interfaces are shared with `with:`, and the registry picks the module that
//! matches the version a plugin imports.

pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        trappable_error_type: {
            "plaza:platform/types.error" => crate::error::PlazaError,
        },
    });
}

pub use v0_1_0::Plugin as PluginV0_1;
pub use v0_1_0::PluginPre as PluginPreV0_1;
pub use v0_1_0::exports::plaza::platform::handler;
pub use v0_1_0::plaza::platform::types as wit;

/// The API versions this host serves, newest first.
pub const SUPPORTED_API_VERSIONS: &[semver::Version] = &[semver::Version::new(0, 1, 0)];

/// The WIT package every plugin imports.
pub const API_PACKAGE: &str = "plaza:platform";

/// The instance every plugin exports.
pub const HANDLER_EXPORT: &str = "plaza:platform/handler@0.1.0";

impl From<crate::error::PlazaError> for wit::Error {
    fn from(e: crate::error::PlazaError) -> Self {
        use crate::error::PlazaError as E;
        match e {
            E::NotFound(m) => wit::Error::NotFound(m),
            E::PermissionDenied(m) | E::Unauthorized(m) => wit::Error::PermissionDenied(m),
            E::QuotaExceeded { message, resets_at } => {
                wit::Error::QuotaExceeded(wit::QuotaInfo { message, resets_at })
            }
            E::OutsideWindow(m) => wit::Error::OutsideWindow(m),
            E::Invalid(m) => wit::Error::Invalid(m),
            E::TooLarge(m) => wit::Error::TooLarge(m),
            E::Conflict(m) => wit::Error::Conflict(m),
            E::Unavailable(m) => wit::Error::Unavailable(m),
            E::Internal(m) => wit::Error::Internal(m),
        }
    }
}

impl From<wit::Error> for crate::error::PlazaError {
    fn from(e: wit::Error) -> Self {
        use crate::error::PlazaError as E;
        match e {
            wit::Error::NotFound(m) => E::NotFound(m),
            wit::Error::PermissionDenied(m) => E::PermissionDenied(m),
            wit::Error::QuotaExceeded(q) => E::QuotaExceeded {
                message: q.message,
                resets_at: q.resets_at,
            },
            wit::Error::OutsideWindow(m) => E::OutsideWindow(m),
            wit::Error::Invalid(m) => E::Invalid(m),
            wit::Error::TooLarge(m) => E::TooLarge(m),
            wit::Error::Conflict(m) => E::Conflict(m),
            wit::Error::Unavailable(m) => E::Unavailable(m),
            wit::Error::Internal(m) => E::Internal(m),
        }
    }
}
