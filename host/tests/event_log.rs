//! The event log with plugin events and outbound requests, in process on a real platform (sled in
//! a temporary directory, a manual clock): daily counts with known answers across a timezone
//! boundary, kind selectors, the bucket cache against a plain scan (late entries, pruning), the
//! admin API over loopback HTTP, and (ignored) the benchmark over a million entries.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use plaza_host::Platform;
use plaza_host::api::{AppState, auth, router};
use plaza_host::events::daily::{CacheStats, DayCount};
use plaza_host::events::kinds::KindSelector;
use plaza_host::events::plugin::HttpOutboundEntry;
use plaza_host::events::query::{EventFilter, parse_timezone};
use plaza_host::events::{EventKind, LoggedEvent, event_id};
use plaza_host::platform::{Clock, ManualClock};
use plaza_host::{PlazaError, Result};
use serde_json::{Value, json};

/// 2024-05-01T00:00:00Z; Asia/Shanghai is UTC+8, so its May 1 is [B − 8 h, B + 16 h).
const B: u64 = 1_714_521_600_000;
const H: u64 = 3_600_000;
const M: u64 = 60_000;
const DAY: u64 = 24 * H;
const ACCOUNT: &str = "acc";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn sel(items: &[&str]) -> Vec<KindSelector> {
    KindSelector::parse_list(items).expect("selectors")
}

