//! WIT host impl of `scheduling`: the installation comes from the call's scheduling grant; jobs
//! are durable before the plugin hears back.

use super::cron_expr::CronExpr;
use super::{Job, JobKind};
use crate::error::{PlazaError, Result};
use crate::plugins::grants::Scheduler;
use crate::runtime::bindings::v0_2_0::scheduling;
use crate::runtime::state::CallState;

/// Bytes of payload a job may carry.
const MAX_PAYLOAD: usize = 64 << 10;

fn check_payload(payload: &[u8]) -> Result<()> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PlazaError::TooLarge(format!(
            "job payload is {} bytes; the limit is {MAX_PAYLOAD}",
            payload.len()
        )));
    }
    Ok(())
}

impl CallState {
    /// A new job of the installation the scheduling grant names.
    fn new_job(&self, owner: &Scheduler, kind: JobKind, next_run: u64, payload: Vec<u8>) -> Job {
        Job {
            id: self.platform.ids.next("j"),
            account: owner.actor.account.clone(),
            plugin: owner.actor.plugin.clone(),
            kind,
            next_run: Some(next_run),
            scheduled_for: next_run,
            payload,
            attempt: 0,
            created_at: self.platform.clock.now_ms(),
        }
    }
}

/// Persisted before acknowledged: a job the plugin was told about survives a crash. (A free
/// function so that no `&CallState` is held across the await.)
async fn persist(platform: std::sync::Arc<crate::platform::Platform>, job: Job) -> Result<String> {
    platform.jobs.add(&job)?.durable().await?;
    platform.wake_scheduler();
    Ok(job.id)
}

impl scheduling::Host for CallState {
    async fn at(&mut self, when: u64, payload: Vec<u8>) -> Result<String> {
        let owner = self.grants.scheduling()?;
        check_payload(&payload)?;
        let job = self.new_job(&owner, JobKind::At { at: when }, when, payload);
        persist(self.platform.clone(), job).await
    }

    async fn every(&mut self, cron: String, payload: Vec<u8>) -> Result<String> {
        let owner = self.grants.scheduling()?;
        check_payload(&payload)?;
        let expr = CronExpr::parse(&cron, &owner.timezone)?;
        let next = expr
            .next_after(self.platform.clock.now_ms())
            .ok_or_else(|| PlazaError::invalid(format!("cron {cron:?} never fires")))?;
        let kind = JobKind::Cron {
            expr: cron,
            timezone: owner.timezone.clone(),
        };
        let job = self.new_job(&owner, kind, next, payload);
        persist(self.platform.clone(), job).await
    }

    async fn cancel(&mut self, job_id: String) -> Result<bool> {
        let owner = self.grants.scheduling()?;
        self.platform
            .jobs
            .cancel(&owner.actor.account, &owner.actor.plugin, &job_id)?
            .durable()
            .await
    }

    async fn list(&mut self) -> Result<Vec<scheduling::Job>> {
        let owner = self.grants.scheduling()?;
        Ok(self
            .platform
            .jobs
            .list(&owner.actor.account, &owner.actor.plugin)?
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
