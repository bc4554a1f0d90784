//! The `ad-slots` plugin end to end (real binary, real component, real HTTP): slots and ads with
//! per-field validation, serving decisions through `component.render` and the signed follower
//! route, impression pixels and click redirects with de-duplication and fraud exclusions, CPM and
//! CPC billing up to the budget with the ledger and the daily report, targeting by tags and
//! segments, frequency caps, and 互选 campaigns (brand keys, accept/decline, delivery ahead of
//! inventory ads, reports, settlement by the scheduled job).

use plaza_tests::*;
use serde_json::{Value, json};

mod common;
use common::{RawAnswer, raw};

const GRANTS: [&str; 5] = [
    "storage",
    "http.routes",
    "followers.read",
    "events.emit",
    "scheduling",
];

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account("acct", "service", true).status, 201);
    let inst = server.install("acct", json!({ "plugin": "ad-slots", "grants": GRANTS }));
    assert_eq!(inst.status, 201, "{inst:?}");
    // The editor's side of component.render, played by the probe.
    install_probe_with(
        &server,
        "acct",
        "mag",
        &["query:ad-slots"],
        &["query:ad-slots"],
    );
    (tmp, server)
}

fn op_post(server: &Server, path: &str, body: &Value) -> Answer {
    server.post(&format!("/p/acct/ad-slots{path}"), body)
}

fn op_get(server: &Server, path: &str) -> Value {
    let a = server.get(&format!("/p/acct/ad-slots{path}"));
    assert_eq!(a.status, 200, "{path}: {a:?}");
    a.body
}

fn slot(server: &Server, id: &str) {
    let a = op_post(
        server,
        "/slots",
        &json!({"id": id, "position": "in_article", "style": "card", "size": "16:9"}),
    );
    assert_eq!(a.status, 201, "{a:?}");
}

fn ad(server: &Server, body: Value) {
    let a = op_post(server, "/ads", &body);
    assert_eq!(a.status, 201, "{a:?}");
}

/// The editor (probe) asks `component.render` for slot `slot` and viewer `openid`.
fn render(server: &Server, msg_id: &str, slot: &str, openid: Option<&str>) -> Value {
    let payload = match openid {
        Some(o) => json!({"kind": "ad", "id": slot, "openid": o}),
        None => json!({"kind": "ad", "id": slot}),
    };
    let a = server.text(
        "acct",
        "o-editor",
        msg_id,
        &format!("@mag query ad-slots component.render {payload}"),
    );
    let text = a.reply_text().unwrap_or_default().to_string();
    let json = text
        .strip_prefix("answer:")
        .unwrap_or_else(|| panic!("{text}"));
    serde_json::from_str(json).expect("JSON answer")
}

/// The tracking paths of a rendered snippet: (impression pixel, click link), on this server.
fn tracking(server: &Server, answer: &Value) -> (String, String) {
    let html = answer["html"].as_str().expect("html");
    let urls: Vec<String> = html
        .split('"')
        .filter(|part| part.starts_with(&server.base))
        .map(|url| url.replace("&amp;", "&")[server.base.len()..].to_string())
        .collect();
    let find = |marker: &str| {
        urls.iter()
            .find(|u| u.contains(marker))
            .unwrap_or_else(|| panic!("no {marker} URL in {html}"))
            .clone()
    };
    let (pixel, click) = (find("/ad-slots/i/"), find("/ad-slots/c/"));
    assert_eq!(
        answer["url"].as_str().map(|u| u.ends_with(&click)),
        Some(true),
        "{answer}"
    );
    (pixel, click)
}

fn track(server: &Server, path: &str) -> RawAnswer {
    raw(server, "GET", path, &[], b"")
}

fn event_count(server: &Server, kind: &str, billable: &str) -> usize {
    let a = server.get(&format!("/api/v1/accounts/acct/events?kinds={kind}"));
    assert_eq!(a.status, 200, "{a:?}");
    let events = a.body["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .filter(|e| {
            let s = e.to_string();
            s.contains(&format!("[\"billable\",\"{billable}\"]"))
                || s.contains(&format!("\"billable\":\"{billable}\""))
        })
        .count()
}