fn props(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// What the fixture writes, each at its own time on the clock (as the host would).
enum Entry {
    Emit {
        plugin: &'static str,
        kind: &'static str,
        openid: Option<&'static str>,
        props: &'static [(&'static str, &'static str)],
    },
    Http {
        host: &'static str,
        status: Option<u16>,
    },
    Inbound {
        openid: &'static str,
        msg_type: &'static str,
    },
}

/// The known data. Local (Shanghai) times in the comments.
fn data() -> Vec<(u64, Entry)> {
    use Entry::*;
    vec![
        // Apr 30 23:00 local, Apr 30 in UTC too.
        (
            B - 9 * H,
            Emit {
                plugin: "editor",
                kind: "editor.article.read",
                openid: Some("o-1"),
                props: &[("article", "a-1")],
            },
        ),
        // May 1 01:00 local, Apr 30 17:00 UTC.
        (
            B - 7 * H,
            Emit {
                plugin: "editor",
                kind: "editor.article.read",
                openid: Some("o-2"),
                props: &[("article", "a-2"), ("source", "menu")],
            },
        ),
        // May 1 18:00 local.
        (
            B + 10 * H,
            Emit {
                plugin: "ads",
                kind: "ads.click",
                openid: None,
                props: &[("slot", "top")],
            },
        ),
        // May 1 23:59:59.999 local: the last instant of the local day.
        (
            B + 16 * H - 1,
            Emit {
                plugin: "ads",
                kind: "ads.slot.view",
                openid: Some("o-1"),
                props: &[],
            },
        ),
        // May 2 00:00 local: the first instant of the next local day; May 1 in UTC.
        (
            B + 16 * H,
            Emit {
                plugin: "ads",
                kind: "ads.click",
                openid: Some("o-2"),
                props: &[],
            },
        ),
        // May 2 00:05 local.
        (
            B + 16 * H + 5 * M,
            Http {
                host: "api.example.com",
                status: Some(200),
            },
        ),
        // May 2 09:00 local.
        (
            B + 25 * H,
            Emit {
                plugin: "editor",
                kind: "editor.article.share",
                openid: Some("o-1"),
                props: &[],
            },
        ),
        // May 2 10:00 local.
        (
            B + 26 * H,
            Inbound {
                openid: "o-3",
                msg_type: "text",
            },
        ),
        // May 3 07:30 local, May 2 23:30 UTC.
        (
            B + 47 * H + 30 * M,
            Http {
                host: "cdn.example.com:8443",
                status: None,
            },
        ),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    p: Arc<Platform>,
    clock: Arc<ManualClock>,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(B - 3 * DAY));
    let (dir, p) = common::platform(clock.clone(), |_| {});
    common::service_account(&p, ACCOUNT, Some("Asia/Shanghai"), clock.now_ms()).await;
    for (at, entry) in data() {
        clock.set(at);
        write(&p, at, entry).await;
    }
    Fixture {
        _dir: dir,
        p,
        clock,
    }
}

async fn write(p: &Platform, at: u64, entry: Entry) {
    match entry {
        Entry::Emit {
            plugin,
            kind,
            openid,
            props: pr,
        } => {
            p.events
                .emit(ACCOUNT, plugin, at, kind, openid, props(pr))
                .expect("emit")
                .durable()
                .await
                .expect("durable");
        }
        Entry::Http { host, status } => {
            p.events
                .log_http_outbound(
                    ACCOUNT,
                    at,
                    &HttpOutboundEntry {
                        plugin: "editor".into(),
                        method: "GET".into(),
                        host: host.into(),
                        status,
                        error: status.is_none().then(|| "connection refused".into()),
                        duration_ms: 7,
                    },
                )
                .expect("log outbound");
            p.store.sync().await.expect("sync");
        }
        Entry::Inbound { openid, msg_type } => {
            let ev = LoggedEvent {
                id: event_id(at, &p.ids.next("")),
                at,
                kind: EventKind::InboundMessage,
                openid: Some(openid.into()),
                msg_type: Some(msg_type.into()),
                message_id: Some("msg-1".into()),
                ..LoggedEvent::default()
            };
            p.store
                .write(|tx| p.events.append_in(tx, ACCOUNT, &ev))
                .expect("append")
                .durable()
                .await
                .expect("durable");
        }
    }
}

type Row = (&'static str, &'static str, &'static str, u64);

fn rows(got: &[DayCount]) -> Vec<(String, String, String, u64)> {
    got.iter()
        .map(|r| (r.date.clone(), r.kind.clone(), r.sub_kind.clone(), r.count))
        .collect()
}

fn want(rows: &[Row]) -> Vec<(String, String, String, u64)> {
    rows.iter()
        .map(|(d, k, s, n)| (d.to_string(), k.to_string(), s.to_string(), *n))
        .collect()
}

impl Fixture {
    /// The cached answer, checked against a plain scan.
    fn daily(
        &self,
        tz: &str,
        from: &str,
        to: &str,
        kinds: &[&str],
    ) -> Vec<(String, String, String, u64)> {
        let tz = parse_timezone(tz).expect("tz");
        let kinds = sel(kinds);
        let cached = self
            .p
            .events
            .daily_counts(ACCOUNT, tz, d(from), d(to), &kinds)
            .expect("daily");
        let scanned = self
            .p
            .events
            .daily_counts_by_scan(ACCOUNT, tz, d(from), d(to), &kinds)
            .expect("daily by scan");
        assert_eq!(cached, scanned, "cached and scanned answers agree");
        rows(&cached)
    }

    fn stats(&self) -> CacheStats {
        self.p.events.cache_stats(ACCOUNT).expect("stats")
    }
}

/// Every entry, by local (Shanghai) day.
const SHANGHAI_ALL: &[Row] = &[
    (
        "2024-04-30",
        "editor.article.read",
        "editor.article.read",
        1,
    ),
    ("2024-05-01", "ads.click", "ads.click", 1),
    ("2024-05-01", "ads.slot.view", "ads.slot.view", 1),
    (
        "2024-05-01",
        "editor.article.read",
        "editor.article.read",
        1,
    ),
    ("2024-05-02", "ads.click", "ads.click", 1),
    (
        "2024-05-02",
        "editor.article.share",
        "editor.article.share",
        1,
    ),
    ("2024-05-02", "http_outbound", "api.example.com", 1),
    ("2024-05-02", "inbound_message", "text", 1),
    ("2024-05-03", "http_outbound", "cdn.example.com:8443", 1),
];

#[tokio::test]
async fn daily_counts_have_known_answers_in_shanghai_and_utc() {
    let f = fixture().await;
    // Ten days later every bucket of the range is closed, so the first query caches them all.
    f.clock.set(B + 10 * DAY);
    assert_eq!(
        f.stats(),
        CacheStats {
            buckets: 0,
            marks: 0
        }
    );
    let sh = |kinds: &[&str]| f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", kinds);
    assert_eq!(sh(&[]), want(SHANGHAI_ALL));
    // 4 local days of 96 quarter-hours: every one cached (none straddles a local midnight).
    assert_eq!(
        f.stats(),
        CacheStats {
            buckets: 384,
            marks: 0
        }
    );
    // The second time from the cache, the same answer.
    assert_eq!(sh(&[]), want(SHANGHAI_ALL));

    assert_eq!(
        sh(&["ads.*"]),
        want(&[
            ("2024-05-01", "ads.click", "ads.click", 1),
            ("2024-05-01", "ads.slot.view", "ads.slot.view", 1),
            ("2024-05-02", "ads.click", "ads.click", 1),
        ])
    );
    assert_eq!(
        sh(&["editor.article.read", "http_outbound"]),
        want(&[
            (
                "2024-04-30",
                "editor.article.read",
                "editor.article.read",
                1
            ),
            (
                "2024-05-01",
                "editor.article.read",
                "editor.article.read",
                1
            ),
            ("2024-05-02", "http_outbound", "api.example.com", 1),
            ("2024-05-03", "http_outbound", "cdn.example.com:8443", 1),
        ])
    );
    assert_eq!(
        sh(&["plugin", "inbound_message"]).len(),
        SHANGHAI_ALL.len() - 2,
        "every plugin event and the inbound message"
    );
    assert_eq!(sh(&["delivery", "editor.comment.*"]), want(&[]));

    // The same entries by UTC day: the local-midnight ones move a day.
    let utc = |kinds: &[&str]| f.daily("UTC", "2024-04-30", "2024-05-02", kinds);
    assert_eq!(
        utc(&[]),
        want(&[
            (
                "2024-04-30",
                "editor.article.read",
                "editor.article.read",
                2
            ),
            ("2024-05-01", "ads.click", "ads.click", 2),
            ("2024-05-01", "ads.slot.view", "ads.slot.view", 1),
            ("2024-05-01", "http_outbound", "api.example.com", 1),
            (
                "2024-05-02",
                "editor.article.share",
                "editor.article.share",
                1
            ),
            ("2024-05-02", "http_outbound", "cdn.example.com:8443", 1),
            ("2024-05-02", "inbound_message", "text", 1),
        ])
    );
    // The UTC days lie within the local range: served from the same buckets, none added.
    assert_eq!(f.stats().buckets, 384);
    assert_eq!(
        utc(&["ads.*"]),
        want(&[
            ("2024-05-01", "ads.click", "ads.click", 2),
            ("2024-05-01", "ads.slot.view", "ads.slot.view", 1),
        ])
    );

    // Kathmandu (UTC+5:45) midnights fall on quarter-hours too: its May 1 starts at
    // Apr 30 18:15 UTC, after both editor reads, and ends at 18:15 UTC, after the three ads.
    assert_eq!(
        f.daily(
            "Asia/Kathmandu",
            "2024-04-30",
            "2024-05-01",
            &["editor.*", "ads.*"]
        ),
        want(&[
            (
                "2024-04-30",
                "editor.article.read",
                "editor.article.read",
                2
            ),
            ("2024-05-01", "ads.click", "ads.click", 2),
            ("2024-05-01", "ads.slot.view", "ads.slot.view", 1),
        ])
    );

    // The admin shape counts plugin kinds and outbound hosts as well, its old fields intact.
    let tz = parse_timezone("Asia/Shanghai").expect("tz");
    let days =
        f.p.events
            .daily(ACCOUNT, tz, d("2024-05-01"), d("2024-05-02"), &[])
            .expect("daily");
    assert_eq!(days[0].total, 3);
    assert_eq!(days[0].counts["plugin"], 3);
    assert_eq!(days[0].counts["inbound_message"], 0);
    assert_eq!(days[0].detail["plugin"]["ads.slot.view"], 1);
    assert_eq!(days[1].total, 4);
    assert_eq!(
        (
            days[1].counts["http_outbound"],
            days[1].counts["inbound_message"]
        ),
        (1, 1)
    );
    assert_eq!(days[1].detail["http_outbound"]["api.example.com"], 1);
}

#[tokio::test]
async fn open_buckets_are_scanned_not_cached() {
    let f = fixture().await;
    // Just after the last entry: its bucket and the ones before it within 10 minutes are open.
    let last = B + 47 * H + 30 * M;
    f.clock.set(last + M);
    let all = f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", &[]);
    assert_eq!(all, want(SHANGHAI_ALL));
    let cached = f.stats().buckets;
    // Buckets from (now − 10 min) rounded down to a quarter-hour on are open: here the one the
    // last entry is in and the one before; the rest of May 3 (local) lies in the future.
    let open_from = (last + M - 10 * M) / (15 * M) * (15 * M);
    let local_start = B - 8 * H - DAY;
    assert_eq!(cached, (open_from - local_start) / (15 * M));
    // A new entry in the open range counts at once.
    f.clock.set(last + 2 * M);
    write(
        &f.p,
        last + 2 * M,
        Entry::Emit {
            plugin: "ads",
            kind: "ads.click",
            openid: None,
            props: &[],
        },
    )
    .await;
    let may3 = f.daily("Asia/Shanghai", "2024-05-03", "2024-05-03", &[]);
    assert_eq!(
        may3,
        want(&[
            ("2024-05-03", "ads.click", "ads.click", 1),
            ("2024-05-03", "http_outbound", "cdn.example.com:8443", 1),
        ])
    );
    assert_eq!(f.stats().marks, 0, "entries on time leave no marks");
}

#[tokio::test]
async fn the_background_pass_warms_the_last_month() {
    let f = fixture().await;
    f.clock.set(B + 10 * DAY);
    f.p.warm_event_caches().expect("warm");
    // Apr 10 00:00 UTC (31 days back) to the last closed quarter-hour, May 10 23:45.
    assert_eq!(f.stats().buckets, 30 * 96 + 95);
    assert_eq!(
        f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", &[]),
        want(SHANGHAI_ALL)
    );
    assert_eq!(
        f.stats().buckets,
        30 * 96 + 95,
        "the query found every bucket cached"
    );
    // An hour later the pass adds the four quarter-hours that closed meanwhile.
    f.clock.set(B + 10 * DAY + H);
    f.p.warm_event_caches().expect("warm");
    assert_eq!(f.stats().buckets, 30 * 96 + 95 + 4);
}

#[tokio::test]
async fn late_entries_and_pruning_keep_cached_answers_exact() {
    let f = fixture().await;
    f.clock.set(B + 10 * DAY + 12 * H);
    assert_eq!(
        f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", &[]),
        want(SHANGHAI_ALL)
    );
    assert_eq!(f.stats().buckets, 384);

    // The clock is set back into cached time (May 1 10:30 UTC) and an entry is written there.
    f.clock.set(B + 10 * H + 30 * M);
    write(
        &f.p,
        B + 10 * H + 30 * M,
        Entry::Emit {
            plugin: "ads",
            kind: "ads.click",
            openid: None,
            props: &[],
        },
    )
    .await;
    assert_eq!(f.stats().marks, 1, "the late entry marked its bucket");
    f.clock.set(B + 10 * DAY + 12 * H);
    let mut expected = want(SHANGHAI_ALL);
    expected[1].3 = 2; // May 1 ads.click
    assert_eq!(
        f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", &[]),
        expected
    );
    assert_eq!(
        f.stats(),
        CacheStats {
            buckets: 384,
            marks: 0
        },
        "recounted, re-cached, mark removed"
    );

    // Retention of 10 days at May 11 12:00 UTC: everything before May 1 12:00 UTC goes — the
    // two editor reads and both ads clicks of May 1 morning.
    f.p.events
        .set_retention(ACCOUNT, Some(10))
        .await
        .expect("retention");
    assert_eq!(f.p.prune_events().expect("prune"), 4);
    let cutoff = B + 12 * H;
    let local_start = B - 8 * H - DAY;
    assert_eq!(
        f.stats().buckets,
        384 - (cutoff - local_start) / (15 * M),
        "the buckets before the cutoff are forgotten"
    );
    assert_eq!(
        f.daily("Asia/Shanghai", "2024-04-30", "2024-05-03", &[]),
        want(&SHANGHAI_ALL[2..3])
            .into_iter()
            .chain(want(&SHANGHAI_ALL[4..]))
            .collect::<Vec<_>>()
    );
    // Asking again recounts the forgotten (now empty) buckets.
    assert_eq!(f.stats().buckets, 384);
}

#[tokio::test]
async fn listing_selects_by_kind_and_follower() {
    let f = fixture().await;
    let list = |kinds: &[&str], openid: Option<&str>| {
        let filter = EventFilter {
            kinds: sel(kinds),
            openid: openid.map(str::to_string),
            ..Default::default()
        };
        f.p.events
            .list(ACCOUNT, &filter, None, 100)
            .expect("list")
            .events
    };
    let ads = list(&["ads.*"], None);
    assert_eq!(
        ads.iter().map(|e| e.kind_str()).collect::<Vec<_>>(),
        ["ads.click", "ads.slot.view", "ads.click"]
    );
    assert!(ads.iter().all(|e| e.plugin.as_deref() == Some("ads")));
    assert_eq!(ads[0].openid, None);
    assert_eq!(ads[0].properties, props(&[("slot", "top")]));

    let read = list(&["editor.article.read"], Some("o-2"));
    assert_eq!(read.len(), 1);
    let e = &read[0];
    assert_eq!((e.at, e.kind), (B - 7 * H, EventKind::Plugin));
    assert_eq!(
        (e.kind_str(), e.sub_kind()),
        ("editor.article.read", "editor.article.read")
    );
    assert_eq!(
        e.flat_properties(),
        props(&[("article", "a-2"), ("source", "menu")])
    );

    let http = list(&["http_outbound"], None);
    assert_eq!(
        http.iter().map(|e| e.sub_kind()).collect::<Vec<_>>(),
        ["api.example.com", "cdn.example.com:8443"]
    );
    assert_eq!(http[0].openid, None);
    assert_eq!(
        http[1].flat_properties(),
        props(&[
            ("method", "GET"),
            ("host", "cdn.example.com:8443"),
            ("error", "connection refused"),
            ("duration_ms", "7"),
        ])
    );
    // Entries about no follower never match a follower filter.
    let o1 = list(&[], Some("o-1"));
    assert_eq!(
        o1.iter().map(|e| e.kind_str()).collect::<Vec<_>>(),
        [
            "editor.article.read",
            "ads.slot.view",
            "editor.article.share"
        ]
    );
    assert_eq!(list(&["editor.*", "inbound_message"], None).len(), 4);
}

#[tokio::test]
async fn the_plugin_entry_points_parse_what_plugins_give() {
    let f = fixture().await;
    // `until` none = now: the clock stands at the May 2 10:00 (local) inbound message, which is
    // then not yet included (exclusive).
    let now = B + 26 * H;
    f.clock.set(now);
    let filter = EventFilter::for_plugin(
        &["ads.*".into(), "inbound_message".into()],
        None,
        Some(B),
        None,
        now,
    )
    .expect("filter");
    let page =
        f.p.events
            .query_for_plugin(ACCOUNT, &filter, None, 2)
            .expect("query");
    assert_eq!(
        page.events.iter().map(|e| e.at).collect::<Vec<_>>(),
        [B + 10 * H, B + 16 * H - 1]
    );
    let cursor = page.next_cursor.expect("a cursor");
    let page =
        f.p.events
            .query_for_plugin(ACCOUNT, &filter, Some(&cursor), 10)
            .expect("query");
    assert_eq!(
        page.events.iter().map(|e| e.at).collect::<Vec<_>>(),
        [B + 16 * H]
    );
    assert_eq!(page.next_cursor, None);
    // A limit of 0 still makes progress: one entry.
    let page =
        f.p.events
            .query_for_plugin(ACCOUNT, &filter, None, 0)
            .expect("query");
    assert_eq!(page.events.len(), 1);
    let e = EventFilter::for_plugin(&["ads".into()], None, None, None, now).unwrap_err();
    assert!(e.to_string().contains("\"ads\""), "{e}");
    assert!(
        f.p.events
            .query_for_plugin(ACCOUNT, &filter, Some("nope"), 10)
            .is_err()
    );

    let tz = parse_timezone("Asia/Shanghai").expect("tz");
    f.clock.set(B + 10 * DAY);
    let rows =
        f.p.events
            .daily_for_plugin(
                ACCOUNT,
                tz,
                "2024-05-02",
                "2024-05-02",
                &["http_outbound".into()],
            )
            .expect("daily");
    assert_eq!(
        rows,
        vec![DayCount {
            date: "2024-05-02".into(),
            kind: "http_outbound".into(),
            sub_kind: "api.example.com".into(),
            count: 1,
        }]
    );
    for (from, to, kinds, says) in [
        (
            "2024/05/02",
            "2024-05-02",
            vec![],
            "`from` must be a date YYYY-MM-DD",
        ),
        ("2024-05-02", "tomorrow", vec![], "`to` must be a date"),
        ("2024-05-03", "2024-05-02", vec![], "is after"),
        ("2023-01-01", "2024-05-02", vec![], "at most 366"),
        (
            "2024-05-02",
            "2024-05-02",
            vec!["ads.**".to_string()],
            "ads.**",
        ),
    ] {
        let e =
            f.p.events
                .daily_for_plugin(ACCOUNT, tz, from, to, &kinds)
                .unwrap_err();
        assert!(
            matches!(e, PlazaError::Invalid(_)) && e.to_string().contains(says),
            "{e}"
        );
    }
}

#[tokio::test]
async fn refused_emits_change_nothing() {
    let f = fixture().await;
    let before = f.p.store.snapshot().expect("snapshot");
    let emit =
        |plugin: &str, kind: &str, openid: Option<&str>, p: Vec<(String, String)>| -> PlazaError {
            match f.p.events.emit(ACCOUNT, plugin, B, kind, openid, p) {
                Ok(_) => panic!("{kind:?} from {plugin:?} was accepted"),
                Err(e) => e,
            }
        };
    let e = emit("editor", "ads.click", None, vec![]);
    assert!(
        matches!(e, PlazaError::Invalid(_)) && e.to_string().contains("`editor.<name>`"),
        "{e}"
    );
    let e = emit("editor", "editor.Read", None, vec![]);
    assert!(matches!(e, PlazaError::Invalid(_)), "{e}");
    let e = emit("editor", "editor.read", Some("a/b"), vec![]);
    assert!(
        matches!(e, PlazaError::Invalid(_)) && e.to_string().contains("openid"),
        "{e}"
    );
    let many = (0..33)
        .map(|i| (format!("p{i}"), "v".to_string()))
        .collect();
    let e = emit("editor", "editor.read", None, many);
    assert!(matches!(e, PlazaError::TooLarge(_)), "{e}");
    assert_eq!(f.p.store.snapshot().expect("snapshot"), before);
}

/// GET `path` on the admin API with the token; (status, body).
fn get(base: &str, path: &str) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(format!("{base}/api/v1{path}"))
        .header("Authorization", "Bearer test-token")
        .call()
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).expect("json"))
}

