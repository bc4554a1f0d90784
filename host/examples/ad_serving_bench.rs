//! Ad serving decisions per second with 10,000 ads: the bundled `ad-slots` plugin installed
//! in-process, `ads` ads imported through its operator route (`POST /ads/import`, 1000 a call,
//! each rebuilding the compact index), then `decisions` serving decisions by `tasks` concurrent
//! callers, a fresh instance per call, through both ways in: the `component.render` query (as
//! the editor asks per article view) and the `GET /serve?slot=…` route.
//!
//! Two inventories shapes in one: 90 % of the ads (the best paid) run only in slot `premium`,
//! the rest in every slot. Serving `premium` finds its winner in the first index chunk (the
//! common case: the best ads are eligible); serving `general` must walk past the 9,000
//! premium-only entries (18 chunks) to the first ad allowed there (the worst case for the index).
//! Every decision is checked to name an ad. Prints counts, time and rates.
//!
//! Run: `cargo run --release -p plaza-host --example ad_serving_bench [decisions] [tasks] [ads]`

use std::sync::Arc;
use std::time::Instant;

use plaza_host::accounts::AccountKind;
use plaza_host::harness::{self, Caller};
use plaza_host::{Platform, PlatformOptions};
use serde_json::{Value, json};

const ACCOUNT: &str = "bench";
const PLUGIN: &str = "ad-slots";

async fn operator(platform: &Arc<Platform>, method: &str, path: &str, body: Value) -> Value {
    let (status, answer) = harness::plugin_json(
        platform,
        ACCOUNT,
        PLUGIN,
        Caller::Operator,
        method,
        path,
        &body,
    )
    .await
    .expect("ad-slots answers");
    assert!(status < 300, "{method} {path}: {status} {answer}");
    answer
}

fn ad(i: usize, premium_share: usize, total: usize) -> Value {
    let premium = i < total * premium_share / 100;
    // Prices spread so that ranks are mostly distinct; premium ads are paid more.
    let (billing, price) = if i.is_multiple_of(2) {
        (
            "cpm",
            if premium {
                5_000 + (i % 4_999)
            } else {
                100 + (i % 900)
            },
        )
    } else {
        (
            "cpc",
            if premium {
                600 + (i % 400)
            } else {
                10 + (i % 90)
            },
        )
    };
    let mut ad = json!({
        "id": format!("ad{i:05}"), "billing": billing, "price_cents": price,
        "budget_cents": 10_000_000, "frequency_cap": 1000,
        "creative": {"title": format!("Ad {i}"), "text": "Benchmark creative",
                     "image": "https://img.example/ad.png", "landing_url": "https://shop.example/p"}
    });
    if premium {
        ad["slots"] = json!(["premium"]);
    }
    ad
}

#[derive(Clone, Copy)]
enum Way {
    Query,
    Route,
}

async fn run(
    platform: &Arc<Platform>,
    label: &str,
    way: Way,
    slot: &str,
    decisions: usize,
    tasks: usize,
) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let platform = platform.clone();
        let next = next.clone();
        let slot = slot.to_string();
        handles.push(tokio::spawn(async move {
            let mut served = 0usize;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= decisions {
                    break;
                }
                let openid = format!("o-{}", n % 500);
                let ad = match way {
                    Way::Query => {
                        let answer = harness::plugin_query(
                            &platform,
                            ACCOUNT,
                            "editor",
                            Some(&openid),
                            PLUGIN,
                            "component.render",
                            &json!({"kind": "ad", "id": slot, "openid": openid}),
                        )
                        .await
                        .expect("component.render");
                        answer["html"].as_str().unwrap_or("").contains("plaza-ad")
                    }
                    Way::Route => {
                        let (status, answer) = harness::plugin_json(
                            &platform,
                            ACCOUNT,
                            PLUGIN,
                            Caller::Follower(&openid),
                            "GET",
                            &format!("/serve?slot={slot}"),
                            &Value::Null,
                        )
                        .await
                        .expect("serve");
                        status == 200 && answer["ad"].is_string()
                    }
                };
                assert!(ad, "decision {n} named no ad");
                served += 1;
            }
            served
        }));
    }
    let mut served = 0;
    for h in handles {
        served += h.await.expect("task");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label}: {served} decisions by {tasks} concurrent callers in {secs:.2} s: {:.0} decisions/s ({:.2} ms each per caller)",
        served as f64 / secs,
        secs * 1000.0 * tasks as f64 / served as f64
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
    let (decisions, tasks, ads) = (arg(1, 2000), arg(2, 4), arg(3, 10_000));
    let dir = tempfile::tempdir()?;
    let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
    harness::account(&platform, ACCOUNT, AccountKind::Service, None).await?;
    harness::install_bundled(&platform, ACCOUNT, PLUGIN, None).await?;
    for (id, size) in [("premium", "16:9"), ("general", "3:1")] {
        operator(
            &platform,
            "POST",
            "/slots",
            json!({"id": id, "position": "in_article", "style": "card", "size": size}),
        )
        .await;
    }
    let started = Instant::now();
    let all: Vec<Value> = (0..ads).map(|i| ad(i, 90, ads)).collect();
    let mut indexed = Value::Null;
    for batch in all.chunks(1000) {
        indexed = operator(&platform, "POST", "/ads/import", json!({ "ads": batch })).await;
    }
    println!(
        "imported {ads} ads in {} calls of ≤1000 (each rebuilding the index): {:.2} s; index: {indexed}",
        ads.div_ceil(1000),
        started.elapsed().as_secs_f64()
    );
    // Warm-up: the component compiled and cached.
    run(&platform, "warm-up", Way::Query, "premium", 50, tasks).await;
    run(
        &platform,
        "component.render, best ads eligible (slot premium)",
        Way::Query,
        "premium",
        decisions,
        tasks,
    )
    .await;
    run(
        &platform,
        "GET /serve, best ads eligible (slot premium)",
        Way::Route,
        "premium",
        decisions,
        tasks,
    )
    .await;
    run(
        &platform,
        "component.render, 9,000 entries skipped (slot general)",
        Way::Query,
        "general",
        decisions / 4,
        tasks,
    )
    .await;
    run(
        &platform,
        "GET /serve, 9,000 entries skipped (slot general)",
        Way::Route,
        "general",
        decisions / 4,
        tasks,
    )
    .await;
    Ok(())
}
