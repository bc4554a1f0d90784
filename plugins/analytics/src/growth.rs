//! User growth per local day, from the host's daily aggregates of `follower_event` entries.
//!
//! **Cumulative** is the number of subscribed followers at the end of each day. It is anchored on
//! the number subscribed now (from the follower list) and walked backwards through each day's
//! net change: `cumulative(d - 1) = cumulative(d) - net(d)`, where `net = new - unfollowed`, and
//! the days after the range (up to today) are first subtracted from the anchor. Followers that
//! exist without a logged subscribe (e.g. imported by a follower sync) are therefore counted from
//! before the range; it is the number a person would check against the follower list.

use chrono::NaiveDate;
use plaza_sdk::events::DayCount;
use serde::Serialize;

use crate::time::{DATE_FORMAT, DateRange};

/// One day of user growth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrowthDay {
    pub date: String,
    /// Subscribe events that day.
    pub new: u64,
    /// Unsubscribe events that day.
    pub unfollowed: u64,
    /// `new - unfollowed`.
    pub net: i64,
    /// Followers subscribed at the end of the day (see the module docs).
    pub cumulative: i64,
}

/// Growth over `range` from `counts` (daily `follower_event` counts over `range`),
/// `subscribed_now` and `net_after` (the net change from the day after `range.to` through today).
pub fn growth(
    range: DateRange,
    counts: &[DayCount],
    subscribed_now: u64,
    net_after: i64,
) -> Vec<GrowthDay> {
    let mut days: Vec<GrowthDay> = range
        .days()
        .map(|d| GrowthDay {
            date: d.format(DATE_FORMAT).to_string(),
            new: 0,
            unfollowed: 0,
            net: 0,
            cumulative: 0,
        })
        .collect();
    for c in counts.iter().filter(|c| c.kind == "follower_event") {
        let Some(i) = NaiveDate::parse_from_str(&c.date, DATE_FORMAT)
            .ok()
            .and_then(|d| range.index(d))
        else {
            continue;
        };
        match c.sub_kind.as_str() {
            "subscribe" => days[i].new += c.count,
            "unsubscribe" => days[i].unfollowed += c.count,
            _ => {}
        }
    }
    let mut end_of_day = i64::try_from(subscribed_now).unwrap_or(i64::MAX) - net_after;
    for day in days.iter_mut().rev() {
        day.net = i64::try_from(day.new).unwrap_or(i64::MAX)
            - i64::try_from(day.unfollowed).unwrap_or(i64::MAX);
        day.cumulative = end_of_day;
        end_of_day -= day.net;
    }
    days
}

/// The net change (subscribes minus unsubscribes) in `counts`.
pub fn net(counts: &[DayCount]) -> i64 {
    counts
        .iter()
        .filter(|c| c.kind == "follower_event")
        .map(|c| match c.sub_kind.as_str() {
            "subscribe" => i64::try_from(c.count).unwrap_or(0),
            "unsubscribe" => -i64::try_from(c.count).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
pub(crate) fn day_count(date: &str, kind: &str, sub_kind: &str, count: u64) -> DayCount {
    DayCount {
        date: date.into(),
        kind: kind.into(),
        sub_kind: sub_kind.into(),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_date;

    #[test]
    fn growth_walks_back_from_the_current_count() {
        let range = DateRange {
            from: parse_date("from", "2024-05-01").unwrap(),
            to: parse_date("to", "2024-05-03").unwrap(),
        };
        let counts = [
            day_count("2024-05-01", "follower_event", "subscribe", 5),
            day_count("2024-05-01", "follower_event", "click", 9),
            day_count("2024-05-02", "follower_event", "unsubscribe", 2),
            day_count("2024-05-03", "follower_event", "subscribe", 3),
            day_count("2024-05-03", "follower_event", "unsubscribe", 1),
            day_count("2024-05-03", "inbound_message", "subscribe", 100),
        ];
        // 12 subscribed now; the two days after the range gained 4 net: 8 at the end of May 3.
        let g = growth(range, &counts, 12, 4);
        let rows: Vec<_> = g
            .iter()
            .map(|d| (d.date.as_str(), d.new, d.unfollowed, d.net, d.cumulative))
            .collect();
        assert_eq!(
            rows,
            [
                ("2024-05-01", 5, 0, 5, 8 - 2 + 2),
                ("2024-05-02", 0, 2, -2, 8 - 2),
                ("2024-05-03", 3, 1, 2, 8),
            ]
        );
        assert_eq!(net(&counts), 5 - 2 + 3 - 1);
    }
}