#[tokio::test]
async fn the_admin_api_lists_and_counts_plugin_kinds() -> Result<()> {
    let f = fixture().await;
    f.clock.set(B + 10 * DAY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(AppState {
        platform: f.p.clone(),
        admin_token: Arc::new(auth::AdminToken::new("test-token")),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base2 = base.clone();
    let call = move |path: &'static str| {
        let base = base2.clone();
        tokio::task::spawn_blocking(move || get(&base, path))
    };

    let (status, page) = call("/accounts/acc/events?kinds=editor.*")
        .await
        .expect("task");
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 3, "{page}");
    assert_eq!(
        events[1],
        json!({
            "id": events[1]["id"], "at": B - 7 * H, "kind": "plugin", "openid": "o-2",
            "plugin": "editor", "plugin_kind": "editor.article.read",
            "properties": { "article": "a-2", "source": "menu" }
        })
    );
    // `kind` (the old name) and `kinds` together, with a built-in kind.
    let (_, page) = call("/accounts/acc/events?kind=inbound_message&kinds=ads.click")
        .await
        .expect("task");
    assert_eq!(page["events"].as_array().map(Vec::len), Some(3), "{page}");
    let (_, page) = call("/accounts/acc/events?kinds=http_outbound")
        .await
        .expect("task");
    assert_eq!(
        page["events"][1]["http"],
        json!({ "method": "GET", "host": "cdn.example.com:8443", "error": "connection refused", "duration_ms": 7 })
    );

    let (status, daily) = call("/accounts/acc/events/daily?from=2024-05-01&to=2024-05-02")
        .await
        .expect("task");
    assert_eq!(status, 200, "{daily}");
    assert_eq!(daily["days"][0]["counts"]["plugin"], 3);
    assert_eq!(daily["days"][0]["detail"]["plugin"]["ads.click"], 1);
    assert_eq!(daily["days"][1]["counts"]["delivery"], 0);
    assert_eq!(
        daily["days"][1]["detail"]["http_outbound"]["api.example.com"],
        1
    );
    let (_, ads) = call("/accounts/acc/events/daily?from=2024-05-01&to=2024-05-02&kinds=ads.*")
        .await
        .expect("task");
    assert_eq!(
        (
            ads["days"][0]["total"].clone(),
            ads["days"][1]["total"].clone()
        ),
        (json!(2), json!(1)),
        "{ads}"
    );

    for bad in [
        "/accounts/acc/events?kinds=ads*",
        "/accounts/acc/events?kinds=bogus",
        "/accounts/acc/events/daily?kinds=Ads.click",
    ] {
        let (status, body) = call(bad).await.expect("task");
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("invalid")),
            "{bad}: {body}"
        );
    }
    Ok(())
}

