//! The `interactive` plugin end to end (real binary, real component, real HTTP): votes with one
//! ballot per follower and a deadline, questionnaires with per-field validation and a CSV
//! export, check-in challenges on the account's local days with the membership reward,
//! favourites, keyword links and short codes.

use plaza_tests::*;
use serde_json::{Value, json};

const GRANTS: [&str; 4] = ["storage", "http.routes", "events.emit", "query:membership"];

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account("acct", "service", true).status, 201);
    install_interactive(&server, "acct");
    (tmp, server)
}

fn install_interactive(server: &Server, account: &str) {
    let inst = server.install(
        account,
        json!({ "plugin": "interactive", "grants": GRANTS }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
}

/// An operator call to the plugin's routes (the harness sends the admin token).
fn admin(server: &Server, method: &str, path: &str, body: &Value) -> Answer {
    let path = format!("/p/acct/interactive{path}");
    match method {
        "GET" => server.get(&path),
        "POST" => server.post(&path, body),
        "PATCH" => server.patch(&path, body),
        other => panic!("no {other} helper"),
    }
}

/// Sends `text` from `from` and returns the path (on this server) of the article link replied.
fn keyword_link(
    server: &Server,
    account: &str,
    from: &str,
    msg_id: &str,
    text: &str,
) -> (String, String) {
    let a = server.text(account, from, msg_id, text);
    assert_eq!(a.status, 200, "{a:?}");
    let reply = &a.body["reply"];
    assert_eq!(reply["msg_type"], "article_link", "{a:?}");
    let url = reply["url"].as_str().expect("url").to_string();
    let path = url
        .strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("{url} is not on {}", server.base))
        .to_string();
    assert!(path.contains("plaza_token="), "{path}");
    (
        reply["title"].as_str().unwrap_or_default().to_string(),
        path,
    )
}

/// A follower's request: no admin token.
fn follower_get(server: &Server, path: &str) -> (u16, String) {
    let a = server.get_as(path, None);
    (a.status, html(&a))
}

fn follower_post(server: &Server, path: &str, content_type: &str, body: &[u8]) -> Answer {
    server.post_raw(path, None, content_type, body)
}

fn post_form(server: &Server, path: &str, form: &str) -> (u16, String) {
    let a = follower_post(
        server,
        path,
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    );
    (a.status, html(&a))
}

fn post_json(server: &Server, path: &str, body: &Value) -> Answer {
    follower_post(
        server,
        path,
        "application/json",
        body.to_string().as_bytes(),
    )
}

fn html(a: &Answer) -> String {
    match &a.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `action` of the page's first form, as a path on this server (entities undone).
fn form_action(server: &Server, page: &str) -> String {
    let start = page
        .find("action=\"")
        .unwrap_or_else(|| panic!("no form in {page}"))
        + 8;
    let end = start + page[start..].find('"').expect("closing quote");
    let url = page[start..end].replace("&amp;", "&");
    url.strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("{url} is not on this server"))
        .to_string()
}

/// Every `href` of a page that leads into the plugin, as paths.
fn links_in(server: &Server, page: &str) -> Vec<String> {
    page.match_indices("href=\"")
        .filter_map(|(i, _)| {
            let rest = &page[i + 6..];
            let url = rest[..rest.find('"')?].replace("&amp;", "&");
            url.strip_prefix(&server.base).map(str::to_string)
        })
        .collect()
}

fn results(server: &Server, vote: &str) -> Value {
    let a = server.get_as(&format!("/p/acct/interactive/votes/{vote}/results"), None);
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

fn event_count(server: &Server, kind: &str) -> usize {
    let a = server.get(&format!("/api/v1/accounts/acct/events?kinds={kind}"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["events"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_vote_counts_one_ballot_per_follower_through_signed_links() {
    let (_tmp, server) = setup();
    let created = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"id": "lunch", "title": "午饭吃什么? <b>", "options": ["面条", "米饭", "饺子"]}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert!(
        created.body["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/p/acct/interactive/votes/lunch")),
        "{created:?}"
    );
    // The same id twice is a conflict; without the operator token creation is refused.
    let again = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"id": "lunch", "title": "x", "options": ["a", "b"]}),
    );
    assert_eq!((again.status, again.error_code()), (409, "conflict"));
    let anonymous = follower_post(
        &server,
        "/p/acct/interactive/admin/votes",
        "application/json",
        br#"{"title":"x","options":["a","b"]}"#,
    );
    assert_eq!(anonymous.status, 403, "{anonymous:?}");
    let bad = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"title": "x", "options": ["only one"]}),
    );
    assert_eq!((bad.status, bad.error_code()), (400, "invalid"));

    // Alice asks by keyword and votes through the page's form.
    let (title, link) = keyword_link(&server, "acct", "o-alice", "1", "投票 lunch");
    assert_eq!(title, "午饭吃什么? <b>");
    assert!(
        link.starts_with("/p/acct/interactive/votes/lunch?"),
        "{link}"
    );
    let (status, page) = follower_get(&server, &link);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("午饭吃什么? &lt;b&gt;"),
        "title escaped: {page}"
    );
    assert!(!page.contains("<b>"), "{page}");
    let action = form_action(&server, &page);
    let (status, page) = post_form(&server, &action, "option=1");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("投票成功"), "{page}");
    assert!(
        !page.contains("<form"),
        "no second ballot form after voting: {page}"
    );
    // A second ballot from Alice, with the same signed form link, is refused and not counted.
    let (status, page) = post_form(&server, &action, "option=0");
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("已经投过票"), "{page}");
    let r = results(&server, "lunch");
    assert_eq!(r["voters"], 1, "{r}");
    assert_eq!(r["options"][0]["votes"], 0, "{r}");
    assert_eq!(r["options"][1]["votes"], 1, "{r}");

    // Bob finds it on the list page the plain keyword links to, and votes with JSON.
    let (_, list) = keyword_link(&server, "acct", "o-bob", "2", "VOTE");
    let (status, page) = follower_get(&server, &list);
    assert_eq!(status, 200, "{page}");
    let vote_link = links_in(&server, &page)
        .into_iter()
        .find(|l| l.starts_with("/p/acct/interactive/votes/lunch?"))
        .unwrap_or_else(|| panic!("no link to the vote in {page}"));
    let (_, page) = follower_get(&server, &vote_link);
    let action = form_action(&server, &page);
    let two = post_json(&server, &action, &json!({"options": [1, 2]}));
    assert_eq!(
        (two.status, two.error_code()),
        (400, "invalid"),
        "single choice: {two:?}"
    );
    let ok = post_json(&server, &action, &json!({"options": [2]}));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["voted"], json!([2]));
    assert_eq!(ok.body["results"]["voters"], 2);
    let twice = post_json(&server, &action, &json!({"options": [1]}));
    assert_eq!((twice.status, twice.error_code()), (409, "conflict"));

    // No token, or a tampered one: refused by the host, nothing counted.
    let (status, _) = post_form(&server, "/p/acct/interactive/votes/lunch", "option=0");
    assert_eq!(status, 401);
    let mut tampered = action.clone();
    let last = tampered.pop().expect("token");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, _) = post_form(&server, &tampered, "option=0");
    assert!(status == 401 || status == 403, "{status}");
    let r = results(&server, "lunch");
    assert_eq!(
        (
            r["voters"].clone(),
            r["options"][0]["votes"].clone(),
            r["options"][1]["votes"].clone(),
            r["options"][2]["votes"].clone()
        ),
        (json!(2), json!(0), json!(1), json!(1)),
        "{r}"
    );
    // The public page shows live results but no ballot form.
    let (status, public) = follower_get(&server, "/p/acct/interactive/votes/lunch");
    assert_eq!(status, 200);
    assert!(
        !public.contains("<form") && public.contains("2 人参与"),
        "{public}"
    );
    assert_eq!(event_count(&server, "interactive.vote.cast"), 2);
    // An unknown vote is a typed 404.
    let missing = server.get_as("/p/acct/interactive/votes/nope/results", None);
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
}

