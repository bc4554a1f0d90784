//! Cron semantics end to end: with an injected clock, a weekday job (`1-5`, and `mon-fri`) fires
//! into the real probe component on Monday to Friday at 09:00 in the account's timezone and not on
//! the weekend, and a weekend job (`0,6`) only on Saturday and Sunday.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Weekday};
use plaza_host::Platform;
use plaza_host::platform::{Clock, ManualClock};
use plaza_host::plugins::grants::Capability;
use plaza_host::scheduling::cron_expr::CronExpr;
use plaza_host::scheduling::{Job, JobKind, MissedJobs};
use plaza_host::storage::KvNamespace;

const ACCOUNT: &str = "sh";
const ZONE: &str = "Asia/Shanghai";
/// Saturday 2026-03-07 00:00 in Shanghai (2026-03-06T16:00:00Z).
const START: u64 = 1_772_812_800_000;
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

async fn platform(clock: Arc<ManualClock>) -> (tempfile::TempDir, Arc<Platform>) {
    let (dir, p) = common::platform(clock, |o| o.missed_jobs = MissedJobs::FireOnce);
    common::service_account(&p, ACCOUNT, Some(ZONE), START).await;
    let grants = [Capability::Storage, Capability::Scheduling];
    common::install_probe(&p, ACCOUNT, &grants, START).await;
    (dir, p)
}

/// A cron job as `scheduling.every` stores it: first run from the same parser the host uses.
fn cron_job(p: &Platform, expr: &str) -> Job {
    let first = CronExpr::parse(expr, ZONE)
        .expect("parses")
        .next_after(START)
        .expect("fires");
    let job = Job {
        id: p.ids.next("j"),
        account: ACCOUNT.into(),
        plugin: "probe".into(),
        kind: JobKind::Cron {
            expr: expr.into(),
            timezone: ZONE.into(),
        },
        next_run: Some(first),
        scheduled_for: first,
        payload: expr.as_bytes().to_vec(),
        attempt: 0,
        created_at: START,
    };
    // Not awaited: the test reads it back through the same store; no one is told it is durable.
    p.jobs.add(&job).expect("add job").detach();
    job
}

fn ns() -> KvNamespace {
    KvNamespace {
        account: ACCOUNT.into(),
        plugin: "probe".into(),
    }
}

/// Takes the probe's record of a firing of `job` (so that the next firing records anew).
fn take_fired(p: &Platform, job: &Job) -> Option<Vec<u8>> {
    let key = format!("fired:{}", job.id);
    let fired = p.kv.get(&ns(), &key).expect("kv get");
    if fired.is_some() {
        p.kv.delete(&ns(), &key).expect("kv delete").detach();
    }
    fired
}

#[tokio::test]
async fn a_weekday_job_fires_monday_to_friday_and_a_weekend_job_on_the_weekend() {
    let zone = chrono_tz::Tz::from_str(ZONE).expect("zone");
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone()).await;
    let jobs = [
        cron_job(&p, "0 9 * * 1-5"),
        cron_job(&p, "0 9 * * mon-fri"),
        cron_job(&p, "0 9 * * 0,6"),
    ];

    // Two simulated weeks in 15-minute steps; after each scheduler pass, ask the probe which
    // jobs it was called for.
    let mut fired: BTreeMap<String, Vec<DateTime<chrono_tz::Tz>>> = BTreeMap::new();
    for _ in 0..(14 * 24 * 4) {
        clock.advance(15 * MINUTE);
        let due = p.fire_due_jobs().await.expect("scheduler pass");
        let mut recorded = 0;
        for job in &jobs {
            if let Some(payload) = take_fired(&p, job) {
                assert_eq!(payload, job.payload, "the probe got the job's payload");
                let now = zone
                    .timestamp_millis_opt(clock.now_ms() as i64)
                    .single()
                    .expect("instant");
                fired.entry(job.id.clone()).or_default().push(now);
                recorded += 1;
            }
        }
        assert_eq!(recorded, due, "every due job reached the component");
    }

    use Weekday::*;
    let expected: [&[Weekday]; 3] = [
        &[Mon, Tue, Wed, Thu, Fri, Mon, Tue, Wed, Thu, Fri],
        &[Mon, Tue, Wed, Thu, Fri, Mon, Tue, Wed, Thu, Fri],
        &[Sat, Sun, Sat, Sun],
    ];
    for (job, days) in jobs.iter().zip(expected) {
        let JobKind::Cron { expr, .. } = &job.kind else {
            unreachable!("cron jobs only")
        };
        let times = fired.get(&job.id).cloned().unwrap_or_default();
        let shown: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        let weekdays: Vec<Weekday> = times.iter().map(|t| t.weekday()).collect();
        assert_eq!(weekdays, days, "{expr}: {shown:?}");
        for t in &times {
            // Fired in the first 15-minute step at or after 09:00 local time.
            assert_eq!((t.hour(), t.minute()), (9, 0), "{expr}: {shown:?}");
        }
        // Consecutive local days, none repeated: the first two weeks from Saturday 7 March.
        let dates: Vec<u32> = times.iter().map(|t| t.day()).collect();
        let all_days: Vec<u32> = (7..=20).collect();
        let want: Vec<u32> = all_days
            .into_iter()
            .filter(|d| {
                let wd = zone
                    .with_ymd_and_hms(2026, 3, *d, 12, 0, 0)
                    .single()
                    .expect("date")
                    .weekday();
                days.contains(&wd)
            })
            .collect();
        assert_eq!(dates, want, "{expr}: {shown:?}");
    }
    // Still scheduled, for the next Monday (23 March) at 09:00 local.
    let next = p
        .jobs
        .get(ACCOUNT, "probe", &jobs[0].id)
        .expect("get")
        .expect("still scheduled");
    assert_eq!(next.next_run, Some(START + 16 * DAY + 9 * 60 * MINUTE));
}

/// A job stored by an older version with an expression this one refuses (Quartz's `?`) fires
/// once more, then ends, instead of firing again on every scheduler pass.
#[tokio::test]
async fn a_stored_expression_no_longer_accepted_ends_its_job_after_one_firing() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone()).await;
    let job = Job {
        id: p.ids.next("j"),
        account: ACCOUNT.into(),
        plugin: "probe".into(),
        kind: JobKind::Cron {
            expr: "0 0 9 ? * *".into(),
            timezone: ZONE.into(),
        },
        next_run: Some(START + MINUTE),
        scheduled_for: START + MINUTE,
        payload: b"legacy".to_vec(),
        attempt: 0,
        created_at: START,
    };
    p.jobs
        .add(&job)
        .expect("add job")
        .durable()
        .await
        .expect("add job");
    clock.advance(2 * MINUTE);
    assert_eq!(p.fire_due_jobs().await.expect("pass"), 1);
    assert_eq!(take_fired(&p, &job).as_deref(), Some(&b"legacy"[..]));
    assert_eq!(p.jobs.get(ACCOUNT, "probe", &job.id).expect("get"), None);
    for _ in 0..5 {
        clock.advance(MINUTE);
        assert_eq!(p.fire_due_jobs().await.expect("pass"), 0);
    }
    assert_eq!(take_fired(&p, &job), None);
}
