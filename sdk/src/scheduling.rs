//! Timers. A fired job arrives at [`Plugin::on_event`](crate::Plugin::on_event) as
//! [`Event::Timer`](crate::Event::Timer) carrying the payload given here. Requires the
//! `scheduling` capability.

use crate::__private::plaza::platform::scheduling as wit;
use crate::{Error, Timestamp};

pub use wit::Job;

/// Runs once at `when` (milliseconds since the Unix epoch); returns the job id.
pub fn at(when: Timestamp, payload: impl AsRef<[u8]>) -> Result<String, Error> {
    wit::at(when, payload.as_ref())
}

/// Runs on a cron schedule evaluated in the account's timezone; returns the job id.
///
/// `cron` is read as POSIX/Vixie cron: five fields `minute hour day-of-month month day-of-week`.
/// Day of week `0` and `7` are Sunday and `1` is Monday, so `"0 9 * * 1-5"` (or
/// `"0 9 * * mon-fri"`) is 09:00 Monday to Friday. Names (`jan`–`dec`, `sun`–`sat`) are
/// case-insensitive; each field takes `*`, values, ranges, lists and steps (`*/15`, `1-10/2`).
/// When both day fields are restricted (neither starts with `*`), a day matching either fires:
/// `"0 0 13 * fri"` fires on every 13th and every Friday.
///
/// Also accepted: a leading seconds field (six fields), `L` in the day of month (last day),
/// `fri#2` / `fri#L` in the day of week (second / last Friday of the month), and `@yearly`,
/// `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Anything else (Quartz's
/// `?`, a year field, `@reboot`) fails with [`Error::Invalid`] naming the expression.
///
/// Across daylight-saving changes a job at a fixed time fires once a day: in the skipped hour it
/// fires right after the jump, in the repeated hour only in the first pass. Interval jobs
/// (`*/15 * * * *`) follow real time.
pub fn every(cron: &str, payload: impl AsRef<[u8]>) -> Result<String, Error> {
    wit::every(cron, payload.as_ref())
}

/// Cancels a job; `true` if it existed.
pub fn cancel(job_id: &str) -> Result<bool, Error> {
    wit::cancel(job_id)
}

/// This plugin's pending jobs on the current account.
pub fn list() -> Result<Vec<Job>, Error> {
    wit::list()
}
