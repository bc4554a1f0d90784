//! Scheduled backups with retention (`--backup-every`, `--backup-keep`), one scheduled pass at a
//! time with an injected clock: each pass writes a backup named by its time, keeps the newest
//! `keep` and removes the rest, and what is kept holds the writes made before it.

mod common;

use std::sync::Arc;

use plaza_host::accounts::followers::Touch;
use plaza_host::platform::{Clock, ManualClock};
use plaza_host::storage::backup;

/// 2026-03-10T00:00:00Z.
const START: u64 = 1_773_100_800_000;
const HOUR: u64 = 60 * 60_000;

#[tokio::test]
async fn each_pass_writes_a_backup_and_keeps_only_the_newest() {
    let clock = Arc::new(ManualClock::new(START));
    let (_dir, p) = common::platform(clock.clone(), |_| {});
    common::service_account(&p, "acc", None, START).await;

    let mut kept_names = Vec::new();
    for pass in 0..4u64 {
        // Something new before each pass: follower `f{pass}` subscribes.
        p.followers
            .touch(
                "acc",
                &format!("f{pass}"),
                Touch::Subscribe { scene: None },
                clock.now_ms(),
            )
            .expect("subscribe")
            .durable()
            .await
            .expect("subscribe");
        let removed = p.backup_and_prune(2).await.expect("scheduled backup");
        let listed: Vec<String> = backup::list(&p.backup_dir)
            .expect("list")
            .into_iter()
            .map(|b| b.name)
            .collect();
        // The newest two stay, named by the time of their pass; the oldest goes first.
        let expected: Vec<String> = (pass.saturating_sub(1)..=pass)
            .map(|n| backup::file_name(START + n * HOUR))
            .collect();
        assert_eq!(listed, expected, "after pass {pass}");
        let gone: Vec<String> = (pass >= 2)
            .then(|| backup::file_name(START + (pass - 2) * HOUR))
            .into_iter()
            .collect();
        assert_eq!(removed, gone, "removed by pass {pass}");
        kept_names = listed;
        clock.advance(HOUR);
    }

    // The newest backup passes its self-check and holds all four followers; the one before it
    // holds the three written before its pass.
    for (name, followers) in kept_names.iter().zip([3u64, 4]) {
        let manifest = backup::inspect(&p.backup_dir.join(name)).expect("a whole backup");
        assert_eq!(
            manifest.tables.get("followers").copied(),
            Some(followers),
            "{name}: {manifest:?}"
        );
    }
}
