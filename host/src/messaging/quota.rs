//! Calendar arithmetic for the platform's quotas, in the account's timezone.
//!
//! A subscription account may broadcast once per calendar *day*; a service account may reach each
//! follower four times per calendar *month*. "Calendar" is the account's own: a Shanghai account's
//! day starts at 00:00 Asia/Shanghai (16:00 UTC the day before).

use chrono::{Datelike, NaiveDate, TimeZone};

use crate::error::{PlazaError, Result};

/// Broadcasts a subscription account may send per calendar day.
pub const SUBSCRIPTION_BROADCASTS_PER_DAY: u32 = 1;
/// Broadcasts a service account may deliver to one follower per calendar month.
pub const SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH: usize = 4;

fn tz(timezone: &str) -> Result<chrono_tz::Tz> {
    timezone
        .parse()
        .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))
}

fn local_date(now_ms: u64, timezone: &str) -> Result<(chrono_tz::Tz, NaiveDate)> {
    let tz = tz(timezone)?;
    let local = tz
        .timestamp_millis_opt(now_ms as i64)
        .single()
        .ok_or_else(|| PlazaError::internal("time out of range"))?;
    Ok((tz, local.date_naive()))
}

/// The first instant of `date` in `tz`, in ms (the earliest one if a DST gap moves midnight).
fn start_of(tz: chrono_tz::Tz, date: NaiveDate) -> u64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis() as u64)
        .unwrap_or_else(|| midnight.and_utc().timestamp_millis() as u64)
}

/// `YYYY-MM-DD` of now in the timezone, and when that day ends.
pub fn day(now_ms: u64, timezone: &str) -> Result<(String, u64)> {
    let (tz, date) = local_date(now_ms, timezone)?;
    let next = date.succ_opt().unwrap_or(date);
    Ok((date.format("%Y-%m-%d").to_string(), start_of(tz, next)))
}

/// `YYYY-MM` of now in the timezone, and when that month ends.
pub fn month(now_ms: u64, timezone: &str) -> Result<(String, u64)> {
    let (tz, date) = local_date(now_ms, timezone)?;
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    let next = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(date);
    Ok((date.format("%Y-%m").to_string(), start_of(tz, next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_follow_the_account_timezone() {
        // 2026-01-31T17:00:00Z is 2026-02-01 01:00 in Shanghai.
        let t = 1_769_878_800_000;
        assert_eq!(day(t, "UTC").unwrap().0, "2026-01-31");
        let (d, end) = day(t, "Asia/Shanghai").unwrap();
        assert_eq!(d, "2026-02-01");
        assert_eq!(end, 1_769_961_600_000); // 2026-02-01T16:00:00Z
        assert_eq!(month(t, "UTC").unwrap().0, "2026-01");
        let (m, end) = month(t, "Asia/Shanghai").unwrap();
        assert_eq!(m, "2026-02");
        assert_eq!(end, 1_772_294_400_000); // 2026-02-28T16:00:00Z = March 1st in Shanghai
        let (m, _) = month(1_798_761_600_000, "UTC").unwrap(); // 2027-01-01T00:00Z
        assert_eq!(m, "2027-01");
    }
}
