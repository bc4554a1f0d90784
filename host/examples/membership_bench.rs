//! Membership redemptions per second under contention: the bundled `membership` plugin installed
//! in-process, `followers` members with plenty of points, one reward, and `tasks` concurrent
//! callers redeeming it through the plugin's follower route (`POST /me/rewards/mug/redeem`, a
//! fresh instance per call, one `storage.batch` per redemption checking stock and points). Two
//! runs: a stock larger than the attempts (every attempt succeeds: throughput with all callers on
//! the same stock counter), and a stock smaller than the attempts (the rest are refused with 409:
//! checks that exactly `stock` succeed). Prints attempts, successes, time and rates.
//!
//! Run: `cargo run --release -p plaza-host --example membership_bench [attempts] [tasks] [followers]`

use std::sync::Arc;
use std::time::Instant;

use plaza_host::accounts::AccountKind;
use plaza_host::harness::{self, Caller};
use plaza_host::{Platform, PlatformOptions};
use serde_json::json;

const ACCOUNT: &str = "bench";

/// A call to membership's routes; answers the status and the body as text.
async fn http(
    platform: &Arc<Platform>,
    follower: Option<&str>,
    operator: bool,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let caller = Caller::of(follower, operator);
    let body = body.to_string();
    let (status, answer) = harness::plugin_http(
        platform,
        ACCOUNT,
        "membership",
        caller,
        method,
        path,
        body.as_bytes(),
    )
    .await
    .expect("membership answers");
    (status, String::from_utf8_lossy(&answer).into_owned())
}

async fn run(
    platform: &Arc<Platform>,
    label: &str,
    stock: i64,
    attempts: usize,
    tasks: usize,
    followers: usize,
) {
    let (status, body) = http(
        platform,
        None,
        true,
        "PUT",
        "/rewards/mug",
        json!({ "name": "Mug", "cost": 1, "stock": stock }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let platform = platform.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= attempts {
                    break;
                }
                let who = format!("o-{}", i % followers);
                let (status, body) = http(
                    &platform,
                    Some(&who),
                    false,
                    "POST",
                    "/me/rewards/mug/redeem",
                    json!({}),
                )
                .await;
                match status {
                    200 => ok += 1,
                    409 => refused += 1,
                    _ => panic!("redemption answered {status}: {body}"),
                }
            }
            (ok, refused)
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for h in handles {
        let (o, r) = h.await.expect("task");
        ok += o;
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    let (_, rewards) = http(platform, None, true, "GET", "/rewards", json!({})).await;
    let left: serde_json::Value = serde_json::from_str(&rewards).expect("rewards JSON");
    let left = left["rewards"][0]["stock"].as_i64().expect("stock");
    assert_eq!(ok as i64, stock.min(attempts as i64), "successes");
    assert_eq!(left, stock - ok as i64, "stock left");
    println!(
        "{label}: {attempts} attempts by {tasks} concurrent callers ({followers} followers), stock {stock}: \
         {ok} redeemed, {refused} refused (409), stock left {left}; {secs:.2} s, \
         {:.0} attempts/s, {:.0} redemptions/s",
        attempts as f64 / secs,
        ok as f64 / secs
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (attempts, tasks, followers) = (arg(1, 2000), arg(2, 16), arg(3, 50));
    let dir = tempfile::tempdir()?;
    let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
    harness::account(&platform, ACCOUNT, AccountKind::Service, None).await?;
    harness::install_bundled(&platform, ACCOUNT, "membership", None).await?;
    for f in 0..followers {
        let (status, body) = http(
            &platform,
            None,
            true,
            "POST",
            &format!("/members/o-{f}/adjust"),
            json!({ "points": 1_000_000, "reason": "benchmark" }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // Warm-up: the component compiled and cached, one call per follower.
    run(
        &platform,
        "warm-up",
        followers as i64,
        followers,
        tasks,
        followers,
    )
    .await;
    run(
        &platform,
        "plenty of stock",
        attempts as i64,
        attempts,
        tasks,
        followers,
    )
    .await;
    run(
        &platform,
        "scarce stock",
        (attempts / 10) as i64,
        attempts,
        tasks,
        followers,
    )
    .await;
    Ok(())
}
