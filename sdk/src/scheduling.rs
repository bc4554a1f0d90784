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
