//! Cron expressions evaluated in an account's timezone.
//!
//! Accepts the common five-field form (`min hour day month weekday`) and the six/seven-field form
//! with seconds (and year) that the `cron` crate reads.

use std::str::FromStr;

use chrono::TimeZone;

use crate::error::{PlazaError, Result};

pub struct CronExpr {
    schedule: cron::Schedule,
    tz: chrono_tz::Tz,
}

impl CronExpr {
    pub fn parse(expr: &str, timezone: &str) -> Result<Self> {
        let fields = expr.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expr}"),
            6 | 7 => expr.to_string(),
            _ => {
                return Err(PlazaError::invalid(format!(
                    "cron {expr:?}: expected 5 fields (min hour day month weekday) or 6-7 with seconds"
                )));
            }
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| PlazaError::invalid(format!("cron {expr:?}: {e}")))?;
        let tz = chrono_tz::Tz::from_str(timezone)
            .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))?;
        Ok(CronExpr { schedule, tz })
    }

    /// The first occurrence strictly after `after_ms` (ms since the epoch).
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = self.tz.timestamp_millis_opt(after_ms as i64).single()?;
        self.schedule
            .after(&after)
            .next()
            .map(|t| t.timestamp_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_fields_in_shanghai_fire_at_local_time() {
        // 09:30 every day in Asia/Shanghai is 01:30 UTC.
        let c = CronExpr::parse("30 9 * * *", "Asia/Shanghai").unwrap();
        let midnight_utc = 1_764_028_800_000; // 2025-11-25T00:00:00Z
        let next = c.next_after(midnight_utc).unwrap();
        assert_eq!(next, midnight_utc + 90 * 60 * 1000);
        assert_eq!(c.next_after(next).unwrap(), next + 24 * 3600 * 1000);
    }

    #[test]
    fn bad_expressions_are_invalid() {
        assert!(CronExpr::parse("* *", "UTC").is_err());
        assert!(CronExpr::parse("61 * * * *", "UTC").is_err());
        assert!(CronExpr::parse("* * * * *", "Mars/Base").is_err());
    }
}
