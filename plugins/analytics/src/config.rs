//! The installation's configuration (validated by the host against `plugin.toml`'s schema).

use serde::Deserialize;

use crate::funnel::Funnel;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Days shown when a request names no `from`.
    pub default_days: u32,
    /// The longest range of the reports built on the host's daily counts (growth, article totals).
    pub max_days: u32,
    /// The longest range of the reports that read log entries (retention, funnels, active hours,
    /// the per-article comparison).
    pub max_scan_days: u32,
    /// The most log entries one report reads; past it the report answers `too_large`.
    pub max_entries: u32,
    /// Articles in the comparison.
    pub top_articles: u32,
    /// Regions listed before the rest are summed as `other`.
    pub top_regions: u32,
    /// Funnels defined in the configuration; one stored through the routes with the same id
    /// supersedes it.
    pub funnels: Vec<Funnel>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_days: 30,
            max_days: 366,
            max_scan_days: 92,
            max_entries: 300_000,
            top_articles: 5,
            top_regions: 10,
            funnels: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest's default config parses into this model and every field of the model is
    /// described in the schema.
    #[test]
    fn manifest_default_and_schema_agree_with_the_model() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml");
        let default = manifest["config"]["default"].clone();
        let json = serde_json::to_string(&default).unwrap();
        let c: Config = serde_json::from_str(&json).expect("default config");
        for f in &c.funnels {
            f.validate().expect("default funnel");
        }
        assert_eq!(c.default_days, 30);
        let props = manifest["config"]["schema"]["properties"]
            .as_table()
            .unwrap();
        for field in [
            "default_days",
            "max_days",
            "max_scan_days",
            "max_entries",
            "top_articles",
            "top_regions",
            "funnels",
        ] {
            assert!(props.contains_key(field), "schema lacks {field}");
            assert!(
                props[field].get("description").is_some(),
                "{field} undocumented"
            );
        }
    }
}
