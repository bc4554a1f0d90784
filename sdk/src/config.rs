//! This installation's configuration.
//!
//! An operator configures each installation with one JSON document, which the host validates
//! against the `[config.schema]` of the plugin's manifest before the plugin ever sees it. Parse
//! it once per call (each call is a fresh instance, so there is nothing to cache).

use serde::de::DeserializeOwned;

use crate::__private::plaza::platform::config as wit;
use crate::Error;

/// The raw configuration JSON.
pub fn get() -> String {
    wit::get()
}

/// The configuration deserialised into `T`. An empty document counts as `{}`, so a `T` whose
/// fields all have `#[serde(default)]` works for unconfigured installations.
/// [`Error::Invalid`] if the JSON does not fit `T`.
pub fn parse<T: DeserializeOwned>() -> Result<T, Error> {
    parse_str(&get())
}

/// [`parse`] over a given string; useful in native unit tests, where the host is absent.
pub fn parse_str<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|e| Error::invalid(format!("invalid configuration: {e}")))
}
