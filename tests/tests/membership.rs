//! The membership plugin end to end through the real host: the 会员 reply's signed card link and
//! the card page, check-in streaks by the account's calendar day, purchase points from
//! `shop.order.paid` (idempotent), levels with their tags and the `on-query` answers, operator
//! adjustments recording who (the host's `x-plaza-operator`, which a client cannot forge) and
//! why, 50 parallel redemptions of a 10-item stock, points expiry and template reminders from the
//! daily job.

use std::time::Duration;

use plaza_tests::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "club";
const GRANTS: &[&str] = &[
    "storage",
    "http.routes",
    "followers.read",
    "followers.write",
    "tags.manage",
    "messaging.template",
    "scheduling",
    "topics.subscribe:shop.order.paid",
    "events.emit",
];

fn setup(config: Value) -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account(ACCOUNT, "service", true).status, 201);
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "membership", "config": config, "grants": GRANTS }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    (tmp, server)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// A raw HTTP call: status and body text.
fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> (u16, String) {
    let agent = agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let resp = match body {
        Some((content_type, body)) => agent.run(
            builder
                .header("content-type", content_type)
                .body(body.as_bytes().to_vec())
                .expect("request"),
        ),
        None => agent.run(builder.body(Vec::new()).expect("request")),
    };
    let mut resp = resp.expect("request reached the server");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn route(server: &Server, path: &str) -> String {
    server.url(&format!("/p/{ACCOUNT}/membership{path}"))
}

/// An operator call with the admin token.
fn operator(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let body = body.map(|b| b.to_string());
    let (status, text) = call(
        method,
        &route(server, path),
        &[("authorization", &auth)],
        body.as_deref().map(|b| ("application/json", b)),
    );
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            json_of(&text)
        },
    )
}

/// The member-card link the 会员 reply carries for `openid`.
fn card_link(server: &Server, openid: &str, msg_id: &str) -> String {
    let a = server.text(ACCOUNT, openid, msg_id, "会员");
    assert_eq!(a.body["reply"]["msg_type"], "article_link", "{a:?}");
    a.body["reply"]["url"]
        .as_str()
        .expect("card url")
        .to_string()
}

/// The card link re-pointed at a route under `/me` (the link for `/me` covers them).
fn under_card(card: &str, rest: &str) -> String {
    card.replacen("/me?", &format!("/me{rest}?"), 1)
}

/// A text message at a given time (seconds): check-ins count by its calendar day.
fn text_at(server: &Server, openid: &str, msg_id: &str, text: &str, at_secs: u64) -> Answer {
    server.post(
        &format!("/api/v1/accounts/{ACCOUNT}/inbound"),
        &json!({ "msg_id": msg_id, "from": openid, "msg_type": "text", "content": text,
                 "create_time": at_secs }),
    )
}

fn points_of(server: &Server, openid: &str) -> (i64, i64) {
    let (status, body) = operator(server, "GET", &format!("/members/{openid}"), None);
    assert_eq!(status, 200, "{body}");
    (
        body["status"]["points"].as_i64().expect("points"),
        body["status"]["growth"].as_i64().expect("growth"),
    )
}

// 2025-01-10T02:00:00Z = 10:00 in Shanghai.
const JAN_10: u64 = 1_736_474_400;
const DAY: u64 = 86_400;

