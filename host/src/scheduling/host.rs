//! WIT host impl of `scheduling`: grant check, then durable jobs in the installation's namespace.

use super::cron_expr::CronExpr;
use super::{Job, JobKind};
use crate::error::{PlazaError, Result};
use crate::plugins::grants::Capability;
use crate::runtime::bindings::v0_1_0::plaza::platform::scheduling;
use crate::runtime::state::CallState;

/// Bytes of payload a job may carry.
const MAX_PAYLOAD: usize = 64 << 10;

impl CallState {
    fn new_job(&self, kind: JobKind, next_run: u64, payload: Vec<u8>) -> Result<Job> {
        self.install
            .installation
            .grants
            .require(&Capability::Scheduling)?;
        if payload.len() > MAX_PAYLOAD {
            return Err(PlazaError::TooLarge(format!(
                "job payload is {} bytes; the limit is {MAX_PAYLOAD}",
                payload.len()
            )));
        }
        Ok(Job {
            id: self.platform.ids.next("j"),
            account: self.account_id().to_string(),
            plugin: self.plugin_name().to_string(),
            kind,
            next_run: Some(next_run),
            scheduled_for: next_run,
            payload,
            attempt: 0,
            created_at: self.platform.clock.now_ms(),
        })
    }
}

/// Persisted before acknowledged: a job the plugin was told about survives a crash. (A free
/// function so that no `&CallState` is held across the await.)
async fn persist(platform: std::sync::Arc<crate::platform::Platform>, job: Job) -> Result<String> {
    platform.jobs.add(&job)?;
    platform.commit.commit().await?;
    platform.wake_scheduler();
    Ok(job.id)
}

impl scheduling::Host for CallState {
    async fn at(&mut self, when: u64, payload: Vec<u8>) -> Result<String> {
        let job = self.new_job(JobKind::At { at: when }, when, payload)?;
        persist(self.platform.clone(), job).await
    }

    async fn every(&mut self, cron: String, payload: Vec<u8>) -> Result<String> {
        let tz = self.install.account.timezone.clone();
        let expr = CronExpr::parse(&cron, &tz)?;
        let next = expr
            .next_after(self.platform.clock.now_ms())
            .ok_or_else(|| PlazaError::invalid(format!("cron {cron:?} never fires")))?;
        let job = self.new_job(
            JobKind::Cron {
                expr: cron,
                timezone: tz,
            },
            next,
            payload,
        )?;
        persist(self.platform.clone(), job).await
    }

    async fn cancel(&mut self, job_id: String) -> Result<bool> {
        self.install
            .installation
            .grants
            .require(&Capability::Scheduling)?;
        let cancelled =
            self.platform
                .jobs
                .cancel(self.account_id(), self.plugin_name(), &job_id)?;
        self.platform.commit.commit().await?;
        Ok(cancelled)
    }

    async fn list(&mut self) -> Result<Vec<scheduling::Job>> {
        self.install
            .installation
            .grants
            .require(&Capability::Scheduling)?;
        Ok(self
            .platform
            .jobs
            .list(self.account_id(), self.plugin_name())?
            .into_iter()
            .map(|j| scheduling::Job {
                id: j.id,
                next_run: j.next_run,
                cron: match j.kind {
                    JobKind::Cron { expr, .. } => Some(expr),
                    JobKind::At { .. } => None,
                },
                payload: j.payload,
            })
            .collect())
    }
}
