//! The weekly report: the week (Monday to Sunday) before the job's scheduled time, stored under
//! its Monday and sent as a customer-service message — a summary with a signed link to the report
//! page — to every openid in `report_to`. A failed delivery (e.g. the operator has not written to
//! the account in 48 hours) is recorded on the stored report, not retried.

use chrono::Duration;
use plaza_sdk::{CallContext, Content, Error, Link, links, messaging};

use crate::analysis::{Range, date, week_start};
use crate::config::Config;
use crate::routes::build_report;
use crate::store::{self, Delivery, StoredReport};

/// Signed links in the message stay valid this long.
const LINK_TTL_SECONDS: u32 = 30 * 24 * 3600;

/// Builds, stores and delivers the report of the week before `at` (ms, local date in the
/// account's timezone).
pub fn run(ctx: &CallContext, config: &Config, at: u64) -> Result<StoredReport, Error> {
    let day = crate::local_date(&ctx.account.timezone, at);
    let monday = week_start(day) - Duration::days(7);
    let range = Range {
        from: monday,
        to: monday + Duration::days(6),
    };
    let report = build_report(ctx, config, range)?;
    let text = report.summary_text();
    let week = date(monday);
    let mut deliveries = Vec::new();
    for openid in &config.report_to {
        let sent = links::follower_url(openid, &format!("/reports/{week}"), LINK_TTL_SECONDS)
            .and_then(|url| {
                let content = Content::ArticleLink(Link {
                    title: format!("竞品周报 Competitor report {week}"),
                    description: truncate(&text, 500),
                    url,
                });
                messaging::send(openid, &content)
            });
        deliveries.push(Delivery {
            openid: openid.clone(),
            ok: sent.is_ok(),
            error: sent.err().map(|e| e.display().to_string()),
        });
    }
    let stored = StoredReport {
        week,
        created_at: crate::now_ms(),
        text,
        report: store::report_json(&report),
        deliveries,
    };
    store::save_report(&stored)?;
    Ok(stored)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
