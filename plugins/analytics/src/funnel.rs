//! Funnels: operator-defined ordered steps, each an event matcher.
//!
//! A follower **enters** a funnel with an entry matching step 1 inside the date range, and
//! **reaches** step n when entries matching steps 2..=n follow in that order (each at or after
//! the previous one) within `window_hours` of the step-1 entry and before the end of the range.
//! Every step-1 entry of a follower is tried as a start and the deepest step reached counts, so a
//! follower is counted once per step. Conversion is given from the previous step and from the
//! first.

use std::collections::BTreeMap;

use plaza_sdk::Error;
use plaza_sdk::events::LoggedEvent;
use serde::{Deserialize, Serialize};

/// The longest funnel.
pub const MAX_STEPS: usize = 10;
/// The longest window (90 days).
pub const MAX_WINDOW_HOURS: u32 = 24 * 90;

/// Matches an event-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Shown on charts; defaults to the kind and sub-kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `inbound_message`, `follower_event`, or a plugin event kind (`editor.article.read`).
    pub kind: String,
    /// Inbound message type, follower event name (`subscribe`, `click` …); any if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_kind: Option<String>,
    /// A property that must equal a value (`event_key` of a menu click, `article` of a read …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<PropertyEquals>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyEquals {
    pub name: String,
    pub value: String,
}

/// A funnel definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    /// `[a-z0-9_-]{1,40}`; the route and storage key use it.
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub steps: Vec<Matcher>,
    #[serde(default = "default_window_hours")]
    pub window_hours: u32,
}

pub fn default_window_hours() -> u32 {
    24 * 7
}

/// A step's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub label: String,
    pub followers: u64,
    /// From the previous step (`null` for the first, or when the previous step has nobody).
    pub from_previous: Option<f64>,
    /// From the first step (`null` when the first step has nobody).
    pub from_first: Option<f64>,
}

impl Matcher {
    pub fn label(&self) -> String {
        match (&self.label, &self.sub_kind) {
            (Some(l), _) if !l.trim().is_empty() => l.clone(),
            (_, Some(s)) => format!("{} · {s}", self.kind),
            _ => self.kind.clone(),
        }
    }

    pub fn matches(&self, e: &LoggedEvent) -> bool {
        e.kind == self.kind
            && self.sub_kind.as_ref().is_none_or(|s| *s == e.sub_kind)
            && self
                .property
                .as_ref()
                .is_none_or(|p| e.property(&p.name) == Some(p.value.as_str()))
    }
}

/// Checks a funnel id (route segment and storage key).
pub fn validate_id(id: &str) -> Result<(), Error> {
    let ok = (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "funnel id {id:?} must be 1-40 characters of a-z, 0-9, - and _"
        )))
    }
}

