//! Broadcast fan-out benchmark: 100,000 subscribed followers, one broadcast to all, delivered to
//! the local channel's outboxes with durable per-batch commits. Prints time, rate and peak RSS.
//!
//! Run: `cargo run --release -p plaza-host --example broadcast_bench [followers]`

use std::time::Instant;

use plaza_host::accounts::followers::Touch;
use plaza_host::accounts::{AccountKind, NewAccount};
use plaza_host::messaging::broadcast::{Audience, NewBroadcast};
use plaza_host::messaging::content::MessageContent;
use plaza_host::storage::Pending;
use plaza_host::{Platform, PlatformOptions};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let platform = Platform::open(PlatformOptions::new(dir.path().join("data")))?;
    let account = NewAccount {
        id: "bench".into(),
        name: None,
        kind: AccountKind::Service,
        verified: true,
        timezone: None,
    };
    platform
        .accounts
        .create(account, platform.clock.now_ms())?
        .durable()
        .await?;
    let t = Instant::now();
    let mut written = Vec::with_capacity(n);
    for i in 0..n {
        written.push(platform.followers.touch(
            "bench",
            &format!("o{i:07}"),
            Touch::Subscribe { scene: None },
            1,
        )?);
    }
    // One flush covers every follower.
    Pending::all(written).durable().await?;
    println!("created {n} followers in {:.2?}", t.elapsed());
    let rss_before = peak_rss_kib();

    let t = Instant::now();
    let req = NewBroadcast {
        idempotency_key: "bench".into(),
        audience: Audience::All,
        content: MessageContent::Text {
            content: "Hello, everyone!".into(),
        },
        at: None,
    };
    let job = platform.create_broadcast("bench", None, req).await?;
    let created = t.elapsed();
    while platform.broadcast_pass().await? {}
    let elapsed = t.elapsed();
    let done = platform.broadcasts.get("bench", &job.id)?;
    assert_eq!(done.delivered as usize, n, "every follower got it");
    println!(
        "broadcast to {n}: accepted in {created:.2?} (recipients persisted), delivered in {elapsed:.2?} \
         = {:.0} msg/s; peak RSS {} MiB (before the broadcast: {} MiB)",
        n as f64 / elapsed.as_secs_f64(),
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
    Ok(())
}