#[test]
fn ballots_after_the_deadline_are_refused_and_multiple_choice_is_bounded() {
    let (_tmp, server) = setup();
    let hour = 3_600_000;
    let created = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"title": "Which days?", "options": ["Mon", "Tue", "Wed"], "multiple": true,
                "max_choices": 2, "deadline": now_ms() + hour}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["vote"]["id"]
        .as_str()
        .expect("generated id")
        .to_string();
    let past = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"title": "Late", "options": ["a", "b"], "deadline": now_ms() - hour}),
    );
    assert_eq!(past.status, 400, "a deadline in the past: {past:?}");

    let (_, link) = keyword_link(&server, "acct", "o-alice", "1", &format!("vote {id}"));
    let (_, page) = follower_get(&server, &link);
    assert!(page.contains("type=\"checkbox\""), "{page}");
    let action = form_action(&server, &page);
    let (status, page) = post_form(&server, &action, "option=0&option=1&option=2");
    assert_eq!(status, 400, "three of at most two: {page}");
    let (status, _) = post_form(&server, &action, "option=0&option=2");
    assert_eq!(status, 200);

    // The operator moves the deadline into the past: Bob's ballot is refused.
    let (_, link) = keyword_link(&server, "acct", "o-bob", "2", &format!("vote {id}"));
    let (_, page) = follower_get(&server, &link);
    let bob_action = form_action(&server, &page);
    let moved = admin(
        &server,
        "PATCH",
        &format!("/admin/votes/{id}"),
        &json!({"deadline": now_ms() - 1000}),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    let late = post_json(&server, &bob_action, &json!({"options": [1]}));
    assert_eq!(
        (late.status, late.error_code()),
        (409, "conflict"),
        "{late:?}"
    );
    assert!(late.error_message().contains("截止"), "{late:?}");
    let r = results(&server, &id);
    assert_eq!(
        (r["status"].as_str(), r["voters"].as_i64()),
        (Some("ended"), Some(1)),
        "{r}"
    );
    assert_eq!(r["options"][1]["votes"], 0, "{r}");
    let (_, page) = follower_get(&server, &link);
    assert!(!page.contains("<form") && page.contains("已截止"), "{page}");
    // Closing works the same way for a vote without a deadline.
    let closed = admin(
        &server,
        "POST",
        &format!("/admin/votes/{id}/close"),
        &json!({}),
    );
    assert_eq!(closed.body["closed"], true, "{closed:?}");
    assert_eq!(results(&server, &id)["status"], "closed");
}

