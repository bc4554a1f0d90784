//! Event kinds as plugins and the admin API name them ([`KindSelector`]), and the rules a plugin
//! event must follow: its kind is namespaced by the plugin that emits it, its properties are
//! bounded.

use std::fmt;

use super::EventKind;
use crate::accounts::refuse_control_chars;
use crate::error::{PlazaError, Result};

/// The longest plugin event kind, in bytes (`editor.article.read`).
pub const MAX_KIND_LEN: usize = 64;
/// Properties one plugin event may carry.
pub const MAX_PROPERTIES: usize = 32;
/// The longest property name, in bytes.
pub const MAX_PROPERTY_NAME: usize = 64;
/// Names and values of one plugin event's properties together, in bytes.
pub const MAX_PROPERTIES_BYTES: usize = 4096;
/// Plugin events one plugin call may emit. The host impl of `events.emit` counts per call and
/// refuses the call's next emit (`quota-exceeded`) past this; the domain layer has no notion of
/// a call. 100 is generous for analytics (one or a few events per handled message or page view)
/// while keeping a misbehaving plugin from turning one call into a flood of log writes.
pub const MAX_EMITS_PER_CALL: u32 = 100;
/// Selectors one filter may hold: each entry is checked against each selector.
pub const MAX_SELECTORS: usize = 32;

/// Which kinds a listing or an aggregate includes, as plugins (`events.query`, `events.daily`)
/// and the admin API (`?kinds=`) name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindSelector {
    /// A built-in kind by name: `inbound_message`, `follower_event`, `delivery`,
    /// `http_outbound`, or `plugin` (every plugin event).
    Kind(EventKind),
    /// Exactly one plugin event kind: `editor.article.read`.
    Exact(String),
    /// Every plugin event kind starting with this prefix, which ends with `.`: `ads.*` is
    /// `Prefix("ads.")`.
    Prefix(String),
}

impl KindSelector {
    /// Parses one selector; the error says which forms are accepted.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(kind) = EventKind::ALL.into_iter().find(|k| k.name() == s) {
            return Ok(KindSelector::Kind(kind));
        }
        let refuse = |why: &str| {
            PlazaError::invalid(format!(
                "event kind selector {s:?} {why}; use a built-in kind ({}), a plugin event kind \
                 such as `editor.article.read`, or a prefix such as `ads.*`",
                builtin_names()
            ))
        };
        if s.is_empty() {
            return Err(refuse("is empty"));
        }
        if s == "*" {
            return Err(refuse("would select everything: pass no kinds instead"));
        }
        if let Some(stem) = s.strip_suffix(".*") {
            check_kind_syntax(stem).map_err(|why| refuse(&why))?;
            return Ok(KindSelector::Prefix(format!("{stem}.")));
        }
        if s.contains('*') {
            return Err(refuse("may only end with `.*`"));
        }
        if !s.contains('.') {
            return Err(refuse(
                "is not a built-in kind, and a plugin event kind is `<plugin>.<name>`",
            ));
        }
        check_kind_syntax(s).map_err(|why| refuse(&why))?;
        Ok(KindSelector::Exact(s.to_string()))
    }

    /// Parses a list of selectors (a WIT `filter.kinds`, or the admin API's comma-separated
    /// `kinds`), at most [`MAX_SELECTORS`]. Empty means every kind.
    pub fn parse_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for s in items {
            if out.len() == MAX_SELECTORS {
                return Err(PlazaError::invalid(format!(
                    "at most {MAX_SELECTORS} event kind selectors per filter"
                )));
            }
            out.push(KindSelector::parse(s.as_ref())?);
        }
        Ok(out)
    }

    /// Whether an entry with this kind and header sub-kind is selected (for plugin events the
    /// sub-kind is the full plugin kind).
    pub fn matches(&self, kind: EventKind, sub: &[u8]) -> bool {
        match self {
            KindSelector::Kind(k) => *k == kind,
            KindSelector::Exact(e) => kind == EventKind::Plugin && sub == e.as_bytes(),
            KindSelector::Prefix(p) => kind == EventKind::Plugin && sub.starts_with(p.as_bytes()),
        }
    }

    /// Whether any of `selectors` selects the entry; an empty list selects everything.
    pub fn any(selectors: &[KindSelector], kind: EventKind, sub: &[u8]) -> bool {
        selectors.is_empty() || selectors.iter().any(|s| s.matches(kind, sub))
    }
}

impl fmt::Display for KindSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KindSelector::Kind(k) => f.write_str(k.name()),
            KindSelector::Exact(e) => f.write_str(e),
            KindSelector::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

impl std::str::FromStr for KindSelector {
    type Err = PlazaError;
    fn from_str(s: &str) -> Result<Self> {
        KindSelector::parse(s)
    }
}

