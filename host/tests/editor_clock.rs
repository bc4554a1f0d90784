//! The bundled editor plugin's scheduled publication (定时发送) driven by an injected clock: an
//! article published with `at` a day ahead waits as `scheduled` (and the history does not list
//! it); when the clock reaches `at` the plugin's timer fires and the article becomes published
//! at exactly `at`, in the history. A follower's reads count once per day of the account's
//! timezone, not of UTC. (Everything else end to end through the real binary:
//! `tests/tests/editor.rs`.)

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::events::query::EventFilter;
use plaza_host::harness::{self, Caller};
use serde_json::{Value, json};

const ACCOUNT: &str = "press";
const DAY: u64 = 24 * 3600 * 1000;

async fn operator(p: &Arc<Platform>, method: &str, path: &str, body: Value) -> (u16, Value) {
    harness::plugin_json(p, ACCOUNT, "editor", Caller::Operator, method, path, &body)
        .await
        .expect("editor answers")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_publication_is_published_when_its_time_comes() {
    // The plugin reads the wall clock for "now"; the host's jobs follow the injected clock, so
    // start it at the real time and move it past the scheduled time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, now).await;
    let config = json!({ "welcome_article": false });
    harness::install_bundled(&p, ACCOUNT, "editor", Some(config))
        .await
        .expect("install");

    let (status, created) = operator(
        &p,
        "POST",
        "/api/articles",
        json!({"id": "tomorrow", "title": "明天见 See you tomorrow"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let at = now + DAY;
    let (status, scheduled) = operator(
        &p,
        "POST",
        "/api/articles/tomorrow/publish",
        json!({ "at": at }),
    )
    .await;
    assert_eq!(status, 201, "{scheduled}");
    assert_eq!(scheduled["article"]["status"], "scheduled");
    let jobs = p.jobs.list(ACCOUNT, "editor").expect("jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].next_run, Some(at));

    // A minute before: nothing is due, the article waits.
    clock.set(at - 60_000);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
    let (_, article) = operator(&p, "GET", "/api/articles/tomorrow", Value::Null).await;
    assert_eq!(article["status"], "scheduled", "{article}");

    // Its time: the timer fires once and the article is published at `at`.
    clock.set(at + 1_000);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    let (_, article) = operator(&p, "GET", "/api/articles/tomorrow", Value::Null).await;
    assert_eq!(
        (article["status"].clone(), article["published_at"].clone()),
        (json!("published"), json!(at)),
        "{article}"
    );
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_followers_reads_count_once_per_local_day_of_the_account() {
    // 23:50 and 00:10 in Shanghai are 15:50 and 16:10 UTC: one UTC day, two local days.
    let evening = common::shanghai(2026, 3, 1, 23, 50);
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, evening).await;
    // The welcome article is published on install.
    let config = json!({ "welcome_article": true });
    harness::install_bundled(&p, ACCOUNT, "editor", Some(config))
        .await
        .expect("install");
    let read = |at: u64| {
        clock.set(at);
        let p = p.clone();
        async move {
            let (status, _) = harness::plugin_http(
                &p,
                ACCOUNT,
                "editor",
                Caller::Follower("fan"),
                "GET",
                "/a/welcome",
                b"",
            )
            .await
            .expect("editor answers");
            assert_eq!(status, 200);
            let kinds = ["editor.article.read".to_string()];
            let filter = EventFilter::for_plugin(&kinds, Some("fan".into()), None, None, at + 1)
                .expect("filter");
            p.events
                .list(ACCOUNT, &filter, None, 10)
                .expect("events")
                .events
                .len()
        }
    };
    assert_eq!(read(evening).await, 1);
    // Again the same evening: still one read.
    assert_eq!(read(evening + 4 * 60_000).await, 1);
    // Past local midnight (UTC is still on March 1st): a new day, a new read.
    assert_eq!(read(common::shanghai(2026, 3, 2, 0, 10)).await, 2);
    assert_eq!(read(common::shanghai(2026, 3, 2, 7, 0)).await, 2);
}
