//! API 0.2 through the real binary and the real probe: media stored by a plugin and served by
//! the host (ranges, refusals), plugin events emitted and read back with known answers (listing
//! and the host's daily counts, also in the admin API), and signed follower links (accepted;
//! tampered, replayed on another account, or expired: refused before the plugin runs).

use plaza_tests::*;
use serde_json::json;

mod common;
use common::{ADMIN, request};

/// A 1×1 PNG (69 bytes).
const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7356d8d0000000049454e44ae426082";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn ask(server: &Server, account: &str, id: &str, text: &str) -> String {
    let answer = server.text(account, "fan", id, text);
    answer
        .reply_text()
        .unwrap_or_else(|| panic!("no text reply to {text:?}: {answer:?}"))
        .to_string()
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch (Howard Hinnant's civil-from-days).
fn utc_date(ms: u64) -> String {
    let z = (ms / 86_400_000) as i64 + 719_468;
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

fn setup(caps: &[&str]) -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let account = server.post(
        "/api/v1/accounts",
        &json!({ "id": "acct", "kind": "service", "verified": true, "timezone": "UTC" }),
    );
    assert_eq!(account.status, 201, "{account:?}");
    let mut grants = vec!["storage", "followers.read", "http.routes"];
    grants.extend_from_slice(caps);
    install_probe_with(&server, "acct", "probe", caps, &grants);
    (tmp, server)
}

#[test]
fn media_a_plugin_stores_is_served_with_ranges_and_html_is_refused() {
    let (_tmp, server) = setup(&["media"]);
    let stored = ask(&server, "acct", "1", &format!("mediaput image/png {PNG}"));
    let parts: Vec<&str> = stored
        .strip_prefix("media:")
        .unwrap_or_else(|| panic!("{stored}"))
        .split(' ')
        .collect();
    let [id, url, size] = parts.as_slice() else {
        panic!("{stored}")
    };
    assert_eq!(*size, "69");
    assert_eq!(url.to_string(), server.url(&format!("/media/acct/{id}")));
    // Served publicly, exactly the bytes, with its type, and never as a page.
    let path = format!("/media/acct/{id}");
    let whole = common::get_bytes(&server, &path, &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, unhex(PNG));
    assert_eq!(whole.header("content-type"), Some("image/png"));
    assert_eq!(whole.header("x-content-type-options"), Some("nosniff"));
    let part = common::get_bytes(&server, &path, &[("Range", "bytes=1-3")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"PNG");
    assert_eq!(part.header("content-range"), Some("bytes 1-3/69"));
    // The plugin reads it back; the admin API lists it.
    assert_eq!(
        ask(&server, "acct", "2", &format!("mediaget {id}")),
        "media:image/png:69"
    );
    let list = server.get("/api/v1/accounts/acct/media");
    assert_eq!(list.status, 200, "{list:?}");
    assert!(list.body.to_string().contains(id), "{list:?}");
    // HTML is refused, whatever it is declared as; nothing is stored.
    for declared in ["text/html", "image/png"] {
        let html = ask(
            &server,
            "acct",
            &format!("h-{declared}"),
            &format!("mediaputtext {declared} <html><script>alert(1)</script></html>"),
        );
        assert!(html.starts_with("error:invalid:"), "{html}");
    }
    // Deleted: gone for the plugin and the public.
    assert_eq!(
        ask(&server, "acct", "3", &format!("mediadel {id}")),
        "deleted:true"
    );
    assert_eq!(common::get_bytes(&server, &path, &[]).status, 404);
}

#[test]
fn plugin_events_are_counted_and_listed_with_known_answers() {
    let (_tmp, server) = setup(&["events.read", "events.emit"]);
    for i in 0..3 {
        assert!(
            ask(
                &server,
                "acct",
                &format!("r{i}"),
                "emit probe.read article=a1"
            )
            .starts_with("emitted:")
        );
    }
    for i in 0..2 {
        assert!(
            ask(
                &server,
                "acct",
                &format!("s{i}"),
                "emit probe.share article=a1"
            )
            .starts_with("emitted:")
        );
    }
    // Not this plugin's namespace.
    let foreign = ask(&server, "acct", "f", "emit editor.read x=1");
    assert!(foreign.starts_with("error:invalid:"), "{foreign}");

    // The plugin lists them by prefix, each about the sender.
    let listed = ask(&server, "acct", "l", "events probe.* 100");
    assert_eq!(
        listed,
        "events:5:probe.read/probe.read/fan,probe.read/probe.read/fan,probe.read/probe.read/fan,\
         probe.share/probe.share/fan,probe.share/probe.share/fan"
    );
    // The host counts them per day (the account is in UTC).
    let log = server.get("/api/v1/accounts/acct/events?kinds=probe.*");
    assert_eq!(log.status, 200, "{log:?}");
    let events = log.body["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 5, "{log:?}");
    assert_eq!(events[0]["properties"]["article"], "a1", "{log:?}");
    let first = events[0]["at"].as_u64().expect("at");
    let last = events[4]["at"].as_u64().expect("at");
    let (d0, d1) = (utc_date(first), utc_date(last));
    let daily = ask(&server, "acct", "d", &format!("daily {d0} {d1} probe.*"));
    if d0 == d1 {
        assert_eq!(
            daily,
            format!("daily:{d0} probe.read probe.read=3;{d0} probe.share probe.share=2")
        );
    } else {
        // The test ran across midnight UTC: the totals still hold.
        let total: u64 = daily
            .trim_start_matches("daily:")
            .split(';')
            .filter_map(|r| r.rsplit_once('=').and_then(|(_, n)| n.parse::<u64>().ok()))
            .sum();
        assert_eq!(total, 5, "{daily}");
    }
    // Messages are in the log too, and the admin API's daily view counts plugin kinds.
    let messages = ask(&server, "acct", "m", "events inbound_message 100");
    assert!(messages.starts_with("events:"), "{messages}");
    let admin = server.get(&format!(
        "/api/v1/accounts/acct/events/daily?from={d0}&to={d1}&kinds=probe.*"
    ));
    assert_eq!(admin.status, 200, "{admin:?}");
    assert!(admin.body.to_string().contains("probe.share"), "{admin:?}");
}

#[test]
fn signed_links_identify_the_follower_and_bad_ones_never_reach_the_plugin() {
    let (_tmp, server) = setup(&[]);
    server.create_account("other", "service", true);
    let inst = server.install(
        "other",
        json!({ "plugin": "probe", "grants": ["http.routes"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");

    let link = ask(&server, "acct", "1", "link /whoami 3600");
    let url = link
        .strip_prefix("link:")
        .unwrap_or_else(|| panic!("{link}"));
    let path = url
        .strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("{url}"));
    assert!(path.starts_with("/p/acct/probe/whoami?"), "{path}");
    let ok = request(&server, "GET", path, &[], b"");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), "acct/probe operator=false follower=fan");
    // The plugin never sees the token.
    let query_path = path.replacen("/whoami", "/query", 1);
    let not_for_query = request(&server, "GET", &query_path, &[], b"");
    assert!(
        not_for_query.status == 401 || not_for_query.status == 403,
        "a link for /whoami does not open /query: {}",
        not_for_query.status
    );

    // Tampered: one character of the token changed.
    let mut tampered = path.to_string();
    let last = tampered.pop().expect("a token");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let bad = request(&server, "GET", &tampered, &[], b"");
    assert!(bad.status == 401 || bad.status == 403, "{}", bad.status);
    assert!(bad.is_typed_error(), "{:?}", bad.body);
    // Replayed on another account where the same plugin runs.
    let replayed = path.replacen("/p/acct/", "/p/other/", 1);
    let other = request(&server, "GET", &replayed, &[], b"");
    assert!(
        other.status == 401 || other.status == 403,
        "{}",
        other.status
    );
    // Expired: a one-second link is refused once its second has passed (polled, not slept).
    let short = ask(&server, "acct", "2", "link /whoami 1");
    let short = short.strip_prefix("link:").expect("link").to_string();
    let short_path = short.strip_prefix(&server.base).expect("path").to_string();
    let refused = eventually("the one-second link to expire", || {
        let r = request(&server, "GET", &short_path, &[], b"");
        (r.status == 401 || r.status == 403).then_some(r)
    });
    assert!(refused.is_typed_error(), "{:?}", refused.body);
    // Without a token the route is still public, with no follower.
    let anonymous = request(&server, "GET", "/p/acct/probe/whoami", &[ADMIN], b"");
    assert_eq!(anonymous.text(), "acct/probe operator=true follower=-");
}