#[test]
fn keyword_card_link_check_in_streaks_and_the_card_page() {
    let (_tmp, server) = setup(json!({}));
    let card = card_link(&server, "o-ann", "m1");
    assert!(card.contains("/p/club/membership/me?"), "{card}");

    // Check-ins by message day: 5, then 6 the next day (streak 2), once a day, and a gap resets.
    let a = text_at(&server, "o-ann", "c1", "签到", JAN_10);
    assert!(a.reply_text().unwrap().contains("+5"), "{a:?}");
    let a = text_at(&server, "o-ann", "c2", "签到", JAN_10 + 3600);
    assert!(a.reply_text().unwrap().contains("已经签到"), "{a:?}");
    // 16:30Z on 10 January is already 00:30 on 11 January in Shanghai: day 2 of the streak.
    let a = text_at(&server, "o-ann", "c3", "checkin", JAN_10 + 14 * 3600 + 1800);
    assert!(a.reply_text().unwrap().contains("+6"), "{a:?}");
    let a = text_at(&server, "o-ann", "c4", "签到", JAN_10 + 3 * DAY);
    assert!(a.reply_text().unwrap().contains("+5"), "{a:?}");
    assert_eq!(points_of(&server, "o-ann"), (16, 16));

    // The card page through the signed link; without the link it is refused.
    let (status, page) = call("GET", &card, &[], None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("普通会员 Member") && page.contains(">16<"),
        "{page}"
    );
    assert!(page.contains("484 more growth to 银卡 Silver"), "{page}");
    let (status, _) = call("GET", &route(&server, "/me"), &[], None);
    assert_eq!(status, 401);

    // The card's check-in button posts a form to its own signed link and gets a page back.
    let action = page
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("check-in form")
        .replace("&amp;", "&");
    assert!(action.contains("/me/checkin?"), "{action}");
    let (status, done) = call(
        "POST",
        &action,
        &[],
        Some(("application/x-www-form-urlencoded", "")),
    );
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("签到成功"), "{done}");
    let (status, again) = call(
        "POST",
        &action,
        &[],
        Some(("application/x-www-form-urlencoded", "")),
    );
    assert_eq!(status, 200, "{again}");
    assert!(again.contains("已经签到"), "{again}");
    assert_eq!(points_of(&server, "o-ann"), (21, 21));

    // What a follower typed is escaped on the card (a reward's name set by an operator, too).
    let (status, _) = operator(
        &server,
        "PUT",
        "/rewards/mug",
        Some(json!({ "name": "<b>Mug</b>", "cost": 10, "stock": 1 })),
    );
    assert_eq!(status, 200);
    let (_, page) = call("GET", &card, &[], None);
    assert!(
        page.contains("&lt;b&gt;Mug&lt;/b&gt;") && !page.contains("<b>Mug</b>"),
        "{page}"
    );
}

#[test]
fn fifty_parallel_redemptions_of_a_ten_item_stock_give_exactly_ten() {
    let (_tmp, server) = setup(json!({}));
    let followers: Vec<String> = (0..5).map(|i| format!("o-fan{i}")).collect();
    let mut links = Vec::new();
    for (i, f) in followers.iter().enumerate() {
        let card = card_link(&server, f, &format!("k{i}"));
        let (status, body) = operator(
            &server,
            "POST",
            &format!("/members/{f}/adjust"),
            Some(json!({ "points": 1000, "reason": "launch gift" })),
        );
        assert_eq!(status, 200, "{body}");
        links.push(under_card(&card, "/rewards/mug/redeem"));
    }
    let (status, body) = operator(
        &server,
        "PUT",
        "/rewards/mug",
        Some(json!({ "name": "马克杯 Mug", "cost": 100, "stock": 10 })),
    );
    assert_eq!((status, body["stock"].as_i64()), (200, Some(10)), "{body}");

    let handles: Vec<_> = (0..50)
        .map(|i| {
            let url = links[i % links.len()].clone();
            std::thread::spawn(move || call("POST", &url, &[], None))
        })
        .collect();
    let results: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 10, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "{body}");
        let body = json_of(body);
        assert_eq!(body["error"]["code"], "conflict", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("out of stock"),
            "{body}"
        );
    }
    let (_, catalogue) = operator(&server, "GET", "/rewards", None);
    assert_eq!(catalogue["rewards"][0]["stock"], 0, "{catalogue}");
    let (_, redemptions) = operator(&server, "GET", "/redemptions", None);
    assert_eq!(redemptions["redemptions"].as_array().unwrap().len(), 10);
    let mut total = 0;
    for f in &followers {
        let (points, _) = points_of(&server, f);
        assert!(points >= 0 && points % 100 == 0, "{f}: {points}");
        total += points;
    }
    assert_eq!(total, 5 * 1000 - 10 * 100);

    // Bad reward definitions are refused with a typed error and change nothing.
    for (path, body) in [
        ("/rewards/mug", json!({ "name": "Mug", "cost": 0 })),
        (
            "/rewards/mug",
            json!({ "name": "Mug", "cost": 5, "stock": -1 }),
        ),
        ("/rewards/mug", json!({ "name": " ", "cost": 5 })),
        (
            "/rewards/mug",
            json!({ "name": "Mug", "cost": 5, "colour": "red" }),
        ),
        ("/rewards/bad%20id", json!({ "name": "Mug", "cost": 5 })),
    ] {
        let (status, answer) = operator(&server, "PUT", path, Some(body));
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{answer}"
        );
    }
    let (_, catalogue) = operator(&server, "GET", "/rewards", None);
    assert_eq!(
        (
            &catalogue["rewards"][0]["cost"],
            &catalogue["rewards"][0]["stock"]
        ),
        (&json!(100), &json!(0)),
        "{catalogue}"
    );
    let (status, _) = call(
        "POST",
        &under_card(
            &links[0].replace("/rewards/mug/redeem", ""),
            "/rewards/nope/redeem",
        ),
        &[],
        None,
    );
    assert_eq!(status, 404);

    // Not enough points is a 409 too, and takes nothing.
    let (status, _) = operator(
        &server,
        "PUT",
        "/rewards/tv",
        Some(json!({ "name": "TV", "cost": 5000, "stock": 3 })),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        "POST",
        &under_card(
            &links[0].replace("/rewards/mug/redeem", ""),
            "/rewards/tv/redeem",
        ),
        &[],
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("not enough points"), "{body}");
    let (_, catalogue) = operator(&server, "GET", "/rewards", None);
    assert_eq!(catalogue["rewards"][1]["stock"], 3, "{catalogue}");
}

