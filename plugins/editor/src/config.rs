//! The installation's configuration (validated by the host against `plugin.toml`'s schema).

use serde::Deserialize;

/// See `plugin.toml` for each field's description and default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Hosts whose video players may be embedded (`[video src=…]`, imported `<iframe>`s).
    pub video_hosts: Vec<String>,
    /// Largest media upload through `POST /api/media`.
    pub max_upload_bytes: u64,
    /// Largest HTML accepted by `POST /api/import` (pasted or fetched).
    pub max_import_bytes: u64,
    /// Largest remote or inline image re-hosted by an import.
    pub max_image_bytes: u64,
    /// How long a preview link stays valid unless the request says otherwise.
    pub preview_ttl_minutes: u32,
    /// Edit versions kept per article (oldest dropped first).
    pub max_versions: u32,
    /// Message keywords answered with a link to the history page (历史消息).
    pub history_keywords: Vec<String>,
    /// Create a published "Welcome" article on install (once).
    pub welcome_article: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            video_hosts: ["v.qq.com", "player.bilibili.com", "www.bilibili.com"]
                .map(String::from)
                .to_vec(),
            max_upload_bytes: 4 << 20,
            max_import_bytes: 3 << 20,
            max_image_bytes: 2 << 20,
            preview_ttl_minutes: 1440,
            max_versions: 30,
            history_keywords: ["历史消息", "history"].map(String::from).to_vec(),
            welcome_article: true,
        }
    }
}

impl Config {
    /// [`Self::preview_ttl_minutes`] in milliseconds (1 minute to 30 days).
    pub fn preview_ttl_ms(&self, minutes: Option<u32>) -> u64 {
        u64::from(minutes.unwrap_or(self.preview_ttl_minutes).clamp(1, 43_200)) * 60_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest's default config is exactly the Rust default, and its schema names every field.
    #[test]
    fn manifest_defaults_match() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml parses");
        let default = serde_json::to_value(&manifest["config"]["default"]).expect("json");
        let parsed: Config = serde_json::from_value(default).expect("default config fits");
        let rust = Config::default();
        assert_eq!(parsed.video_hosts, rust.video_hosts);
        assert_eq!(parsed.max_upload_bytes, rust.max_upload_bytes);
        assert_eq!(parsed.max_import_bytes, rust.max_import_bytes);
        assert_eq!(parsed.max_image_bytes, rust.max_image_bytes);
        assert_eq!(parsed.preview_ttl_minutes, rust.preview_ttl_minutes);
        assert_eq!(parsed.max_versions, rust.max_versions);
        assert_eq!(parsed.history_keywords, rust.history_keywords);
        assert_eq!(parsed.welcome_article, rust.welcome_article);
        let props = manifest["config"]["schema"]["properties"]
            .as_table()
            .expect("schema properties");
        assert_eq!(props.len(), 8);
    }
}
