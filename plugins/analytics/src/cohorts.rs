//! Retention cohorts.
//!
//! * The **cohort** of local day D is the followers whose `subscribe` event fell on D (in the
//!   account's timezone). A follower who subscribes twice on D counts once; one who subscribes on
//!   several days belongs to each of those cohorts.
//! * A follower of cohort D is **retained at day k** when they have an inbound message, or a
//!   follower event other than `subscribe`/`unsubscribe` (a menu click, a scan, a location …), on
//!   local day D + k. Re-subscribing is not activity.
//! * Day D + k that has not ended yet (after today) gives `null`: the answer is not known yet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use plaza_sdk::events::LoggedEvent;
use serde::Serialize;

use crate::time::{DATE_FORMAT, DateRange, local_date};

/// The days after subscribing at which retention is reported.
pub const OFFSETS: [i64; 3] = [1, 7, 30];

/// One cohort's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    pub date: String,
    pub size: u64,
    /// Per offset in [`OFFSETS`]: followers retained, `null` if day D + k is after today.
    pub retained: Vec<Option<u64>>,
    /// `retained / size` per offset.
    pub rate: Vec<Option<f64>>,
}

/// Whether an entry counts as the follower being active (see the module docs).
pub fn is_activity(e: &LoggedEvent) -> bool {
    match e.kind.as_str() {
        "inbound_message" => true,
        "follower_event" => !matches!(e.sub_kind.as_str(), "subscribe" | "unsubscribe"),
        _ => false,
    }
}

/// Cohorts of the days of `range` from `entries` (the range's subscribes and the activity of the
/// 30 days after), with `today` as the last day whose answer is known.
pub fn cohorts(range: DateRange, tz: Tz, today: NaiveDate, entries: &[LoggedEvent]) -> Vec<Cohort> {
    let mut members: BTreeMap<NaiveDate, BTreeSet<&str>> = BTreeMap::new();
    let mut active: HashMap<&str, HashSet<NaiveDate>> = HashMap::new();
    for e in entries {
        let Some(openid) = e.openid.as_deref() else {
            continue;
        };
        let day = local_date(tz, e.at);
        if e.kind == "follower_event" && e.sub_kind == "subscribe" {
            if range.index(day).is_some() {
                members.entry(day).or_default().insert(openid);
            }
        } else if is_activity(e) {
            active.entry(openid).or_default().insert(day);
        }
    }
    range
        .days()
        .map(|d| {
            let empty = BTreeSet::new();
            let cohort = members.get(&d).unwrap_or(&empty);
            let size = cohort.len() as u64;
            let retained: Vec<Option<u64>> = OFFSETS
                .iter()
                .map(|k| {
                    let target = d + Duration::days(*k);
                    (target <= today).then(|| {
                        cohort
                            .iter()
                            .filter(|o| active.get(*o).is_some_and(|days| days.contains(&target)))
                            .count() as u64
                    })
                })
                .collect();
            let rate = retained
                .iter()
                .map(|r| r.and_then(|r| crate::articles::rate(r, size)))
                .collect();
            Cohort {
                date: d.format(DATE_FORMAT).to_string(),
                size,
                retained,
                rate,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) fn host_event(at: u64, openid: &str, kind: &str, sub_kind: &str) -> LoggedEvent {
    LoggedEvent {
        id: format!("{at:013}-x"),
        at,
        kind: kind.into(),
        sub_kind: sub_kind.into(),
        openid: Some(openid.into()),
        plugin: None,
        properties: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{day_start_ms, parse_date, parse_timezone};

    const H: u64 = 3_600_000;

    #[test]
    fn hand_computed_cohorts_in_shanghai_days() {
        let sh = parse_timezone("Asia/Shanghai").unwrap();
        let d1 = parse_date("d", "2024-05-01").unwrap();
        let day = |k: i64| day_start_ms(sh, d1 + Duration::days(k));
        let range = DateRange {
            from: d1,
            to: d1 + Duration::days(1),
        };
        let today = d1 + Duration::days(7);
        let sub = |at, o| host_event(at, o, "follower_event", "subscribe");
        let msg = |at, o| host_event(at, o, "inbound_message", "text");
        let e = vec![
            // Cohort May 1: a, b, c (c at 23:30 local, i.e. 15:30 UTC).
            sub(day(0) + H, "a"),
            sub(day(0) + 2 * H, "b"),
            sub(day(1) - H / 2, "c"),
            sub(day(0) + 3 * H, "a"), // twice the same day: once
            // Cohort May 2: d (00:30 local on May 2, still May 1 in UTC).
            sub(day(1) + H / 2, "d"),
            // a active on day 1 (message) and day 7 (menu click); b only on day 0.
            msg(day(1) + 5 * H, "a"),
            host_event(day(7) + H, "a", "follower_event", "click"),
            msg(day(0) + 5 * H, "b"),
            // c: re-subscribing on day 1 is not activity; a message at 23:59 local of day 7 is.
            sub(day(1) + H, "c"),
            msg(day(8) - 60_000, "c"),
            // d: a message on May 3 (its day 1).
            msg(day(2) + H, "d"),
            host_event(day(2) + 2 * H, "d", "follower_event", "unsubscribe"),
        ];
        let c = cohorts(range, sh, today, &e);
        assert_eq!(c[0].date, "2024-05-01");
        assert_eq!(c[0].size, 3);
        assert_eq!(c[0].retained, [Some(1), Some(2), None]);
        assert_eq!(c[0].rate[0], Some(1.0 / 3.0));
        // May 2's cohort is {c (re-subscribed), d}: day 1 is May 3 (d), day 7 is May 9, after today.
        assert_eq!(c[1].size, 2);
        assert_eq!(c[1].retained, [Some(1), None, None]);
    }
}
