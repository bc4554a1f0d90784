//! Scheduling: durable one-shot and cron jobs for plugins, fired at least once into `on-event`.
//!
//! Policy after downtime ([`MissedJobs`], `plaza serve --missed-jobs`): by default
//! (`fire-once`) a one-shot job that came due while the host was down fires once, late, and a cron
//! job fires once for all the occurrences it missed, then continues from the next occurrence after
//! now. With `skip`, an occurrence more than [`MISSED_GRACE_MS`] late is not fired at all (a cron
//! job moves on to its next occurrence; a one-shot job is dropped). Jobs carry a stable id so
//! plugins can de-duplicate a repeated firing (delivery is at least once).

pub mod cron_expr;
pub mod host;
pub mod runner;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::backend::{Tree, key, prefix};

/// What to do with an occurrence that came due while the host was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MissedJobs {
    /// Fire it once, late (and once only, however many cron occurrences were missed).
    #[default]
    FireOnce,
    /// Do not fire occurrences more than `MISSED_GRACE_MS` late.
    Skip,
}

/// How late an occurrence may be and still count as on time under [`MissedJobs::Skip`].
pub const MISSED_GRACE_MS: u64 = 60_000;

/// Jobs one installation may hold at once.
pub const MAX_JOBS_PER_INSTALLATION: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    At { at: u64 },
    Cron { expr: String, timezone: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub account: String,
    pub plugin: String,
    pub kind: JobKind,
    /// When it fires next; `None` once a one-shot job has fired.
    pub next_run: Option<u64>,
    /// The occurrence being delivered (stays fixed across retries of that occurrence).
    pub scheduled_for: u64,
    pub payload: Vec<u8>,
    /// Delivery attempts of the current occurrence so far.
    pub attempt: u32,
    pub created_at: u64,
}

pub struct JobStore {
    jobs: Arc<dyn Tree>,
    due: Arc<dyn Tree>,
}

fn due_key(at: u64, job: &Job) -> Vec<u8> {
    let mut k = format!("{at:020}").into_bytes();
    k.push(0);
    k.extend_from_slice(&key(&[&job.account, &job.plugin, &job.id]));
    k
}

impl JobStore {
    pub fn new(jobs: Arc<dyn Tree>, due: Arc<dyn Tree>) -> Self {
        JobStore { jobs, due }
    }

    fn job_key(job: &Job) -> Vec<u8> {
        key(&[&job.account, &job.plugin, &job.id])
    }

    /// Persists a new job (the caller commits before acknowledging).
    pub fn add(&self, job: &Job) -> Result<()> {
        if self.list(&job.account, &job.plugin)?.len() >= MAX_JOBS_PER_INSTALLATION {
            return Err(PlazaError::QuotaExceeded {
                message: format!("installation already has {MAX_JOBS_PER_INSTALLATION} jobs"),
                resets_at: None,
            });
        }
        self.put(job)
    }

    fn put(&self, job: &Job) -> Result<()> {
        self.jobs
            .insert(&Self::job_key(job), &serde_json::to_vec(job)?)?;
        if let Some(at) = job.next_run {
            self.due.insert(&due_key(at, job), b"")?;
        }
        Ok(())
    }

    pub fn get(&self, account: &str, plugin: &str, id: &str) -> Result<Option<Job>> {
        Ok(self
            .jobs
            .get(&key(&[account, plugin, id]))?
            .map(|b| serde_json::from_slice(&b))
            .transpose()?)
    }

    pub fn cancel(&self, account: &str, plugin: &str, id: &str) -> Result<bool> {
        let Some(job) = self.get(account, plugin, id)? else {
            return Ok(false);
        };
        self.remove(&job)?;
        Ok(true)
    }

    pub fn remove(&self, job: &Job) -> Result<()> {
        if let Some(at) = job.next_run {
            self.due.remove(&due_key(at, job))?;
        }
        self.jobs.remove(&Self::job_key(job))?;
        Ok(())
    }

    pub fn list(&self, account: &str, plugin: &str) -> Result<Vec<Job>> {
        self.jobs
            .scan_prefix(&prefix(&[account, plugin]), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }

    /// Jobs due at or before `now`, oldest first.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<Job>> {
        let end = format!("{:020}\u{1}", now).into_bytes();
        let mut out = Vec::new();
        for (k, _) in self.due.range(b"", &end, limit)? {
            let job_key = k.splitn(2, |b| *b == 0).nth(1).unwrap_or_default().to_vec();
            match self.jobs.get(&job_key)? {
                Some(b) => out.push(serde_json::from_slice(&b)?),
                // A cancelled job's stale due entry.
                None => {
                    self.due.remove(&k)?;
                }
            }
        }
        Ok(out)
    }

    /// Moves a job to a new next run (or ends it with `None`), keeping the due index in step.
    pub fn reschedule(
        &self,
        job: &Job,
        next_run: Option<u64>,
        scheduled_for: u64,
        attempt: u32,
    ) -> Result<Job> {
        if let Some(at) = job.next_run {
            self.due.remove(&due_key(at, job))?;
        }
        let updated = Job {
            next_run,
            scheduled_for,
            attempt,
            ..job.clone()
        };
        match next_run {
            Some(_) => self.put(&updated)?,
            None => {
                self.jobs.remove(&Self::job_key(job))?;
            }
        }
        Ok(updated)
    }
}
