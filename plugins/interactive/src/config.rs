//! The installation's configuration (validated by the host against `plugin.toml`'s schema).

use serde::Deserialize;

/// See `plugin.toml` for each field's description and default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub keywords: Keywords,
    /// How long a link sent in a reply (or minted for a page's form) stays valid, in hours.
    pub link_ttl_hours: u32,
    pub leaderboard_size: u32,
    /// Points a challenge awards on completion unless it says otherwise.
    pub default_reward_points: i64,
}

/// Message keywords (exact first word, case-insensitive) that reply with a link.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keywords {
    pub vote: Vec<String>,
    pub survey: Vec<String>,
    pub challenge: Vec<String>,
    pub favourites: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keywords: Keywords::default(),
            link_ttl_hours: 72,
            leaderboard_size: 10,
            default_reward_points: 100,
        }
    }
}

impl Default for Keywords {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        Keywords {
            vote: words(&["投票", "vote"]),
            survey: words(&["问卷", "survey"]),
            challenge: words(&["打卡", "challenge"]),
            favourites: words(&["收藏", "favourites"]),
        }
    }
}

impl Config {
    /// [`Self::link_ttl_hours`] in seconds, within the host's 30-day bound.
    pub fn link_ttl_seconds(&self) -> u32 {
        self.link_ttl_hours.clamp(1, 720) * 3600
    }
}

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Votes,
    Surveys,
    Challenges,
    Favourites,
}

impl Section {
    /// The follower page's path.
    pub fn path(self) -> &'static str {
        match self {
            Section::Votes => "/votes",
            Section::Surveys => "/surveys",
            Section::Challenges => "/challenges",
            Section::Favourites => "/favourites",
        }
    }
}

impl Keywords {
    /// The section and optional argument (an id) of a message: its first word is a keyword.
    pub fn match_text<'t>(&self, text: &'t str) -> Option<(Section, Option<&'t str>)> {
        let text = text.trim();
        let (word, arg) = match text.split_once(char::is_whitespace) {
            Some((w, rest)) => (w, Some(rest.trim()).filter(|r| !r.is_empty())),
            None => (text, None),
        };
        let is = |list: &[String]| list.iter().any(|k| k.trim().eq_ignore_ascii_case(word));
        let section = if is(&self.vote) {
            Section::Votes
        } else if is(&self.survey) {
            Section::Surveys
        } else if is(&self.challenge) {
            Section::Challenges
        } else if is(&self.favourites) {
            Section::Favourites
        } else {
            return None;
        };
        Some((section, arg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_the_first_word() {
        let k = Keywords::default();
        assert_eq!(k.match_text(" 投票 "), Some((Section::Votes, None)));
        assert_eq!(k.match_text("VOTE v1"), Some((Section::Votes, Some("v1"))));
        assert_eq!(
            k.match_text("打卡  c21 "),
            Some((Section::Challenges, Some("c21")))
        );
        assert_eq!(k.match_text("收藏"), Some((Section::Favourites, None)));
        assert_eq!(k.match_text("签到"), None);
        assert_eq!(k.match_text("voter"), None);
    }

    #[test]
    fn plugin_toml_default_config_parses_and_matches_the_model() {
        let manifest: toml::Value =
            toml::from_str(include_str!("../plugin.toml")).expect("plugin.toml parses");
        let default = manifest["config"]["default"].clone();
        let json = serde_json::to_string(&default).unwrap();
        let parsed: Config = serde_json::from_str(&json).expect("default config fits the model");
        let model = Config::default();
        assert_eq!(parsed.keywords.vote, model.keywords.vote);
        assert_eq!(parsed.keywords.challenge, model.keywords.challenge);
        assert_eq!(parsed.link_ttl_hours, model.link_ttl_hours);
        assert_eq!(parsed.default_reward_points, model.default_reward_points);
        let empty: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.leaderboard_size, 10);
    }
}
