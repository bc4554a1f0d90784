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
use crate::storage::backend::{key, prefix};
use crate::storage::due::DueIndex;
use crate::storage::{Json, Pending, Store, Table, Tx};

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
/// Most installations' job counts one `/metrics` scrape reads.
pub const METRICS_INSTALLATIONS: usize = 100_000;

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

/// Scheduled jobs: `(account, plugin, id)` → job; the due index points at each job's next run, and
/// `(account, plugin)` → how many jobs the installation holds. All three change in one unit of
/// work.
pub struct JobStore {
    store: Arc<Store>,
    jobs: Table<Json<Job>>,
    due: DueIndex,
    counts: Table<Json<u64>>,
}

fn job_key(job: &Job) -> Vec<u8> {
    key(&[&job.account, &job.plugin, &job.id])
}

impl JobStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(JobStore {
            jobs: store.table("jobs")?,
            due: DueIndex::new(store.table("jobs_due")?),
            counts: store.table("job_counts")?,
            store,
        })
    }

    /// How many jobs the installation holds; `uncounted` is the count of jobs stored before the
    /// count record existed (read before the unit of work: a table cannot be scanned inside one).
    fn count_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        plugin: &str,
        uncounted: u64,
    ) -> Result<u64> {
        Ok(tx
            .get(&self.counts, &key(&[account, plugin]))?
            .unwrap_or(uncounted))
    }

    fn uncounted(&self, account: &str, plugin: &str) -> Result<u64> {
        if self.counts.contains(&key(&[account, plugin]))? {
            return Ok(0);
        }
        Ok(self.list(account, plugin)?.len() as u64)
    }

    fn set_count(&self, tx: &mut Tx<'_>, account: &str, plugin: &str, n: u64) -> Result<()> {
        if n == 0 {
            tx.delete(&self.counts, &key(&[account, plugin])).map(drop)
        } else {
            tx.put(&self.counts, &key(&[account, plugin]), &n)
        }
    }

    fn put_in(&self, tx: &mut Tx<'_>, job: &Job) -> Result<()> {
        tx.put(&self.jobs, &job_key(job), job)?;
        if let Some(at) = job.next_run {
            self.due.schedule(tx, at, &job_key(job))?;
        }
        Ok(())
    }

    fn remove_in(&self, tx: &mut Tx<'_>, job: &Job, uncounted: u64) -> Result<()> {
        if let Some(at) = job.next_run {
            self.due.unschedule(tx, at, &job_key(job))?;
        }
        if tx.delete(&self.jobs, &job_key(job))? {
            let n = self.count_in(tx, &job.account, &job.plugin, uncounted)?;
            self.set_count(tx, &job.account, &job.plugin, n.saturating_sub(1))?;
        }
        Ok(())
    }

    /// Persists a new job with its due entry, within the installation's limit.
    pub fn add(&self, job: &Job) -> Result<Pending<()>> {
        let uncounted = self.uncounted(&job.account, &job.plugin)?;
        self.store.write(|tx| {
            let n = self.count_in(tx, &job.account, &job.plugin, uncounted)?;
            if n as usize >= MAX_JOBS_PER_INSTALLATION {
                return Err(PlazaError::QuotaExceeded {
                    message: format!("installation already has {MAX_JOBS_PER_INSTALLATION} jobs"),
                    resets_at: None,
                });
            }
            self.put_in(tx, job)?;
            self.set_count(tx, &job.account, &job.plugin, n + 1)
        })
    }

    pub fn get(&self, account: &str, plugin: &str, id: &str) -> Result<Option<Job>> {
        self.jobs.get(&key(&[account, plugin, id]))
    }

    pub fn cancel(&self, account: &str, plugin: &str, id: &str) -> Result<Pending<bool>> {
        let uncounted = self.uncounted(account, plugin)?;
        self.store.write(|tx| {
            let Some(job) = tx.get(&self.jobs, &key(&[account, plugin, id]))? else {
                return Ok(false);
            };
            self.remove_in(tx, &job, uncounted)?;
            Ok(true)
        })
    }

    pub fn remove(&self, job: &Job) -> Result<Pending<()>> {
        let uncounted = self.uncounted(&job.account, &job.plugin)?;
        self.store.write(|tx| self.remove_in(tx, job, uncounted))
    }

    /// Jobs stored, for `/metrics`: the sum of the per-installation counts (one record per
    /// installation with jobs, at most [`METRICS_INSTALLATIONS`] read), not a walk of the jobs.
    /// Jobs stored before counts were kept are not in it until their installation's count is
    /// next written.
    pub fn total(&self) -> Result<u64> {
        let mut sum = 0u64;
        let mut read = 0usize;
        let mut after: Option<Vec<u8>> = None;
        while read < METRICS_INSTALLATIONS {
            let page = self.counts.scan(b"", after.as_deref(), 1000)?;
            read += page.len();
            sum = page.iter().fold(sum, |s, (_, n)| s.saturating_add(*n));
            match page.into_iter().last() {
                Some((last, _)) => after = Some(last),
                None => break,
            }
        }
        Ok(sum)
    }

    pub fn list(&self, account: &str, plugin: &str) -> Result<Vec<Job>> {
        self.jobs.values(&prefix(&[account, plugin]))
    }

    /// Jobs due at or before `now`, oldest first. Index entries that no longer match their job
    /// (cancelled, or moved by a reschedule) are cleaned up on the way.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<Job>> {
        self.due.due_records(&self.store, now, limit, |at, record| {
            Ok(self
                .jobs
                .get(record)?
                .filter(|job| job.next_run == Some(at)))
        })
    }

    /// Moves a job to a new next run (or ends it with `None`), keeping the due index and the
    /// installation's job count in step.
    pub fn reschedule(
        &self,
        job: &Job,
        next_run: Option<u64>,
        scheduled_for: u64,
        attempt: u32,
    ) -> Result<Pending<Job>> {
        let updated = Job {
            next_run,
            scheduled_for,
            attempt,
            ..job.clone()
        };
        let uncounted = self.uncounted(&job.account, &job.plugin)?;
        self.store.write(|tx| {
            // The job may have been cancelled while it ran.
            let Some(current) = tx.get(&self.jobs, &job_key(job))? else {
                return Ok(updated.clone());
            };
            match next_run {
                Some(_) => {
                    if let Some(at) = current.next_run {
                        self.due.unschedule(tx, at, &job_key(job))?;
                    }
                    self.put_in(tx, &updated)?;
                }
                None => self.remove_in(tx, &current, uncounted)?,
            }
            Ok(updated.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    //! A job, its due-index entry and its installation's job count are one unit of work: a fault
    //! injected between their writes leaves all of them as they were.

    use super::*;
    use crate::storage::testing::{assert_fails_whole, done, dump, faulty_store};

    const AT: u64 = 1_000_000;

    fn job(id: &str, at: u64) -> Job {
        Job {
            id: id.into(),
            account: "acc".into(),
            plugin: "plug".into(),
            kind: JobKind::At { at },
            next_run: Some(at),
            scheduled_for: at,
            payload: b"p".to_vec(),
            attempt: 0,
            created_at: 0,
        }
    }

    /// The due index holds exactly one entry per job with a next run, at that time, and the
    /// count record matches the jobs stored.
    fn assert_consistent(store: &Store, jobs: &JobStore) {
        let stored = jobs.list("acc", "plug").unwrap();
        let mut expected: Vec<(u64, Vec<u8>)> = stored
            .iter()
            .filter_map(|j| j.next_run.map(|at| (at, job_key(j))))
            .collect();
        expected.sort();
        let indexed: Vec<(u64, Vec<u8>)> = jobs.due.due(u64::MAX - 1, usize::MAX).unwrap();
        assert_eq!(indexed, expected, "the due index agrees with the jobs");
        let count = dump(store)
            .into_iter()
            .find(|(t, _, _)| t == "job_counts")
            .map(|(_, _, v)| serde_json::from_slice::<u64>(&v).unwrap())
            .unwrap_or(0);
        assert_eq!(count as usize, stored.len(), "the job count agrees");
    }

    #[test]
    fn a_fault_between_a_job_and_its_due_entry_leaves_neither() {
        let (_dir, faulty, store) = faulty_store();
        let jobs = JobStore::new(store.clone()).unwrap();
        let first = job("j1", AT);
        // One job already there, so every operation below has something to break.
        done(jobs.add(&job("j0", AT + 5))).unwrap();

        assert_fails_whole(&store, &faulty, "add", || jobs.add(&first));
        assert_eq!(jobs.get("acc", "plug", "j1").unwrap(), None);
        done(jobs.add(&first)).unwrap();
        assert_eq!(jobs.get("acc", "plug", "j1").unwrap(), Some(first.clone()));
        assert_consistent(&store, &jobs);

        assert_fails_whole(&store, &faulty, "reschedule", || {
            jobs.reschedule(&first, Some(AT + 10), AT + 10, 1)
        });
        assert_eq!(jobs.due(AT, 10).unwrap(), vec![first.clone()]);
        let moved = done(jobs.reschedule(&first, Some(AT + 10), AT + 10, 1)).unwrap();
        assert_eq!(jobs.due(AT, 10).unwrap(), Vec::<Job>::new());
        assert_eq!(
            jobs.due(AT + 10, 10).unwrap(),
            vec![job("j0", AT + 5), moved.clone()]
        );
        assert_consistent(&store, &jobs);

        assert_fails_whole(&store, &faulty, "a reschedule that ends the job", || {
            jobs.reschedule(&moved, None, AT + 10, 0)
        });
        assert_consistent(&store, &jobs);

        assert_fails_whole(&store, &faulty, "cancel", || {
            jobs.cancel("acc", "plug", "j1")
        });
        assert_eq!(jobs.get("acc", "plug", "j1").unwrap(), Some(moved));
        assert!(done(jobs.cancel("acc", "plug", "j1")).unwrap());
        assert_eq!(jobs.get("acc", "plug", "j1").unwrap(), None);
        assert_eq!(jobs.due(u64::MAX - 1, 10).unwrap(), vec![job("j0", AT + 5)]);
        assert_consistent(&store, &jobs);
        assert!(!done(jobs.cancel("acc", "plug", "j1")).unwrap());
    }

    #[test]
    fn the_total_sums_every_installations_count() {
        let (_dir, _faulty, store) = faulty_store();
        let jobs = JobStore::new(store).unwrap();
        assert_eq!(jobs.total().unwrap(), 0);
        done(jobs.add(&job("j0", AT))).unwrap();
        done(jobs.add(&job("j1", AT))).unwrap();
        let other = Job {
            plugin: "other".into(),
            ..job("j0", AT)
        };
        done(jobs.add(&other)).unwrap();
        assert_eq!(jobs.total().unwrap(), 3);
        assert!(done(jobs.cancel("acc", "plug", "j1")).unwrap());
        assert_eq!(jobs.total().unwrap(), 2);
    }
}
