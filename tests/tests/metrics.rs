//! `GET /metrics` through the real binary: the Prometheus text format, HTTP requests counted per
//! route template, plugin calls per outcome, inbound messages per channel, and the admin token.

mod common;

use std::collections::BTreeMap;

use common::{ADMIN, request};
use plaza_tests::*;
use serde_json::json;

const INBOUND_ROUTE: &str = "/api/v1/accounts/{account}/inbound";

/// One sample line: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The labels of `{k="v",…}` (no escapes occur in the values these tests read).
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    while let Some((k, after)) = rest.split_once("=\"") {
        let (v, after) = after.split_once('"').expect("closing quote");
        labels.insert(k.trim_start_matches(',').to_string(), v.to_string());
        rest = after;
    }
    labels
}

/// Every sample of a scrape, after checking each line is a comment, blank, or `name[{labels}]
/// value`.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(labels.strip_suffix('}').expect("labels end with }")),
            ),
            None => (series, BTreeMap::new()),
        };
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "metric name {name:?}"
        );
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

/// The value of the series `name` with exactly `labels`; 0 when absent (a counter not yet
/// incremented has no series).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map_or(0.0, |s| s.value)
}

fn scrape(server: &Server) -> (String, Vec<Sample>) {
    let a = request(server, "GET", "/metrics", &[ADMIN], b"");
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.header("content-type"),
        Some("text/plain; version=0.0.4"),
        "the Prometheus text exposition format"
    );
    let text = a.text().to_string();
    let samples = parse(&text);
    (text, samples)
}

#[test]
fn metrics_count_requests_plugin_calls_and_inbound_messages() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);

    let (_, before) = scrape(&server);
    let inbound = |status| {
        [
            ("route", INBOUND_ROUTE),
            ("method", "POST"),
            ("status", status),
        ]
    };
    let auto_reply_ok = [
        ("plugin", "auto-reply"),
        ("call", "on-message"),
        ("outcome", "ok"),
    ];
    let local = [("channel", "local")];

    for i in 0..3 {
        let a = server.text("demo", "o-metrics", &format!("m{i}"), "hello");
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.reply_text().is_some_and(|t| t.contains("Hello")), "{a:?}");
    }
    // Refused before it reaches the pipeline: counted as a 401 of the same route, not as an
    // inbound message.
    let refused = request(
        &server,
        "POST",
        "/api/v1/accounts/demo/inbound",
        &[("Content-Type", "application/json")],
        br#"{"msg_id":"x","from":"o-x","msg_type":"text","content":"hello"}"#,
    );
    assert_eq!(refused.status, 401);
    // A path no route has: one shared label, never the raw path.
    assert_eq!(server.get("/api/v1/no-such-thing-4711").status, 404);
    assert_eq!(server.get("/no-such-thing-4712").status, 404);

    let (text, after) = scrape(&server);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        delta("plaza_http_requests_total", &inbound("200")),
        3.0,
        "{text}"
    );
    assert_eq!(delta("plaza_http_requests_total", &inbound("401")), 1.0);
    assert_eq!(delta("plaza_plugin_calls_total", &auto_reply_ok), 3.0);
    assert_eq!(delta("plaza_inbound_total", &local), 3.0);
    assert!(
        !text.contains("no-such-thing"),
        "raw paths never become labels:\n{text}"
    );
    // The first scrape is counted under its route (the current one is not yet).
    assert_eq!(
        value(
            &after,
            "plaza_http_requests_total",
            &[("route", "/metrics"), ("method", "GET"), ("status", "200")]
        ),
        1.0
    );

    for family in [
        "plaza_http_requests_total counter",
        "plaza_http_request_duration_seconds histogram",
        "plaza_plugin_calls_total counter",
        "plaza_plugin_call_duration_seconds histogram",
        "plaza_inbound_total counter",
        "plaza_topic_deliveries_pending gauge",
        "plaza_wechat_outbound_pending gauge",
        "plaza_scheduled_jobs gauge",
        "plaza_broadcasts gauge",
        "plaza_broadcast_recipients gauge",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family}\n")),
            "# TYPE {family} in:\n{text}"
        );
    }

    // The duration histograms: cumulative buckets up to +Inf, whose count is every request.
    let buckets: Vec<&Sample> = after
        .iter()
        .filter(|s| {
            s.name == "plaza_http_request_duration_seconds_bucket"
                && s.labels.get("route").map(String::as_str) == Some(INBOUND_ROUTE)
                && s.labels.get("method").map(String::as_str) == Some("POST")
        })
        .collect();
    assert!(buckets.len() > 5, "{text}");
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value));
    let inf = buckets.last().expect("buckets");
    assert_eq!(inf.labels["le"], "+Inf");
    let inbound_requests = [("route", INBOUND_ROUTE), ("method", "POST")];
    assert_eq!(
        inf.value,
        value(
            &after,
            "plaza_http_request_duration_seconds_count",
            &inbound_requests
        )
    );
    assert_eq!(
        value(
            &after,
            "plaza_http_request_duration_seconds_count",
            &inbound_requests
        ) - value(
            &before,
            "plaza_http_request_duration_seconds_count",
            &inbound_requests
        ),
        4.0
    );
    assert!(
        after.iter().any(|s| {
            s.name == "plaza_plugin_call_duration_seconds_bucket"
                && s.labels.get("plugin").map(String::as_str) == Some("auto-reply")
                && s.labels.get("le").map(String::as_str) == Some("+Inf")
                && s.value >= 3.0
        }),
        "{text}"
    );

    // Nothing is queued on the demo account; the scheduled jobs are the ones the demo's plugins
    // set up when installed: membership's daily pass (expiry and reminders), ad-slots' hourly
    // refresh (segment members, click-through rates) and competitor-analysis' weekly report.
    for gauge in [
        "plaza_topic_deliveries_pending",
        "plaza_wechat_outbound_pending",
    ] {
        assert_eq!(value(&after, gauge, &[]), 0.0, "{gauge}");
    }
    assert_eq!(value(&after, "plaza_scheduled_jobs", &[]), 3.0);
    assert_eq!(
        value(
            &after,
            "plaza_broadcast_recipients",
            &[("state", "pending")]
        ),
        0.0
    );
}

#[test]
fn metrics_need_the_admin_token() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    for token in [None, Some("wrong-token")] {
        let a = server.get_as("/metrics", token);
        assert_eq!(a.status, 401, "{a:?}");
        assert_eq!(a.error_code(), "unauthorized", "{a:?}");
    }
    // An account's ingress key opens its inbound endpoint, not the metrics.
    let created = server.create_account("shop", "service", true);
    let key = created.body["ingress_key"].as_str().unwrap_or_default();
    assert!(!key.is_empty(), "{created:?}");
    assert_eq!(server.get_as("/metrics", Some(key)).status, 401);
    assert_eq!(server.get_as("/metrics", Some(TOKEN)).status, 200);
    // Other methods are refused as on every route.
    assert_eq!(
        server.post("/metrics", &json!({})).status,
        405,
        "POST /metrics"
    );
}
