//! Reading the event log: filtered, paged listing and daily aggregates in the account's timezone,
//! both one ordered scan over the account's time range.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use super::{EventKind, EventLog, LoggedEvent, MAX_AT, decode, header, time_key};
use crate::error::{PlazaError, Result};
use crate::storage::backend::prefix;

/// Entries one listing request examines at most (filters that match rarely return a short page
/// and a cursor to continue from, rather than scanning the whole log in one request).
pub const SCAN_BUDGET: usize = 100_000;
/// Days one aggregate request may span.
pub const MAX_DAYS: i64 = 366;
const CHUNK: usize = 2048;

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Inclusive, ms since the epoch.
    pub from: u64,
    /// Exclusive, ms since the epoch; `None` = no end.
    pub to: Option<u64>,
    /// Empty = every kind.
    pub kinds: Vec<EventKind>,
    pub openid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<LoggedEvent>,
    /// Pass as `cursor` for the next page; `None` when the range is exhausted.
    pub next_cursor: Option<String>,
}

/// Counts of one calendar day in the account's timezone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// First instant of the day, ms since the epoch.
    pub start: u64,
    pub total: u64,
    /// Per kind: `inbound_message`, `follower_event`, `delivery` (all present, zero or not).
    pub counts: BTreeMap<&'static str, u64>,
    /// Per kind, by message type, event name or delivery kind.
    pub detail: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// Cursors are entry ids: `{13 digits}-{digits}`.
fn check_cursor(c: &str) -> Result<()> {
    let ok = c.len() <= 64
        && c.len() > 14
        && c.as_bytes()[13] == b'-'
        && c.bytes()
            .enumerate()
            .all(|(i, b)| i == 13 || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(PlazaError::invalid(format!(
            "cursor {c:?} is not one this API returned"
        )))
    }
}

fn after(mut k: Vec<u8>) -> Vec<u8> {
    k.push(0);
    k
}

impl EventLog {
    /// Entries matching `filter`, oldest first, at most `limit`, continuing after `cursor`.
    pub fn list(
        &self,
        account: &str,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage> {
        let base = prefix(&[account]);
        let mut start = time_key(account, filter.from);
        if let Some(c) = cursor {
            check_cursor(c)?;
            let ck = after([base.as_slice(), c.as_bytes()].concat());
            if ck > start {
                start = ck;
            }
        }
        let end = time_key(account, filter.to.unwrap_or(MAX_AT));
        let mut events = Vec::new();
        let mut scanned = 0;
        while start < end {
            let batch = self.tree.range(&start, &end, CHUNK)?;
            let Some((last, _)) = batch.last() else { break };
            let next_start = after(last.clone());
            for (k, v) in &batch {
                scanned += 1;
                let Some((kind, _, _)) = header(v) else {
                    continue;
                };
                let id = || String::from_utf8_lossy(&k[base.len()..]).into_owned();
                if filter.kinds.is_empty() || filter.kinds.contains(&kind) {
                    let ev = decode(base.len(), k, v)?;
                    if filter.openid.as_ref().is_none_or(|o| *o == ev.openid) {
                        events.push(ev);
                    }
                }
                if events.len() >= limit {
                    let more = !self.tree.range(&after(k.clone()), &end, 1)?.is_empty();
                    return Ok(EventPage {
                        events,
                        next_cursor: more.then(id),
                    });
                }
                if scanned >= SCAN_BUDGET {
                    return Ok(EventPage {
                        events,
                        next_cursor: Some(id()),
                    });
                }
            }
            start = next_start;
        }
        Ok(EventPage {
            events,
            next_cursor: None,
        })
    }

    /// Counts per kind (and sub-kind) for each day `from..=to` in `tz`, every day present.
    pub fn daily(
        &self,
        account: &str,
        tz: chrono_tz::Tz,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounts>> {
        let span = (to - from).num_days() + 1;
        if span < 1 {
            return Err(PlazaError::invalid(format!(
                "`from` ({from}) is after `to` ({to})"
            )));
        }
        if span > MAX_DAYS {
            return Err(PlazaError::invalid(format!(
                "{span} days requested; at most {MAX_DAYS} per request"
            )));
        }
        let dates: Vec<NaiveDate> = from.iter_days().take(span as usize).collect();
        let mut days: Vec<DayCounts> = dates
            .iter()
            .map(|d| DayCounts {
                date: d.format("%Y-%m-%d").to_string(),
                start: start_of_day(tz, *d),
                total: 0,
                counts: EventKind::ALL.iter().map(|k| (k.name(), 0)).collect(),
                detail: EventKind::ALL
                    .iter()
                    .map(|k| (k.name(), BTreeMap::new()))
                    .collect(),
            })
            .collect();
        let end_ms = to.succ_opt().map(|d| start_of_day(tz, d)).unwrap_or(MAX_AT);
        let base_len = prefix(&[account]).len();
        let mut start = time_key(account, days[0].start);
        let end = time_key(account, end_ms);
        let mut day = 0;
        while start < end {
            let batch = self.tree.range(&start, &end, CHUNK)?;
            let Some((last, _)) = batch.last() else { break };
            let next_start = after(last.clone());
            for (k, v) in &batch {
                let Some(at) = k
                    .get(base_len..base_len + 13)
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| d.parse::<u64>().ok())
                else {
                    continue;
                };
                while day + 1 < days.len() && at >= days[day + 1].start {
                    day += 1;
                }
                let Some((kind, sub, _)) = header(v) else {
                    continue;
                };
                let d = &mut days[day];
                d.total += 1;
                *d.counts.entry(kind.name()).or_default() += 1;
                let sub = String::from_utf8_lossy(sub);
                let detail = d.detail.entry(kind.name()).or_default();
                match detail.get_mut(sub.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        detail.insert(sub.into_owned(), 1);
                    }
                }
            }
            start = next_start;
        }
        Ok(days)
    }
}

