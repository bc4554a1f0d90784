//! Pure matching logic: the configuration model and how a message picks its reply.
//!
//! Nothing here calls the host, so it is unit-tested natively
//! (`cargo test -p auto-reply --target-dir target/guest-native`).

use std::cmp::Reverse;

use regex_lite::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Upper bound on a compiled regex. Patterns come from operators, but each message runs in a
/// fresh instance with a small memory and time budget, so a pathological pattern should fail to
/// compile (and be skipped or rejected) rather than eat the budget.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How a rule's keyword is compared with the message text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// The whole message, trimmed, equals the keyword (ASCII case-insensitive).
    Exact,
    /// The keyword occurs anywhere in the message (case-insensitive). The default.
    #[default]
    Contains,
    /// The keyword is a regular expression (regex-lite syntax) found anywhere in the message.
    /// Case-insensitive like the other kinds; start the pattern with `(?-i)` to opt out.
    Regex,
}

/// One keyword rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The text (or pattern) to look for.
    pub keyword: String,
    /// How to compare; defaults to [`MatchKind::Contains`].
    #[serde(rename = "match", default)]
    pub kind: MatchKind,
    /// The reply sent when the rule matches.
    pub reply: String,
    /// Higher runs first; equal priorities keep list order. Defaults to 0.
    #[serde(default)]
    pub priority: i32,
}

/// The installation's configuration. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Config {
    /// Keyword rules; superseded by rules stored through the HTTP routes.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Sent to a follower who subscribes.
    #[serde(default)]
    pub follow_reply: Option<String>,
    /// Sent when no rule matches, and for every non-text message.
    #[serde(default)]
    pub default_reply: Option<String>,
}

/// Compiles a regex rule's pattern the way matching does.
pub fn compile(pattern: &str) -> Result<Regex, regex_lite::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// The first rule, by priority descending and then list order, whose keyword matches `text`.
///
/// Regexes are compiled only when their rule is reached, so a message answered by an earlier
/// rule pays nothing for later ones. A regex that does not compile is skipped after reporting it
/// through `on_bad_regex` (the plugin logs a warning; the host validated the config's shape but
/// not its patterns).
pub fn find_match<'r>(
    rules: &'r [Rule],
    text: &str,
    on_bad_regex: &mut dyn FnMut(&Rule, &regex_lite::Error),
) -> Option<&'r Rule> {
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    // `sort_by_key` is stable: list order breaks ties.
    ordered.sort_by_key(|rule| Reverse(rule.priority));

    let trimmed = text.trim();
    let mut lowered: Option<String> = None;
    ordered.into_iter().find(|rule| match rule.kind {
        MatchKind::Exact => trimmed.eq_ignore_ascii_case(rule.keyword.trim()),
        MatchKind::Contains => lowered
            .get_or_insert_with(|| text.to_lowercase())
            .contains(&rule.keyword.to_lowercase()),
        MatchKind::Regex => match compile(&rule.keyword) {
            Ok(re) => re.is_match(text),
            Err(e) => {
                on_bad_regex(rule, &e);
                false
            }
        },
    })
}

/// The reply to a message: for text, the first matching rule of `stored` (the rules stored
/// through the HTTP routes, which supersede the configuration's) or else of `config.rules`, and
/// `default_reply` when none matches; for anything else, `default_reply`.
pub fn reply_to(
    config: &Config,
    stored: Option<&[Rule]>,
    text: Option<&str>,
    on_bad_regex: &mut dyn FnMut(&Rule, &regex_lite::Error),
) -> Option<String> {
    let rule =
        text.and_then(|text| find_match(stored.unwrap_or(&config.rules), text, on_bad_regex));
    rule.map(|rule| &rule.reply)
        .or(config.default_reply.as_ref())
        .cloned()
}

