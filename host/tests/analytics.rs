//! The bundled analytics plugin over several days of generated events, in process on a real
//! platform (sled in a temporary directory, the real `analytics.wasm`, its routes over loopback
//! HTTP) with an injected clock, so that entries land at chosen local times in Asia/Shanghai:
//! cohorts at day 1/7/30, a funnel whose window spans midnight, growth and shares on either side
//! of local midnight (23:30 vs 00:30, UTC dates differing from local ones). Every expected number
//! is computed by hand from the script below. (Same-day answers through the real binary:
//! `tests/tests/analytics.rs`.) Also, ignored: the dashboard's time over a million entries.
//!
//! The plugin reads "today" from the WASI wall clock, so the script is placed in the 40 local
//! days before the real today and the injected clock is set to the real time before reading.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use plaza_host::Platform;
use plaza_host::api::{AppState, auth, router};
use plaza_host::channels::{Inbound, InboundKind};
use plaza_host::events::{EventKind, LoggedEvent, event_id};
use plaza_host::platform::ManualClock;
use plaza_host::plugin_api as api;
use plaza_host::plugins::InstallRequest;
use plaza_host::plugins::grants::Capability;
use serde_json::{Value, json};

const ACCOUNT: &str = "acc";
const M: u64 = 60_000;
const H: u64 = 60 * M;
const DAY: u64 = 24 * H;
/// Asia/Shanghai is UTC+8 all year (no DST).
const SHANGHAI: u64 = 8 * H;

fn real_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Local midnight in Shanghai, `days` days before the real today.
fn shanghai_midnight_days_ago(days: u64) -> u64 {
    let now = real_now();
    (now + SHANGHAI) / DAY * DAY - SHANGHAI - days * DAY
}