impl Funnel {
    /// Refuses what cannot be computed meaningfully, with a message naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        validate_id(&self.id)?;
        if self.name.chars().count() > 100 {
            return Err(Error::invalid("funnel name: at most 100 characters"));
        }
        if !(2..=MAX_STEPS).contains(&self.steps.len()) {
            return Err(Error::invalid(format!(
                "a funnel has 2 to {MAX_STEPS} steps; this one has {}",
                self.steps.len()
            )));
        }
        if !(1..=MAX_WINDOW_HOURS).contains(&self.window_hours) {
            return Err(Error::invalid(format!(
                "window_hours must be 1-{MAX_WINDOW_HOURS}"
            )));
        }
        for (i, s) in self.steps.iter().enumerate() {
            let n = i + 1;
            if s.kind.trim().is_empty() || s.kind.len() > 100 {
                return Err(Error::invalid(format!(
                    "step {n}: kind must be 1-100 characters"
                )));
            }
            if s.kind.contains('*') {
                return Err(Error::invalid(format!(
                    "step {n}: kind is an exact kind, no `*`"
                )));
            }
            if s.sub_kind
                .as_ref()
                .is_some_and(|x| x.is_empty() || x.len() > 100)
                || s.label.as_ref().is_some_and(|x| x.chars().count() > 60)
                || s.property
                    .as_ref()
                    .is_some_and(|p| p.name.is_empty() || p.name.len() > 100 || p.value.len() > 500)
            {
                return Err(Error::invalid(format!(
                    "step {n}: sub_kind 1-100 characters, label at most 60, property name 1-100 and value at most 500"
                )));
            }
        }
        Ok(())
    }

    /// The distinct kinds the steps need (the event-log filter).
    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.steps.iter().map(|s| s.kind.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k
    }

    pub fn title(&self) -> &str {
        if self.name.trim().is_empty() {
            &self.id
        } else {
            &self.name
        }
    }

    /// Steps reached from `entries` (oldest first, any followers) with step 1 at or after
    /// `since`; later steps before `until`.
    pub fn evaluate(&self, entries: &[LoggedEvent], since: u64, until: u64) -> Vec<StepResult> {
        let window = u64::from(self.window_hours) * 3_600_000;
        let mut per_follower: BTreeMap<&str, Vec<&LoggedEvent>> = BTreeMap::new();
        for e in entries.iter().filter(|e| e.at < until) {
            if let Some(o) = e.openid.as_deref() {
                per_follower.entry(o).or_default().push(e);
            }
        }
        let mut reached = vec![0u64; self.steps.len()];
        for events in per_follower.values() {
            let depth = self.deepest(events, since, window);
            for r in reached.iter_mut().take(depth) {
                *r += 1;
            }
        }
        let first = reached.first().copied().unwrap_or(0);
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepResult {
                label: s.label(),
                followers: reached[i],
                from_previous: if i == 0 {
                    None
                } else {
                    crate::articles::rate(reached[i], reached[i - 1])
                },
                from_first: crate::articles::rate(reached[i], first),
            })
            .collect()
    }

    /// How many steps one follower's entries (time-ordered) reach.
    fn deepest(&self, events: &[&LoggedEvent], since: u64, window: u64) -> usize {
        let mut best = 0;
        for (start, e) in events.iter().enumerate() {
            if e.at < since || !self.steps[0].matches(e) {
                continue;
            }
            let deadline = e.at.saturating_add(window);
            let mut depth = 1;
            for later in &events[start + 1..] {
                if depth == self.steps.len() || later.at > deadline {
                    break;
                }
                if self.steps[depth].matches(later) {
                    depth += 1;
                }
            }
            best = best.max(depth);
            if best == self.steps.len() {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::articles::plugin_event;
    use crate::cohorts::host_event;

    const H: u64 = 3_600_000;

    fn step(kind: &str, sub: Option<&str>, prop: Option<(&str, &str)>) -> Matcher {
        Matcher {
            label: None,
            kind: kind.into(),
            sub_kind: sub.map(str::to_string),
            property: prop.map(|(n, v)| PropertyEquals {
                name: n.into(),
                value: v.into(),
            }),
        }
    }

    fn funnel() -> Funnel {
        Funnel {
            id: "buy".into(),
            name: "Follow to purchase".into(),
            steps: vec![
                step("follower_event", Some("subscribe"), None),
                step("editor.article.read", None, None),
                step("follower_event", Some("click"), Some(("event_key", "shop"))),
                step("shop.order.paid", None, None),
            ],
            window_hours: 24,
        }
    }

    fn click(at: u64, o: &str, key: &str) -> LoggedEvent {
        let mut e = host_event(at, o, "follower_event", "click");
        e.properties.push(plaza_sdk::events::Property {
            name: "event_key".into(),
            value: key.into(),
        });
        e
    }

    #[test]
    fn hand_computed_conversions() {
        let f = funnel();
        f.validate().unwrap();
        let t = 1_000 * H;
        let sub = |at, o| host_event(at, o, "follower_event", "subscribe");
        let read = |at, o| plugin_event(at, o, "editor.article.read", &[("article", "a1")]);
        let paid = |at, o| plugin_event(at, o, "shop.order.paid", &[("order_id", "1")]);
        let mut e = vec![
            // a: all four in order.
            sub(t, "a"),
            read(t + H, "a"),
            click(t + 2 * H, "a", "shop"),
            paid(t + 3 * H, "a"),
            // b: reads, clicks another menu key: reaches 2.
            sub(t, "b"),
            read(t + H, "b"),
            click(t + 2 * H, "b", "news"),
            // c: reads BEFORE subscribing, then clicks: order matters, reaches 1.
            read(t - H, "c"),
            sub(t, "c"),
            click(t + H, "c", "shop"),
            // d: reads 25 h after subscribing (outside the 24 h window): 1; but a second
            // subscribe later restarts the window and reaches 3.
            sub(t, "d"),
            read(t + 25 * H, "d"),
            sub(t + 30 * H, "d"),
            read(t + 31 * H, "d"),
            click(t + 32 * H, "d", "shop"),
            // e: subscribed before the range: does not enter.
            sub(t - 10 * H, "e"),
            read(t, "e"),
            // f: pays after the range ends: reaches 3.
            sub(t, "f"),
            read(t + H, "f"),
            click(t + 2 * H, "f", "shop"),
            paid(t + 50 * H, "f"),
        ];
        e.sort_by_key(|e| e.at);
        let r = f.evaluate(&e, t - 5 * H, t + 40 * H);
        let counts: Vec<u64> = r.iter().map(|s| s.followers).collect();
        // Entered: a b c d f = 5; read: a b d f = 4; clicked shop: a d f = 3; paid: a = 1.
        assert_eq!(counts, [5, 4, 3, 1]);
        assert_eq!(r[0].from_previous, None);
        assert_eq!(r[1].from_previous, Some(4.0 / 5.0));
        assert_eq!(r[2].from_previous, Some(3.0 / 4.0));
        assert_eq!(r[3].from_previous, Some(1.0 / 3.0));
        assert_eq!(r[3].from_first, Some(1.0 / 5.0));
        assert_eq!(r[2].label, "follower_event · click");
    }

    #[test]
    fn bad_definitions_are_refused() {
        let mut f = funnel();
        f.steps.truncate(1);
        assert_eq!(f.validate().unwrap_err().code(), "invalid");
        let mut f = funnel();
        f.id = "Bad Id".into();
        assert!(f.validate().is_err());
        let mut f = funnel();
        f.window_hours = 0;
        assert!(f.validate().is_err());
        let mut f = funnel();
        f.steps[1].kind = "editor.*".into();
        assert!(f.validate().is_err());
        assert!(serde_json::from_str::<Funnel>(r#"{"id":"x","steps":[],"extra":1}"#).is_err());
    }
}