/// Checks rules submitted through the HTTP routes: keywords must be non-empty (an empty
/// `contains` keyword would answer every message) and regexes must compile.
pub fn validate(rules: &[Rule]) -> Result<(), String> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.keyword.trim().is_empty() {
            return Err(format!("rule {i}: keyword must not be empty"));
        }
        if rule.kind == MatchKind::Regex {
            compile(&rule.keyword).map_err(|e| format!("rule {i}: invalid regex: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(keyword: &str, kind: MatchKind, reply: &str, priority: i32) -> Rule {
        Rule {
            keyword: keyword.into(),
            kind,
            reply: reply.into(),
            priority,
        }
    }

    fn reply_for<'a>(rules: &'a [Rule], text: &str) -> Option<&'a str> {
        find_match(rules, text, &mut |_, _| {}).map(|r| r.reply.as_str())
    }

    #[test]
    fn config_defaults() {
        let cfg: Config =
            serde_json::from_str(r#"{"rules":[{"keyword":"hi","reply":"yo"}]}"#).unwrap();
        assert_eq!(cfg.rules, vec![rule("hi", MatchKind::Contains, "yo", 0)]);
        assert_eq!(cfg.follow_reply, None);
        assert_eq!(cfg.default_reply, None);
        assert_eq!(
            serde_json::from_str::<Config>("{}").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn full_config_parses() {
        let cfg: Config = serde_json::from_str(
            r#"{"rules":[{"keyword":"hello","match":"exact","reply":"Hi there","priority":3}],
                "follow_reply":"Welcome!","default_reply":"We got your message"}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.rules,
            vec![rule("hello", MatchKind::Exact, "Hi there", 3)]
        );
        assert_eq!(cfg.follow_reply.as_deref(), Some("Welcome!"));
        assert_eq!(cfg.default_reply.as_deref(), Some("We got your message"));
    }

    #[test]
    fn unknown_match_kind_is_rejected() {
        let err = serde_json::from_str::<Rule>(r#"{"keyword":"a","match":"fuzzy","reply":"b"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn rule_round_trips_with_match_field() {
        let json = serde_json::to_value(rule("a", MatchKind::Regex, "b", -1)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"keyword":"a","match":"regex","reply":"b","priority":-1})
        );
    }

    #[test]
    fn exact_trims_and_ignores_ascii_case() {
        let rules = [rule(" Hello ", MatchKind::Exact, "hi", 0)];
        assert_eq!(reply_for(&rules, "  hELLo\n"), Some("hi"));
        assert_eq!(reply_for(&rules, "hello there"), None);
        assert_eq!(reply_for(&rules, "hell"), None);
    }

    #[test]
    fn contains_is_case_insensitive_substring() {
        let rules = [rule("Price", MatchKind::Contains, "cheap", 0)];
        assert_eq!(reply_for(&rules, "what is the PRICE?"), Some("cheap"));
        assert_eq!(reply_for(&rules, "how much"), None);
        // Not only ASCII.
        let rules = [rule("ÄPFEL", MatchKind::Contains, "ja", 0)];
        assert_eq!(reply_for(&rules, "ich mag äpfel"), Some("ja"));
        let rules = [rule("你好", MatchKind::Contains, "您好", 0)];
        assert_eq!(reply_for(&rules, "你好呀"), Some("您好"));
    }

    #[test]
    fn regex_matches_anywhere_case_insensitively() {
        let rules = [rule(r"^order\s+#?\d+$", MatchKind::Regex, "tracking", 0)];
        assert_eq!(reply_for(&rules, "ORDER #42"), Some("tracking"));
        assert_eq!(reply_for(&rules, "order abc"), None);
        let rules = [rule(r"(?-i)Yes", MatchKind::Regex, "ok", 0)];
        assert_eq!(reply_for(&rules, "yes"), None);
        assert_eq!(reply_for(&rules, "Yes"), Some("ok"));
    }

    #[test]
    fn priority_descending_then_list_order() {
        let rules = [
            rule("a", MatchKind::Contains, "first-low", 0),
            rule("a", MatchKind::Contains, "high", 5),
            rule("a", MatchKind::Contains, "second-high", 5),
            rule("a", MatchKind::Contains, "negative", -3),
        ];
        assert_eq!(reply_for(&rules, "a"), Some("high"));
        let rules = [
            rule("a", MatchKind::Contains, "one", 1),
            rule("a", MatchKind::Contains, "two", 1),
        ];
        assert_eq!(reply_for(&rules, "a"), Some("one"));
    }

    #[test]
    fn lower_priority_rule_matches_when_higher_does_not() {
        let rules = [
            rule("refund", MatchKind::Contains, "refunds", 10),
            rule("hello", MatchKind::Exact, "hi", 0),
        ];
        assert_eq!(reply_for(&rules, "hello"), Some("hi"));
        assert_eq!(reply_for(&rules, "hello, refund please"), Some("refunds"));
    }

    #[test]
    fn invalid_regex_is_skipped_and_reported() {
        let rules = [
            rule("(unclosed", MatchKind::Regex, "never", 9),
            rule("x", MatchKind::Contains, "fallback", 0),
        ];
        let mut reported = Vec::new();
        let found = find_match(&rules, "x", &mut |r, _| reported.push(r.keyword.clone()));
        assert_eq!(found.map(|r| r.reply.as_str()), Some("fallback"));
        assert_eq!(reported, vec!["(unclosed".to_string()]);
    }

    #[test]
    fn regexes_behind_an_earlier_match_are_never_compiled() {
        let rules = [
            rule("hi", MatchKind::Contains, "first", 1),
            rule("(unclosed", MatchKind::Regex, "never", 0),
        ];
        let mut reported = 0;
        let found = find_match(&rules, "hi", &mut |_, _| reported += 1);
        assert_eq!(found.map(|r| r.reply.as_str()), Some("first"));
        assert_eq!(reported, 0, "the bad regex was reached, so it was compiled");
    }

    #[test]
    fn reply_to_uses_stored_rules_then_default() {
        let config = Config {
            rules: vec![rule("hello", MatchKind::Exact, "from config", 0)],
            follow_reply: None,
            default_reply: Some("default".into()),
        };
        let mut quiet = |_: &Rule, _: &regex_lite::Error| {};
        assert_eq!(
            reply_to(&config, None, Some("hello"), &mut quiet).as_deref(),
            Some("from config")
        );
        let stored = [rule("hello", MatchKind::Contains, "from routes", 0)];
        assert_eq!(
            reply_to(&config, Some(&stored), Some("hello"), &mut quiet).as_deref(),
            Some("from routes")
        );
        // An empty stored list still supersedes the configuration.
        assert_eq!(
            reply_to(&config, Some(&[]), Some("hello"), &mut quiet).as_deref(),
            Some("default")
        );
        assert_eq!(
            reply_to(&config, None, Some("nothing"), &mut quiet).as_deref(),
            Some("default")
        );
        // Non-text messages get the default reply, whatever the rules.
        assert_eq!(
            reply_to(&config, None, None, &mut quiet).as_deref(),
            Some("default")
        );
        let silent = Config {
            default_reply: None,
            ..config
        };
        assert_eq!(reply_to(&silent, None, Some("nothing"), &mut quiet), None);
        assert_eq!(reply_to(&silent, None, None, &mut quiet), None);
    }

    #[test]
    fn manifest_default_config_and_schema_agree_with_the_model() {
        let manifest: toml::Table = toml::from_str(include_str!("../plugin.toml")).unwrap();
        let config = &manifest["config"];
        let default = serde_json::to_value(&config["default"]).unwrap();
        let parsed: Config = serde_json::from_value(default).unwrap();
        assert_eq!(parsed.follow_reply.as_deref(), Some("Welcome!"));
        let schema = serde_json::to_value(&config["schema"]).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        let item = &schema["properties"]["rules"]["items"]["properties"];
        let kinds: Vec<MatchKind> = serde_json::from_value(item["match"]["enum"].clone()).unwrap();
        assert_eq!(
            kinds,
            [MatchKind::Exact, MatchKind::Contains, MatchKind::Regex]
        );
        let mut fields: Vec<&String> = item.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["keyword", "match", "priority", "reply"]);
        let mut top: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        top.sort();
        assert_eq!(top, ["default_reply", "follow_reply", "rules"]);
    }

    #[test]
    fn no_rules_no_match() {
        assert_eq!(reply_for(&[], "anything"), None);
    }

    #[test]
    fn validate_rejects_bad_regex_and_empty_keyword() {
        assert!(validate(&[rule("ok", MatchKind::Regex, "r", 0)]).is_ok());
        let err = validate(&[
            rule("ok", MatchKind::Exact, "r", 0),
            rule("(", MatchKind::Regex, "r", 0),
        ])
        .unwrap_err();
        assert!(err.starts_with("rule 1: invalid regex"), "{err}");
        assert!(validate(&[rule("  ", MatchKind::Contains, "r", 0)]).is_err());
    }

    #[test]
    fn oversized_regex_fails_to_compile() {
        assert!(compile(r"\w{1000}{1000}").is_err());
    }
}
