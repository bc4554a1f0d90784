//! `plugin.toml`: what a plugin is, which API it needs, what it asks to be allowed to do.

use std::sync::Arc;

use semver::{Version, VersionReq};
use serde::Deserialize;

use super::grants::Capability;
use crate::accounts::{AccountKind, validate_id};
use crate::error::{PlazaError, Result};
use crate::runtime::{self, MAX_PLUGIN_MEMORY};

pub const DEFAULT_MEMORY_MB: u32 = 64;
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    api: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    wasm: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    requires: Requires,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: RawConfig,
}

/// Which accounts the plugin can serve.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// Empty = any kind.
    #[serde(default)]
    pub kinds: Vec<AccountKind>,
    #[serde(default)]
    pub verified: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mb: Option<u32>,
    timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: Option<toml::Value>,
    default: Option<toml::Value>,
}

/// Per-call limits from the manifest (defaults 64 MiB, 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub memory_mb: u32,
    pub timeout_ms: u64,
}

impl Limits {
    pub fn memory_bytes(&self) -> usize {
        self.memory_mb as usize * (1 << 20)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

/// A parsed and validated manifest.
#[derive(Clone)]
pub struct Manifest {
    pub name: String,
    pub version: Version,
    pub api: VersionReq,
    pub description: String,
    pub wasm: Option<String>,
    pub capabilities: Vec<Capability>,
    pub requires: Requires,
    pub limits: Limits,
    pub config_schema: Option<serde_json::Value>,
    pub config_default: serde_json::Value,
    validator: Option<Arc<jsonschema::Validator>>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

fn toml_to_json(v: toml::Value) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| PlazaError::invalid(format!("config section: {e}")))
}

impl Manifest {
    /// Parses `plugin.toml`, failing with a message that says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Manifest> {
        let raw: RawManifest = toml::from_str(text)
            .map_err(|e| PlazaError::invalid(format!("plugin.toml: {}", e.message())))?;
        validate_id("plugin name", &raw.name)
            .map_err(|e| PlazaError::invalid(format!("plugin.toml: {}", e.message())))?;
        let version = Version::parse(&raw.version).map_err(|e| {
            PlazaError::invalid(format!(
                "plugin.toml: version {:?} is not semver: {e}",
                raw.version
            ))
        })?;
        let api = VersionReq::parse(&raw.api).map_err(|e| {
            PlazaError::invalid(format!(
                "plugin.toml: api {:?} is not a semver range: {e}",
                raw.api
            ))
        })?;
        if !runtime::bindings::SUPPORTED_API_VERSIONS
            .iter()
            .any(|v| api.matches(v))
        {
            return Err(PlazaError::invalid(format!(
                "plugin {} {version} needs plaza:platform {api}; this host serves plaza:platform {}",
                raw.name,
                runtime::supported_versions()
            )));
        }
        let mut capabilities = Vec::new();
        for c in &raw.capabilities {
            let cap: Capability = c.parse().map_err(|e: PlazaError| {
                PlazaError::invalid(format!("plugin.toml: {}", e.message()))
            })?;
            if !capabilities.contains(&cap) {
                capabilities.push(cap);
            }
        }
        let limits = Limits {
            memory_mb: raw.limits.memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
            timeout_ms: raw.limits.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        };
        let max_mb = (MAX_PLUGIN_MEMORY >> 20) as u32;
        if limits.memory_mb == 0 || limits.memory_mb > max_mb {
            return Err(PlazaError::invalid(format!(
                "plugin.toml: limits.memory_mb must be 1-{max_mb}"
            )));
        }
        if limits.timeout_ms == 0 || limits.timeout_ms > MAX_TIMEOUT_MS {
            return Err(PlazaError::invalid(format!(
                "plugin.toml: limits.timeout_ms must be 1-{MAX_TIMEOUT_MS}"
            )));
        }
        let config_schema = raw.config.schema.map(toml_to_json).transpose()?;
        let validator = match &config_schema {
            Some(schema) => Some(Arc::new(jsonschema::validator_for(schema).map_err(
                |e| {
                    PlazaError::invalid(format!(
                        "plugin.toml: config.schema is not a valid JSON Schema: {e}"
                    ))
                },
            )?)),
            None => None,
        };
        let config_default = match raw.config.default {
            Some(d) => toml_to_json(d)?,
            None => serde_json::json!({}),
        };
        let manifest = Manifest {
            name: raw.name,
            version,
            api,
            description: raw.description,
            wasm: raw.wasm,
            capabilities,
            requires: raw.requires,
            limits,
            config_schema,
            config_default,
            validator,
        };
        manifest
            .validate_config(&manifest.config_default)
            .map_err(|e| {
                PlazaError::invalid(format!("plugin.toml: config.default: {}", e.message()))
            })?;
        Ok(manifest)
    }

    /// Validates an installation's config against the manifest's schema, listing every violation.
    pub fn validate_config(&self, config: &serde_json::Value) -> Result<()> {
        let Some(validator) = &self.validator else {
            return if config.is_object() {
                Ok(())
            } else {
                Err(PlazaError::invalid("config must be a JSON object"))
            };
        };
        let errors: Vec<String> = validator
            .iter_errors(config)
            .take(10)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PlazaError::invalid(format!(
                "config does not match the plugin's schema: {}",
                errors.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "auto-reply"
version = "1.2.3"
api = "^0.1"
capabilities = ["storage", "http.routes"]
[limits]
memory_mb = 32
[config]
default = { greeting = "hi" }
[config.schema]
type = "object"
required = ["greeting"]
properties.greeting = { type = "string", maxLength = 10 }
"#;

    #[test]
    fn parses_a_good_manifest_and_validates_config() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.name, "auto-reply");
        assert_eq!(
            m.limits,
            Limits {
                memory_mb: 32,
                timeout_ms: DEFAULT_TIMEOUT_MS
            }
        );
        assert!(
            m.validate_config(&serde_json::json!({"greeting": "yo"}))
                .is_ok()
        );
        let err = m
            .validate_config(&serde_json::json!({"greeting": 5}))
            .unwrap_err();
        assert!(err.message().contains("/greeting"), "{err}");
    }

    #[test]
    fn refuses_an_api_range_this_host_cannot_serve_naming_both_versions() {
        let err = Manifest::parse(&GOOD.replace("^0.1", "^0.2")).unwrap_err();
        let msg = err.message();
        assert!(msg.contains("^0.2") && msg.contains("0.1.0"), "{msg}");
    }

    #[test]
    fn bad_fields_are_named() {
        for (bad, needle) in [
            (GOOD.replace("1.2.3", "one"), "version"),
            (
                GOOD.replace("\"storage\"", "\"filesystem\""),
                "unknown capability",
            ),
            (GOOD.replace("memory_mb = 32", "memory_mb = 0"), "memory_mb"),
            (
                GOOD.replace("name = \"auto-reply\"", "name = \"Auto Reply\""),
                "plugin name",
            ),
            (
                GOOD.replace(
                    "greeting = \"hi\"",
                    "greeting = \"far too long a greeting\"",
                ),
                "config.default",
            ),
            (format!("surprise = 1\n{GOOD}"), "surprise"),
        ] {
            let err = Manifest::parse(&bad).unwrap_err();
            assert!(err.message().contains(needle), "{needle}: {err}");
        }
    }
}
