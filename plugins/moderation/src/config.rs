//! The installation's configuration (validated by the host against `plugin.toml`'s schema) and
//! the word list that ships with the plugin.

use serde::Deserialize;

use crate::matcher::{Action, WordList};

/// What to do with an image when the review service cannot be asked or answers nonsense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Block the image (the default: unreviewed images are not sent).
    #[default]
    Closed,
    /// Send the image unreviewed (a warning is logged).
    Open,
}

/// The configuration; every field has a default, so `{}` is a working configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Whether the platform list ([`PLATFORM_WORDS`]) applies on this account.
    pub platform_list: bool,
    /// The platform list's action.
    pub platform_list_action: Action,
    /// The account's own lists (more can be stored through `PUT /lists/{name}`).
    pub lists: Vec<WordList>,
    /// Whether inbound text messages are checked and flagged with `moderation.inbound.flagged`.
    pub flag_inbound: bool,
    /// An operator's openid on this account: a flagged inbound message is reported to it as a
    /// customer-service message (48 h window applies: the operator must have written to the
    /// account recently). Unset: no alert.
    pub alert_openid: Option<String>,
    /// Where outbound images are sent for review (`POST` of the image bytes). Unset: images are
    /// not reviewed. Its host must be granted (`http.outbound:<host[:port]>`).
    pub image_review_url: Option<String>,
    /// What happens to an image when the review fails.
    pub image_review_failure: FailurePolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            platform_list: true,
            platform_list_action: Action::Block,
            lists: Vec::new(),
            flag_inbound: true,
            alert_openid: None,
            image_review_url: None,
            image_review_failure: FailurePolicy::Closed,
        }
    }
}

/// The name of the list that ships with the plugin.
pub const PLATFORM_LIST: &str = "platform";

/// The platform list: a small list compiled into the plugin, the same on every account that
/// enables it (the host has no platform-wide configuration a plugin could read). Illegal trades
/// that no official account may advertise; accounts add their own lists on top.
pub const PLATFORM_WORDS: &[&str] = &[
    "代开发票",
    "办假证",
    "出售枪支",
    "买卖枪支",
    "冰毒",
    "海洛因",
    "网络赌博",
    "赌博网站",
    "六合彩",
    "套现",
    "洗钱",
    "casino bonus",
    "buy cocaine",
    "fake passport",
];

impl Config {
    /// The platform list (if enabled) followed by the configured lists.
    pub fn configured_lists(&self) -> Vec<WordList> {
        let mut lists = Vec::with_capacity(self.lists.len() + 1);
        if self.platform_list {
            lists.push(WordList {
                name: PLATFORM_LIST.to_string(),
                action: self.platform_list_action,
                words: PLATFORM_WORDS.iter().map(|w| w.to_string()).collect(),
            });
        }
        lists.extend(self.lists.iter().cloned());
        lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_configuration_enables_the_platform_list_and_flagging() {
        let c: Config = plaza_sdk::config::parse_str("").unwrap();
        assert!(c.platform_list && c.flag_inbound);
        assert_eq!(c.image_review_failure, FailurePolicy::Closed);
        let lists = c.configured_lists();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].name, PLATFORM_LIST);
        assert_eq!(lists[0].action, Action::Block);
    }

    #[test]
    fn configured_lists_follow_the_platform_list() {
        let c: Config = plaza_sdk::config::parse_str(
            r#"{"platform_list": false, "lists": [{"name": "ads", "action": "mask", "words": ["x"]}],
                "image_review_failure": "open"}"#,
        )
        .unwrap();
        let lists = c.configured_lists();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].name, "ads");
        assert_eq!(c.image_review_failure, FailurePolicy::Open);
        assert!(plaza_sdk::config::parse_str::<Config>(r#"{"bogus": 1}"#).is_err());
    }

    #[test]
    fn the_manifest_default_parses() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml");
        let default = manifest["config"]["default"].clone();
        let json = serde_json::to_string(&default).unwrap();
        let c: Config = plaza_sdk::config::parse_str(&json).unwrap();
        assert!(c.platform_list);
    }
}
