//! Calendar days in the account's timezone: every "day" of this plugin is a local day, so an
//! event at 23:30 in Shanghai counts on that date even though it is 15:30 UTC, and one at 00:30
//! counts on the next date even though UTC still says the previous one.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use plaza_sdk::Error;

/// `YYYY-MM-DD`, the format of the host's daily aggregates and of the `from`/`to` parameters.
pub const DATE_FORMAT: &str = "%Y-%m-%d";

/// The account's timezone; the host validated it when the account was created.
pub fn parse_timezone(name: &str) -> Result<Tz, Error> {
    name.parse::<Tz>()
        .map_err(|_| Error::internal(format!("the account's timezone {name:?} is unknown")))
}

/// The local calendar date of `ms` (ms since the epoch) in `tz`.
pub fn local_date(tz: Tz, ms: u64) -> NaiveDate {
    local(tz, ms).date_naive()
}

/// The local hour (0-23) of `ms` in `tz`.
pub fn local_hour(tz: Tz, ms: u64) -> u32 {
    local(tz, ms).hour()
}

fn local(tz: Tz, ms: u64) -> DateTime<Tz> {
    plaza_sdk::time::local_time(ms, tz)
}

/// The first instant (ms) of local `date` in `tz`. Where a DST change skips midnight, the day
/// starts at the first local time that exists.
pub fn day_start_ms(tz: Tz, date: NaiveDate) -> u64 {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return u64::try_from(dt.timestamp_millis()).unwrap_or(0);
        }
        t += Duration::minutes(30);
    }
    u64::try_from(t.and_utc().timestamp_millis()).unwrap_or(0)
}

/// Parses a `YYYY-MM-DD` parameter, naming it in the error.
pub fn parse_date(name: &str, raw: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(raw.trim(), DATE_FORMAT)
        .map_err(|_| Error::invalid(format!("{name} {raw:?} is not a date (YYYY-MM-DD)")))
}

/// The dates `from..=to`.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// A validated, inclusive range of local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The range from the `from`/`to` parameters (each optional): default `to` is `today`,
    /// default `from` is `default_days - 1` days before `to`. Refuses a reversed range, a range
    /// ending after `today`, and one longer than `max_days`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        default_days: u32,
        max_days: u32,
    ) -> Result<DateRange, Error> {
        let to = match to.filter(|s| !s.trim().is_empty()) {
            Some(raw) => parse_date("to", raw)?,
            None => today,
        };
        let from = match from.filter(|s| !s.trim().is_empty()) {
            Some(raw) => parse_date("from", raw)?,
            None => to - Duration::days(i64::from(default_days.max(1)) - 1),
        };
        if from > to {
            return Err(Error::invalid(format!("from {from} is after to {to}")));
        }
        if to > today {
            return Err(Error::invalid(format!(
                "to {to} is in the future (today is {today} in the account's timezone)"
            )));
        }
        let range = DateRange { from, to };
        if range.len() > max_days {
            return Err(Error::invalid(format!(
                "{} days requested ({from} to {to}); at most {max_days} here — narrow the range",
                range.len()
            )));
        }
        Ok(range)
    }

    /// Number of days, both ends included.
    pub fn len(&self) -> u32 {
        u32::try_from((self.to - self.from).num_days() + 1).unwrap_or(u32::MAX)
    }

    /// Never empty (`from <= to` holds); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        days(self.from, self.to)
    }

    /// `[start of from, start of the day after to)` in ms.
    pub fn bounds_ms(&self, tz: Tz) -> (u64, u64) {
        (
            day_start_ms(tz, self.from),
            day_start_ms(tz, self.to + Duration::days(1)),
        )
    }

    /// The index of `date` in the range, if inside it.
    pub fn index(&self, date: NaiveDate) -> Option<usize> {
        if date < self.from || date > self.to {
            return None;
        }
        usize::try_from((date - self.from).num_days()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, DATE_FORMAT).unwrap()
    }

    // 2024-05-01T15:30:00Z is 23:30 in Shanghai; an hour later it is 00:30 on May 2 there
    // while UTC still says May 1.
    const T_1530Z: u64 = 1_714_577_400_000;

    #[test]
    fn local_dates_follow_the_timezone_not_utc() {
        let sh = parse_timezone("Asia/Shanghai").unwrap();
        assert_eq!(local_date(sh, T_1530Z), d("2024-05-01"));
        assert_eq!(local_hour(sh, T_1530Z), 23);
        assert_eq!(local_date(sh, T_1530Z + 3_600_000), d("2024-05-02"));
        assert_eq!(local_hour(sh, T_1530Z + 3_600_000), 0);
        assert_eq!(
            local_date(chrono_tz::UTC, T_1530Z + 3_600_000),
            d("2024-05-01")
        );
        // May 2 starts at 16:00Z on May 1.
        assert_eq!(day_start_ms(sh, d("2024-05-02")), T_1530Z + 1_800_000);
    }

    #[test]
    fn ranges_default_validate_and_bound() {
        let today = d("2024-05-31");
        let r = DateRange::parse(None, None, today, 30, 366).unwrap();
        assert_eq!((r.from, r.to, r.len()), (d("2024-05-02"), today, 30));
        let r = DateRange::parse(Some("2024-05-01"), Some("2024-05-03"), today, 30, 366).unwrap();
        assert_eq!(r.days().count(), 3);
        assert_eq!(r.index(d("2024-05-03")), Some(2));
        assert_eq!(r.index(d("2024-05-04")), None);
        for (from, to) in [
            (Some("2024-05-04"), Some("2024-05-03")),
            (Some("May 1"), None),
            (None, Some("2024-06-01")),
            (Some("2023-01-01"), None),
        ] {
            let e = DateRange::parse(from, to, today, 30, 366).unwrap_err();
            assert_eq!(e.code(), "invalid", "{from:?} {to:?}: {e:?}");
        }
    }
}
