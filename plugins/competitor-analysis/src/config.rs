//! The installation's configuration (validated by the host against `plugin.toml`'s schema).

use serde::Deserialize;

/// Default weekly report time: Monday 09:00 in the account's timezone.
pub const DEFAULT_REPORT_CRON: &str = "0 9 * * 1";
/// Default provider fetch time: every day at 06:00.
pub const DEFAULT_PROVIDER_CRON: &str = "0 6 * * *";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where peer metrics are fetched from on a schedule; none: uploads only.
    pub provider: Option<Provider>,
    /// When the weekly report is built and delivered (cron, account timezone).
    pub report_cron: String,
    /// Openids (operators who follow the account) the weekly report is sent to.
    pub report_to: Vec<String>,
    /// Keywords listed per account.
    pub top_keywords: usize,
    /// Most rows one upload or one provider answer may carry.
    pub max_upload_rows: usize,
    /// Longest report range in days.
    pub max_report_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            provider: None,
            report_cron: DEFAULT_REPORT_CRON.into(),
            report_to: Vec::new(),
            top_keywords: 10,
            max_upload_rows: 5000,
            max_report_days: 366,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// `https://…/peers/{wechat_id}/articles?since={date}`.
    pub url_template: String,
    #[serde(default = "default_provider_cron")]
    pub cron: String,
    /// How many days back `{date}` is from today.
    #[serde(default = "default_since_days")]
    pub since_days: u32,
}

fn default_provider_cron() -> String {
    DEFAULT_PROVIDER_CRON.into()
}

fn default_since_days() -> u32 {
    7
}

impl Provider {
    /// The URL for one peer: `{wechat_id}` percent-encoded, `{date}` as `YYYY-MM-DD`.
    pub fn url(&self, wechat_id: &str, since: &str) -> String {
        let encoded: String = wechat_id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        self.url_template
            .replace("{wechat_id}", &encoded)
            .replace("{date}", since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_default_parses_to_the_rust_default() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml");
        let default = manifest["config"]["default"].clone();
        let json = serde_json::to_string(&default).expect("json");
        let parsed: Config = plaza_sdk::config::parse_str(&json).expect("parses");
        assert_eq!(parsed, Config::default());
        let empty: Config = plaza_sdk::config::parse_str("").expect("empty");
        assert_eq!(empty, Config::default());
    }

    #[test]
    fn provider_url_encodes_the_wechat_id() {
        let p = Provider {
            url_template: "https://x.example/peers/{wechat_id}/articles?since={date}".into(),
            cron: default_provider_cron(),
            since_days: 7,
        };
        assert_eq!(
            p.url("a b/c", "2026-01-05"),
            "https://x.example/peers/a%20b%2Fc/articles?since=2026-01-05"
        );
    }
}