pub(crate) fn builtin_names() -> String {
    EventKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The syntax every plugin kind (and prefix stem) follows: at most [`MAX_KIND_LEN`] bytes of
/// `a-z 0-9 _ . -`, dot-separated segments that are not empty, the first starting with a letter
/// or digit (as plugin names do). Returns why not.
fn check_kind_syntax(s: &str) -> std::result::Result<(), String> {
    if s.len() > MAX_KIND_LEN {
        return Err(format!("is longer than {MAX_KIND_LEN} bytes"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!("contains {c:?} (allowed: a-z, 0-9, '_', '.', '-')"));
    }
    if s.split('.').any(str::is_empty) {
        return Err("has an empty segment (a leading, trailing or doubled '.')".into());
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or digit".into());
    }
    Ok(())
}

/// Checks that `kind` is a kind `plugin` may emit: `<plugin>.<name>` in the kind syntax.
pub fn validate_plugin_kind(plugin: &str, kind: &str) -> Result<()> {
    let own = kind
        .strip_prefix(plugin)
        .is_some_and(|rest| rest.starts_with('.'));
    if !own {
        return Err(PlazaError::invalid(format!(
            "event kind {kind:?} must start with the plugin's name and a dot: `{plugin}.<name>`"
        )));
    }
    check_kind_syntax(kind).map_err(|why| PlazaError::invalid(format!("event kind {kind:?} {why}")))
}

/// Checks a plugin event's properties: at most [`MAX_PROPERTIES`], names of 1 to
/// [`MAX_PROPERTY_NAME`] bytes without control characters and unique, names and values together
/// at most [`MAX_PROPERTIES_BYTES`]. Values may hold newlines and tabs (free text), not other
/// control or bidi characters (they would forge the lines the CLI and logs show).
pub fn validate_properties(properties: &[(String, String)]) -> Result<()> {
    if properties.len() > MAX_PROPERTIES {
        return Err(PlazaError::TooLarge(format!(
            "{} properties; at most {MAX_PROPERTIES} per event",
            properties.len()
        )));
    }
    let bytes: usize = properties.iter().map(|(n, v)| n.len() + v.len()).sum();
    if bytes > MAX_PROPERTIES_BYTES {
        return Err(PlazaError::TooLarge(format!(
            "properties take {bytes} bytes; at most {MAX_PROPERTIES_BYTES} per event (names and values)"
        )));
    }
    for (i, (name, value)) in properties.iter().enumerate() {
        if name.is_empty() || name.len() > MAX_PROPERTY_NAME {
            return Err(PlazaError::invalid(format!(
                "property name {name:?} must be 1-{MAX_PROPERTY_NAME} bytes"
            )));
        }
        refuse_control_chars(&format!("property name {name:?}"), name, &[])?;
        refuse_control_chars(&format!("property {name:?}"), value, &['\n', '\t'])?;
        if properties[..i].iter().any(|(n, _)| n == name) {
            return Err(PlazaError::invalid(format!(
                "property {name:?} is given twice"
            )));
        }
    }
    Ok(())
}

/// Properties as a JSON object in their order (`{"article": "a-1", "source": "menu"}`), which
/// reads better in the admin API and the CLI than a list of pairs; names are unique.
pub(crate) mod properties_map {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(props: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(props.len()))?;
        for (k, v) in props {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of string properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl fmt::Debug>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn selectors_parse_and_match() {
        use KindSelector::*;
        let p = |s: &str| KindSelector::parse(s).unwrap();
        assert_eq!(p("delivery"), Kind(EventKind::Delivery));
        assert_eq!(p("http_outbound"), Kind(EventKind::HttpOutbound));
        assert_eq!(p("plugin"), Kind(EventKind::Plugin));
        assert_eq!(
            p("editor.article.read"),
            Exact("editor.article.read".into())
        );
        assert_eq!(p("ads.*"), Prefix("ads.".into()));
        assert_eq!(p("editor.article.*"), Prefix("editor.article.".into()));
        for s in [
            "delivery",
            "editor.article.read",
            "ads.*",
            "editor.article.*",
        ] {
            assert_eq!(p(s).to_string(), s, "display round-trips");
        }

        let plugin = EventKind::Plugin;
        assert!(p("ads.*").matches(plugin, b"ads.click"));
        assert!(p("ads.*").matches(plugin, b"ads.slot.view"));
        // A prefix is a whole segment: `ads.*` is not `adsmore.click`, nor `ads` itself.
        assert!(!p("ads.*").matches(plugin, b"adsmore.click"));
        assert!(!p("ads.*").matches(plugin, b"ads"));
        assert!(p("editor.article.read").matches(plugin, b"editor.article.read"));
        assert!(!p("editor.article.read").matches(plugin, b"editor.article.reads"));
        assert!(p("plugin").matches(plugin, b"anything.at.all"));
        // Plugin selectors never match built-in kinds whose sub-kind looks alike.
        assert!(!p("ads.*").matches(EventKind::HttpOutbound, b"ads.example.com"));
        assert!(p("http_outbound").matches(EventKind::HttpOutbound, b"ads.example.com"));
        assert!(!p("delivery").matches(plugin, b"delivery.x"));

        assert!(KindSelector::any(&[], EventKind::Delivery, b"reply"));
        let two = [p("delivery"), p("ads.*")];
        assert!(KindSelector::any(&two, plugin, b"ads.click"));
        assert!(!KindSelector::any(&two, EventKind::InboundMessage, b"text"));
    }

    #[test]
    fn bad_selectors_say_what_is_accepted() {
        for (s, says) in [
            ("", "is empty"),
            ("*", "pass no kinds instead"),
            ("bogus", "`<plugin>.<name>`"),
            ("ads*", "may only end with `.*`"),
            ("a.*.b", "may only end with `.*`"),
            ("Ads.click", "contains 'A'"),
            ("ads..click", "empty segment"),
            (".*", "empty segment"),
            ("ads.click.", "empty segment"),
            ("_ads.click", "start with a letter or digit"),
        ] {
            let e = err(KindSelector::parse(s));
            assert!(e.contains(says), "{s:?}: {e}");
            assert!(e.contains("ads.*"), "{s:?}: the error shows the forms: {e}");
        }
        let long = format!("{}.x", "a".repeat(MAX_KIND_LEN));
        assert!(err(KindSelector::parse(&long)).contains("longer than 64"));
        let many: Vec<String> = (0..=MAX_SELECTORS).map(|i| format!("p.k{i}")).collect();
        assert!(err(KindSelector::parse_list(&many)).contains("at most 32"));
        assert_eq!(KindSelector::parse_list(&many[..2]).unwrap().len(), 2);
    }

    #[test]
    fn plugin_kinds_are_namespaced_by_the_plugin() {
        validate_plugin_kind("editor", "editor.article.read").unwrap();
        validate_plugin_kind("ads", "ads.click").unwrap();
        validate_plugin_kind("my-plugin_2", "my-plugin_2.x-y_z.0").unwrap();
        for (plugin, kind, says) in [
            ("editor", "ads.click", "must start with the plugin's name"),
            ("editor", "editor", "must start with the plugin's name"),
            (
                "editor",
                "editorial.read",
                "must start with the plugin's name",
            ),
            ("editor", "editor.", "empty segment"),
            ("editor", "editor..read", "empty segment"),
            ("editor", "editor.Read", "contains 'R'"),
            ("editor", "editor.read now", "contains ' '"),
        ] {
            let e = err(validate_plugin_kind(plugin, kind));
            assert!(e.contains(says), "{kind:?}: {e}");
        }
        let long = format!("editor.{}", "a".repeat(MAX_KIND_LEN - 6));
        assert_eq!(long.len(), MAX_KIND_LEN + 1);
        assert!(err(validate_plugin_kind("editor", &long)).contains("longer than 64"));
        validate_plugin_kind("editor", &long[..MAX_KIND_LEN]).unwrap();
    }

    #[test]
    fn properties_are_bounded() {
        let prop = |n: &str, v: &str| (n.to_string(), v.to_string());
        validate_properties(&[]).unwrap();
        validate_properties(&[prop("article", "a-1"), prop("note", "two\nlines\tok")]).unwrap();
        let many: Vec<_> = (0..=MAX_PROPERTIES)
            .map(|i| prop(&format!("p{i}"), "v"))
            .collect();
        let e = validate_properties(&many).unwrap_err();
        assert!(matches!(e, PlazaError::TooLarge(_)), "{e}");
        validate_properties(&many[..MAX_PROPERTIES]).unwrap();
        let big = [prop("a", &"x".repeat(MAX_PROPERTIES_BYTES))];
        let e = validate_properties(&big).unwrap_err();
        assert!(
            matches!(e, PlazaError::TooLarge(_)) && e.to_string().contains("4096"),
            "{e}"
        );
        validate_properties(&[prop("a", &"x".repeat(MAX_PROPERTIES_BYTES - 1))]).unwrap();
        for (props, says) in [
            (vec![prop("", "v")], "must be 1-64 bytes"),
            (vec![prop(&"n".repeat(65), "v")], "must be 1-64 bytes"),
            (vec![prop("a\nb", "v")], "U+000A"),
            (vec![prop("a", "v\u{1b}[31m")], "U+001B"),
            (vec![prop("a", "\u{202e}evil")], "U+202E"),
            (vec![prop("a", "1"), prop("a", "2")], "given twice"),
        ] {
            let e = err(validate_properties(&props));
            assert!(e.contains(says), "{props:?}: {e}");
        }
    }
}