/// `cargo test -p plaza-host --release --test event_log -- --ignored --nocapture`: writes a
/// million entries over 30 days into sled and times `daily` over the 30 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn daily_over_a_million_events() {
    use std::time::Instant;
    const N: u64 = 1_000_000;
    let clock = Arc::new(ManualClock::new(B));
    let (_dir, p) = common::platform(clock.clone(), |_| {});
    common::service_account(&p, ACCOUNT, Some("Asia/Shanghai"), B).await;
    let step = 30 * DAY / N;
    let event = |i: u64| -> LoggedEvent {
        let at = B + i * step;
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let mut e = LoggedEvent {
            id: event_id(at, &p.ids.next("")),
            at,
            openid: Some(format!("o-{:06}", h % 50_000)),
            ..LoggedEvent::default()
        };
        match h % 20 {
            0..=7 => {
                e.msg_type = Some(["text", "image", "voice"][(h % 3) as usize].into());
                e.message_id = Some(format!("{i:020}"));
            }
            8..=9 => {
                e.kind = EventKind::FollowerEvent;
                e.event = Some(["subscribe", "click", "unsubscribe"][(h % 3) as usize].into());
                e.event_key = Some("menu-1".into());
            }
            10..=14 => {
                e.kind = EventKind::Delivery;
                e.delivery = Some(plaza_host::messaging::outbox::Delivery::Reply);
                e.msg_type = Some("text".into());
                e.plugin = Some("auto-reply".into());
                e.message_id = Some(format!("m{i:020}"));
            }
            15..=18 => {
                e.kind = EventKind::Plugin;
                e.plugin = Some("editor".into());
                e.plugin_kind = Some(
                    [
                        "editor.article.read",
                        "editor.article.share",
                        "editor.page.view",
                    ][(h % 3) as usize]
                        .into(),
                );
                e.properties = props(&[("article", "a-12345"), ("source", "menu")]);
            }
            _ => {
                e.kind = EventKind::HttpOutbound;
                e.openid = None;
                e.plugin = Some("shop".into());
                e.http = Some(plaza_host::events::plugin::HttpRequest {
                    method: "GET".into(),
                    host: ["api.example.com", "cdn.example.com"][(h % 2) as usize].into(),
                    status: Some(200),
                    error: None,
                    duration_ms: 40,
                });
            }
        }
        e
    };
    let t = Instant::now();
    for chunk in 0..N / 1000 {
        p.store
            .write(|tx| {
                for i in chunk * 1000..(chunk + 1) * 1000 {
                    let e = event(i);
                    // The clock follows the entries, as it would in production.
                    clock.set(e.at);
                    p.events.append_in(tx, ACCOUNT, &e)?;
                }
                Ok(())
            })
            .expect("write")
            .detach();
    }
    p.store.sync().await.expect("sync");
    println!("wrote {N} entries in {:?}", t.elapsed());
    assert_eq!(p.events.cache_stats(ACCOUNT).expect("stats").marks, 0);

    let tz = parse_timezone("Asia/Shanghai").expect("tz");
    // 30 local days, the last one "today" (local May 31, 08:00 at the clock): its recent
    // quarter-hours are open and scanned on every query.
    let (from, to) = (d("2024-05-02"), d("2024-05-31"));
    let time = |what: &str, f: &dyn Fn() -> Vec<DayCount>| -> Vec<DayCount> {
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            out = f();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{what}: median {:?} (min {:?}, max {:?})",
            times[2], times[0], times[4]
        );
        out
    };
    let scanned = time("daily by full scan (no cache)", &|| {
        p.events
            .daily_counts_by_scan(ACCOUNT, tz, from, to, &[])
            .expect("scan")
    });
    let total: u64 = scanned.iter().map(|r| r.count).sum();
    assert!(total > 900_000, "{total}");
    let t = Instant::now();
    let first = p
        .events
        .daily_counts(ACCOUNT, tz, from, to, &[])
        .expect("daily");
    println!(
        "daily, first query (cold cache, fills it): {:?}",
        t.elapsed()
    );
    let cached = time("daily, cache warm", &|| {
        p.events
            .daily_counts(ACCOUNT, tz, from, to, &[])
            .expect("daily")
    });
    assert_eq!(first, scanned);
    assert_eq!(cached, scanned);
    let ads = time("daily, cache warm, kinds=editor.article.*", &|| {
        p.events
            .daily_counts(ACCOUNT, tz, from, to, &sel(&["editor.article.*"]))
            .expect("daily")
    });
    assert!(!ads.is_empty());
    println!("{:?}", p.events.cache_stats(ACCOUNT).expect("stats"));
}
