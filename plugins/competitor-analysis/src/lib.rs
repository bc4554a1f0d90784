//! # competitor-analysis — 竞品分析
//!
//! Operators register peer accounts (`POST /api/peers`); their articles' metrics (date, title,
//! reads, likes, shares, url) arrive by upload (CSV or JSON, every row validated, all-or-nothing,
//! idempotent: [`metrics`], [`store`]) or from a configured data provider over granted outbound
//! HTTP, on a schedule and on demand ([`sync`]). The report ([`analysis`]) compares, per peer and
//! for the account itself (numbers from the analytics plugin's `analytics.summary`, [`own`]),
//! posting frequency, reads/likes/shares totals and per post, and the top keywords of titles
//! (segmented with jieba when stored, [`keywords`]); [`charts`] draws it as SVG and [`pages`]
//! serves the operator page. A weekly job stores the last week's report and sends a summary with a
//! link to it to the operators in `report_to` ([`weekly`]). Routes and storage: README.md.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod charts;
pub mod config;
pub mod keywords;
pub mod metrics;
pub mod own;
pub mod pages;
pub mod routes;
pub mod store;
pub mod sync;
pub mod weekly;

use plaza_sdk::prelude::*;
use plaza_sdk::{log, scheduling};

use crate::config::Config;

/// Timer payloads.
pub const REPORT_JOB: &str = "competitor.report";
pub const SYNC_JOB: &str = "competitor.sync";

#[derive(Default)]
struct CompetitorAnalysis;

impl Plugin for CompetitorAnalysis {
    fn on_install(&self, _ctx: &CallContext) -> Result<()> {
        reconcile_jobs(&plaza_sdk::config::parse()?)
    }

    fn on_event(&self, ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        let Event::Timer(t) = ev else {
            return Ok(None);
        };
        let config: Config = plaza_sdk::config::parse()?;
        if t.payload == REPORT_JOB.as_bytes() {
            let r = weekly::run(ctx, &config, t.scheduled_for)?;
            log::info(format!("weekly report of {} stored", r.week));
        } else if t.payload == SYNC_JOB.as_bytes() {
            let s = sync::run(ctx, &config, "schedule")?;
            log::info(format!("provider sync: {} peers", s.peers.len()));
        }
        Ok(None)
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        if ctx.operator {
            // The crons are configuration: an operator's visit puts the jobs in line with it.
            if let Err(e) = plaza_sdk::config::parse().and_then(|c| reconcile_jobs(&c)) {
                log::warn(format!("could not update the scheduled jobs: {e}"));
            }
        }
        routes::handle(ctx, &req)
    }
}

plaza_sdk::register!(CompetitorAnalysis);

/// Makes the scheduled jobs match the configuration: the weekly report at `report_cron`, the
/// provider sync at `provider.cron` when a provider is configured; others are cancelled.
pub fn reconcile_jobs(config: &Config) -> Result<()> {
    let mut wanted: Vec<(&str, &str)> = vec![(REPORT_JOB, config.report_cron.as_str())];
    if let Some(p) = &config.provider {
        wanted.push((SYNC_JOB, p.cron.as_str()));
    }
    let jobs = scheduling::list()?;
    for job in &jobs {
        let keep = wanted.iter().any(|(payload, cron)| {
            job.payload == payload.as_bytes() && job.cron.as_deref() == Some(cron)
        });
        if !keep {
            scheduling::cancel(&job.id)?;
        }
    }
    for (payload, cron) in wanted {
        let exists = jobs
            .iter()
            .any(|j| j.payload == payload.as_bytes() && j.cron.as_deref() == Some(cron));
        if !exists {
            scheduling::every(cron, payload)?;
        }
    }
    Ok(())
}

/// Now, from the wasi wall clock (ms since the epoch).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The local date of `ms` in the account's timezone.
pub fn local_date(timezone: &str, ms: u64) -> chrono::NaiveDate {
    plaza_sdk::time::local_date(ms, plaza_sdk::time::timezone(timezone))
}
