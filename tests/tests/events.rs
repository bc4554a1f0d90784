//! The event log: every inbound message, follower event and delivery is logged once, listed with
//! filters and a stable cursor, aggregated per day in the account's timezone, kept across
//! `kill -9`, with retention configurable per account and per server.

use plaza_tests::*;
use serde_json::{Value, json};

fn events(server: &Server, query: &str) -> (Vec<Value>, Option<String>) {
    let a = server.get(&format!("/api/v1/accounts/x/events{query}"));
    assert_eq!(a.status, 200, "{query}: {a:?}");
    (
        a.body["events"].as_array().cloned().unwrap_or_default(),
        a.body["next_cursor"].as_str().map(str::to_string),
    )
}

/// `kind/sub-kind/openid` of each entry, for compact comparisons.
fn summary(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            let sub = e["event"]
                .as_str()
                .or(e["delivery"].as_str())
                .or(e["msg_type"].as_str())
                .unwrap_or("?");
            format!(
                "{}/{sub}/{}",
                e["kind"].as_str().unwrap_or("?"),
                e["openid"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// Two followers subscribe and talk to the probe; `o-2` also clicks a menu.
fn traffic(server: &Server) {
    server.create_account("x", "service", true);
    install_probe(server, "x", "probe", &["storage", "messaging.send"]);
    assert_eq!(
        server.event("x", "o-1", "subscribe").reply_text(),
        Some("probe-welcome")
    );
    assert_eq!(
        server.text("x", "o-1", "m1", "hello").reply_text(),
        Some("probe:hello")
    );
    // A retry of the same message is answered from the de-duplication record, not logged again.
    assert_eq!(
        server.text("x", "o-1", "m1", "hello").reply_text(),
        Some("probe:hello")
    );
    server.event("x", "o-2", "subscribe");
    let sent = server.text("x", "o-2", "m2", "send hi");
    assert!(
        sent.reply_text().is_some_and(|t| t.starts_with("sent:")),
        "{sent:?}"
    );
    let click = server.post(
        "/api/v1/accounts/x/inbound",
        &json!({ "msg_type": "event", "event": "click", "event_key": "MENU_A", "from": "o-2" }),
    );
    assert_eq!(click.status, 200, "{click:?}");
}

const EXPECTED: [&str; 10] = [
    "follower_event/subscribe/o-1",
    "delivery/reply/o-1",
    "inbound_message/text/o-1",
    "delivery/reply/o-1",
    "follower_event/subscribe/o-2",
    "delivery/reply/o-2",
    "inbound_message/text/o-2",
    "delivery/customer_service/o-2",
    "delivery/reply/o-2",
    "follower_event/click/o-2",
];

#[test]
fn inbound_traffic_and_deliveries_are_logged_once_each_in_order() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    traffic(&server);

    let (all, next) = events(&server, "");
    assert_eq!(summary(&all), EXPECTED);
    assert_eq!(next, None);
    assert_eq!(all[2]["message_id"], "m1");
    assert_eq!(all[2]["msg_type"], "text");
    assert_eq!(all[3]["plugin"], "probe");
    assert_eq!(all[3]["msg_type"], "text");
    assert_eq!(all[9]["event_key"], "MENU_A");
    let ats: Vec<u64> = all.iter().map(|e| e["at"].as_u64().unwrap_or(0)).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");

    // Filters.
    let (d, _) = events(&server, "?kind=delivery&openid=o-2");
    assert_eq!(
        summary(&d),
        [
            "delivery/reply/o-2",
            "delivery/customer_service/o-2",
            "delivery/reply/o-2"
        ]
    );
    let (d, _) = events(&server, "?kind=inbound_message,follower_event");
    assert_eq!(d.len(), 5);
    let (d, _) = events(&server, &format!("?to={}", ats[0]));
    assert!(d.is_empty(), "`to` is exclusive: {d:?}");
    let (d, _) = events(&server, &format!("?from={}", ats[9]));
    assert_eq!(summary(&d).last().map(String::as_str), Some(EXPECTED[9]));

    // Pages of 3 with the cursor give the same entries, each once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".to_string(),
        };
        let (page, next) = events(&server, &q);
        assert!(page.len() <= 3);
        paged.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // Daily aggregates (default: the last 7 days, today last) in the account's timezone. Sums
    // over the days, so that a run across local midnight counts the same.
    let a = server.get("/api/v1/accounts/x/events/daily");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["timezone"], "Asia/Shanghai");
    let days = a.body["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 7, "{a:?}");
    assert_eq!(days[6]["date"], a.body["to"]);
    let sum = |days: &[Value], path: &[&str]| -> u64 {
        days.iter()
            .map(|d| path.iter().fold(d, |v, k| &v[*k]).as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(sum(&days, &["total"]), 10, "{days:?}");
    assert_eq!(sum(&days, &["counts", "inbound_message"]), 2);
    assert_eq!(sum(&days, &["counts", "follower_event"]), 3);
    assert_eq!(sum(&days, &["counts", "delivery"]), 5);
    assert_eq!(sum(&days, &["detail", "delivery", "reply"]), 4);
    assert_eq!(sum(&days, &["detail", "delivery", "customer_service"]), 1);
    assert_eq!(sum(&days, &["detail", "follower_event", "subscribe"]), 2);
    assert_eq!(sum(&days, &["detail", "follower_event", "click"]), 1);
    assert_eq!(sum(&days[..5], &["total"]), 0, "{days:?}");
    // An explicit range, from the API and the CLI.
    let (from, to) = (
        days[0]["date"].as_str().unwrap_or_default().to_string(),
        days[6]["date"].as_str().unwrap_or_default().to_string(),
    );
    let a = server.get(&format!(
        "/api/v1/accounts/x/events/daily?from={from}&to={to}"
    ));
    assert_eq!(a.body["days"], json!(days), "{a:?}");

    // The CLI reads the same log.
    let (code, out, err) = plaza(
        &server,
        &[
            "events", "list", "x", "--kind", "delivery", "--openid", "o-1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["events"].as_array().map(Vec::len), Some(2), "{out}");
    let (code, out, err) = plaza(
        &server,
        &["events", "daily", "x", "--from", &from, "--to", &to],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["days"], json!(days), "{out}");
}

#[test]
fn bad_queries_are_typed_errors() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "subscription", false);
    for q in [
        "/events?kind=bogus",
        "/events?from=yesterday",
        "/events?limit=0",
        "/events?limit=many",
        "/events?cursor=zzz",
        "/events/daily?from=2024-05-02&to=2024-05-01",
        "/events/daily?from=2020-01-01&to=2024-05-01",
        "/events/daily?to=someday",
    ] {
        let a = server.get(&format!("/api/v1/accounts/x{q}"));
        assert_eq!((a.status, a.error_code()), (400, "invalid"), "{q}: {a:?}");
    }
    let a = server.get("/api/v1/accounts/nope/events");
    assert_eq!((a.status, a.error_code()), (404, "not_found"));
    let a = server.get_as("/api/v1/accounts/x/events", None);
    assert_eq!((a.status, a.error_code()), (401, "unauthorized"));
    let a = server.put_raw(
        "/api/v1/accounts/x/events/retention",
        Some(TOKEN),
        br#"{"days": 0}"#,
    );
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    let a = server.put_raw(
        "/api/v1/accounts/x/events/retention",
        Some(TOKEN),
        br#"{"weeks": 3}"#,
    );
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
}

#[test]
fn logged_events_survive_kill_9() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage"]);
    assert_eq!(
        server.text("x", "o-1", "k1", "ping").reply_text(),
        Some("probe:ping")
    );
    server.kill9();
    let server = Server::start(&dir, false);
    let (all, _) = events(&server, "");
    assert_eq!(
        summary(&all),
        ["inbound_message/text/o-1", "delivery/reply/o-1"]
    );
}

#[test]
fn retention_is_set_per_account_over_a_server_default() {
    let (_tmp, dir) = data_dir();
    let server = Server::start_with(&dir, false, &[("PLAZA_EVENT_RETENTION_DAYS", "30")]);
    server.create_account("x", "service", true);
    let a = server.get("/api/v1/accounts/x/events/retention");
    assert_eq!(
        a.body,
        json!({ "days": 30, "source": "default", "default_days": 30 })
    );
    let a = server.put_raw(
        "/api/v1/accounts/x/events/retention",
        Some(TOKEN),
        br#"{"days": 7}"#,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["source"], "account");

    let (code, out, err) = plaza(&server, &["events", "retention", "x"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"days\": 7"), "{out}");
    let (code, out, err) = plaza(&server, &["events", "retention", "x", "--default"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"days\": 30"), "{out}");
    let (code, out, err) = plaza(&server, &["events", "retention", "x", "400"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"source\": \"account\""), "{out}");
}
