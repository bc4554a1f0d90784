//! Who the followers are (region and gender of the subscribed followers) and when they are
//! active (inbound messages per local hour).

use std::collections::BTreeMap;

use chrono_tz::Tz;
use plaza_sdk::events::LoggedEvent;
use serde::Serialize;

use crate::time::local_hour;

/// One value of a distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub value: String,
    pub followers: u64,
    pub share: f64,
}

/// Counts `values` (one per follower; empty = `unknown`), largest first then by name; values past
/// `top` are summed into `other`.
pub fn distribution<'a>(values: impl Iterator<Item = &'a str>, top: usize) -> Vec<Share> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for v in values {
        let v = v.trim();
        let key = if v.is_empty() { "unknown" } else { v };
        *counts.entry(key.to_string()).or_default() += 1;
        total += 1;
    }
    let mut all: Vec<(String, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if all.len() > top {
        let rest: u64 = all[top..].iter().map(|(_, n)| n).sum();
        all.truncate(top);
        all.push(("other".into(), rest));
    }
    all.into_iter()
        .map(|(value, followers)| Share {
            value,
            followers,
            share: crate::articles::rate(followers, total).unwrap_or(0.0),
        })
        .collect()
}

/// Inbound messages per local hour 0..=23.
pub fn active_hours<'a>(tz: Tz, entries: impl IntoIterator<Item = &'a LoggedEvent>) -> [u64; 24] {
    let mut hours = [0u64; 24];
    for e in entries.into_iter().filter(|e| e.kind == "inbound_message") {
        hours[local_hour(tz, e.at) as usize % 24] += 1;
    }
    hours
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohorts::host_event;
    use crate::time::parse_timezone;

    #[test]
    fn distributions_and_hours() {
        let d = distribution(["男", "女", "", "男", "x", "y"].into_iter(), 3);
        let rows: Vec<_> = d.iter().map(|s| (s.value.as_str(), s.followers)).collect();
        assert_eq!(rows, [("男", 2), ("unknown", 1), ("x", 1), ("other", 2)]);
        assert_eq!(d[0].share, 2.0 / 6.0);

        let sh = parse_timezone("Asia/Shanghai").unwrap();
        // 15:30Z = 23:30 local, 16:30Z = 00:30 local.
        let t = 1_714_577_400_000;
        let h = active_hours(
            sh,
            &[
                host_event(t, "a", "inbound_message", "text"),
                host_event(t + 3_600_000, "a", "inbound_message", "image"),
                host_event(t, "a", "follower_event", "click"),
            ],
        );
        assert_eq!((h[23], h[0], h.iter().sum::<u64>()), (1, 1, 2));
    }
}