/// `YYYY-MM-DD` in Shanghai of `ms`.
fn date(ms: u64) -> String {
    let z = ((ms + SHANGHAI) / DAY) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

struct Fixture {
    _dir: tempfile::TempDir,
    p: Arc<Platform>,
    clock: Arc<ManualClock>,
    base: String,
    /// Local midnight of day 0 of the script.
    b: u64,
}

async fn fixture(b: u64, config: Value) -> Fixture {
    let (clock, dir, p) = common::bundled_in_shanghai(ACCOUNT, b - DAY).await;
    p.install_plugin(
        ACCOUNT,
        InstallRequest {
            plugin: "analytics".into(),
            config: Some(config),
            grants: vec![
                Capability::EventsRead,
                Capability::FollowersRead,
                Capability::Storage,
                Capability::HttpRoutes,
            ],
            ..Default::default()
        },
    )
    .await
    .expect("install analytics");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(AppState {
        platform: p.clone(),
        admin_token: Arc::new(auth::AdminToken::new("test-token")),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Fixture {
        _dir: dir,
        p,
        clock,
        base,
        b,
    }
}

impl Fixture {
    /// A follower event or message handled by the real inbound pipeline at `at`.
    async fn inbound(&self, at: u64, from: &str, kind: InboundKind) {
        self.clock.set(at);
        self.p
            .handle_inbound(
                ACCOUNT,
                Inbound {
                    dedup_key: None,
                    from: from.into(),
                    at,
                    kind,
                },
            )
            .await
            .expect("inbound");
    }

    async fn subscribe(&self, at: u64, from: &str) {
        let kind = InboundKind::Event(api::FollowerEventKind::Subscribe(None));
        self.inbound(at, from, kind).await;
    }

    async fn unsubscribe(&self, at: u64, from: &str) {
        let kind = InboundKind::Event(api::FollowerEventKind::Unsubscribe);
        self.inbound(at, from, kind).await;
    }

    async fn click(&self, at: u64, from: &str, key: &str) {
        let kind = InboundKind::Event(api::FollowerEventKind::MenuClick(key.into()));
        self.inbound(at, from, kind).await;
    }

    async fn message(&self, at: u64, from: &str) {
        let kind = InboundKind::Message {
            msg_id: format!("m{at}{from}"),
            body: api::InboundBody::Text("hi".into()),
        };
        self.inbound(at, from, kind).await;
    }

    /// A plugin event as `events.emit` logs it (plugin `kind`'s first segment).
    async fn plugin_event(&self, at: u64, from: &str, kind: &str, props: &[(&str, &str)]) {
        self.clock.set(at);
        let e = LoggedEvent {
            id: event_id(at, &self.p.ids.next("")),
            at,
            kind: EventKind::Plugin,
            openid: Some(from.into()),
            plugin: kind.split('.').next().map(str::to_string),
            plugin_kind: Some(kind.into()),
            properties: props
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..LoggedEvent::default()
        };
        self.p
            .store
            .write(|tx| self.p.events.append_in(tx, ACCOUNT, &e))
            .expect("append")
            .durable()
            .await
            .expect("durable");
    }

    /// `GET /p/acc/analytics{path}` with the admin token: (status, body text).
    async fn get(&self, path: &str) -> (u16, String) {
        let url = format!("{}/p/{ACCOUNT}/analytics{path}", self.base);
        tokio::task::spawn_blocking(move || {
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .new_agent();
            let mut resp = agent
                .get(&url)
                .header("Authorization", "Bearer test-token")
                .call()
                .expect("request");
            let status = resp.status().as_u16();
            (status, resp.body_mut().read_to_string().expect("body"))
        })
        .await
        .expect("task")
    }

    async fn json(&self, path: &str) -> Value {
        let (status, text) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).expect("json")
    }

    fn day(&self, k: u64) -> u64 {
        self.b + k * DAY
    }

    fn range(&self, from: u64, to: u64) -> String {
        format!("from={}&to={}", date(self.day(from)), date(self.day(to)))
    }
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

fn funnel_config() -> Value {
    json!({ "funnels": [{
        "id": "buy",
        "window_hours": 48,
        "steps": [
            { "kind": "follower_event", "sub_kind": "subscribe" },
            { "kind": "editor.article.read" },
            { "kind": "follower_event", "sub_kind": "click",
              "property": { "name": "event_key", "value": "shop" } },
            { "kind": "shop.order.paid" }
        ]
    }]})
}

/// The script, day k = the k-th local day (Shanghai) from 40 days ago; times local.
async fn script(f: &Fixture) {
    let d = |k: u64| f.day(k);
    // day 0
    f.subscribe(d(0) + 10 * H, "u3").await;
    f.plugin_event(
        d(0) + 11 * H,
        "u3",
        "editor.article.read",
        &[("article", "a2")],
    )
    .await;
    f.subscribe(d(0) + 23 * H + 30 * M, "u1").await; // 23:30 local = 15:30 UTC
    f.message(d(0) + 23 * H + 50 * M, "u3").await; // still day 0 for u3: not day 1
    // day 1
    f.message(d(1) + 10 * M, "u1").await; // 00:10 local: u1's day 1 (UTC: still day 0's date)
    f.subscribe(d(1) + 30 * M, "u2").await; // 00:30 local
    f.plugin_event(
        d(1) + H,
        "u1",
        "editor.article.read",
        &[("article", "a1"), ("title", "一")],
    )
    .await;
    f.click(d(1) + 2 * H, "u1", "shop").await;
    f.subscribe(d(1) + 12 * H, "u4").await;
    // day 2
    f.plugin_event(d(2), "u2", "editor.article.read", &[("article", "a1")])
        .await; // 23.5 h after u2 subscribed: inside the 48 h window
    f.click(d(2) + H, "u2", "shop").await;
    f.plugin_event(d(2) + 2 * H, "u2", "shop.order.paid", &[("order_id", "o2")])
        .await;
    f.unsubscribe(d(2) + 9 * H, "u4").await;
    f.message(d(2) + 12 * H, "u2").await;
    f.plugin_event(
        d(2) + 23 * H + 30 * M,
        "u2",
        "editor.article.share",
        &[("article", "a1")],
    )
    .await; // 23:30 local: day 2
    // day 3
    f.plugin_event(
        d(3) + 30 * M,
        "u1",
        "editor.article.share",
        &[("article", "a1")],
    )
    .await; // 00:30 local: day 3
    f.plugin_event(d(3) + H, "u1", "shop.order.paid", &[("order_id", "o1")])
        .await; // 49.5 h after u1 subscribed: outside the window
    // day 7
    f.click(d(7) + 7 * H, "u3", "news").await;
    f.subscribe(d(7) + 8 * H, "u5").await;
    f.plugin_event(
        d(7) + 9 * H,
        "u5",
        "editor.article.read",
        &[("article", "a1")],
    )
    .await;
    // day 8
    f.message(d(8) + 5 * M, "u1").await; // u1's day 7 would have been day 8 - no
    f.click(d(8) + 6 * H, "u2", "news").await; // u2's day 7
    // day 30
    f.message(d(30) + 15 * H, "u3").await; // u3's day 30
    f.clock.set(real_now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_answers_over_days_in_shanghai() {
    let f = fixture(shanghai_midnight_days_ago(40), funnel_config()).await;
    script(&f).await;

    // Growth, days 0-2. Day 0: u3, u1 (23:30); day 1: u2 (00:30), u4; day 2: u4 leaves.
    // Subscribed now: u1 u2 u3 u5 = 4; after day 2, u5 joined (+1): 3 at the end of day 2,
    // 4 at the end of day 1, 2 at the end of day 0.
    let g = f.json(&format!("/api/growth?{}", f.range(0, 2))).await;
    assert_eq!(g["timezone"], "Asia/Shanghai");
    assert_eq!(g["subscribed_now"], 4);
    let rows: Vec<(u64, u64, i64, i64)> = g["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["new"].as_u64().unwrap(),
                d["unfollowed"].as_u64().unwrap(),
                d["net"].as_i64().unwrap(),
                d["cumulative"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(2, 0, 2, 2), (2, 0, 2, 4), (0, 1, -1, 3)]);
    assert_eq!(g["days"][0]["date"], date(f.day(0)));

    // Cohorts of days 0 and 1.
    // Day 0 {u1, u3}: day 1 u1 (00:10 message; u3's 23:50 message is day 0); day 7 u3 (click);
    // day 30 u3 (message). Day 1 {u2, u4}: day 1 u2 (day 2 message and click); day 7 u2
    // (day 8 click); day 31 nobody (unsubscribing is not activity).
    let r = f.json(&format!("/api/retention?{}", f.range(0, 1))).await;
    assert_eq!(r["cohorts"][0]["size"], 2);
    assert_eq!(r["cohorts"][0]["retained"], json!([1, 1, 1]));
    assert!(close(&r["cohorts"][0]["rate"][0], 0.5));
    assert_eq!(r["cohorts"][1]["size"], 2);
    assert_eq!(r["cohorts"][1]["retained"], json!([1, 1, 0]));
    // A cohort whose day 7 is after today: unknown, not zero.
    let r = f.json("/api/retention").await;
    let last = r["cohorts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["retained"], json!([null, null, null]), "{last}");

    // Funnel over days 0-9, 48 h window. u1: follow, read, click; paid after 49.5 h: 3.
    // u2: all four across midnight: 4. u3: follow, read (clicks `news`): 2. u4: 1. u5: 2.
    let fu = f
        .json(&format!("/api/funnels/buy/report?{}", f.range(0, 9)))
        .await;
    let reached: Vec<u64> = fu["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["followers"].as_u64().unwrap())
        .collect();
    assert_eq!(reached, [5, 4, 2, 1], "{fu}");
    assert!(close(&fu["steps"][2]["from_previous"], 0.5));
    assert!(close(&fu["steps"][3]["from_first"], 0.2));

    // Articles, days 0-3: reads u3 (d0, a2), u1 (d1), u2 (d2); shares u2 d2 23:30, u1 d3 00:30.
    let a = f.json(&format!("/api/articles?{}", f.range(0, 3))).await;
    let per_day: Vec<(u64, u64)> = a["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["reads"].as_u64().unwrap(), d["shares"].as_u64().unwrap()))
        .collect();
    assert_eq!(per_day, [(1, 0), (1, 0), (1, 1), (0, 1)]);
    assert!(close(&a["share_rate"], 2.0 / 3.0));
    assert!(close(&a["days"][2]["share_rate"], 1.0));
    assert_eq!(a["articles"][0]["article"], "a1");
    assert_eq!(a["articles"][0]["title"], "一");
    assert_eq!(a["articles"][0]["reads_per_day"], json!([0, 1, 1, 0]));
    assert_eq!(a["articles"][0]["shares_per_day"], json!([0, 0, 1, 1]));

    // Active hours, days 0-9: messages at 23:50, 00:10, 12:00, 00:05 local.
    let h = f
        .json(&format!("/api/active-hours?{}", f.range(0, 9)))
        .await;
    let mut expected = vec![0u64; 24];
    expected[0] = 2;
    expected[12] = 1;
    expected[23] = 1;
    assert_eq!(h["hours"], json!(expected));

    // The dashboard over the script's days renders every section.
    let (status, page) = f.get(&format!("?{}", f.range(0, 30))).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<th>关注者 Followers now</th><td>4</td>"),
        "{page}"
    );
    assert!(!page.contains("class=\"error\""), "{page}");
}

/// `cargo test -p plaza-host --release --test analytics -- --ignored --nocapture`: a million
/// entries over 30 local days (50 000 followers, the mix of `host/tests/event_log.rs`'s benchmark
/// plus editor reads/shares and shop orders), then the dashboard and each JSON report timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn dashboard_over_a_million_events() {
    const N: u64 = 1_000_000;
    let b = shanghai_midnight_days_ago(30);
    let config = {
        let mut c = funnel_config();
        c["max_entries"] = json!(2_000_000);
        c
    };
    let f = fixture(b, config).await;
    // A thousand real followers (the follower list is read for the audience and the anchor).
    for i in 0..1000u64 {
        f.subscribe(b + i * M, &format!("o-{i:06}")).await;
    }
    let step = (30 * DAY - 1000 * M) / N;
    let event = |i: u64| -> LoggedEvent {
        let at = b + 1000 * M + i * step;
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let mut e = LoggedEvent {
            id: event_id(at, &f.p.ids.next("")),
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
                e.event_key = Some("shop".into());
            }
            10..=14 => {
                e.kind = EventKind::Delivery;
                e.delivery = Some(plaza_host::messaging::outbox::Delivery::Reply);
                e.msg_type = Some("text".into());
                e.plugin = Some("auto-reply".into());
                e.message_id = Some(format!("m{i:020}"));
            }
            _ => {
                e.kind = EventKind::Plugin;
                let kind = [
                    "editor.article.read",
                    "editor.article.share",
                    "shop.order.paid",
                ][(h % 3) as usize];
                e.plugin = kind.split('.').next().map(str::to_string);
                e.plugin_kind = Some(kind.into());
                let article = format!("a-{}", h % 40);
                e.properties = vec![
                    ("article".into(), article.clone()),
                    ("title".into(), format!("Article {article}")),
                ];
            }
        }
        e
    };
    let t = Instant::now();
    for chunk in 0..N / 1000 {
        f.p.store
            .write(|tx| {
                for i in chunk * 1000..(chunk + 1) * 1000 {
                    let e = event(i);
                    f.clock.set(e.at);
                    f.p.events.append_in(tx, ACCOUNT, &e)?;
                }
                Ok(())
            })
            .expect("write")
            .detach();
    }
    f.p.store.sync().await.expect("sync");
    f.clock.set(real_now());
    println!("wrote {N} entries in {:?}", t.elapsed());

    let range = f.range(0, 29);
    for (what, path) in [
        ("growth (daily counts)", format!("/api/growth?{range}")),
        ("articles + comparison", format!("/api/articles?{range}")),
        ("retention (30 cohorts)", format!("/api/retention?{range}")),
        (
            "funnel (4 steps)",
            format!("/api/funnels/buy/report?{range}"),
        ),
        ("active hours", format!("/api/active-hours?{range}")),
        ("audience", "/api/audience".to_string()),
        ("dashboard page", format!("?{range}")),
        (
            "dashboard page, last 7 days",
            format!("?{}", f.range(23, 29)),
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let (status, body) = f.get(&path).await;
            times.push(t.elapsed());
            assert_eq!(status, 200, "{what}: {}", &body[..body.len().min(500)]);
        }
        times.sort();
        println!(
            "{what}: median {:?} (min {:?}, max {:?})",
            times[1], times[0], times[2]
        );
    }
}
