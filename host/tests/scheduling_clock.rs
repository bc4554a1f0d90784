//! Scheduling driven by an injected clock: a cron job in Asia/Shanghai fires at the right instants
//! across a simulated day, into the real probe component; the missed-job policy is applied after
//! a (simulated) downtime.

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::platform::{Clock, ManualClock};
use plaza_host::plugins::grants::Capability;
use plaza_host::scheduling::{Job, JobKind, MissedJobs};
use plaza_host::storage::KvNamespace;

/// 2026-03-10T00:00:00Z.
const START: u64 = 1_773_100_800_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

async fn platform(
    clock: Arc<ManualClock>,
    missed: MissedJobs,
) -> (tempfile::TempDir, Arc<Platform>) {
    let (dir, p) = common::platform(clock, |o| o.missed_jobs = missed);
    common::service_account(&p, "sh", Some("Asia/Shanghai"), START).await;
    let grants = [Capability::Storage, Capability::Scheduling];
    common::install_probe(&p, "sh", &grants, START).await;
    (dir, p)
}

fn cron_job(p: &Platform, expr: &str, first: u64) -> Job {
    let job = Job {
        id: p.ids.next("j"),
        account: "sh".into(),
        plugin: "probe".into(),
        kind: JobKind::Cron {
            expr: expr.into(),
            timezone: "Asia/Shanghai".into(),
        },
        next_run: Some(first),
        scheduled_for: first,
        payload: b"tick".to_vec(),
        attempt: 0,
        created_at: START,
    };
    p.jobs.add(&job).expect("add job").detach();
    job
}

fn fired(p: &Platform, job: &Job) -> Option<Vec<u8>> {
    let ns = KvNamespace {
        account: "sh".into(),
        plugin: "probe".into(),
    };
    p.kv.get(&ns, &format!("fired:{}", job.id)).expect("kv")
}

#[tokio::test]
async fn a_cron_job_in_shanghai_fires_at_local_times_across_a_simulated_day() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone(), MissedJobs::FireOnce).await;
    // 09:30 in Shanghai is 01:30 UTC.
    let first = START + HOUR + 30 * MINUTE;
    let daily = cron_job(&p, "30 9 * * *", first);

    let mut fired_at = Vec::new();
    // Walk a simulated day and a half in 10-minute steps.
    for _ in 0..(36 * 6) {
        clock.advance(10 * MINUTE);
        let n = p.fire_due_jobs().await.expect("scheduler pass");
        if n > 0 {
            fired_at.push(clock.now_ms());
        }
    }
    let fire_times: Vec<u64> = fired_at.iter().map(|t| t - t % (10 * MINUTE)).collect();
    assert!(fired(&p, &daily).is_some(), "the probe recorded the firing");
    // Every firing happened within one 10-minute step after a 09:30 Shanghai instant.
    let nines = [first, first + 24 * HOUR];
    for t in &fire_times {
        assert!(
            nines.iter().any(|n| t >= n && *t < n + 10 * MINUTE),
            "fired at {t}, expected near {nines:?}"
        );
    }
    assert_eq!(fire_times.len(), 2, "once per day: {fire_times:?}");
    let next = p
        .jobs
        .get("sh", "probe", &daily.id)
        .expect("get")
        .expect("still scheduled");
    assert_eq!(next.next_run, Some(first + 48 * HOUR));
}

#[tokio::test]
async fn missed_occurrences_fire_once_or_are_skipped_by_policy() {
    for (policy, should_fire) in [(MissedJobs::FireOnce, true), (MissedJobs::Skip, false)] {
        let clock = Arc::new(ManualClock::new(START));
        let (_dir, p) = platform(clock.clone(), policy).await;
        let job = cron_job(&p, "0 * * * *", START + HOUR);
        // The host was "down" for five hours: five occurrences missed.
        clock.advance(5 * HOUR + 5 * MINUTE);
        let n = p.fire_due_jobs().await.expect("pass");
        assert_eq!(n, 1, "one due entry for the job");
        assert_eq!(fired(&p, &job).is_some(), should_fire, "{policy:?}");
        // Either way it continues from the next occurrence after now, not from the missed ones.
        let next = p
            .jobs
            .get("sh", "probe", &job.id)
            .expect("get")
            .expect("scheduled");
        assert_eq!(next.next_run, Some(START + 6 * HOUR), "{policy:?}");
        assert_eq!(p.fire_due_jobs().await.expect("pass"), 0);
    }
}
