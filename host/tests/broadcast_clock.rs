//! A scheduled broadcast driven by an injected clock: it waits until its `at` (to the
//! millisecond), chooses its recipients when it starts, and delivers to each of them exactly once,
//! stamped no earlier than its scheduled time. The worker's passes are run by hand, so nothing
//! here depends on how fast the machine is.

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::accounts::followers::Touch;
use plaza_host::messaging::broadcast::{Audience, BroadcastStatus, NewBroadcast};
use plaza_host::messaging::content::MessageContent;
use plaza_host::messaging::outbox::Delivery;
use plaza_host::platform::{Clock, ManualClock};

/// 2026-03-10T00:00:00Z.
const START: u64 = 1_773_100_800_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
/// More than one delivery batch (1000), so the run resumes from its cursor at least once.
const FOLLOWERS: usize = 1500;

async fn platform(clock: Arc<ManualClock>) -> (tempfile::TempDir, Arc<Platform>) {
    let (dir, p) = common::platform(clock, |_| {});
    common::service_account(&p, "svc", Some("Asia/Shanghai"), START).await;
    (dir, p)
}

fn subscribe(p: &Platform, openid: &str, at: u64) {
    p.followers
        .touch("svc", openid, Touch::Subscribe { scene: None }, at)
        .expect("subscribe")
        .detach();
}

fn openid(i: usize) -> String {
    format!("f{i:05}")
}

/// The broadcast entries in a follower's outbox.
fn received(p: &Platform, openid: &str) -> Vec<plaza_host::messaging::outbox::OutboxEntry> {
    p.outbox
        .list("svc", openid, None, 100)
        .expect("outbox")
        .into_iter()
        .filter(|e| e.delivery == Delivery::Broadcast)
        .collect()
}

#[tokio::test]
async fn a_scheduled_broadcast_starts_at_its_time_and_reaches_everyone_once() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone()).await;
    for i in 0..FOLLOWERS {
        subscribe(&p, &openid(i), START);
    }
    let at = START + 2 * HOUR;
    let job = p
        .create_broadcast(
            "svc",
            None,
            NewBroadcast {
                idempotency_key: "evening".into(),
                audience: Audience::All,
                content: MessageContent::Text {
                    content: "Doors open at eight".into(),
                },
                at: Some(at),
            },
        )
        .await
        .expect("create");
    assert_eq!(job.status, BroadcastStatus::Scheduled);
    assert_eq!((job.total, job.delivered), (0, 0));

    // Before its time, passes leave it alone — up to the last millisecond before `at`.
    assert!(!p.broadcast_pass().await.expect("pass"), "no work is due");
    clock.set(at - 1);
    assert!(!p.broadcast_pass().await.expect("pass"), "no work is due");
    let waiting = p.broadcasts.get("svc", &job.id).expect("get");
    assert_eq!(waiting.status, BroadcastStatus::Scheduled);
    assert_eq!(waiting.delivered, 0);
    assert!(received(&p, &openid(0)).is_empty());

    // Recipients are chosen when it starts: a follower who subscribed while it waited gets it.
    subscribe(&p, "late-comer", at - 1);

    clock.set(at + MINUTE);
    let mut passes = 0;
    while p.broadcast_pass().await.expect("pass") {
        passes += 1;
        assert!(passes <= 10, "the broadcast does not finish");
    }
    assert!(passes >= 2, "more than one batch: {passes} passes");
    let done = p.broadcasts.get("svc", &job.id).expect("get");
    assert_eq!(done.status, BroadcastStatus::Done);
    assert_eq!(done.total, FOLLOWERS as u64 + 1);
    assert_eq!(done.delivered, FOLLOWERS as u64 + 1);
    assert_eq!(done.skipped_quota, 0);
    assert_eq!(done.finished_at, Some(clock.now_ms()));
    assert_eq!(done.percent(), 100.0);

    let everyone = (0..FOLLOWERS)
        .map(openid)
        .chain(std::iter::once("late-comer".to_string()));
    for follower in everyone {
        let got = received(&p, &follower);
        assert_eq!(got.len(), 1, "{follower}: {got:?}");
        assert!(
            got[0].at >= at,
            "{follower} got it before its time: {got:?}"
        );
        assert_eq!(
            got[0].content,
            MessageContent::Text {
                content: "Doors open at eight".into()
            }
        );
    }

    // Finished: further passes find nothing, even much later.
    clock.advance(24 * HOUR);
    assert!(!p.broadcast_pass().await.expect("pass"));
    assert_eq!(received(&p, &openid(0)).len(), 1);
}
