//! The bundled competitor-analysis plugin's weekly report driven by an injected clock: on an
//! account in Asia/Shanghai the job at the default `report_cron` (`0 9 * * 1`) does nothing on
//! Sunday or at Monday 08:59 local, and at Monday 09:00 local stores the report of the previous
//! Monday–Sunday (listed by `GET /api/reports`) and sends it as a customer-service article link
//! to the operator of `report_to` who follows the account; the next Monday another one, of the
//! following week. (Uploads, the report's figures and the page behind the signed link end to end
//! through the real binary: `tests/tests/competitor_analysis.rs`.)

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::accounts::followers::Touch;
use plaza_host::harness::{self, Caller};
use plaza_host::messaging::content::MessageContent;
use plaza_host::messaging::outbox::{Delivery, OutboxEntry};
use serde_json::{Value, json};

const ACCOUNT: &str = "svc";
const PLUGIN: &str = "competitor-analysis";
const OPERATOR: &str = "op-lead";

async fn operator(p: &Arc<Platform>, method: &str, path: &str, body: Value) -> (u16, Value) {
    harness::plugin_json(p, ACCOUNT, PLUGIN, Caller::Operator, method, path, &body)
        .await
        .expect("competitor-analysis answers")
}

/// The operator writes to the account at `at` (opens the 48 h customer-service window).
fn operator_writes(p: &Platform, at: u64) {
    p.followers
        .touch(
            ACCOUNT,
            OPERATOR,
            Touch::Interaction {
                counter: "messages",
            },
            at,
        )
        .expect("touch")
        .detach();
}

/// The customer-service messages the plugin sent the operator, oldest first.
fn reports_received(p: &Platform) -> Vec<OutboxEntry> {
    p.outbox
        .list(ACCOUNT, OPERATOR, None, 100)
        .expect("outbox")
        .into_iter()
        .filter(|e| e.delivery == Delivery::CustomerService && e.plugin.as_deref() == Some(PLUGIN))
        .collect()
}

/// The stored reports' weeks, newest first.
async fn stored_weeks(p: &Arc<Platform>) -> Vec<String> {
    let (status, list) = operator(p, "GET", "/api/reports", Value::Null).await;
    assert_eq!(status, 200, "{list}");
    list["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| r["week"].as_str().expect("week").to_string())
        .collect()
}

/// Asserts the stored report of the week `monday`..=`sunday`: the peer's posts and reads, the
/// delivery to the operator made.
async fn assert_report(p: &Arc<Platform>, monday: &str, sunday: &str, posts: u64, reads: u64) {
    let week = monday;
    let (status, stored) = operator(p, "GET", &format!("/api/reports/{week}"), Value::Null).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (
            stored["report"]["from"].as_str(),
            stored["report"]["to"].as_str()
        ),
        (Some(monday), Some(sunday)),
        "{stored}"
    );
    let rival = stored["report"]["peers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "rival"))
        .unwrap_or_else(|| panic!("no rival column in {stored}"));
    assert_eq!(
        (rival["posts"].as_u64(), rival["reads"].as_u64()),
        (Some(posts), Some(reads)),
        "{stored}"
    );
    assert_eq!(
        stored["deliveries"],
        json!([{ "openid": OPERATOR, "ok": true }]),
        "{stored}"
    );
}

/// Asserts that `entry` is the article link of the report of `week`.
fn assert_report_link(entry: &OutboxEntry, week: &str) {
    match &entry.content {
        MessageContent::ArticleLink { title, url, .. } => {
            assert_eq!(title, &format!("竞品周报 Competitor report {week}"));
            assert!(url.contains(&format!("/reports/{week}")), "{url}");
        }
        other => panic!("not an article link: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_weekly_report_is_made_and_sent_each_monday_at_nine_local() {
    // Sunday 2026-03-15, 10:00 in Shanghai; the weeks reported are 2026-03-09..15 and 16..22.
    let start = common::shanghai(2026, 3, 15, 10, 0);
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, start).await;
    p.followers
        .touch(ACCOUNT, OPERATOR, Touch::Subscribe { scene: None }, start)
        .expect("subscribe")
        .durable()
        .await
        .expect("subscribe");
    harness::install_bundled(
        &p,
        ACCOUNT,
        PLUGIN,
        Some(json!({ "report_to": [OPERATOR] })),
    )
    .await
    .expect("install");

    let (status, peer) = operator(
        &p,
        "POST",
        "/api/peers",
        json!({ "id": "rival", "name": "对手 Rival", "category": "美食" }),
    )
    .await;
    assert_eq!(status, 201, "{peer}");
    // Two posts in the first week (its Monday and its Sunday), one in the second, one in the
    // third (reported by neither run).
    let articles = json!({ "articles": [
        { "date": "2026-03-09", "title": "周一咖啡推荐", "reads": 100, "likes": 10, "shares": 1 },
        { "date": "2026-03-15", "title": "周日早餐", "reads": 300, "likes": 30, "shares": 3 },
        { "date": "2026-03-18", "title": "周三午餐", "reads": 5000, "likes": 50, "shares": 5 },
        { "date": "2026-03-23", "title": "下周新文", "reads": 70000, "likes": 7, "shares": 7 },
    ]});
    let (status, stored) = operator(&p, "POST", "/api/peers/rival/metrics", articles).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["stored"], 4, "{stored}");

    // The job waits for Monday 09:00 in Shanghai (01:00 UTC).
    let first_run = common::shanghai(2026, 3, 16, 9, 0);
    let jobs = p.jobs.list(ACCOUNT, PLUGIN).expect("jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].payload, b"competitor.report");
    assert_eq!(jobs[0].next_run, Some(first_run));

    // Sunday evening, and Monday a minute before nine: the scheduler runs, nothing is due.
    operator_writes(&p, common::shanghai(2026, 3, 15, 12, 0));
    for at in [common::shanghai(2026, 3, 15, 20, 0), first_run - 60_000] {
        clock.set(at);
        assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
        assert!(stored_weeks(&p).await.is_empty());
        assert!(reports_received(&p).is_empty());
    }

    // Monday 09:00: the report of the week before is stored and sent to the operator, once.
    clock.set(first_run + 1_000);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    assert_eq!(stored_weeks(&p).await, ["2026-03-09"]);
    assert_report(&p, "2026-03-09", "2026-03-15", 2, 400).await;
    let received = reports_received(&p);
    assert_eq!(received.len(), 1, "{received:?}");
    assert_report_link(&received[0], "2026-03-09");
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
    let second_run = common::shanghai(2026, 3, 23, 9, 0);
    let jobs = p.jobs.list(ACCOUNT, PLUGIN).expect("jobs");
    assert_eq!(jobs[0].next_run, Some(second_run), "{jobs:?}");

    // Through the week nothing more; the next Monday 09:00 the following week's report.
    operator_writes(&p, common::shanghai(2026, 3, 22, 12, 0));
    clock.set(second_run - 60_000);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
    assert_eq!(stored_weeks(&p).await, ["2026-03-09"]);
    clock.set(second_run + 1_000);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    assert_eq!(stored_weeks(&p).await, ["2026-03-16", "2026-03-09"]);
    assert_report(&p, "2026-03-16", "2026-03-22", 1, 5000).await;
    let received = reports_received(&p);
    assert_eq!(received.len(), 2, "{received:?}");
    assert_report_link(&received[1], "2026-03-16");
}