/// Parses RFC 4180 CSV (quoted fields with `""`, commas and line breaks inside quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn a_questionnaire_validates_each_field_and_exports_csv() {
    let (_tmp, server) = setup();
    let created = admin(
        &server,
        "POST",
        "/admin/surveys",
        &json!({"id": "fb", "title": "满意度调查", "fields": [
            {"id": "name", "label": "Name, \"nick\"", "type": "text", "required": true, "max_length": 20},
            {"id": "age", "label": "Age", "type": "number", "min": 1, "max": 120},
            {"id": "drink", "label": "Drink", "type": "single", "options": ["tea", "coffee"], "required": true},
            {"id": "when", "label": "When", "type": "date"},
            {"id": "mail", "label": "Mail", "type": "email"},
            {"id": "note", "label": "Note", "type": "textarea"}
        ]}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let bad_def = admin(
        &server,
        "POST",
        "/admin/surveys",
        &json!({"title": "x", "fields": [{"id": "a", "label": "A", "type": "single", "options": ["only"]}]}),
    );
    assert_eq!(bad_def.status, 400, "{bad_def:?}");

    let (_, link) = keyword_link(&server, "acct", "o-alice", "1", "问卷 fb");
    let (status, page) = follower_get(&server, &link);
    assert_eq!(status, 200);
    let action = form_action(&server, &page);
    // Wrong answers: the page comes back with a 400, each error under its field, values kept.
    let (status, page) = post_form(
        &server,
        &action,
        "name=Li+%3Cb%3E&age=200&when=2026-02-30&mail=nope&drink=",
    );
    assert_eq!(status, 400, "{page}");
    for field in ["age", "when", "mail", "drink"] {
        assert!(
            page.contains(&format!("data-field=\"{field}\"")),
            "{field}: {page}"
        );
    }
    assert!(!page.contains("data-field=\"name\""), "{page}");
    assert!(page.contains("value=\"Li &lt;b&gt;\""), "{page}");
    // The JSON route lists the fields.
    let bad = post_json(
        &server,
        &action,
        &json!({"answers": {"name": "", "age": "x", "drink": "milk"}}),
    );
    assert_eq!((bad.status, bad.error_code()), (400, "invalid"), "{bad:?}");
    let fields: Vec<&str> = bad.body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "age", "drink"], "{bad:?}");
    let none = admin(&server, "GET", "/admin/surveys/fb/responses", &Value::Null);
    assert_eq!(
        none.body["responses"],
        json!([]),
        "refused answers store nothing"
    );

    let (status, page) = post_form(
        &server,
        &action,
        "name=Li&age=30&drink=tea&when=2026-02-28&mail=li%40example.cn&note=",
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("提交成功"), "{page}");
    let (status, _) = post_form(&server, &action, "name=Li&drink=coffee");
    assert_eq!(status, 409, "one response per follower");

    let (_, link) = keyword_link(&server, "acct", "o-bob", "2", "survey fb");
    let (_, page) = follower_get(&server, &link);
    let bob_action = form_action(&server, &page);
    let ok = post_json(
        &server,
        &bob_action,
        &json!({"answers": {"name": "Bob, \"the\" builder", "drink": "coffee", "note": "line one\nline two", "age": 41}}),
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["answers"]["age"], 41);

    let csv = server.get("/p/acct/interactive/admin/surveys/fb/responses.csv");
    assert_eq!(csv.status, 200);
    let rows = parse_csv(&html(&csv));
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[0],
        [
            "openid",
            "submitted_at",
            "Name, \"nick\"",
            "Age",
            "Drink",
            "When",
            "Mail",
            "Note"
        ]
    );
    let alice = rows
        .iter()
        .find(|r| r[0] == "o-alice")
        .expect("alice's row");
    assert_eq!(
        &alice[2..],
        ["Li", "30", "tea", "2026-02-28", "li@example.cn", ""]
    );
    let bob = rows.iter().find(|r| r[0] == "o-bob").expect("bob's row");
    assert_eq!(
        &bob[2..],
        [
            "Bob, \"the\" builder",
            "41",
            "coffee",
            "",
            "",
            "line one\nline two"
        ]
    );
    let anonymous = server.get_as("/p/acct/interactive/admin/surveys/fb/responses.csv", None);
    assert_eq!(anonymous.status, 403);
    assert_eq!(event_count(&server, "interactive.survey.submitted"), 2);
}