#[test]
fn slots_and_ads_are_validated_per_field() {
    let (_tmp, server) = setup();
    let bad = op_post(
        &server,
        "/slots",
        &json!({"id": "s1", "position": "in_article", "style": "card", "size": "wide"}),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.error_message().contains("size"), "{bad:?}");
    let bad = op_post(
        &server,
        "/slots",
        &json!({"id": "s1", "position": "sidebar", "style": "card", "size": "3:1"}),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    slot(&server, "s1");
    let again = op_post(
        &server,
        "/slots",
        &json!({"id": "s1", "position": "end_of_article", "style": "text", "size": "3:1"}),
    );
    assert_eq!(again.status, 409, "{again:?}");

    let base = json!({"id": "a1", "billing": "cpc", "price_cents": 30, "budget_cents": 100,
                      "creative": {"title": "Tea", "landing_url": "https://tea.example/"}});
    for (field, value, expect) in [
        ("price_cents", json!(0), "price_cents"),
        ("billing", json!("cpa"), "cpc"),
        ("frequency_cap", json!(0), "frequency_cap"),
        ("ends", json!(1), "ends"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        if field == "ends" {
            body["starts"] = json!(5);
        }
        let a = op_post(&server, "/ads", &body);
        assert_eq!(a.status, 400, "{field}: {a:?}");
        assert!(a.error_message().contains(expect), "{field}: {a:?}");
    }
    let mut body = base.clone();
    body["creative"]["landing_url"] = json!("javascript:alert(1)");
    let a = op_post(&server, "/ads", &body);
    assert_eq!(a.status, 400);
    assert!(a.error_message().contains("landing_url"), "{a:?}");
    let mut body = base.clone();
    body["targeting"] = json!({"segment": "tag:(("});
    let a = op_post(&server, "/ads", &body);
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.error_message().contains("targeting.segment"), "{a:?}");
    // Nothing invalid was stored.
    assert_eq!(op_get(&server, "/ads")["ads"], json!([]));
    ad(&server, base.clone());
    assert_eq!(op_get(&server, "/ads/a1")["creative"]["title"], "Tea");
    // The slots answer for the editor.
    let a = server.text("acct", "o-editor", "q1", "@mag query ad-slots ad.slots {}");
    let text = a.reply_text().unwrap_or_default();
    assert!(
        text.contains("\"id\":\"s1\"") && text.contains("\"position\":\"in_article\""),
        "{text}"
    );
    // Another kind is not ours.
    let a = server.text(
        "acct",
        "o-editor",
        "q2",
        r#"@mag query ad-slots component.render {"kind":"vote","id":"v1"}"#,
    );
    assert!(
        a.reply_text().unwrap_or_default().contains("not_found")
            || a.reply_text().unwrap_or_default().contains("not-found"),
        "{a:?}"
    );
}

#[test]
fn cpm_impressions_are_deduplicated_billed_to_the_budget_and_reported() {
    let (_tmp, server) = setup();
    slot(&server, "s1");
    // 2000 cents per 1000 impressions = 2 cents (2000 milli-cents) an impression; 10 cents of
    // budget: exactly 5 billable impressions.
    ad(
        &server,
        json!({"id": "cpm1", "billing": "cpm", "price_cents": 2000, "budget_cents": 10,
               "creative": {"title": "Coffee <beans>", "text": "Fresh", "landing_url": "https://coffee.example/buy"}}),
    );
    let first = render(&server, "r1", "s1", Some("o-reader"));
    let html = first["html"].as_str().expect("html");
    assert!(
        html.contains("Coffee &lt;beans&gt;") && !html.contains("<beans>"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    let (pixel, click) = tracking(&server, &first);

    let shown = track(&server, &pixel);
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("content-type"), Some("image/gif"));
    assert_eq!(shown.header("x-ad-billable"), Some("true"));
    // The same decision's pixel again: recorded as a duplicate, not billed.
    let again = track(&server, &pixel);
    assert_eq!(again.header("x-ad-billable"), Some("false"));

    // A click on a CPM ad: redirected, counted, not charged.
    let clicked = track(&server, &click);
    assert_eq!(clicked.status, 302);
    assert_eq!(
        clicked.header("location"),
        Some("https://coffee.example/buy")
    );
    assert_eq!(clicked.header("x-ad-billable"), Some("true"));
    let twice = track(&server, &click);
    assert_eq!(twice.status, 302);
    assert_eq!(twice.header("x-ad-excluded"), Some("duplicate"));

    // A click whose decision never showed its pixel.
    let blind = render(&server, "r2", "s1", Some("o-other"));
    let (_, blind_click) = tracking(&server, &blind);
    let c = track(&server, &blind_click);
    assert_eq!(c.status, 302);
    assert_eq!(c.header("x-ad-excluded"), Some("no_impression"));

    // A tampered token is refused outright.
    let mut forged = pixel.clone();
    let last = forged.pop().expect("token");
    forged.push(if last == '0' { '1' } else { '0' });
    let refused = track(&server, &forged);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"]["code"], "permission_denied");

    // Four more billable impressions exhaust the budget (5 × 2000 = 10,000 milli-cents).
    for i in 0..4 {
        let r = render(&server, &format!("m{i}"), "s1", Some(&format!("o-{i}")));
        let (p, _) = tracking(&server, &r);
        assert_eq!(track(&server, &p).header("x-ad-billable"), Some("true"));
    }
    let none = render(&server, "r9", "s1", Some("o-late"));
    assert_eq!(none, json!({"html": "", "url": ""}));
    let serve = server.get_as("/p/acct/ad-slots/serve?slot=s1", None);
    assert_eq!(serve.status, 200);
    assert_eq!(serve.body["ad"], Value::Null);
    let delivery = &op_get(&server, "/ads/cpm1")["delivery"];
    assert_eq!(delivery["spent_millicents"], 10_000, "{delivery}");
    assert_eq!(delivery["budget_left_cents"], 0.0, "{delivery}");

    // The ledger has the five charges; the report adds them up, with exclusions by reason.
    let ledger = op_get(&server, "/ledger");
    let entries = ledger["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 5, "{ledger}");
    assert!(
        entries
            .iter()
            .all(|e| e["amount_millicents"] == 2000 && e["kind"] == "impression")
    );
    let report = op_get(&server, "/report");
    let t = &report["totals"];
    assert_eq!(t["revenue_millicents"], 10_000, "{report}");
    assert_eq!(t["billable_impressions"], 5, "{report}");
    assert_eq!(t["billable_clicks"], 1, "{report}");
    assert_eq!(t["excluded"]["duplicate"], 2, "{report}");
    assert_eq!(t["excluded"]["no_impression"], 1, "{report}");
    let day = &report["days"][0];
    assert_eq!(day["ads"]["cpm1"]["revenue_millicents"], 10_000, "{report}");
    assert_eq!(day["slots"]["s1"]["billable_impressions"], 5, "{report}");
    // The operator page with its chart.
    let page = server.get("/p/acct/ad-slots/");
    let page = page.body.as_str().expect("html").to_string();
    assert!(page.contains("<svg") && page.contains("¥0.10"), "{page}");
    // Events for analytics.
    assert_eq!(event_count(&server, "ad-slots.impression", "true"), 5);
    assert_eq!(event_count(&server, "ad-slots.click", "false"), 2);
    // Not for followers.
    let denied = server.get_as("/p/acct/ad-slots/report", None);
    assert_eq!(denied.status, 403);
}

#[test]
fn cpc_targeting_frequency_caps_segments_and_click_fraud() {
    let (_tmp, server) = setup();
    slot(&server, "s2");
    for who in ["o-vip", "o-plain", "o-gold"] {
        server.event("acct", who, "subscribe");
    }
    for tag in ["vip", "gold"] {
        assert_eq!(
            server
                .post("/api/v1/accounts/acct/tags", &json!({"name": tag}))
                .status,
            201
        );
    }
    let t = server.post(
        "/api/v1/accounts/acct/tags/vip/tag",
        &json!({"openids": ["o-vip"]}),
    );
    assert!(t.status < 300, "{t:?}");
    let t = server.post(
        "/api/v1/accounts/acct/tags/gold/tag",
        &json!({"openids": ["o-gold"]}),
    );
    assert!(t.status < 300, "{t:?}");
    // 30 cents a click, 60 cents of budget: two billable clicks. Only for vip, twice a day.
    ad(
        &server,
        json!({"id": "cpc1", "billing": "cpc", "price_cents": 30, "budget_cents": 60,
               "targeting": {"tags_any": ["vip"]}, "frequency_cap": 2,
               "creative": {"title": "VIP tea", "image": "https://img.example/t.png", "landing_url": "https://tea.example/"}}),
    );
    // Only for members of the segment `tag:gold` (materialised when the ad is saved).
    ad(
        &server,
        json!({"id": "seg1", "billing": "cpm", "price_cents": 10, "budget_cents": 100,
               "targeting": {"segment": "tag:gold"}, "slots": ["s2"],
               "creative": {"title": "Gold only", "landing_url": "https://gold.example/"}}),
    );
    assert_eq!(
        render(&server, "p1", "s2", Some("o-plain")),
        json!({"html": "", "url": ""})
    );
    let gold = render(&server, "g1", "s2", Some("o-gold"));
    assert!(
        gold["html"].as_str().unwrap().contains("Gold only"),
        "{gold}"
    );
    assert_eq!(
        render(&server, "a1", "s2", None),
        json!({"html": "", "url": ""})
    );

    // The vip follower: two impressions, then the cap.
    let d1 = render(&server, "v1", "s2", Some("o-vip"));
    assert!(d1["html"].as_str().unwrap().contains("VIP tea"), "{d1}");
    let (p1, c1) = tracking(&server, &d1);
    let d2 = render(&server, "v2", "s2", Some("o-vip"));
    let (p2, c2) = tracking(&server, &d2);
    assert_eq!(track(&server, &p1).header("x-ad-billable"), Some("true"));
    assert_eq!(track(&server, &p2).header("x-ad-billable"), Some("true"));
    assert_eq!(
        render(&server, "v3", "s2", Some("o-vip")),
        json!({"html": "", "url": ""})
    );

    // First click billable and charged; the same follower's next click on the ad within the
    // window is a repeated click: redirected, recorded, not billed.
    let first = track(&server, &c1);
    assert_eq!(
        (first.status, first.header("x-ad-billable")),
        (302, Some("true"))
    );
    let second = track(&server, &c2);
    assert_eq!(second.status, 302);
    assert_eq!(second.header("x-ad-excluded"), Some("repeated_click"));
    let delivery = &op_get(&server, "/ads/cpc1")["delivery"];
    assert_eq!(delivery["spent_millicents"], 30_000, "{delivery}");
    let ledger = op_get(&server, "/ledger");
    let clicks: Vec<&Value> = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "click")
        .collect();
    assert_eq!(clicks.len(), 1, "{ledger}");
    assert_eq!(clicks[0]["amount_millicents"], 30_000);
    let report = op_get(&server, "/report");
    assert_eq!(
        report["totals"]["excluded"]["repeated_click"], 1,
        "{report}"
    );
    assert_eq!(
        report["days"][0]["ads"]["cpc1"]["billable_clicks"], 1,
        "{report}"
    );

    // The serving route without a follower (a page opened without a signed link): neither the
    // tag-targeted nor the segment-targeted ad is eligible; the HTML variant is an empty page.
    let page = server.get_as("/p/acct/ad-slots/serve?slot=s2&format=html", None);
    assert_eq!(page.status, 200);
    let page = page.body.as_str().expect("html").to_string();
    assert!(
        page.starts_with("<!doctype html>") && !page.contains("plaza-ad"),
        "{page}"
    );
    let missing = server.get_as("/p/acct/ad-slots/serve?slot=nope", None);
    assert_eq!(missing.status, 404, "{missing:?}");
    let bad = server.get_as("/p/acct/ad-slots/serve", None);
    assert_eq!(bad.status, 400, "{bad:?}");
}

fn brand_post(server: &Server, key: &str, path: &str, body: &Value) -> RawAnswer {
    raw(
        server,
        "POST",
        &format!("/p/acct/ad-slots{path}"),
        &[("x-brand-key", key), ("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn brand_get(server: &Server, key: &str, path: &str) -> RawAnswer {
    raw(
        server,
        "GET",
        &format!("/p/acct/ad-slots{path}"),
        &[("x-brand-key", key)],
        b"",
    )
}

#[test]
fn campaigns_are_accepted_delivered_first_reported_and_settled() {
    let (_tmp, server) = setup();
    slot(&server, "s3");
    ad(
        &server,
        json!({"id": "house", "billing": "cpm", "price_cents": 5000, "budget_cents": 1000,
               "creative": {"title": "House ad", "landing_url": "https://house.example/"}}),
    );
    let made = op_post(
        &server,
        "/brands",
        &json!({"id": "acme", "name": "Acme 品牌"}),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let key = made.body["key"]
        .as_str()
        .expect("key shown once")
        .to_string();
    let brands = op_get(&server, "/brands");
    let shown = brands.to_string();
    assert!(!shown.contains(&key), "{shown}");
    assert!(shown.contains(&key[key.len() - 4..]), "{shown}");
    let other = op_post(&server, "/brands", &json!({"id": "rival", "name": "Rival"}));
    let other_key = other.body["key"].as_str().unwrap().to_string();

    let now = now_ms();
    let campaign = |name: &str, starts: u64, ends: u64, min: u64| {
        json!({"name": name, "budget_cents": 50_000, "price_cents": 80_000, "slot": "s3",
               "starts": starts, "ends": ends,
               "requirements": {"note": "母婴 audience", "min_impressions": min},
               "creative": {"title": format!("{name} creative"), "landing_url": "https://acme.example/"}})
    };
    // Unauthenticated or wrong key: refused.
    let no_key = raw(
        &server,
        "POST",
        "/p/acct/ad-slots/brand/campaigns",
        &[],
        b"{}",
    );
    assert_eq!(no_key.status, 403);
    let wrong = brand_post(
        &server,
        "acme.00",
        "/brand/campaigns",
        &campaign("x", now, now + 1, 0),
    );
    assert_eq!(wrong.status, 403);
    let invalid = brand_post(
        &server,
        &key,
        "/brand/campaigns",
        &campaign("x", now, now - 1, 0),
    );
    assert_eq!(invalid.status, 400);

    let running = brand_post(
        &server,
        &key,
        "/brand/campaigns",
        &campaign("Spring", now - 60_000, now + 86_400_000, 0),
    );
    assert_eq!(running.status, 201, "{:?}", running.json());
    let running_id = running.json()["id"].as_str().unwrap().to_string();
    assert_eq!(running.json()["status"], "submitted");
    // Not delivered before it is accepted.
    let before = render(&server, "b1", "s3", Some("o-x"));
    assert!(
        before["html"].as_str().unwrap().contains("House ad"),
        "{before}"
    );

    let accepted = op_post(
        &server,
        &format!("/campaigns/{running_id}/accept"),
        &json!({}),
    );
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert_eq!(accepted.body["status"], "running");
    let twice = op_post(
        &server,
        &format!("/campaigns/{running_id}/accept"),
        &json!({}),
    );
    assert_eq!(twice.status, 409);
    // Overlapping dates on the same slot cannot be accepted.
    let overlap = brand_post(
        &server,
        &key,
        "/brand/campaigns",
        &campaign("Clash", now, now + 1000, 0),
    );
    let overlap_id = overlap.json()["id"].as_str().unwrap().to_string();
    let clash = op_post(
        &server,
        &format!("/campaigns/{overlap_id}/accept"),
        &json!({}),
    );
    assert_eq!(clash.status, 409, "{clash:?}");
    let declined = op_post(
        &server,
        &format!("/campaigns/{overlap_id}/decline"),
        &json!({"reason": "slot booked"}),
    );
    assert_eq!(declined.status, 200);
    assert_eq!(declined.body["status"], "declined");
    assert_eq!(
        op_post(
            &server,
            &format!("/campaigns/{overlap_id}/accept"),
            &json!({})
        )
        .status,
        409
    );

    // While running it wins over the inventory ad; delivered and reported.
    let d = render(&server, "c1", "s3", Some("o-fan"));
    assert!(
        d["html"].as_str().unwrap().contains("Spring creative"),
        "{d}"
    );
    let (pixel, click) = tracking(&server, &d);
    assert_eq!(track(&server, &pixel).header("x-ad-billable"), Some("true"));
    let c = track(&server, &click);
    assert_eq!(
        (c.status, c.header("location")),
        (302, Some("https://acme.example/"))
    );
    let report = brand_get(&server, &key, &format!("/brand/campaigns/{running_id}"));
    assert_eq!(report.status, 200);
    let report = report.json();
    assert_eq!(report["delivery"]["billable_impressions"], 1, "{report}");
    assert_eq!(report["delivery"]["billable_clicks"], 1, "{report}");
    assert_eq!(
        report["days"][0]["figures"]["billable_impressions"], 1,
        "{report}"
    );
    // Another brand does not see it.
    assert_eq!(
        brand_get(
            &server,
            &other_key,
            &format!("/brand/campaigns/{running_id}")
        )
        .status,
        404
    );
    assert_eq!(
        brand_get(&server, &other_key, "/brand/campaigns").json()["campaigns"],
        json!([])
    );
    // Not settled before its end.
    let early = op_post(
        &server,
        &format!("/campaigns/{running_id}/settle"),
        &json!({}),
    );
    assert_eq!(early.status, 409, "{early:?}");

    // A campaign whose dates are over when it is accepted: the job at its end settles it.
    // min_impressions 10 with none delivered prorates to 0; without a minimum it is
    // min(price, budget).
    let past = brand_post(
        &server,
        &key,
        "/brand/campaigns",
        &campaign("Winter", now - 7_200_000, now - 3_600_000, 0),
    );
    let past_id = past.json()["id"].as_str().unwrap().to_string();
    let ok = op_post(&server, &format!("/campaigns/{past_id}/accept"), &json!({}));
    assert_eq!(ok.status, 200, "{ok:?}");
    let settled = eventually("the settlement job to run", || {
        let c = op_get(&server, &format!("/campaigns/{past_id}"));
        (c["status"] == "settled").then_some(c)
    });
    assert_eq!(settled["settlement"]["amount_cents"], 50_000, "{settled}");
    let thin = brand_post(
        &server,
        &key,
        "/brand/campaigns",
        &campaign("Autumn", now - 20_000_000, now - 10_000_000, 10),
    );
    let thin_id = thin.json()["id"].as_str().unwrap().to_string();
    op_post(&server, &format!("/campaigns/{thin_id}/accept"), &json!({}));
    let thin_settled = eventually("the second settlement", || {
        let c = op_get(&server, &format!("/campaigns/{thin_id}"));
        (c["status"] == "settled").then_some(c)
    });
    assert_eq!(
        thin_settled["settlement"]["amount_cents"], 0,
        "{thin_settled}"
    );
    // Settlement is in the ledger and the day's revenue.
    let ledger = op_get(&server, "/ledger");
    assert!(
        ledger["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "settlement"
                && e["campaign"] == past_id.as_str()
                && e["amount_millicents"] == 50_000_000),
        "{ledger}"
    );
    let totals = &op_get(&server, "/report")["totals"];
    assert_eq!(totals["revenue_millicents"], 50_000_000, "{totals}");
    let again = op_post(&server, &format!("/campaigns/{past_id}/settle"), &json!({}));
    assert_eq!(again.status, 409);
}

#[test]
fn abnormal_click_through_rates_of_a_follower_or_a_slot_are_not_billed() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account("acct", "service", true).status, 201);
    let config = json!({"ctr_min_impressions": 2, "ctr_max_percent": 50, "repeat_click_max": 100});
    let inst = server.install(
        "acct",
        json!({ "plugin": "ad-slots", "grants": GRANTS, "config": config }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe_with(
        &server,
        "acct",
        "mag",
        &["query:ad-slots"],
        &["query:ad-slots"],
    );
    slot(&server, "s-fan");
    slot(&server, "s-anon");
    for (id, slot_id) in [("f1", "s-fan"), ("n1", "s-anon")] {
        ad(
            &server,
            json!({"id": id, "billing": "cpc", "price_cents": 10, "budget_cents": 1000,
                   "slots": [slot_id],
                   "creative": {"title": "Click me", "landing_url": "https://x.example/"}}),
        );
    }
    // One follower: two impressions, two clicks. The first click is 1/2 = 50 % (not above the
    // threshold): billed. The second makes 2/2 = 100 %: excluded.
    let a = render(&server, "f1", "s-fan", Some("o-fan"));
    let b = render(&server, "f2", "s-fan", Some("o-fan"));
    let (pa, ca) = tracking(&server, &a);
    let (pb, cb) = tracking(&server, &b);
    assert_eq!(track(&server, &pa).header("x-ad-billable"), Some("true"));
    assert_eq!(track(&server, &pb).header("x-ad-billable"), Some("true"));
    assert_eq!(track(&server, &ca).header("x-ad-billable"), Some("true"));
    let second = track(&server, &cb);
    assert_eq!(
        second.header("x-ad-excluded"),
        Some("abnormal_ctr_follower")
    );
    // Anonymous viewers: no follower to judge, the slot's rate of the day is.
    let a = render(&server, "n1", "s-anon", None);
    let b = render(&server, "n2", "s-anon", None);
    let (pa, ca) = tracking(&server, &a);
    let (pb, cb) = tracking(&server, &b);
    track(&server, &pa);
    track(&server, &pb);
    assert_eq!(track(&server, &ca).header("x-ad-billable"), Some("true"));
    assert_eq!(
        track(&server, &cb).header("x-ad-excluded"),
        Some("abnormal_ctr_slot")
    );
    let report = op_get(&server, "/report");
    let t = &report["totals"];
    assert_eq!(t["billable_clicks"], 2, "{report}");
    assert_eq!(t["excluded"]["abnormal_ctr_follower"], 1, "{report}");
    assert_eq!(t["excluded"]["abnormal_ctr_slot"], 1, "{report}");
    // Two billed CPC clicks of 10 cents.
    assert_eq!(t["revenue_millicents"], 20_000, "{report}");
    drop(tmp);
}

#[test]
fn a_daily_budget_stops_serving_for_the_day_and_a_late_pixel_is_not_charged() {
    let (_tmp, server) = setup();
    slot(&server, "s1");
    // 2 cents an impression, 4 cents a day: two billable impressions today, of a 1 yuan budget.
    ad(
        &server,
        json!({"id": "daily", "billing": "cpm", "price_cents": 2000, "budget_cents": 100,
               "daily_budget_cents": 4,
               "creative": {"title": "Daily", "landing_url": "https://d.example/"}}),
    );
    let decisions: Vec<(String, String)> = (0..3)
        .map(|i| {
            tracking(
                &server,
                &render(&server, &format!("d{i}"), "s1", Some(&format!("o-{i}"))),
            )
        })
        .collect();
    assert_eq!(
        track(&server, &decisions[0].0).header("x-ad-billable"),
        Some("true")
    );
    assert_eq!(
        track(&server, &decisions[1].0).header("x-ad-billable"),
        Some("true")
    );
    // The third decision was made before the day's budget ran out; its pixel now is recorded
    // but not charged.
    let late = track(&server, &decisions[2].0);
    assert_eq!(late.header("x-ad-excluded"), Some("budget"));
    assert_eq!(
        render(&server, "d9", "s1", Some("o-9")),
        json!({"html": "", "url": ""})
    );
    let delivery = &op_get(&server, "/ads/daily")["delivery"];
    assert_eq!(delivery["spent_millicents"], 4_000, "{delivery}");
    let t = &op_get(&server, "/report")["totals"];
    assert_eq!(t["excluded"]["budget"], 1, "{t}");
    assert_eq!(t["impressions"], 3, "{t}");
}
