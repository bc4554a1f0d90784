//! Atomic multi-key plugin storage (`PluginKv::batch`) on a real platform: redemption from a
//! limited stock under contention never oversells, and a batch whose check fails writes nothing.

mod common;

use std::sync::{Arc, Barrier};

use plaza_host::platform::ManualClock;
use plaza_host::storage::{BatchOutcome, KvCheck, KvNamespace, KvWrite};

const T0: u64 = 1_750_000_000_000;
const STOCK: i64 = 10;
const BUYERS: usize = 50;
const PRICE: i64 = 100;

fn ns() -> KvNamespace {
    KvNamespace {
        account: "acme".into(),
        plugin: "shop".into(),
    }
}

fn counter(p: &plaza_host::Platform, key: &str) -> Option<i64> {
    p.kv.get(&ns(), key).expect("get").map(|v| {
        String::from_utf8(v)
            .expect("utf-8")
            .parse()
            .expect("counter")
    })
}

/// One redemption: one item from the stock for `PRICE` points, recorded under `redeemed:<i>`.
fn redeem(i: usize) -> (Vec<KvCheck>, Vec<KvWrite>) {
    (
        vec![
            KvCheck::CounterAtLeast("stock".into(), 1),
            KvCheck::CounterAtLeast("points".into(), PRICE),
            KvCheck::Absent(format!("redeemed:{i}")),
        ],
        vec![
            KvWrite::Increment("stock".into(), -1),
            KvWrite::Set(format!("redeemed:{i}"), b"1".to_vec()),
            KvWrite::Increment("points".into(), -PRICE),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_never_oversell_a_limited_stock() {
    let (_dir, p) = common::platform(Arc::new(ManualClock::new(T0)), |_| {});
    let points = PRICE * BUYERS as i64;
    for (key, n) in [("stock", STOCK), ("points", points)] {
        p.kv.increment(&ns(), key, n)
            .expect("seed")
            .durable()
            .await
            .expect("seed");
    }
    // Every buyer starts at once; each batch runs on its own thread, as guest calls do.
    let barrier = Barrier::new(BUYERS);
    let pending = std::thread::scope(|s| {
        let buyers: Vec<_> = (0..BUYERS)
            .map(|i| {
                let (p, barrier) = (&p, &barrier);
                s.spawn(move || {
                    let (checks, writes) = redeem(i);
                    barrier.wait();
                    p.kv.batch(&ns(), &checks, &writes)
                })
            })
            .collect();
        buyers
            .into_iter()
            .map(|b| b.join().expect("buyer thread"))
            .collect::<Vec<_>>()
    });
    let mut applied = 0;
    for outcome in pending {
        match outcome.expect("batch").durable().await.expect("durable") {
            BatchOutcome::Applied => applied += 1,
            // Only the stock can run out: points cover every buyer.
            BatchOutcome::CheckFailed(i) => assert_eq!(i, 0, "failed check"),
        }
    }
    assert_eq!(applied, STOCK as usize);
    assert_eq!(counter(&p, "stock"), Some(0));
    assert_eq!(counter(&p, "points"), Some(points - STOCK * PRICE));
    let redeemed =
        p.kv.list_prefix(&ns(), "redeemed:", None, 1000)
            .expect("list");
    assert_eq!(redeemed.items.len(), STOCK as usize);
    assert_eq!(redeemed.next_cursor, None);
}

#[tokio::test]
async fn a_batch_whose_check_fails_writes_nothing() {
    let (_dir, p) = common::platform(Arc::new(ManualClock::new(T0)), |_| {});
    p.kv.increment(&ns(), "stock", 1)
        .expect("seed")
        .durable()
        .await
        .expect("seed");
    // Stock, but not enough points: the second check fails after the first held.
    let (checks, writes) = redeem(0);
    let before = p.store.snapshot().expect("snapshot");
    let outcome =
        p.kv.batch(&ns(), &checks, &writes)
            .expect("batch")
            .durable()
            .await
            .expect("durable");
    assert_eq!(outcome, BatchOutcome::CheckFailed(1));
    assert_eq!(p.store.snapshot().expect("snapshot"), before);
    assert_eq!(counter(&p, "stock"), Some(1));
    assert_eq!(p.kv.get(&ns(), "redeemed:0").expect("get"), None);
}