/// 00:00 on 2024-03-01 in Asia/Shanghai (UTC+8), in seconds.
const MARCH_1_SHANGHAI: u64 = 1_709_222_400;

/// A text message stamped with `create_time` (seconds): the time the challenge counts.
fn text_at(server: &Server, from: &str, msg_id: &str, text: &str, at: u64) -> Value {
    let a = server.post(
        "/api/v1/accounts/acct/inbound",
        &json!({"msg_id": msg_id, "from": from, "msg_type": "text", "content": text, "create_time": at}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["reply"]["msg_type"], "article_link", "{a:?}");
    a.body["reply"].clone()
}

fn local(day: u64, hour: u64, minute: u64) -> u64 {
    MARCH_1_SHANGHAI + (day - 1) * 86_400 + hour * 3_600 + minute * 60
}

#[test]
fn challenge_check_ins_follow_local_days_and_completion_awards_membership_points() {
    let (_tmp, server) = setup();
    let membership = server.install(
        "acct",
        json!({"plugin": "membership", "grants": ["storage", "http.routes", "followers.read",
            "followers.write", "tags.manage", "messaging.template", "scheduling",
            "topics.subscribe:shop.order.paid", "events.emit"]}),
    );
    assert_eq!(membership.status, 201, "{membership:?}");
    let created = admin(
        &server,
        "POST",
        "/admin/challenges",
        &json!({"id": "c3", "title": "3 天早起", "days": 3, "window_days": 4,
                "start": "2024-03-01", "reward_points": 50}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["end"], "2024-03-04");

    let first = text_at(&server, "o-alice", "a1", "打卡 c3", local(1, 10, 0));
    assert!(
        first["title"]
            .as_str()
            .unwrap_or("")
            .contains("打卡成功 第1天 · 1/3"),
        "{first}"
    );
    let again = text_at(&server, "o-alice", "a2", "打卡 c3", local(1, 23, 30));
    assert!(
        again["title"]
            .as_str()
            .unwrap_or("")
            .contains("already checked in today"),
        "{again}"
    );
    // 00:30 on 2 March in Shanghai is still 1 March in UTC: a new local day.
    let second = text_at(&server, "o-alice", "a3", "打卡 c3", local(2, 0, 30));
    assert!(
        second["title"]
            .as_str()
            .unwrap_or("")
            .contains("第2天 · 2/3 · 连续2天"),
        "{second}"
    );
    let bob = text_at(&server, "o-bob", "b1", "challenge c3", local(1, 9, 0));
    assert!(bob["title"].as_str().unwrap_or("").contains("1/3"), "{bob}");
    // Day 3 missed; day 4 completes (3 of a 4-day window) and the streak restarts.
    let done = text_at(&server, "o-alice", "a4", "打卡 c3", local(4, 8, 0));
    assert!(
        done["title"]
            .as_str()
            .unwrap_or("")
            .contains("第4天 · 3/3 · 连续1天"),
        "{done}"
    );
    let late = text_at(&server, "o-carol", "c1", "打卡 c3", local(5, 8, 0));
    assert!(
        late["title"].as_str().unwrap_or("").contains("ended"),
        "{late}"
    );

    // The leaderboard: most days first; openids masked publicly.
    let board = server.get_as("/p/acct/interactive/challenges/c3/leaderboard", None);
    assert_eq!(board.status, 200, "{board:?}");
    assert_eq!(board.body["participants"], 2, "{board:?}");
    let rows = board.body["leaderboard"].as_array().expect("rows");
    assert_eq!(rows[0]["follower"], "o-…ce");
    assert_eq!(
        (
            rows[0]["checked_in"].as_u64(),
            rows[0]["completed"].as_bool()
        ),
        (Some(3), Some(true))
    );
    assert_eq!(
        (rows[1]["follower"].as_str(), rows[1]["checked_in"].as_u64()),
        (Some("o-…ob"), Some(1))
    );
    // The operator sees openids and the recorded reward.
    let details = admin(&server, "GET", "/admin/challenges/c3", &Value::Null);
    assert_eq!(
        details.body["leaderboard"][0]["openid"], "o-alice",
        "{details:?}"
    );

    // The reward went through membership, once.
    let member = server.get("/p/acct/membership/members/o-alice");
    assert_eq!(member.status, 200, "{member:?}");
    assert_eq!(member.body["status"]["points"], 50, "{member:?}");
    // The follower's page: progress with the missed day, the reward, no check-in form (over).
    let link = first["url"].as_str().expect("url");
    let path = link
        .strip_prefix(&server.base)
        .expect("on this server")
        .to_string();
    let (status, page) = follower_get(&server, &path);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-checked-in=\"3\""), "{page}");
    assert!(page.contains("缺卡 1 天"), "{page}");
    assert!(page.contains("reward: awarded"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    let member = server.get("/p/acct/membership/members/o-alice");
    assert_eq!(
        member.body["status"]["points"], 50,
        "a page view does not award again: {member:?}"
    );
    assert_eq!(event_count(&server, "interactive.challenge.checkin"), 4);
}

#[test]
fn checking_in_from_the_page_once_a_day_and_completion_without_membership() {
    let (_tmp, server) = setup();
    for (id, days) in [("one", 1), ("two", 2)] {
        let created = admin(
            &server,
            "POST",
            "/admin/challenges",
            &json!({"id": id, "title": format!("{id} day"), "days": days}),
        );
        assert_eq!(created.status, 201, "{created:?}");
    }
    // Two challenges run today: the keyword links to the list.
    let (title, list) = keyword_link(&server, "acct", "o-alice", "1", "打卡");
    assert!(title.contains("Check-in challenges"), "{title}");
    let (_, page) = follower_get(&server, &list);
    let link = links_in(&server, &page)
        .into_iter()
        .find(|l| l.starts_with("/p/acct/interactive/challenges/one?"))
        .unwrap_or_else(|| panic!("{page}"));
    let (_, page) = follower_get(&server, &link);
    let action = form_action(&server, &page);
    let (status, page) = post_form(&server, &action, "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("打卡成功") && page.contains("挑战完成"),
        "{page}"
    );
    // Membership is not installed: the completion stands, without points.
    assert!(page.contains("reward: no-membership"), "{page}");
    let (status, page) = post_form(&server, &action, "");
    assert_eq!(status, 409, "{page}");
    let json = post_json(&server, &action, &json!({}));
    assert_eq!(json.error_code(), "conflict", "{json:?}");
    // Public view: no form, the leaderboard.
    let (_, public) = follower_get(&server, "/p/acct/interactive/challenges/one");
    assert!(
        !public.contains("<form") && public.contains("o-…ce"),
        "{public}"
    );
}

#[test]
fn favourites_are_saved_listed_and_removed() {
    let (_tmp, server) = setup();
    let (_, link) = keyword_link(&server, "acct", "o-alice", "1", "收藏");
    assert!(
        link.starts_with("/p/acct/interactive/favourites?"),
        "{link}"
    );
    let (status, page) = follower_get(&server, &link);
    assert_eq!(status, 200);
    assert!(page.contains("还没有收藏"), "{page}");
    // The favourites link's token covers the page's own POST.
    let (status, page) = post_form(
        &server,
        &link,
        "article=a1&title=%E6%98%A5%E5%A4%A9+%3Cscript%3E&url=https%3A%2F%2Fexample.com%2Fa1",
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("春天 &lt;script&gt;") && !page.contains("<script>"),
        "{page}"
    );
    let (_, page) = post_form(
        &server,
        &link,
        "article=a1&title=x&url=https%3A%2F%2Fexample.com%2Fa1",
    );
    assert!(page.contains("已在收藏中"), "{page}");
    let bad = post_json(
        &server,
        &link,
        &json!({"article": "a2", "title": "t", "url": "javascript:alert(1)"}),
    );
    assert_eq!((bad.status, bad.error_code()), (400, "invalid"), "{bad:?}");
    let added = post_json(
        &server,
        &link,
        &json!({"article": "a3", "title": "夏天", "url": "https://example.com/a3"}),
    );
    assert_eq!(added.status, 201, "{added:?}");
    let listed = server.get_as(&format!("{link}&format=json"), None);
    let ids: Vec<&str> = listed.body["favourites"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["article"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{listed:?}");
    assert!(ids.contains(&"a1") && ids.contains(&"a3"), "{ids:?}");
    // Remove a1 through its button.
    let (_, page) = follower_get(&server, &link);
    let remove = links_or_actions(&server, &page)
        .into_iter()
        .find(|a| a.starts_with("/p/acct/interactive/favourites/a1/delete?"))
        .unwrap_or_else(|| panic!("{page}"));
    let (status, page) = post_form(&server, &remove, "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("已取消收藏") && !page.contains("春天"),
        "{page}"
    );
    // Another follower has their own (empty) list; no token, no list.
    let (_, bob) = keyword_link(&server, "acct", "o-bob", "2", "favourites");
    let (_, page) = follower_get(&server, &bob);
    assert!(
        !page.contains("夏天") && page.contains("还没有收藏"),
        "{page}"
    );
    let (status, _) = follower_get(&server, "/p/acct/interactive/favourites");
    assert_eq!(status, 401);
    assert_eq!(event_count(&server, "interactive.favourite.added"), 2);
}

/// Every form `action` of a page, as paths.
fn links_or_actions(server: &Server, page: &str) -> Vec<String> {
    page.match_indices("action=\"")
        .filter_map(|(i, _)| {
            let rest = &page[i + 8..];
            let url = rest[..rest.find('"')?].replace("&amp;", "&");
            url.strip_prefix(&server.base).map(str::to_string)
        })
        .collect()
}

#[test]
fn short_codes_render_through_component_render_and_the_operator_preview() {
    let (_tmp, server) = setup();
    install_probe_with(
        &server,
        "acct",
        "editor",
        &["query:interactive"],
        &["query:interactive"],
    );
    let created = admin(
        &server,
        "POST",
        "/admin/votes",
        &json!({"id": "v1", "title": "Tea <or> coffee?", "options": ["tea", "coffee"]}),
    );
    assert_eq!(created.status, 201);

    let ask = |id: &str, payload: &str| {
        let a = server.text(
            "acct",
            "o-editor",
            id,
            &format!("@editor query interactive component.render {payload}"),
        );
        a.reply_text().unwrap_or_default().to_string()
    };
    let answer = ask("1", r#"{"kind":"vote","id":"v1"}"#);
    let json: Value = serde_json::from_str(
        answer
            .strip_prefix("answer:")
            .unwrap_or_else(|| panic!("{answer}")),
    )
    .expect("JSON answer");
    let snippet = json["html"].as_str().expect("html");
    assert!(
        snippet.starts_with("<div class=\"plaza-component plaza-vote\""),
        "{snippet}"
    );
    assert!(
        snippet.contains("Tea &lt;or&gt; coffee?") && !snippet.contains("<or>"),
        "{snippet}"
    );
    let url = json["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/p/acct/interactive/votes/v1", server.base));
    let (status, _) = follower_get(&server, url.strip_prefix(&server.base).expect("path"));
    assert_eq!(status, 200);
    // Signed for a follower when the editor names one.
    let signed = ask("2", r#"{"kind":"vote","id":"v1","openid":"o-reader"}"#);
    assert!(signed.contains("plaza_token="), "{signed}");
    assert!(ask("3", r#"{"kind":"vote","id":"nope"}"#).starts_with("error:not_found"));
    assert!(ask("4", r#"{"kind":"poll","id":"v1"}"#).starts_with("error:invalid"));
    assert!(ask("5", r#"{"kind":"vote"}"#).starts_with("error:invalid"));

    // An article's 收藏 button: the editor asks for a signed "save this article" link.
    let a = server.text(
        "acct",
        "o-editor",
        "7",
        r#"@editor query interactive favourite.link {"openid":"o-reader","article":"a7","title":"秋天","url":"https://example.com/a7"}"#,
    );
    let answer = a.reply_text().unwrap_or_default();
    let json: Value = serde_json::from_str(
        answer
            .strip_prefix("answer:")
            .unwrap_or_else(|| panic!("{answer}")),
    )
    .expect("JSON answer");
    let save = json["url"]
        .as_str()
        .expect("url")
        .strip_prefix(&server.base)
        .expect("path")
        .to_string();
    let (status, page) = follower_get(&server, &save);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("秋天"), "{page}");
    let (status, page) = post_form(
        &server,
        &form_action(&server, &page),
        "article=a7&title=%E7%A7%8B%E5%A4%A9&url=https%3A%2F%2Fexample.com%2Fa7",
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已收藏"), "{page}");

    let preview = admin(
        &server,
        "POST",
        "/admin/render",
        &json!({"text": "投票 <now>:\n[vote id=v1] and [survey id=missing]"}),
    );
    assert_eq!(preview.status, 200, "{preview:?}");
    let html = preview.body["html"].as_str().expect("html");
    assert!(
        html.starts_with("投票 &lt;now&gt;:<br><div class=\"plaza-component plaza-vote\""),
        "{html}"
    );
    assert!(
        html.contains("[survey missing: 未找到 / not found]"),
        "{html}"
    );
}
