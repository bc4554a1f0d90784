//! Calendar time in the account's timezone.
//!
//! Daily quotas, "one read per follower per day", daily budgets and reports are all about the
//! account's *local* day: an event at 23:30 in Shanghai is on that date although UTC (15:30)
//! agrees, and one at 00:30 is on the next date although UTC still says the previous one. The
//! account's IANA zone is [`Account::timezone`](crate::Account) (also `ctx.account.timezone`).

pub use chrono::{DateTime, NaiveDate};
pub use chrono_tz::Tz;

/// The zone named `name`. The host validates an account's zone when the account is created, so an
/// unknown name comes only from hand-made data; it falls back to Asia/Shanghai, the platform's
/// default zone.
pub fn timezone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// `at_ms` (milliseconds since the epoch) as a time in `tz`. Instants past what chrono represents
/// saturate rather than fail.
pub fn local_time(at_ms: u64, tz: Tz) -> DateTime<Tz> {
    let utc = DateTime::from_timestamp_millis(i64::try_from(at_ms).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<chrono::Utc>::MAX_UTC);
    utc.with_timezone(&tz)
}

/// The calendar day of `at_ms` in `tz`.
pub fn local_date(at_ms: u64, tz: Tz) -> NaiveDate {
    local_time(at_ms, tz).date_naive()
}

/// The calendar day of `at_ms` in `tz` as `YYYY-MM-DD` (the format of the host's daily
/// aggregates).
pub fn local_day(at_ms: u64, tz: Tz) -> String {
    local_date(at_ms, tz).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-01 15:30 UTC is 23:30 in Shanghai; 16:30 UTC is 00:30 on 03-02 there.
    const LATE_EVENING: u64 = 1_772_379_000_000;
    const AFTER_MIDNIGHT: u64 = LATE_EVENING + 3_600_000;

    #[test]
    fn the_day_is_the_accounts_local_day_not_utcs() {
        let shanghai = timezone("Asia/Shanghai");
        assert_eq!(local_day(LATE_EVENING, shanghai), "2026-03-01");
        assert_eq!(local_day(AFTER_MIDNIGHT, shanghai), "2026-03-02");
        assert_eq!(local_day(AFTER_MIDNIGHT, timezone("UTC")), "2026-03-01");
        assert_eq!(
            local_day(AFTER_MIDNIGHT, timezone("America/Los_Angeles")),
            "2026-03-01"
        );
    }

    #[test]
    fn unknown_zones_fall_back_to_shanghai_and_huge_instants_saturate() {
        assert_eq!(timezone("Mars/Olympus"), chrono_tz::Asia::Shanghai);
        assert_eq!(timezone(""), chrono_tz::Asia::Shanghai);
        let far = local_date(u64::MAX, timezone("UTC"));
        assert_eq!(far, DateTime::<chrono::Utc>::MAX_UTC.date_naive());
    }
}
