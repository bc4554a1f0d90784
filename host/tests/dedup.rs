//! Inbound de-duplication over time, driven by an injected clock: a retried message is answered
//! from its record and runs nothing again for as long as the record is kept (at least one
//! retention period); the pruner removes records older than two periods, after which the same
//! `msg_id` is a new message. Records are per sender: another follower reusing a `msg_id` is
//! handled as its own message. The probe component counts how often it really ran (`incr`).

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::channels::local::InboundJson;
use plaza_host::messaging::content::MessageContent;
use plaza_host::platform::ManualClock;
use plaza_host::plugins::grants::Capability;
use serde_json::json;

/// 2026-03-10T00:00:00Z.
const START: u64 = 1_773_100_800_000;
const MINUTE: u64 = 60_000;
/// How long de-duplication records are kept in these tests.
const RETENTION: u64 = 10 * MINUTE;

async fn platform(clock: Arc<ManualClock>) -> (tempfile::TempDir, Arc<Platform>) {
    let (dir, p) = common::platform(clock, |o| o.dedup_retention_ms = RETENTION);
    common::service_account(&p, "acc", None, START).await;
    common::install_probe(&p, "acc", &[Capability::Storage], START).await;
    (dir, p)
}

/// Sends text `text` as message `msg_id` from `from` through the inbound pipeline (the same path
/// the HTTP channel takes) and returns the reply's text.
async fn say(p: &Arc<Platform>, from: &str, msg_id: &str, text: &str) -> String {
    let json: InboundJson = serde_json::from_value(
        json!({ "msg_id": msg_id, "from": from, "msg_type": "text", "content": text }),
    )
    .expect("inbound json");
    let inbound = json.into_inbound(p.clock.now_ms()).expect("inbound");
    let outcome = p.handle_inbound("acc", inbound).await.expect("handled");
    match outcome.reply {
        Some(MessageContent::Text { content }) => content,
        other => panic!("expected a text reply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retry_is_answered_from_its_record_until_pruned_then_handled_again() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone()).await;

    assert_eq!(say(&p, "o-1", "m1", "incr runs 1").await, "1");
    // Within the retention period the retry gets the first answer and the plugin does not run.
    clock.set(START + RETENTION - 1);
    assert_eq!(say(&p, "o-1", "m1", "incr runs 1").await, "1");
    assert_eq!(
        p.prune_inbound_dedup().expect("prune"),
        0,
        "nothing is old enough to prune"
    );
    assert_eq!(say(&p, "o-1", "m1", "incr runs 1").await, "1");
    assert_eq!(say(&p, "o-1", "probe-count", "get runs").await, "1");

    // A message handled later, still within retention when the pruner runs.
    clock.set(START + RETENTION + RETENTION / 2);
    assert_eq!(say(&p, "o-1", "m2", "incr later 1").await, "1");

    // Past two retention periods the pruner removes m1's record (and the counting messages of
    // the first period), but keeps m2's.
    clock.set(START + 2 * RETENTION);
    let removed = p.prune_inbound_dedup().expect("prune");
    assert!(removed >= 2, "m1 and probe-count were pruned: {removed}");
    assert_eq!(p.prune_inbound_dedup().expect("prune again"), 0);
    assert_eq!(
        say(&p, "o-1", "m2", "incr later 1").await,
        "1",
        "m2 is still de-duplicated"
    );
    assert_eq!(say(&p, "o-1", "later-count", "get later").await, "1");

    // m1 is now a new message: the plugin runs again.
    assert_eq!(say(&p, "o-1", "m1", "incr runs 1").await, "2");
    assert_eq!(say(&p, "o-1", "m1", "incr runs 1").await, "2");
    assert_eq!(say(&p, "o-1", "probe-count-2", "get runs").await, "2");
}

#[tokio::test]
async fn the_same_msg_id_from_another_sender_is_its_own_message() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = platform(clock.clone()).await;

    assert_eq!(say(&p, "o-a", "m1", "incr n 1").await, "1");
    // B reuses A's msg_id: B's message runs and B gets B's own answer.
    assert_eq!(say(&p, "o-b", "m1", "incr n 10").await, "11");
    // Retries of either are answered from their own record and run nothing.
    assert_eq!(say(&p, "o-a", "m1", "incr n 1").await, "1");
    assert_eq!(say(&p, "o-b", "m1", "incr n 10").await, "11");
    assert_eq!(say(&p, "o-a", "m2", "get n").await, "11");

    // Both followers were recorded with their one message each.
    for openid in ["o-a", "o-b"] {
        let replies = p
            .outbox
            .list("acc", openid, None, 100)
            .expect("outbox")
            .len();
        assert_eq!(replies, if openid == "o-a" { 2 } else { 1 }, "{openid}");
    }
}