#[test]
fn purchases_award_points_once_levels_tag_members_and_other_plugins_ask() {
    let (_tmp, server) = setup(json!({ "purchase_points_per_yuan": 1.0 }));
    install_probe_with(
        &server,
        ACCOUNT,
        "shop",
        &["topics.publish:shop.order.paid", "query:membership"],
        &["topics.publish:shop.order.paid", "query:membership"],
    );
    install_probe_with(
        &server,
        ACCOUNT,
        "other",
        &["query:membership"],
        &["query:membership"],
    );
    // Membership answers its keywords first and lets everything else through; of the probes,
    // shop answers the test's commands (the first plugin by priority that answers).
    let a = server.patch(
        &format!("/api/v1/accounts/{ACCOUNT}/installations/membership"),
        &json!({ "priority": 200 }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let a = server.patch(
        &format!("/api/v1/accounts/{ACCOUNT}/installations/shop"),
        &json!({ "priority": 50 }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    // The follower exists (has written) before their first purchase.
    server.text(ACCOUNT, "o-buyer", "h1", "hi");
    let order = json!({ "order_id": "A-1", "openid": "o-buyer", "amount_cents": 250_099,
                        "currency": "CNY", "paid_at": 1_764_000_000_000u64 });
    let publish = |id: &str| {
        let a = server.text(
            ACCOUNT,
            "o-shopkeeper",
            id,
            &format!("publish shop.order.paid {order}"),
        );
        assert!(
            a.reply_text().is_some_and(|t| t.starts_with("published:")),
            "{a:?}"
        );
    };
    publish("p1");
    eventually("points for order A-1", || {
        (points_of(&server, "o-buyer").0 == 2500).then_some(())
    });
    // Delivered again (a retry, a second publish): still 2500.
    publish("p2");
    let ask = |_asker: &str, id: &str, q: &str| -> String {
        server
            .text(
                ACCOUNT,
                "o-shopkeeper",
                id,
                &format!("query membership {q}"),
            )
            .reply_text()
            .unwrap_or_default()
            .to_string()
    };
    // Once the second delivery is handled a later award sees the same balance: poll the ledger.
    eventually("the second delivery of A-1 to be handled", || {
        let (_, body) = operator(&server, "GET", "/members/o-buyer/ledger", None);
        (body["entries"].as_array()?.len() == 1).then_some(())
    });
    assert_eq!(points_of(&server, "o-buyer"), (2500, 2500));

    let level = ask("shop", "q1", r#"member.level {"openid":"o-buyer"}"#);
    let level = json_of(level.strip_prefix("answer:").expect(&level));
    assert_eq!(level["member"], true, "{level}");
    assert_eq!(level["level"], "gold");
    assert_eq!(level["rank"], 2);
    assert_eq!(
        (level["points"].as_i64(), level["growth"].as_i64()),
        (Some(2500), Some(2500))
    );
    assert_eq!(level["priority_service"], true);
    assert_eq!(level["tag"], "会员·金卡");
    let discount = ask("shop", "q2", r#"member.discount {"openid":"o-buyer"}"#);
    assert_eq!(
        json_of(discount.strip_prefix("answer:").unwrap()),
        json!({ "level": "gold", "discount_percent": 10 })
    );
    let stranger = ask("shop", "q3", r#"member.discount {"openid":"o-nobody"}"#);
    assert_eq!(
        json_of(stranger.strip_prefix("answer:").unwrap())["discount_percent"],
        0
    );
    let unknown = ask("shop", "q4", "member.nonsense {}");
    assert!(unknown.starts_with("error:not_found"), "{unknown}");
    let bad = ask("shop", "q5", "member.level not-json");
    assert!(bad.starts_with("error:invalid"), "{bad}");

    // Awards: idempotent by key, only for the configured callers.
    let award =
        r#"member.award_points {"openid":"o-buyer","points":600,"reason":"vote","key":"vote-1"}"#;
    let first = json_of(ask("shop", "a1", award).strip_prefix("answer:").unwrap());
    assert_eq!(first, json!({ "awarded": true, "balance": 3100 }));
    let again = json_of(ask("shop", "a2", award).strip_prefix("answer:").unwrap());
    assert_eq!(again, json!({ "awarded": false, "balance": 3100 }));
    // A plugin not in award_callers is refused (`other` answers first once it outranks shop).
    let a = server.patch(
        &format!("/api/v1/accounts/{ACCOUNT}/installations/other"),
        &json!({ "priority": 100 }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let other_award = award.replace("vote-1", "vote-2");
    let denied = ask("other", "a3", &other_award);
    assert!(denied.starts_with("error:permission_denied"), "{denied}");
    assert_eq!(points_of(&server, "o-buyer").0, 3100);

    // 1-on-1 consultations are for the top level (diamond): refused for gold, booked once
    // diamond, and a slot is taken once.
    let card = card_link(&server, "o-buyer", "m1");
    let book = |slot: &str| {
        let body = json!({ "date": "2099-05-01", "time": slot, "topic": "<wardrobe> advice" });
        call(
            "POST",
            &under_card(&card, "/consultations"),
            &[],
            Some(("application/json", &body.to_string())),
        )
    };
    let (status, body) = book("10:00");
    assert_eq!(status, 403, "{body}");
    let big =
        r#"member.award_points {"openid":"o-buyer","points":2000,"reason":"vip","key":"vip-1"}"#;
    let a = server.patch(
        &format!("/api/v1/accounts/{ACCOUNT}/installations/other"),
        &json!({ "priority": 0 }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(ask("shop", "a4", big).contains("\"awarded\":true"));
    let (status, body) = book("10:00");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["booking"]["level"], "diamond");
    let (status, body) = book("10:00");
    assert_eq!(status, 409, "{body}");
    let (status, body) = book("25:00");
    assert_eq!(status, 400, "{body}");
    let (_, bookings) = operator(&server, "GET", "/consultations", None);
    assert_eq!(
        bookings["bookings"].as_array().unwrap().len(),
        1,
        "{bookings}"
    );
    let (_, page) = call("GET", &card, &[], None);
    assert!(
        page.contains("一对一咨询") && page.contains("钻石 Diamond"),
        "{page}"
    );

    // The follower carries the level tag of their level, and only that one.
    let f = server.get(&format!("/api/v1/accounts/{ACCOUNT}/followers/o-buyer"));
    assert!(
        f.body["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("会员·钻石")) && !t.contains(&json!("会员·金卡"))),
        "{f:?}"
    );
}

#[test]
fn operator_adjustments_record_who_and_why_and_the_operator_header_cannot_be_forged() {
    let (_tmp, server) = setup(json!({}));
    server.text(ACCOUNT, "o-cs", "h1", "hi");
    let created = server.post(
        "/api/v1/tokens",
        &json!({ "name": "cs lead", "role": "operator", "accounts": [ACCOUNT] }),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.body["token"].as_str().unwrap().to_string();
    let url = route(&server, "/members/o-cs/adjust");
    let adjust = |auth: Option<&str>, body: Value| {
        let bearer = auth.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("x-plaza-operator", "mallory")];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        let (status, text) = call(
            "POST",
            &url,
            &headers,
            Some(("application/json", &body.to_string())),
        );
        (status, json_of(&text))
    };

    // A forged header without a token is no operator.
    let (status, _) = adjust(None, json!({ "points": 50, "reason": "x" }));
    assert_eq!(status, 403);
    // A reason is required.
    let (status, body) = adjust(Some(&token), json!({ "points": 50, "reason": "  " }));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid"))
    );
    let (status, body) = adjust(Some(&token), json!({ "points": 50 }));
    assert_eq!(status, 400, "{body}");
    // The host names the token that made the request, whatever the client claimed.
    let (status, body) = adjust(
        Some(&token),
        json!({ "points": 120, "reason": "compensation for a late parcel" }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by"], "cs lead");
    let (status, body) = adjust(Some(TOKEN), json!({ "points": -20, "reason": "typo fix" }));
    assert_eq!((status, &body["by"]), (200, &json!("admin")), "{body}");
    // The balance never goes negative.
    let (status, body) = adjust(Some(TOKEN), json!({ "points": -101, "reason": "too much" }));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert_eq!(points_of(&server, "o-cs").0, 100);

    let (_, ledger) = operator(&server, "GET", "/members/o-cs/ledger", None);
    let entries = ledger["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{ledger}");
    assert_eq!(
        (
            &entries[0]["delta"],
            &entries[0]["by"],
            &entries[0]["reason"]
        ),
        (&json!(-20), &json!("admin"), &json!("typo fix"))
    );
    assert_eq!(
        (&entries[1]["delta"], &entries[1]["by"], &entries[1]["kind"]),
        (&json!(120), &json!("cs lead"), &json!("adjust"))
    );

    // Operator routes refuse followers, and a follower's link does not make one an operator.
    let card = card_link(&server, "o-cs", "m1");
    let (status, _) = call(
        "POST",
        &card.replacen("/me?", "/members/o-cs/adjust?", 1),
        &[("x-plaza-operator", "mallory")],
        Some(("application/json", r#"{"points":5,"reason":"x"}"#)),
    );
    assert!(status == 401 || status == 403, "{status}");
}

#[test]
fn points_expire_by_month_and_reminders_are_template_messages_sent_once() {
    let (_tmp, server) = setup(json!({
        "points_expire_months": 1,
        "birthday_reminder": { "template_id": "birthday",
            "fields": { "first": "生日快乐 Happy birthday!", "level": "{level}", "points": "{points}" } },
        "renewal_reminder": { "template_id": "renewal", "days_before": 7,
            "fields": { "first": "会员即将到期 Renew", "expires": "{expires_on}", "days": "{days}" } }
    }));
    for (id, content) in [
        ("birthday", "{{first.DATA}} {{level.DATA}} {{points.DATA}}"),
        (
            "renewal",
            "{{first.DATA}} {{expires.DATA}} in {{days.DATA}} days",
        ),
    ] {
        let a = server.post(
            &format!("/api/v1/accounts/{ACCOUNT}/templates"),
            &json!({ "id": id, "title": id, "content": content }),
        );
        assert_eq!(a.status, 201, "{a:?}");
    }
    // Joined with a check-in on 10 January 2025 (points of the January lot), again on 3 February.
    let a = text_at(&server, "o-eve", "c1", "签到", JAN_10);
    assert!(a.reply_text().unwrap().contains("+5"), "{a:?}");
    let a = text_at(&server, "o-eve", "c2", "签到", JAN_10 + 24 * DAY);
    assert!(a.reply_text().unwrap().contains("+5"), "{a:?}");
    assert_eq!(points_of(&server, "o-eve"), (10, 10));
    let daily = |date: &str| {
        let (status, body) = operator(
            &server,
            "POST",
            "/maintenance/daily",
            Some(json!({ "date": date })),
        );
        assert_eq!(status, 200, "{body}");
        body
    };
    // January's points last through February and expire on 1 March; February's on 1 April.
    assert_eq!(daily("2025-02-28")["expired_points"], 0);
    assert_eq!(points_of(&server, "o-eve").0, 10);
    assert_eq!(daily("2025-03-01")["expired_points"], 5);
    assert_eq!(daily("2025-03-02")["expired_points"], 0);
    assert_eq!(points_of(&server, "o-eve"), (5, 10));
    assert_eq!(daily("2025-04-01")["expired_points"], 5);
    assert_eq!(points_of(&server, "o-eve"), (0, 10));
    let (_, ledger) = operator(&server, "GET", "/members/o-eve/ledger", None);
    assert_eq!(ledger["entries"][0]["kind"], "expire", "{ledger}");

    // Birthday set on the card; the reminder goes out on the day, once.
    let card = card_link(&server, "o-eve", "m1");
    let (status, body) = call(
        "POST",
        &under_card(&card, "/birthday"),
        &[],
        Some(("application/json", r#"{"birthday":"13-01"}"#)),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(
        "POST",
        &under_card(&card, "/birthday"),
        &[],
        Some(("application/json", r#"{"birthday":"05-20"}"#)),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(daily("2025-05-19")["birthday_sent"], 0);
    assert_eq!(daily("2025-05-20")["birthday_sent"], 1);
    assert_eq!(daily("2025-05-20")["birthday_sent"], 0);
    // The membership (12 months from 10 January 2025) ends on 10 January 2026: reminded once,
    // 7 days before, even if the job runs again.
    assert_eq!(daily("2026-01-02")["renewal_sent"], 0);
    assert_eq!(daily("2026-01-03")["renewal_sent"], 1);
    assert_eq!(daily("2026-01-04")["renewal_sent"], 0);
    let outbox = server.outbox(ACCOUNT, "o-eve");
    let templates: Vec<&Value> = outbox
        .iter()
        .filter(|m| m["delivery"] == "template")
        .collect();
    assert_eq!(templates.len(), 2, "{outbox:?}");
    let texts: Vec<String> = templates.iter().map(|m| m.to_string()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("生日快乐 Happy birthday! 普通会员 Member 0")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("会员即将到期 Renew 2026-01-10 in 7 days")),
        "{texts:?}"
    );
    // The membership ended (these days are in the past): no member, no benefits, until renewed.
    let (_, details) = operator(&server, "GET", "/members/o-eve", None);
    assert_eq!(details["status"]["member"], false, "{details}");
    assert_eq!(details["status"]["discount_percent"], 0, "{details}");
    // Renewed by an operator: the next term (from today, as the last one ended) gets its own
    // reminder, due on its last day at the latest.
    let (status, body) = operator(
        &server,
        "POST",
        "/members/o-eve/renew",
        Some(json!({ "months": 12 })),
    );
    assert_eq!(status, 200, "{body}");
    let next_end = body["expires_on"].as_str().expect("expires_on").to_string();
    assert!(next_end.as_str() > "2026-01-10", "{body}");
    let (_, details) = operator(&server, "GET", "/members/o-eve", None);
    assert_eq!(details["status"]["member"], true, "{details}");
    assert_eq!(daily(&next_end)["renewal_sent"], 1);
    assert_eq!(daily(&next_end)["renewal_sent"], 0);
}

#[test]
fn the_operator_header_comes_from_the_host_only() {
    let (_tmp, server) = setup(json!({}));
    install_probe(&server, ACCOUNT, "probe", &["http.routes"]);
    let url = server.url(&format!("/p/{ACCOUNT}/probe/headers"));
    let names = |auth: Option<&str>| {
        let bearer = auth.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("x-plaza-operator", "mallory")];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        let (status, text) = call("GET", &url, &headers, None);
        assert_eq!(status, 200, "{text}");
        text.lines().map(str::to_string).collect::<Vec<_>>()
    };
    // Without a token the client's header is dropped; with one the host sets its own.
    assert!(!names(None).iter().any(|n| n == "x-plaza-operator"));
    assert!(names(Some(TOKEN)).iter().any(|n| n == "x-plaza-operator"));

    // The daily job was scheduled once on install.
    let (status, jobs) = operator(&server, "GET", "/maintenance/jobs", None);
    assert_eq!(status, 200, "{jobs}");
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["cron"], "5 0 * * *");
    assert_eq!(jobs[0]["payload"], "membership.daily");
    assert!(jobs[0]["next_run"].as_u64().is_some(), "{jobs:?}");
}
