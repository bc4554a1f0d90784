//! Ballots per second under contention: the bundled `interactive` plugin installed in-process,
//! one vote with four options, `followers` distinct followers each casting one ballot through the
//! plugin's follower route (`POST /votes/{id}` with JSON, a fresh instance per call, one
//! `storage.batch` per ballot: `absent` check of the follower's ballot key + the ballot + the
//! voter counter + the option's tally), spread over `tasks` concurrent callers that all hit the
//! same counters. Then every follower tries again: each must be refused (409) and the tallies
//! must add up to exactly one ballot per follower. Then `followers` renders of the vote page for
//! a follower (live results + a freshly signed form link). Prints counts, time and rates.
//!
//! Run: `cargo run --release -p plaza-host --example interactive_bench [followers] [tasks]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use plaza_host::accounts::AccountKind;
use plaza_host::harness::{self, Caller};
use plaza_host::{Platform, PlatformOptions};
use serde_json::json;

const ACCOUNT: &str = "bench";

/// A call to interactive's routes; answers the status and the body as text.
async fn http(
    platform: &Arc<Platform>,
    follower: Option<&str>,
    operator: bool,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let caller = Caller::of(follower, operator);
    let body = if method == "GET" {
        String::new()
    } else {
        body.to_string()
    };
    let (status, answer) = harness::plugin_http(
        platform,
        ACCOUNT,
        "interactive",
        caller,
        method,
        path,
        body.as_bytes(),
    )
    .await
    .expect("interactive answers");
    (status, String::from_utf8_lossy(&answer).into_owned())
}

/// `followers` calls spread over `tasks` concurrent callers; `call(i)` answers the status.
/// Returns (statuses seen, seconds).
async fn spread<F, Fut>(followers: usize, tasks: usize, call: F) -> (Vec<u16>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u16> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (call, next) = (call.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= followers {
                    break;
                }
                statuses.push(call(i).await);
            }
            statuses
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    (all, started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (followers, tasks) = (arg(1, 2000), arg(2, 16));
    let dir = tempfile::tempdir()?;
    let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
    harness::account(&platform, ACCOUNT, AccountKind::Service, None).await?;
    harness::install_bundled(&platform, ACCOUNT, "interactive", None).await?;
    for (id, n) in [("warm", 2), ("lunch", 4)] {
        let options: Vec<String> = (0..n).map(|i| format!("option {i}")).collect();
        let (status, body) = http(
            &platform,
            None,
            true,
            "POST",
            "/admin/votes",
            json!({ "id": id, "title": id, "options": options }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    // Warm-up: the component compiled and cached.
    for i in 0..tasks {
        let (status, body) = http(
            &platform,
            Some(&format!("w-{i}")),
            false,
            "POST",
            "/votes/warm",
            json!({ "options": [i % 2] }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    let cast = |again: bool| {
        let platform = platform.clone();
        move |i: usize| {
            let platform = platform.clone();
            async move {
                let (status, body) = http(
                    &platform,
                    Some(&format!("o-{i}")),
                    false,
                    "POST",
                    "/votes/lunch",
                    json!({ "options": [(i + usize::from(again)) % 4] }),
                )
                .await;
                assert!(status == 200 || status == 409, "{status}: {body}");
                status
            }
        }
    };
    let (first, secs) = spread(followers, tasks, cast(false)).await;
    let ok = first.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, followers, "every first ballot counts");
    println!(
        "first ballots: {followers} followers by {tasks} concurrent callers: {ok} counted; {secs:.2} s, {:.0} ballots/s",
        followers as f64 / secs
    );
    let (second, secs) = spread(followers, tasks, cast(true)).await;
    let refused = second.iter().filter(|s| **s == 409).count();
    assert_eq!(refused, followers, "every second ballot is refused");
    println!(
        "second ballots: {followers} attempts, {refused} refused (409); {secs:.2} s, {:.0} attempts/s",
        followers as f64 / secs
    );
    let (status, body) = http(
        &platform,
        None,
        false,
        "GET",
        "/votes/lunch/results",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let results: serde_json::Value = serde_json::from_str(&body)?;
    let total: i64 = results["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| o["votes"].as_i64().expect("votes"))
        .sum();
    assert_eq!(
        results["voters"].as_i64(),
        Some(followers as i64),
        "{results}"
    );
    assert_eq!(total, followers as i64, "{results}");
    println!(
        "tallies: {} voters, {total} ballots over 4 options (exact)",
        results["voters"]
    );

    let page = {
        let platform = platform.clone();
        move |i: usize| {
            let platform = platform.clone();
            async move {
                let (status, body) = http(
                    &platform,
                    Some(&format!("p-{i}")),
                    false,
                    "GET",
                    "/votes/lunch",
                    json!({}),
                )
                .await;
                assert!(status == 200 && body.contains("<form"), "{status}");
                status
            }
        }
    };
    let (pages, secs) = spread(followers, tasks, page).await;
    println!(
        "vote page for a follower (results + signed form link): {} renders; {secs:.2} s, {:.0} pages/s",
        pages.len(),
        pages.len() as f64 / secs
    );
    Ok(())
}
