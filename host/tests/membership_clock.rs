//! The bundled membership plugin's daily cron job driven by an injected clock: installed on an
//! Asia/Shanghai account, it schedules `5 0 * * *` once; stepping the clock day by day and
//! firing due jobs runs the job at 00:05 local time, and points earned in January expire exactly
//! when the job of 1 March runs (`points_expire_months = 1`), not on 28 February. (The same logic
//! for any given day through the operator route, and everything else end to end through the real
//! binary: `tests/tests/membership.rs`.)

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::channels::{Inbound, InboundKind};
use plaza_host::plugin_api as api;
use plaza_host::plugins::InstallRequest;
use plaza_host::runtime::{Invocation, Outcome};
use serde_json::{Value, json};

const ACCOUNT: &str = "club";
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;
/// 2025-01-10T02:00:00Z, 10:00 in Shanghai.
const JAN_10: u64 = 1_736_474_400_000;
/// 2025-01-10T16:05:00Z: 00:05 on 11 January in Shanghai, the job's first occurrence.
const FIRST_RUN: u64 = 1_736_525_100_000;

async fn operator_get(p: &Arc<Platform>, path: &str) -> Value {
    let active = p
        .plugins
        .find_active(ACCOUNT, "membership")
        .expect("active");
    let req = api::HttpRequest {
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    match p
        .call_plugin(&active, None, true, |ctx| Invocation::Http(ctx, req))
        .await
    {
        Ok(Outcome::Http(r)) => {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            serde_json::from_slice(&r.body).expect("JSON")
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

async fn points(p: &Arc<Platform>) -> i64 {
    operator_get(p, "/members/o-1").await["status"]["points"]
        .as_i64()
        .expect("points")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_job_fires_at_five_past_midnight_and_expires_points_by_month() {
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, JAN_10).await;
    let grants = p
        .plugins
        .registry
        .latest("membership")
        .expect("membership bundled")
        .manifest
        .capabilities
        .clone();
    p.install_plugin(
        ACCOUNT,
        InstallRequest {
            plugin: "membership".into(),
            config: Some(json!({ "points_expire_months": 1 })),
            grants,
            ..Default::default()
        },
    )
    .await
    .expect("install");

    let jobs = p.jobs.list(ACCOUNT, "membership").expect("jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].next_run, Some(FIRST_RUN));

    // A check-in on 10 January: 5 points in the January lot.
    let outcome = p
        .handle_inbound(
            ACCOUNT,
            Inbound {
                dedup_key: Some("m1".into()),
                from: "o-1".into(),
                at: JAN_10,
                kind: InboundKind::Message {
                    msg_id: "m1".into(),
                    body: api::InboundBody::Text("签到".into()),
                },
            },
        )
        .await
        .expect("inbound");
    assert!(outcome.reply.is_some());
    assert_eq!(points(&p).await, 5);

    // Day by day at 00:05:30 local time up to 28 February: the job fires each day and the
    // January points stay (they last through February).
    let mut day = FIRST_RUN;
    let feb_28 = FIRST_RUN + 48 * DAY; // 00:05 on 28 February in Shanghai
    while day <= feb_28 {
        clock.set(day + MINUTE / 2);
        assert_eq!(p.fire_due_jobs().await.expect("fire"), 1, "at {day}");
        day += DAY;
    }
    assert_eq!(points(&p).await, 5);
    // Nothing is due again the same day.
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);

    // 1 March, 00:05: the January lot expires.
    clock.set(day + MINUTE / 2);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    assert_eq!(points(&p).await, 0);
    let ledger = operator_get(&p, "/members/o-1/ledger").await;
    assert_eq!(ledger["entries"][0]["kind"], "expire", "{ledger}");
    assert_eq!(ledger["entries"][0]["delta"], -5, "{ledger}");
    // Growth is not spent by expiry.
    assert_eq!(
        operator_get(&p, "/members/o-1").await["status"]["growth"],
        5
    );
}
