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

/// Longest `plugin.toml`. Every other bound below fits in it with room to spare; it exists so
/// that a hostile manifest is refused before it is parsed, and so that `GET /plugins` and the
/// next start never carry megabytes per plugin.
pub const MAX_MANIFEST_BYTES: usize = 512 << 10;
/// Longest `description`, in bytes: a sentence or a paragraph, shown in plugin listings.
pub const MAX_DESCRIPTION_BYTES: usize = 2 << 10;
/// Largest `config.schema`, as JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 << 10;
/// Largest installation config (and `config.default`), as JSON.
pub const MAX_CONFIG_BYTES: usize = 256 << 10;
/// Deepest nesting of arrays and tables in a config, its default or its schema. The stored
/// installation record wraps the config, and serde_json refuses to decode beyond 128 levels: a
/// config that is accepted must always decode again, or the account's installations (and the
/// next start) break.
pub const MAX_CONFIG_DEPTH: usize = 32;

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
    #[serde(default)]
    operator_pages: Vec<OperatorPage>,
}

/// A page the plugin serves for operators under its routes (e.g. analytics' dashboard), which the
/// web console links from the account's dashboard and shows with the operator's token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorPage {
    /// Relative to the plugin's routes, e.g. `/dashboard`.
    pub path: String,
    pub title: String,
    /// The title in Chinese, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_zh: Option<String>,
}

/// Operator pages one manifest may declare.
pub const MAX_OPERATOR_PAGES: usize = 10;

fn check_operator_pages(pages: &[OperatorPage], capabilities: &[Capability]) -> Result<()> {
    if pages.len() > MAX_OPERATOR_PAGES {
        return Err(PlazaError::invalid(format!(
            "plugin.toml: at most {MAX_OPERATOR_PAGES} operator_pages"
        )));
    }
    if !pages.is_empty() && !capabilities.contains(&Capability::HttpRoutes) {
        return Err(PlazaError::invalid(
            "plugin.toml: operator_pages are served by the plugin's routes; request http.routes",
        ));
    }
    for p in pages {
        let path_ok = p.path.starts_with('/')
            && p.path.len() <= 200
            && !p.path.split('/').any(|seg| seg == "..")
            && !p.path.contains(['?', '#'])
            && !p.path.chars().any(char::is_control);
        if !path_ok {
            return Err(PlazaError::invalid(format!(
                "plugin.toml: operator page path {:?} must start with / and be at most 200 characters, without .., ? or #",
                p.path
            )));
        }
        for title in std::iter::once(&p.title).chain(&p.title_zh) {
            if title.trim().is_empty() || title.chars().count() > 60 {
                return Err(PlazaError::invalid(format!(
                    "plugin.toml: operator page title {title:?} must be 1-60 characters"
                )));
            }
        }
    }
    Ok(())
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
    pub operator_pages: Vec<OperatorPage>,
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

/// Whether `v` nests arrays and objects more than `max` levels deep (a scalar is 0 levels, `{}`
/// one). Stops descending past `max`, so its own recursion is bounded whatever the input.
fn nests_deeper_than(v: &serde_json::Value, max: usize) -> bool {
    let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
        serde_json::Value::Array(items) => Box::new(items.iter()),
        serde_json::Value::Object(map) => Box::new(map.values()),
        _ => return false,
    };
    max == 0 || children.into_iter().any(|c| nests_deeper_than(c, max - 1))
}

/// Refuses a JSON value (a config, its default or schema) nested or sized beyond the bounds.
fn check_bounds(what: &str, v: &serde_json::Value, max_bytes: usize) -> Result<()> {
    if nests_deeper_than(v, MAX_CONFIG_DEPTH) {
        return Err(PlazaError::invalid(format!(
            "{what} nests more than {MAX_CONFIG_DEPTH} levels of arrays and tables"
        )));
    }
    let size = serde_json::to_vec(v).map_err(PlazaError::internal)?.len();
    if size > max_bytes {
        return Err(PlazaError::TooLarge(format!(
            "{what} is {size} bytes as JSON; the limit is {max_bytes}"
        )));
    }
    Ok(())
}