/// The first instant of `date` in `tz` (ms). Midnight skipped by a DST change moves to the first
/// local time that exists that day.
pub fn start_of_day(tz: chrono_tz::Tz, date: NaiveDate) -> u64 {
    let mut local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..96 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.timestamp_millis().max(0) as u64;
        }
        local += chrono::Duration::minutes(15);
    }
    local.and_utc().timestamp_millis().max(0) as u64
}

/// The calendar date of `at_ms` in `tz`.
pub fn local_date(tz: chrono_tz::Tz, at_ms: u64) -> NaiveDate {
    tz.timestamp_millis_opt(at_ms.min(MAX_AT) as i64)
        .earliest()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

pub fn parse_timezone(timezone: &str) -> Result<chrono_tz::Tz> {
    timezone
        .parse()
        .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A point in time from a query parameter: milliseconds since the epoch, an RFC 3339 time, or a
/// date `YYYY-MM-DD` in the account's timezone — its start, or with `end_of_day` the start of the
/// next day (so that `to=2024-05-01` includes all of May 1).
pub fn parse_time(name: &str, s: &str, tz: chrono_tz::Tz, end_of_day: bool) -> Result<u64> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms.min(MAX_AT));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis().clamp(0, MAX_AT as i64) as u64);
    }
    if let Some(d) = parse_date(s) {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(start_of_day(tz, d));
    }
    Err(PlazaError::invalid(format!(
        "`{name}` must be milliseconds since the epoch, an RFC 3339 time or a date YYYY-MM-DD, not {s:?}"
    )))
}

