//! Reading the event log: filtered, paged listing (one ordered scan over the account's time
//! range), and the time and date parameters of listings and daily aggregates (`daily`).

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use super::kinds::KindSelector;
use super::{EventLog, LoggedEvent, MAX_AT, decode, header, time_key};
use crate::error::{PlazaError, Result};
use crate::storage::backend::prefix;

/// Entries one listing request examines at most (filters that match rarely return a short page
/// and a cursor to continue from, rather than scanning the whole log in one request).
pub const SCAN_BUDGET: usize = 100_000;
/// A budget for listings inside a plugin call (WIT `events.query`): a few ms of scanning.
pub const PLUGIN_SCAN_BUDGET: usize = 10_000;
/// Entries one page of `events.query` holds at most (a larger `limit` is cut to it).
pub const MAX_PLUGIN_PAGE: u32 = 1000;
/// Days one aggregate request may span.
pub const MAX_DAYS: i64 = 366;
pub(super) const CHUNK: usize = 2048;

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Inclusive, ms since the epoch.
    pub from: u64,
    /// Exclusive, ms since the epoch; `None` = no end.
    pub to: Option<u64>,
    /// Empty = every kind; else entries any selector matches.
    pub kinds: Vec<KindSelector>,
    /// Only entries about this follower.
    pub openid: Option<String>,
}

impl EventFilter {
    /// A filter as plugins give it (WIT `events.filter`): `kinds` parsed as [`KindSelector`]s
    /// (at most 32; an error names the bad one), `since` inclusive (none = the start of the
    /// log), `until` exclusive (none = `now`, the host clock).
    pub fn for_plugin(
        kinds: &[String],
        openid: Option<String>,
        since: Option<u64>,
        until: Option<u64>,
        now: u64,
    ) -> Result<Self> {
        Ok(EventFilter {
            from: since.unwrap_or(0).min(MAX_AT),
            to: Some(until.unwrap_or(now).min(MAX_AT)),
            kinds: KindSelector::parse_list(kinds)?,
            openid,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<LoggedEvent>,
    /// Pass as `cursor` for the next page; `None` when the range is exhausted.
    pub next_cursor: Option<String>,
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

pub(super) fn after(mut k: Vec<u8>) -> Vec<u8> {
    k.push(0);
    k
}

impl EventLog {
    /// Entries matching `filter`, oldest first, at most `limit`, continuing after `cursor` (an
    /// entry id, as `next_cursor` gives). Stops early with a cursor after examining
    /// [`SCAN_BUDGET`] entries.
    pub fn list(
        &self,
        account: &str,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage> {
        self.list_within(account, filter, cursor, limit, SCAN_BUDGET)
    }

    /// [`EventLog::list`] examining at most `budget` entries (WIT `events.query`: a plugin call
    /// has a deadline, so the host impl passes a smaller budget, e.g. [`PLUGIN_SCAN_BUDGET`]).
    /// A page may then be short, even empty, with a cursor to continue from.
    pub fn list_within(
        &self,
        account: &str,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
        budget: usize,
    ) -> Result<EventPage> {
        let limit = limit.max(1);
        let budget = budget.max(1);
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
                let Some((kind, sub, _)) = header(v) else {
                    continue;
                };
                let id = || String::from_utf8_lossy(&k[base.len()..]).into_owned();
                if KindSelector::any(&filter.kinds, kind, sub) {
                    let ev = decode(base.len(), k, v)?;
                    if filter.openid.is_none() || filter.openid == ev.openid {
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
                if scanned >= budget {
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
}

impl EventLog {
    /// WIT `events.query` over the plugin's own account (the host impl checks `events.read`):
    /// oldest first, at most `limit` (1 to [`MAX_PLUGIN_PAGE`]) entries after `cursor`,
    /// examining at most [`PLUGIN_SCAN_BUDGET`] entries — a rarely matching filter returns a
    /// short (even empty) page with a cursor to continue. Errors: `invalid` cursor.
    pub fn query_for_plugin(
        &self,
        account: &str,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<EventPage> {
        let limit = limit.clamp(1, MAX_PLUGIN_PAGE) as usize;
        self.list_within(account, filter, cursor, limit, PLUGIN_SCAN_BUDGET)
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

/// A calendar date given exactly as `YYYY-MM-DD` (WIT `events.daily`).
pub fn parse_date_param(name: &str, s: &str) -> Result<NaiveDate> {
    parse_date(s).ok_or_else(|| {
        PlazaError::invalid(format!("`{name}` must be a date YYYY-MM-DD, not {s:?}"))
    })
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
    use super::super::EventKind;
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
            kinds: vec![KindSelector::Kind(EventKind::Delivery)],
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
            .daily("a", shanghai(), d("2024-04-30"), d("2024-05-03"), &[])
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
            .daily("a", utc, d("2024-04-30"), d("2024-05-01"), &[])
            .unwrap();
        assert_eq!((days[0].total, days[1].total), (1, 4));

        assert!(
            log.daily("a", utc, d("2024-05-02"), d("2024-05-01"), &[])
                .is_err()
        );
        assert!(
            log.daily("a", utc, d("2023-01-01"), d("2024-05-01"), &[])
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