impl Manifest {
    /// Parses `plugin.toml`, failing with a message that says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Manifest> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(PlazaError::TooLarge(format!(
                "plugin.toml is {} bytes; the limit is {MAX_MANIFEST_BYTES}",
                text.len()
            )));
        }
        let raw: RawManifest = toml::from_str(text)
            .map_err(|e| PlazaError::invalid(format!("plugin.toml: {}", e.message())))?;
        validate_id("plugin name", &raw.name)
            .map_err(|e| PlazaError::invalid(format!("plugin.toml: {}", e.message())))?;
        if raw.name == crate::channels::developer_server::PARTICIPANT {
            // The developer server answers under this name (outbox entries, the event log).
            return Err(PlazaError::invalid(format!(
                "plugin.toml: plugin name {:?} is reserved",
                raw.name
            )));
        }
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
        if !runtime::supported_versions().iter().any(|v| api.matches(v)) {
            return Err(PlazaError::invalid(format!(
                "plugin {} {version} needs plaza:platform {api}; this host serves plaza:platform {}",
                raw.name,
                runtime::supported_versions_text()
            )));
        }
        if raw.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(PlazaError::TooLarge(format!(
                "plugin.toml: description is {} bytes; the limit is {MAX_DESCRIPTION_BYTES}",
                raw.description.len()
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
        check_operator_pages(&raw.operator_pages, &capabilities)?;
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
        if let Some(schema) = &config_schema {
            check_bounds("plugin.toml: config.schema", schema, MAX_SCHEMA_BYTES)?;
        }
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
        check_bounds(
            "plugin.toml: config.default",
            &config_default,
            MAX_CONFIG_BYTES,
        )?;
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
            operator_pages: raw.operator_pages,
            validator,
        };
        manifest
            .validate_config(&manifest.config_default)
            .map_err(|e| {
                PlazaError::invalid(format!("plugin.toml: config.default: {}", e.message()))
            })?;
        Ok(manifest)
    }

    /// Validates an installation's config: within the depth and size bounds, and matching the
    /// manifest's schema (listing every violation).
    pub fn validate_config(&self, config: &serde_json::Value) -> Result<()> {
        check_bounds("config", config, MAX_CONFIG_BYTES)?;
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
    fn operator_pages_are_checked() {
        let page =
            "\n[[operator_pages]]\npath = \"/dashboard\"\ntitle = \"Stats\"\ntitle_zh = \"统计\"\n";
        let m = Manifest::parse(&format!("{GOOD}{page}")).unwrap();
        assert_eq!(m.operator_pages.len(), 1);
        assert_eq!(m.operator_pages[0].title_zh.as_deref(), Some("统计"));
        for (bad, says) in [
            (page.replace("/dashboard", "dashboard"), "must start with /"),
            (page.replace("/dashboard", "/../x"), "must start with /"),
            (page.replace("\"Stats\"", "\" \""), "1-60 characters"),
        ] {
            let err = Manifest::parse(&format!("{GOOD}{bad}")).unwrap_err();
            assert!(err.message().contains(says), "{err}");
        }
        // Pages are served by the plugin's routes.
        let no_routes = GOOD.replace(", \"http.routes\"", "");
        let err = Manifest::parse(&format!("{no_routes}{page}")).unwrap_err();
        assert!(err.message().contains("request http.routes"), "{err}");
    }

    #[test]
    fn refuses_an_api_range_this_host_cannot_serve_naming_both_versions() {
        let err = Manifest::parse(&GOOD.replace("^0.1", "^0.3")).unwrap_err();
        let msg = err.message();
        assert!(
            msg.contains("^0.3") && msg.contains("0.2.0") && msg.contains("0.1.0"),
            "{msg}"
        );
        for served in ["^0.1", "^0.2", ">=0.1, <0.3"] {
            let m = Manifest::parse(&GOOD.replace("^0.1", served)).unwrap();
            assert_eq!(m.api.to_string(), served);
        }
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

    /// `[config.default.k1.….kN]` holding `v = {a = {a = … }}` M levels deep: N + M + 1 levels
    /// in all, deeper than TOML's own limit for either form alone.
    pub(crate) fn deep_default(table_levels: usize, inline_levels: usize) -> String {
        let path: Vec<String> = (0..table_levels).map(|i| format!("k{i}")).collect();
        let inline = format!(
            "{}1{}",
            "{ a = ".repeat(inline_levels),
            " }".repeat(inline_levels)
        );
        format!(
            "name = \"deep\"\nversion = \"0.1.0\"\napi = \"^0.1\"\n\n[config.default.{}]\nv = {inline}\n",
            path.join(".")
        )
    }

    #[test]
    fn a_config_default_nested_deeper_than_the_bound_is_refused_at_parse() {
        // 72 + 73 + 1 = 146 levels: what once made every later start fail to decode.
        let err = Manifest::parse(&deep_default(72, 73)).unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
        assert!(
            err.message().contains("config.default") && err.message().contains("32 levels"),
            "{err}"
        );
        // At the bound it is accepted, and it survives a JSON round trip inside a record.
        let ok = Manifest::parse(&deep_default(10, 21)).unwrap();
        assert!(!nests_deeper_than(&ok.config_default, MAX_CONFIG_DEPTH));
        assert!(nests_deeper_than(&ok.config_default, MAX_CONFIG_DEPTH - 1));
        let wrapped = serde_json::json!({ "record": { "config": ok.config_default } });
        let bytes = serde_json::to_vec(&wrapped).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
    }

    #[test]
    fn a_deep_schema_is_refused() {
        let deep = deep_default(40, 0).replace("config.default", "config.schema");
        let err = Manifest::parse(&deep).unwrap_err();
        assert!(err.message().contains("config.schema"), "{err}");
    }

    #[test]
    fn sizes_are_bounded() {
        let long = GOOD.replace(
            "api = \"^0.1\"",
            &format!("api = \"^0.1\"\ndescription = \"{}\"", "d".repeat(3000)),
        );
        let err = Manifest::parse(&long).unwrap_err();
        assert_eq!(err.code(), "too_large", "{err}");
        assert!(err.message().contains("description"), "{err}");

        let huge = format!("{GOOD}\n# {}\n", "x".repeat(MAX_MANIFEST_BYTES));
        assert_eq!(Manifest::parse(&huge).unwrap_err().code(), "too_large");

        let big_schema = GOOD.replace(
            "type = \"object\"",
            &format!(
                "type = \"object\"\ndescription = \"{}\"",
                "s".repeat(70_000)
            ),
        );
        let err = Manifest::parse(&big_schema).unwrap_err();
        assert!(
            err.code() == "too_large" && err.message().contains("config.schema"),
            "{err}"
        );
    }

    #[test]
    fn an_installation_config_gets_the_same_bounds() {
        // Without a schema only the shape and the bounds are checked.
        let m = Manifest::parse("name = \"x\"\nversion = \"0.1.0\"\napi = \"^0.1\"\n").unwrap();
        let mut deep = serde_json::json!(1);
        for _ in 0..40 {
            deep = serde_json::json!({ "a": deep });
        }
        let err = m.validate_config(&deep).unwrap_err();
        assert!(err.message().contains("nests more than 32"), "{err}");
        let big = serde_json::json!({ "blob": "b".repeat(MAX_CONFIG_BYTES) });
        assert_eq!(m.validate_config(&big).unwrap_err().code(), "too_large");
        assert!(
            m.validate_config(&serde_json::json!({ "a": [1, 2] }))
                .is_ok()
        );
    }
}