/// A calendar date from a query parameter: `YYYY-MM-DD`, or a time (ms or RFC 3339) whose date in
/// the account's timezone is taken.
pub fn parse_day(name: &str, s: &str, tz: chrono_tz::Tz) -> Result<NaiveDate> {
    if let Some(d) = parse_date(s) {
        return Ok(d);
    }
    parse_time(name, s, tz, false).map(|ms| local_date(tz, ms))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ev, log};
    use super::*;

    // 2024-05-01T15:30:00Z = 23:30 in Shanghai (May 1); 16:30Z = 00:30 May 2 in Shanghai.
    const T_1530Z: u64 = 1_714_577_400_000;
    const HOUR: u64 = 3_600_000;

    fn shanghai() -> chrono_tz::Tz {
        parse_timezone("Asia/Shanghai").unwrap()
    }

    #[test]
    fn listing_filters_and_pages_with_a_stable_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path());
        let mut all = Vec::new();
        for i in 0..10u64 {
            let (kind, sub) = match i % 3 {
                0 => (EventKind::InboundMessage, "text"),
                1 => (EventKind::Delivery, "reply"),
                _ => (EventKind::FollowerEvent, "subscribe"),
            };
            let e = ev(1000 + i, i, kind, if i < 5 { "o-1" } else { "o-2" }, sub);
            log.append("a", &e).unwrap();
            all.push(e);
        }
        log.append("b", &ev(1000, 99, EventKind::Delivery, "o-1", "reply"))
            .unwrap();

        let every = EventFilter::default();
        let page = log.list("a", &every, None, 100).unwrap();
        assert_eq!(page.events, all);
        assert_eq!(page.next_cursor, None);

        // Paging by 3 yields the same entries, each once.
        let mut paged = Vec::new();
        let mut cursor = None;
        loop {
            let p = log.list("a", &every, cursor.as_deref(), 3).unwrap();
            paged.extend(p.events);
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(paged, all);

        let deliveries = EventFilter {
            kinds: vec![EventKind::Delivery],
            openid: Some("o-2".into()),
            ..Default::default()
        };
        let got = log.list("a", &deliveries, None, 100).unwrap().events;
        assert_eq!(
            got.iter().map(|e| e.at).collect::<Vec<_>>(),
            vec![1007],
            "{got:?}"
        );
        let window = EventFilter {
            from: 1002,
            to: Some(1004),
            ..Default::default()
        };
        let got = log.list("a", &window, None, 100).unwrap().events;
        assert_eq!(
            got.iter().map(|e| e.at).collect::<Vec<_>>(),
            vec![1002, 1003]
        );
        assert!(log.list("a", &every, Some("bogus"), 10).is_err());
    }

    #[test]
    fn daily_counts_follow_the_account_timezone() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path());
        let entries = [
            (T_1530Z - 20 * HOUR, EventKind::InboundMessage, "text"), // May 1 03:30 local
            (T_1530Z, EventKind::InboundMessage, "image"),            // May 1 23:30 local
            (T_1530Z + 1000, EventKind::Delivery, "reply"),           // May 1 23:30 local
            (T_1530Z + HOUR, EventKind::FollowerEvent, "subscribe"),  // May 2 00:30 local
            (T_1530Z + 2 * HOUR, EventKind::Delivery, "broadcast"),   // May 2 01:30 local
        ];
        for (i, (at, kind, sub)) in entries.iter().enumerate() {
            log.append("a", &ev(*at, i as u64, *kind, "o", sub))
                .unwrap();
        }
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let days = log
            .daily("a", shanghai(), d("2024-04-30"), d("2024-05-03"))
            .unwrap();
        let summary: Vec<(&str, u64, u64, u64, u64)> = days
            .iter()
            .map(|d| {
                (
                    d.date.as_str(),
                    d.total,
                    d.counts["inbound_message"],
                    d.counts["follower_event"],
                    d.counts["delivery"],
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("2024-04-30", 0, 0, 0, 0),
                ("2024-05-01", 3, 2, 0, 1),
                ("2024-05-02", 2, 0, 1, 1),
                ("2024-05-03", 0, 0, 0, 0),
            ]
        );
        assert_eq!(days[1].detail["inbound_message"]["image"], 1);
        assert_eq!(days[2].detail["delivery"]["broadcast"], 1);
        assert_eq!(days[1].start, T_1530Z - 23 * HOUR - 30 * 60_000);

        // In UTC the first entry (April 30, 19:30Z) falls on the day before; the rest on May 1.
        let utc = parse_timezone("UTC").unwrap();
        let days = log
            .daily("a", utc, d("2024-04-30"), d("2024-05-01"))
            .unwrap();
        assert_eq!((days[0].total, days[1].total), (1, 4));

        assert!(
            log.daily("a", utc, d("2024-05-02"), d("2024-05-01"))
                .is_err()
        );
        assert!(
            log.daily("a", utc, d("2023-01-01"), d("2024-05-01"))
                .is_err()
        );
    }

    #[test]
    fn day_starts_survive_dst_changes() {
        let ny = parse_timezone("America/New_York").unwrap();
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 2024-03-10 is 23 h long in New York.
        let len = start_of_day(ny, d("2024-03-11")) - start_of_day(ny, d("2024-03-10"));
        assert_eq!(len, 23 * HOUR);
        // Chile moves clocks at midnight: 2024-09-08 00:00 does not exist in Santiago.
        let scl = parse_timezone("America/Santiago").unwrap();
        let start = start_of_day(scl, d("2024-09-08"));
        assert_eq!(local_date(scl, start), d("2024-09-08"));
        assert_eq!(local_date(scl, start - 1), d("2024-09-07"));
    }

    #[test]
    fn time_parameters() {
        let tz = shanghai();
        assert_eq!(parse_time("from", "1234", tz, false).unwrap(), 1234);
        assert_eq!(
            parse_time("from", "2024-05-01T15:30:00Z", tz, false).unwrap(),
            T_1530Z
        );
        assert_eq!(
            parse_time("from", "2024-05-02", tz, false).unwrap(),
            T_1530Z + 30 * 60_000
        );
        assert_eq!(
            parse_time("to", "2024-05-01", tz, true).unwrap(),
            T_1530Z + 30 * 60_000
        );
        assert!(parse_time("from", "yesterday", tz, false).is_err());
        assert_eq!(
            parse_day("from", &T_1530Z.to_string(), tz)
                .unwrap()
                .to_string(),
            "2024-05-01"
        );
    }
}
