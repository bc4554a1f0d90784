//! The analytics plugin end to end: the real binary, the bundled `analytics.wasm`, followers
//! subscribing, messaging and clicking the menu through the inbound API, and the probe installed
//! as `editor` and `shop` emitting `editor.article.read` / `editor.article.share` /
//! `shop.order.paid`. Every answer is compared with numbers computed by hand from the script.
//!
//! The host stamps log entries with its own clock, so everything here happens "today"; the
//! multi-day answers (cohorts at day 1 and 7, the 23:30 / 00:30 day boundary in Asia/Shanghai)
//! are checked with an injected clock in `host/tests/analytics.rs`. To keep "today" from
//! changing under the test, the account's timezone is the `Etc/GMT±N` zone where it is about
//! noon when the test starts.

use plaza_tests::*;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, request};

const ACCOUNT: &str = "acct";
const BASE: &str = "/p/acct/analytics";

/// `YYYY-MM-DD` of a time (ms) shifted by `offset_h` hours (Howard Hinnant's civil-from-days).
fn local_date(ms: u64, offset_h: i64) -> String {
    let local = ms as i64 + offset_h * 3_600_000;
    let z = local.div_euclid(86_400_000) + 719_468;
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

fn local_hour(ms: u64, offset_h: i64) -> usize {
    ((ms as i64 + offset_h * 3_600_000).rem_euclid(86_400_000) / 3_600_000) as usize
}

struct World {
    _tmp: tempfile::TempDir,
    server: Server,
    offset: i64,
    today: String,
    yesterday: String,
    /// Local hours at the start and the end of the script: every inbound message is in one.
    hours: (usize, usize),
}

fn subscribe(server: &Server, openid: &str) {
    let a = server.event(ACCOUNT, openid, "subscribe");
    assert_eq!(a.status, 200, "{a:?}");
}

fn click(server: &Server, openid: &str, key: &str) {
    let a = server.post(
        &format!("/api/v1/accounts/{ACCOUNT}/inbound"),
        &json!({ "msg_type": "event", "event": "click", "event_key": key, "from": openid }),
    );
    assert_eq!(a.status, 200, "{a:?}");
}

/// The probe installed as `plugin` emits `kind` about `openid` (an inbound text message).
fn emit(server: &Server, openid: &str, msg_id: &str, plugin: &str, kind: &str, props: &str) {
    let a = server.text(
        ACCOUNT,
        openid,
        msg_id,
        &format!("@{plugin} emit {kind} {props}"),
    );
    let reply = a.reply_text().unwrap_or_default();
    assert!(reply.starts_with("emitted:"), "{a:?}");
}

fn profile(server: &Server, openid: &str, region: &str, gender: &str) {
    let a = server.patch(
        &format!("/api/v1/accounts/{ACCOUNT}/followers/{openid}"),
        &json!({ "region": region, "gender": gender }),
    );
    assert_eq!(a.status, 200, "{a:?}");
}

/// The script. By hand:
/// * subscribes a b c d e f, e unsubscribes: new 6, unfollowed 1, net 5, 5 subscribed.
/// * reads: a1 by a, b, d; a2 by c, d (5); shares: a1 by b, a2 by d (2): share rate 0.4;
///   a1 1/3, a2 1/2.
/// * funnel follow → read → click `shop` → paid: a (all four); b (read, clicks `news`): 2;
///   c (clicks `shop` BEFORE reading): 2; d (reads, clicks `shop`): 3; e, f: 1.
///   Reached: 6, 4, 2, 1.
/// * inbound messages: every `@… emit` is one: a 2, b 2, c 1, d 3 = 8.
fn world() -> World {
    let (zone, offset) = noon_zone();
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let a = server.post(
        "/api/v1/accounts",
        &json!({ "id": ACCOUNT, "kind": "service", "verified": true, "timezone": zone }),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let inst = server.install(
        ACCOUNT,
        json!({
            "plugin": "analytics",
            "grants": ["events.read", "followers.read", "storage", "http.routes"],
            "config": { "funnels": [{
                "id": "buy",
                "name": "关注到购买 <follow to buy>",
                "window_hours": 24,
                "steps": [
                    { "kind": "follower_event", "sub_kind": "subscribe", "label": "关注 follow" },
                    { "kind": "editor.article.read", "label": "阅读 read" },
                    { "kind": "follower_event", "sub_kind": "click",
                      "property": { "name": "event_key", "value": "shop" }, "label": "点击 click" },
                    { "kind": "shop.order.paid", "label": "购买 paid" }
                ]
            }]}
        }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe_with(
        &server,
        ACCOUNT,
        "editor",
        &["events.emit"],
        &["events.emit"],
    );
    install_probe_with(&server, ACCOUNT, "shop", &["events.emit"], &["events.emit"]);

    let start = now_ms();
    let read = |o: &str, id: &str, article: &str| {
        let title = if article == "a1" {
            "春节 <b>Spring</b>"
        } else {
            "Article two"
        };
        emit(
            &server,
            o,
            id,
            "editor",
            "editor.article.read",
            &format!("article={article},title={title}"),
        );
    };
    let share = |o: &str, id: &str, article: &str| {
        emit(
            &server,
            o,
            id,
            "editor",
            "editor.article.share",
            &format!("article={article}"),
        );
    };
    subscribe(&server, "a");
    read("a", "a1", "a1");
    click(&server, "a", "shop");
    emit(
        &server,
        "a",
        "a2",
        "shop",
        "shop.order.paid",
        "order_id=o1,amount_cents=990",
    );

    subscribe(&server, "b");
    read("b", "b1", "a1");
    share("b", "b2", "a1");
    click(&server, "b", "news");

    subscribe(&server, "c");
    click(&server, "c", "shop");
    read("c", "c1", "a2");

    subscribe(&server, "d");
    read("d", "d1", "a1");
    read("d", "d2", "a2");
    share("d", "d3", "a2");
    click(&server, "d", "shop");

    subscribe(&server, "e");
    server.event(ACCOUNT, "e", "unsubscribe");
    subscribe(&server, "f");
    let end = now_ms();
    assert_eq!(
        local_date(start, offset),
        local_date(end, offset),
        "the script crossed local midnight (it starts near noon)"
    );

    for (o, region, gender) in [
        ("a", "Shanghai", "female"),
        ("b", "Shanghai", "male"),
        ("c", "Beijing", "female"),
        ("d", "", ""),
        ("e", "Guangzhou", "female"),
        ("f", "Beijing", "male"),
    ] {
        profile(&server, o, region, gender);
    }
    World {
        _tmp: tmp,
        server,
        offset,
        today: local_date(start, offset),
        yesterday: local_date(start - 86_400_000, offset),
        hours: (local_hour(start, offset), local_hour(end, offset)),
    }
}

fn get_json(w: &World, path: &str) -> Value {
    let a = w.server.get(&format!("{BASE}{path}"));
    assert_eq!(a.status, 200, "{path}: {a:?}");
    a.body
}

fn text(a: &common::RawAnswer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

#[test]
fn known_answers_growth_articles_funnel_retention_audience_hours() {
    let w = world();
    let range = format!("?from={}&to={}", w.yesterday, w.today);

    // Growth: yesterday nothing, 0 subscribed at its end; today 6 new, 1 gone, 5 at the end.
    let g = get_json(&w, &format!("/api/growth{range}"));
    assert_eq!(g["subscribed_now"], 5);
    assert_eq!(
        g["days"],
        json!([
            { "date": w.yesterday, "new": 0, "unfollowed": 0, "net": 0, "cumulative": 0 },
            { "date": w.today, "new": 6, "unfollowed": 1, "net": 5, "cumulative": 5 },
        ])
    );

    // Articles: 5 reads, 2 shares today.
    let a = get_json(&w, &format!("/api/articles{range}"));
    assert_eq!(
        (a["reads"].as_u64(), a["shares"].as_u64()),
        (Some(5), Some(2))
    );
    assert!(close(&a["share_rate"], 0.4), "{a}");
    assert_eq!(a["days"][0]["reads"], 0);
    assert_eq!(a["days"][0]["share_rate"], Value::Null);
    assert_eq!(
        (
            a["days"][1]["reads"].as_u64(),
            a["days"][1]["shares"].as_u64()
        ),
        (Some(5), Some(2))
    );
    let list = a["articles"].as_array().expect("compared articles");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["article"], "a1");
    assert_eq!(list[0]["title"], "春节 <b>Spring</b>");
    assert_eq!(list[0]["reads_per_day"], json!([0, 3]));
    assert_eq!(list[0]["shares_per_day"], json!([0, 1]));
    assert!(close(&list[0]["share_rate"], 1.0 / 3.0));
    assert_eq!(
        (list[1]["article"].as_str(), list[1]["reads"].as_u64()),
        (Some("a2"), Some(2))
    );
    assert!(close(&list[1]["share_rate"], 0.5));

    // The configured funnel.
    let f = get_json(&w, &format!("/api/funnels/buy/report{range}"));
    let reached: Vec<u64> = f["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["followers"].as_u64().unwrap())
        .collect();
    assert_eq!(reached, [6, 4, 2, 1], "{f}");
    assert_eq!(f["steps"][0]["from_previous"], Value::Null);
    assert!(close(&f["steps"][1]["from_previous"], 4.0 / 6.0));
    assert!(close(&f["steps"][2]["from_previous"], 2.0 / 4.0));
    assert!(close(&f["steps"][3]["from_previous"], 1.0 / 2.0));
    assert!(close(&f["steps"][3]["from_first"], 1.0 / 6.0));
    assert_eq!(f["steps"][3]["label"], "购买 paid");

    // Retention: today's cohort is the six who subscribed; day 1 has not come yet.
    let r = get_json(&w, &format!("/api/retention{range}"));
    assert_eq!(r["offsets"], json!([1, 7, 30]));
    assert_eq!(r["cohorts"][0]["size"], 0);
    assert_eq!(r["cohorts"][1]["date"], w.today);
    assert_eq!(r["cohorts"][1]["size"], 6);
    assert_eq!(r["cohorts"][1]["retained"], json!([null, null, null]));
    // Yesterday's (empty) cohort's day 1 is today: known, and zero.
    assert_eq!(r["cohorts"][0]["retained"][0], 0);

    // Active hours: the eight messages, in the local hour(s) the script ran in.
    let h = get_json(&w, &format!("/api/active-hours{range}"));
    let hours: Vec<u64> = h["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours.iter().sum::<u64>(), 8);
    for (i, n) in hours.iter().enumerate() {
        assert!(
            *n == 0 || i == w.hours.0 || i == w.hours.1,
            "hour {i}: {hours:?}"
        );
    }

    // Audience: the five subscribed (e left).
    let au = get_json(&w, "/api/audience");
    assert_eq!(au["subscribed"], 5);
    let pairs = |v: &Value| -> Vec<(String, u64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["value"].as_str().unwrap().to_string(),
                    s["followers"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let own = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(
        pairs(&au["gender"]),
        own(&[("female", 2), ("male", 2), ("unknown", 1)])
    );
    assert_eq!(
        pairs(&au["region"]),
        own(&[("Beijing", 2), ("Shanghai", 2), ("unknown", 1)])
    );
    assert!(close(&au["region"][0]["share"], 0.4));

    // The default range is the last 30 days, ending today.
    let g = get_json(&w, "/api/growth");
    assert_eq!(g["days"].as_array().unwrap().len(), 30);
    assert_eq!(g["to"], w.today);
    let _ = w.offset;
}

#[test]
fn funnels_defined_by_operators_supersede_the_configuration() {
    let w = world();
    let range = format!("?from={}&to={}", w.today, w.today);
    let put = |id: &str, body: &Value| {
        request(
            &w.server,
            "PUT",
            &format!("{BASE}/api/funnels/{id}"),
            &[ADMIN, ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    // read → share of the same follower: a (no share), b (shares), c (no), d (shares): 4, 2.
    let ok = put(
        "read-share",
        &json!({ "name": "读后分享", "steps": [
            { "kind": "editor.article.read" }, { "kind": "editor.article.share" }
        ]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.message());
    let f = get_json(&w, &format!("/api/funnels/read-share/report{range}"));
    assert_eq!(f["steps"][0]["followers"], 4);
    assert_eq!(f["steps"][1]["followers"], 2);
    assert_eq!(f["window_hours"], 168);

    // Only a share of article a2: d.
    let ok = put(
        "read-share",
        &json!({ "steps": [
            { "kind": "editor.article.read" },
            { "kind": "editor.article.share", "property": { "name": "article", "value": "a2" } }
        ]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.message());
    let f = get_json(&w, &format!("/api/funnels/read-share/report{range}"));
    assert_eq!(f["steps"][1]["followers"], 1);

    // A stored `buy` supersedes the configured one (now two steps: follow → paid: 6, 1).
    let ok = put(
        "buy",
        &json!({ "steps": [
            { "kind": "follower_event", "sub_kind": "subscribe" }, { "kind": "shop.order.paid" }
        ]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.message());
    let list = get_json(&w, "/api/funnels");
    let ids: Vec<(&str, &str)> = list["funnels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["source"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [("buy", "stored"), ("read-share", "stored")]);
    let f = get_json(&w, &format!("/api/funnels/buy/report{range}"));
    assert_eq!(f["steps"].as_array().unwrap().len(), 2);
    assert_eq!(f["steps"][1]["followers"], 1);
    // Deleting it brings the configuration's back.
    let del = w.server.delete(&format!("{BASE}/api/funnels/buy"));
    assert_eq!(del.status, 200, "{del:?}");
    let f = get_json(&w, &format!("/api/funnels/buy/report{range}"));
    assert_eq!(f["steps"].as_array().unwrap().len(), 4);
    let again = w.server.delete(&format!("{BASE}/api/funnels/buy"));
    assert_eq!((again.status, again.error_code()), (404, "not_found"));

    // Bad definitions: typed errors, nothing stored.
    for (id, body) in [
        (
            "one-step",
            json!({ "steps": [{ "kind": "follower_event" }] }),
        ),
        (
            "Bad_Id",
            json!({ "steps": [{ "kind": "a" }, { "kind": "b" }] }),
        ),
        (
            "w",
            json!({ "steps": [{ "kind": "a" }, { "kind": "b" }], "window_hours": 0 }),
        ),
        (
            "x",
            json!({ "steps": [{ "kind": "a" }, { "kind": "b", "colour": "red" }] }),
        ),
        (
            "y",
            json!({ "id": "z", "steps": [{ "kind": "a" }, { "kind": "b" }] }),
        ),
        ("z", json!([1, 2])),
    ] {
        let a = put(id, &body);
        assert_eq!(a.status, 400, "{id}: {}", a.message());
        assert_eq!(a.code(), "invalid", "{id}: {}", a.message());
    }
    let not_json = request(
        &w.server,
        "PUT",
        &format!("{BASE}/api/funnels/q"),
        &[ADMIN],
        b"{not json",
    );
    assert_eq!((not_json.status, not_json.code()), (400, "invalid"));
    let list = get_json(&w, "/api/funnels");
    assert_eq!(list["funnels"].as_array().unwrap().len(), 2, "{list}");
    let missing = w.server.get(&format!("{BASE}/api/funnels/nope/report"));
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
}

#[test]
fn charts_and_dashboard_are_operator_only_svg_and_html_with_escaped_text() {
    let w = world();
    let range = format!("?from={}&to={}", w.yesterday, w.today);
    for chart in [
        "growth.svg",
        "cumulative.svg",
        "articles.svg",
        "article-comparison.svg",
        "active-hours.svg",
        "gender.svg",
        "region.svg",
        "funnels/buy.svg",
    ] {
        let path = format!("{BASE}/charts/{chart}{range}");
        let a = common::get_bytes(&w.server, &path, &[ADMIN]);
        assert_eq!(a.status, 200, "{chart}: {}", text(&a));
        assert_eq!(
            a.header("content-type"),
            Some("image/svg+xml; charset=utf-8")
        );
        let svg = text(&a);
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>"),
            "{chart}"
        );
        assert!(svg.contains("viewBox=\"0 0 640 "), "{chart}");
        assert!(
            !svg.contains("<b>") && !svg.contains("<follow"),
            "{chart} unescaped: {svg}"
        );
    }
    let cmp = common::get_bytes(
        &w.server,
        &format!("{BASE}/charts/article-comparison.svg{range}"),
        &[ADMIN],
    );
    assert!(text(&cmp).contains("春节 &lt;b&gt;Spring&lt;/b&gt;"));
    let funnel = common::get_bytes(
        &w.server,
        &format!("{BASE}/charts/funnels/buy.svg{range}"),
        &[ADMIN],
    );
    let chart = text(&funnel);
    assert!(chart.contains("关注到购买 &lt;follow to buy&gt;"));
    assert!(chart.contains("1. 关注 follow — 6"), "{chart}");
    assert!(chart.contains("4. 购买 paid — 1 · 50.0%"), "{chart}");

    let page = common::get_bytes(&w.server, &format!("{BASE}{range}"), &[ADMIN]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = text(&page);
    assert!(html.contains("name=\"viewport\""));
    assert!(html.matches("<svg").count() >= 8, "charts inline");
    assert!(html.contains("春节 &lt;b&gt;Spring&lt;/b&gt;") && !html.contains("<b>Spring"));
    assert!(
        html.contains("<th>分享率 Share rate</th><td>40.0%</td>"),
        "{html}"
    );
    assert!(html.contains("<th>关注者 Followers now</th><td>5</td>"));
    // Today's cohort row: six followers, no answers yet.
    assert!(html.contains(&format!("<tr><td>{}</td><td>6</td>", w.today)));

    // Without the operator token: 403 everywhere, before any report runs.
    for path in [
        "",
        "/api/growth",
        "/api/funnels",
        "/charts/growth.svg",
        "/api/funnels/buy/report",
    ] {
        let a = w.server.get_as(&format!("{BASE}{path}"), None);
        assert_eq!(a.status, 403, "{path}: {a:?}");
        assert_eq!(a.error_code(), "forbidden");
    }
    let anon_put = request(
        &w.server,
        "PUT",
        &format!("{BASE}/api/funnels/x"),
        &[],
        br#"{"steps":[{"kind":"a"},{"kind":"b"}]}"#,
    );
    assert_eq!(anon_put.status, 403);
}

#[test]
fn bad_ranges_are_typed_errors() {
    let w = world();
    let tomorrow = local_date(now_ms() + 86_400_000 + 3_600_000, w.offset);
    for q in [
        "from=yesterday".to_string(),
        "to=2020-13-01".to_string(),
        format!("from={}&to={}", w.today, w.yesterday),
        format!("to={tomorrow}"),
        "from=2000-01-01".to_string(),
    ] {
        for route in ["/api/growth", "/api/retention", "/charts/growth.svg", ""] {
            let a = w.server.get(&format!("{BASE}{route}?{q}"));
            assert_eq!(a.status, 400, "{route}?{q}: {a:?}");
            assert_eq!(a.error_code(), "invalid", "{route}?{q}");
        }
    }
    // Entry-reading reports are bounded tighter (92 days) than daily counts (366).
    let a = w.server.get(&format!(
        "{BASE}/api/retention?from=2000-01-01&to=2000-12-31"
    ));
    assert_eq!(a.status, 400);
    assert!(a.error_message().contains("at most 92"), "{a:?}");
}
