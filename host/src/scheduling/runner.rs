//! The scheduler loop: fires due jobs into the owning plugin's `on-event`, at least once.

use std::sync::Arc;
use std::time::Duration;

use super::cron_expr::CronExpr;
use super::{Job, JobKind, MISSED_GRACE_MS, MissedJobs};
use crate::error::Result;
use crate::platform::Platform;
use crate::plugin_api as api;
use crate::runtime::Invocation;
use crate::storage::Pending;

/// How often the loop looks for due jobs when nothing wakes it.
pub const POLL: Duration = Duration::from_millis(100);
/// Attempts per occurrence before a failing job gives up on it.
pub const MAX_ATTEMPTS: u32 = 8;
const BATCH: usize = 256;

fn backoff_ms(attempt: u32) -> u64 {
    (1000u64 << attempt.min(12)).min(3_600_000)
}

impl Platform {
    /// Nudges the scheduler to look for due jobs now (e.g. a job due immediately was added).
    pub fn wake_scheduler(&self) {
        self.scheduler_wake.notify_one();
    }

    /// Runs until the process ends.
    pub async fn run_scheduler(self: Arc<Self>) {
        loop {
            if let Err(e) = self.fire_due_jobs().await {
                tracing::error!(error = %e, "scheduler pass failed");
            }
            let _ = tokio::time::timeout(POLL, self.scheduler_wake.notified()).await;
        }
    }

    /// One pass: fires every job due now. Returns how many were fired.
    pub async fn fire_due_jobs(self: &Arc<Self>) -> Result<usize> {
        let now = self.clock.now_ms();
        let due = self.jobs.due(now, BATCH)?;
        let n = due.len();
        let mut tasks = tokio::task::JoinSet::new();
        for job in due {
            let platform = self.clone();
            tasks.spawn(async move { platform.fire(job, now).await });
        }
        while let Some(res) = tasks.join_next().await {
            match res {
                Ok(Err(e)) => tracing::error!(error = %e, "job bookkeeping failed"),
                Err(e) => tracing::error!(error = %e, "job task panicked"),
                Ok(Ok(())) => {}
            }
        }
        Ok(n)
    }

    async fn fire(self: &Arc<Self>, job: Job, now: u64) -> Result<()> {
        let Some(active) = self.plugins.find_active(&job.account, &job.plugin) else {
            // Uninstalled: the job goes with it. Disabled: try again later without counting.
            if self
                .plugins
                .installations
                .get(&job.account, &job.plugin)
                .is_err()
            {
                self.jobs.remove(&job)?.durable().await?;
            } else {
                self.jobs
                    .reschedule(&job, Some(now + 60_000), job.scheduled_for, job.attempt)?
                    .durable()
                    .await?;
            }
            return Ok(());
        };
        if self.missed_jobs == MissedJobs::Skip
            && job.attempt == 0
            && now > job.scheduled_for.saturating_add(MISSED_GRACE_MS)
        {
            tracing::info!(account = %job.account, plugin = %job.plugin, job = %job.id, late_ms = now - job.scheduled_for, "skipping a missed occurrence");
            return self.next_occurrence(&job, now)?.durable().await.map(drop);
        }
        let attempt = job.attempt + 1;
        let event = api::Event::Timer(api::TimerFired {
            job_id: job.id.clone(),
            payload: job.payload.clone(),
            scheduled_for: job.scheduled_for,
            attempt,
        });
        let ok = self
            .call_plugin(&active, None, false, |ctx| Invocation::Event(ctx, event))
            .await
            .is_ok();
        if !ok && attempt < MAX_ATTEMPTS {
            self.jobs
                .reschedule(
                    &job,
                    Some(now + backoff_ms(attempt)),
                    job.scheduled_for,
                    attempt,
                )?
                .durable()
                .await?;
            return Ok(());
        }
        if !ok {
            tracing::warn!(account = %job.account, plugin = %job.plugin, job = %job.id, "job occurrence gave up after {MAX_ATTEMPTS} attempts");
        }
        self.next_occurrence(&job, now)?.durable().await.map(drop)
    }

    /// Ends a one-shot job, or moves a cron job to its first occurrence after `now`.
    fn next_occurrence(&self, job: &Job, now: u64) -> Result<Pending<Job>> {
        match &job.kind {
            JobKind::At { .. } => self.jobs.reschedule(job, None, job.scheduled_for, 0),
            JobKind::Cron { expr, timezone } => match CronExpr::parse(expr, timezone) {
                Ok(cron) => {
                    let next = cron.next_after(now.max(job.scheduled_for));
                    self.jobs
                        .reschedule(job, next, next.unwrap_or(job.scheduled_for), 0)
                }
                // Stored by an older version that read cron differently: end the job rather
                // than fire it again on every pass.
                Err(e) => {
                    tracing::warn!(account = %job.account, plugin = %job.plugin, job = %job.id, error = %e,
                        "cron job ended: its expression is no longer accepted; the plugin must schedule it again");
                    self.jobs.reschedule(job, None, job.scheduled_for, 0)
                }
            },
        }
    }
}
