//! The `editor` plugin end to end (real binary, real component, real HTTP, sled): drafts with
//! versions, media uploads, 135/秀米 import (pasted and fetched from a granted loopback host, its
//! images re-hosted into the media store), hostile HTML, short-code components rendered by the
//! interactive plugin, signed preview links, publishing as a news broadcast (now, scheduled, and
//! refused by the account's quota), the article / history / featured pages and the read, share,
//! like and published events.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use plaza_tests::*;
use serde_json::{Value, json};

const GRANTS: [&str; 9] = [
    "storage",
    "http.routes",
    "media",
    "events.emit",
    "messaging.broadcast",
    "scheduling",
    "query:interactive",
    "query:ad-slots",
    "query:shop",
];

const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7356d8d0000000049454e44ae426082";

fn png() -> Vec<u8> {
    (0..PNG.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PNG[i..i + 2], 16).expect("hex"))
        .collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(WORKSPACE_DIR)
            .join("plugins/editor/tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// A loopback web server: `/img.png` is a PNG, `/article.html` a 秀米-style page whose image is
/// `/img.png` on this server; everything else 404.
struct Upstream {
    port: u16,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
                let (status, content_type, body) = match path.as_str() {
                    "/img.png" => ("200 OK", "image/png", png()),
                    "/article.html" => (
                        "200 OK",
                        "text/html; charset=utf-8",
                        format!(
                            "<section powered-by=\"xiumi.us\" style=\"box-sizing:border-box\"><h2 style=\"color:rgb(58, 110, 200)\">远程文章 Remote</h2>\
                             <p style=\"line-height:1.8\">正文<img src=\"http://127.0.0.1:{port}/img.png\" onerror=\"alert(1)\"></p></section>"
                        )
                        .into_bytes(),
                    ),
                    _ => ("404 Not Found", "text/plain", b"no".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Upstream { port }
    }
}

fn setup(kind: &str, verified: bool) -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acct", kind, verified);
    let inst = server.install("acct", json!({ "plugin": "editor", "grants": GRANTS }));
    assert_eq!(inst.status, 201, "{inst:?}");
    (tmp, server)
}

fn op(server: &Server, method: &str, path: &str, body: &Value) -> Answer {
    let path = format!("/p/acct/editor{path}");
    match method {
        "GET" => server.get(&path),
        "POST" => server.post(&path, body),
        "PUT" => server.put_raw(&path, Some(TOKEN), body.to_string().as_bytes()),
        "DELETE" => server.delete(&path),
        other => panic!("no {other} helper"),
    }
}

fn html(a: &Answer) -> String {
    match &a.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn path_of(server: &Server, url: &str) -> String {
    url.replace("&amp;", "&")
        .strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("{url} is not on {}", server.base))
        .to_string()
}

fn events(server: &Server, kind: &str) -> Vec<Value> {
    let a = server.get(&format!("/api/v1/accounts/acct/events?kinds={kind}"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["events"].as_array().cloned().unwrap_or_default()
}

fn subscribe(server: &Server, n: usize) {
    for i in 0..n {
        let a = server.event("acct", &format!("fan{i}"), "subscribe");
        assert_eq!(a.status, 200, "{a:?}");
    }
}

#[test]
fn drafts_keep_every_version_and_bad_input_changes_nothing() {
    let (_tmp, server) = setup("service", true);
    let created = op(
        &server,
        "POST",
        "/api/articles",
        &json!({"title": "初稿 Draft", "author": "小编", "digest": "摘要",
                "body": "<p style=\"color:#333;position:fixed\" onclick=\"x()\">第一版</p><script>alert(1)</script>"}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["status"], "draft");
    let body = created.body["body"].as_str().unwrap_or_default();
    assert_eq!(
        body, "<p style=\"color:#333\">第一版</p>",
        "typed bodies are sanitised"
    );

    let updated = op(
        &server,
        "PUT",
        &format!("/api/articles/{id}"),
        &json!({"title": "第二版 v2", "body": "<p>第二版</p>", "base_version": 1}),
    );
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.body["version"], 2);
    // A stale editor is refused, and so is every malformed edit: nothing changes.
    let stale = op(
        &server,
        "PUT",
        &format!("/api/articles/{id}"),
        &json!({"title": "lost update", "base_version": 1}),
    );
    assert_eq!(
        (stale.status, stale.error_code()),
        (409, "conflict"),
        "{stale:?}"
    );
    for bad in [
        json!({"title": ""}),
        json!({"title": "x".repeat(65)}),
        json!({"cover": "../../etc"}),
        json!({"unknown": 1}),
        json!("not an object"),
    ] {
        let r = op(&server, "PUT", &format!("/api/articles/{id}"), &bad);
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert!(!r.error_message().is_empty());
    }
    let now = op(&server, "GET", &format!("/api/articles/{id}"), &Value::Null);
    assert_eq!(
        (now.body["version"].clone(), now.body["title"].clone()),
        (json!(2), json!("第二版 v2"))
    );

    let versions = op(
        &server,
        "GET",
        &format!("/api/articles/{id}/versions"),
        &Value::Null,
    );
    let numbers: Vec<u64> = versions.body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2]);
    let v1 = op(
        &server,
        "GET",
        &format!("/api/articles/{id}/versions/1"),
        &Value::Null,
    );
    assert_eq!(v1.body["title"], "初稿 Draft");
    let restored = op(
        &server,
        "POST",
        &format!("/api/articles/{id}/versions/1/restore"),
        &json!({}),
    );
    assert_eq!(restored.status, 200, "{restored:?}");
    assert_eq!(
        (
            restored.body["version"].clone(),
            restored.body["title"].clone(),
            restored.body["body"].clone()
        ),
        (
            json!(3),
            json!("初稿 Draft"),
            json!("<p style=\"color:#333\">第一版</p>")
        )
    );
    assert_eq!(
        op(
            &server,
            "GET",
            &format!("/api/articles/{id}/versions/9"),
            &Value::Null
        )
        .status,
        404
    );

    // Operator routes need the operator token.
    let anon = server.get_as(&format!("/p/acct/editor/api/articles/{id}"), None);
    assert_eq!(anon.status, 403, "{anon:?}");
    let list = op(&server, "GET", "/api/articles", &Value::Null);
    let ids: Vec<&str> = list.body["articles"]
        .as_array()
        .expect("articles")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&"welcome"),
        "{ids:?}"
    );

    let gone = op(
        &server,
        "DELETE",
        &format!("/api/articles/{id}"),
        &Value::Null,
    );
    assert_eq!(gone.status, 200, "{gone:?}");
    assert_eq!(
        op(&server, "GET", &format!("/api/articles/{id}"), &Value::Null).status,
        404
    );
    assert_eq!(
        op(
            &server,
            "GET",
            &format!("/api/articles/{id}/versions/1"),
            &Value::Null
        )
        .status,
        404
    );
}

#[test]
fn media_uploads_take_images_audio_and_video_only() {
    let (_tmp, server) = setup("service", true);
    let up = server.post_raw("/p/acct/editor/api/media", Some(TOKEN), "image/png", &png());
    assert_eq!(up.status, 201, "{up:?}");
    let media_id = up.body["media_id"].as_str().expect("media id").to_string();
    assert_eq!(up.body["short_code"], format!("[image media={media_id}]"));
    let url = up.body["url"].as_str().expect("url");
    assert!(url.contains(&format!("/media/acct/{media_id}")), "{url}");
    let served = server.get_as(&path_of(&server, url), None);
    assert_eq!(served.status, 200, "the media store serves it");
    for (ct, body) in [
        ("text/html", b"<script>alert(1)</script>".to_vec()),
        ("application/pdf", b"%PDF-1.4".to_vec()),
        ("image/png", Vec::new()),
        ("image/png", b"not a png at all".to_vec()),
    ] {
        let r = server.post_raw("/p/acct/editor/api/media", Some(TOKEN), ct, &body);
        assert!(r.status == 400, "{ct}: {r:?}");
    }
    let anon = server.post_raw("/p/acct/editor/api/media", None, "image/png", &png());
    assert_eq!(anon.status, 403);
}

#[test]
fn imports_keep_135_and_xiumi_styling_and_hostile_html_comes_out_harmless() {
    let (_tmp, server) = setup("service", true);
    let xiumi = op(
        &server,
        "POST",
        "/api/import",
        &json!({"html": fixture("xiumi.html")}),
    );
    assert_eq!(xiumi.status, 201, "{xiumi:?}");
    let body = xiumi.body["article"]["body"].as_str().unwrap_or_default();
    assert_eq!(
        xiumi.body["article"]["title"], "活动时间 Time",
        "the first heading titles it"
    );
    for kept in [
        "background-color:rgb(254, 249, 239)",
        "transform:rotate(-2deg)",
        "text-indent:2em",
        "box-sizing:border-box",
        "border-left:4px solid rgb(58, 110, 200)",
    ] {
        assert!(body.contains(kept), "{kept} lost: {body}");
    }
    // img.xiumi.us is requested by the manifest but not granted here: the image is removed.
    assert_eq!(xiumi.body["report"]["images_removed"], 1, "{xiumi:?}");
    assert!(!body.contains("<img") && !body.contains("url("));

    let c135 = op(
        &server,
        "POST",
        "/api/import",
        &json!({"html": fixture("135.html"), "title": "新品 135"}),
    );
    assert_eq!(c135.status, 201, "{c135:?}");
    let body = c135.body["article"]["body"].as_str().unwrap_or_default();
    assert_eq!(c135.body["article"]["title"], "新品 135");
    assert!(
        body.contains("border:1px dashed #ff6f61") && body.contains("<table"),
        "{body}"
    );
    assert!(body.contains("[video src=\"https://v.qq.com/txp/iframe/player.html?vid=m0036abcde"));
    assert_eq!(c135.body["report"]["iframes_kept_as_video"], 1);

    let hostile = op(
        &server,
        "POST",
        "/api/import",
        &json!({"html": fixture("hostile.html")}),
    );
    assert_eq!(hostile.status, 201, "{hostile:?}");
    let body = hostile.body["article"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for gone in [
        "<script",
        "javascript",
        "onerror",
        "onclick",
        "<iframe",
        "<svg",
        "<object",
        "<form",
        "<base",
        "<meta",
        "evil.example",
        "url(",
    ] {
        assert!(!body.contains(gone), "{gone} survived: {body}");
    }
    let report = &hostile.body["report"];
    assert!(report["scripts_removed"].as_u64() >= Some(4), "{report}");
    assert!(
        report["event_handlers_removed"].as_u64() >= Some(5),
        "{report}"
    );
    assert_eq!(report["iframes_removed"], 3, "{report}");

    // The rendered page of the hostile article (through a preview link) carries none of it.
    let link = op(
        &server,
        "POST",
        &format!(
            "/api/articles/{}/preview",
            hostile.body["article"]["id"].as_str().unwrap_or("")
        ),
        &json!({}),
    );
    assert_eq!(link.status, 201, "{link:?}");
    let page = server.get_as(
        &path_of(&server, link.body["url"].as_str().expect("url")),
        None,
    );
    assert_eq!(page.status, 200, "{page:?}");
    let text = html(&page).to_ascii_lowercase();
    assert!(!text.contains("alert(") && !text.contains("evil.example"));

    // Bad requests are typed errors and create nothing.
    let before = op(&server, "GET", "/api/articles", &Value::Null).body["articles"]
        .as_array()
        .map(Vec::len);
    for bad in [
        json!({}),
        json!({"html": "<p>x</p>", "url": "https://a.example/"}),
        json!({"url": "ftp://x/"}),
        json!({"html": "x".repeat(3 * 1024 * 1024 + 1)}),
    ] {
        let r = op(&server, "POST", "/api/import", &bad);
        assert!(r.status == 400 || r.status == 413, "{r:?}");
        assert!(!r.error_code().is_empty());
    }
    let after = op(&server, "GET", "/api/articles", &Value::Null).body["articles"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after);
}

#[test]
fn an_import_by_url_fetches_from_granted_hosts_only_and_rehosts_images() {
    let granted = Upstream::start();
    let other = Upstream::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acct", "service", true);
    let outbound = format!("http.outbound:127.0.0.1:{}", granted.port);
    // The operator adds the host to the manifest (a new version) and grants it.
    let (manifest, wasm) = plugin_files("plugins/editor/plugin.toml", "editor");
    let manifest = manifest
        .replace("version = \"0.1.0\"", "version = \"0.1.1\"")
        .replace(
            "\"http.outbound:mmbiz.qpic.cn\",",
            &format!("\"http.outbound:mmbiz.qpic.cn\", \"{outbound}\","),
        );
    let up = server.upload(&manifest, &wasm);
    assert_eq!(up.status, 201, "{up:?}");
    let mut grants: Vec<&str> = GRANTS.to_vec();
    grants.push(&outbound);
    let inst = server.install(
        "acct",
        json!({"plugin": "editor", "version": "0.1.1", "grants": grants}),
    );
    assert_eq!(inst.status, 201, "{inst:?}");

    let url = format!("http://127.0.0.1:{}/article.html", granted.port);
    let imported = op(&server, "POST", "/api/import", &json!({"url": url}));
    assert_eq!(imported.status, 201, "{imported:?}");
    assert_eq!(imported.body["article"]["title"], "远程文章 Remote");
    assert_eq!(
        imported.body["report"]["images_rehosted"], 1,
        "{imported:?}"
    );
    let body = imported.body["article"]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(
        body.contains("<img src=\"/media/acct/")
            && !body.contains("127.0.0.1")
            && !body.contains("onerror"),
        "{body}"
    );
    let src = body
        .split("<img src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("img src");
    let image = server.get_as(src, None);
    assert_eq!(
        image.status, 200,
        "the re-hosted image is served by the media store"
    );

    // A data: image is decoded and re-hosted too.
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(png());
    let inline = op(
        &server,
        "POST",
        "/api/import",
        &json!({"html": format!("<p><img src=\"data:image/png;base64,{data}\"></p>")}),
    );
    assert_eq!(inline.body["report"]["images_rehosted"], 1, "{inline:?}");
    assert!(
        inline.body["article"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("<img src=\"/media/acct/")
    );

    // Not granted: a clear 403, nothing created.
    let refused = op(
        &server,
        "POST",
        "/api/import",
        &json!({"url": format!("http://127.0.0.1:{}/article.html", other.port)}),
    );
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "permission_denied"),
        "{refused:?}"
    );
    assert!(
        refused.error_message().contains("http.outbound"),
        "{refused:?}"
    );
    // An image on an ungranted host inside granted HTML is removed, and the answer says why.
    let mixed = op(
        &server,
        "POST",
        "/api/import",
        &json!({"html": format!("<p>x<img src=\"http://127.0.0.1:{}/img.png\"></p>", other.port)}),
    );
    assert_eq!(mixed.body["report"]["images_removed"], 1, "{mixed:?}");
    assert!(
        mixed.body["report"]["notes"]
            .as_array()
            .is_some_and(|notes| !notes.is_empty())
    );
}

#[test]
fn a_published_article_reaches_followers_with_its_components_and_records_reads() {
    let (_tmp, server) = setup("service", true);
    let inst = server.install(
        "acct",
        json!({"plugin": "interactive", "grants": ["storage", "http.routes", "events.emit"]}),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    let vote = server.post(
        "/p/acct/interactive/admin/votes",
        &json!({"id": "lunch", "title": "午饭吃什么", "options": ["面条", "米饭"]}),
    );
    assert_eq!(vote.status, 201, "{vote:?}");
    subscribe(&server, 3);

    let created = op(
        &server,
        "POST",
        "/api/articles",
        &json!({"id": "spring", "title": "春日 <活动>", "digest": "快来投票",
                "body": "<p>投票：[vote id=lunch]</p><p>[product id=p1]</p><p>[ad slot=top]</p>\
                         <p>[miniprogram appid=wx123 path=pages/index title=\"商城 Shop\"]</p>\
                         <p>[video src=\"https://v.qq.com/txp/iframe/player.html?vid=x1\"][video src=\"https://evil.example/v\"]</p>"}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    // Not published yet: no public page.
    assert_eq!(server.get_as("/p/acct/editor/a/spring", None).status, 404);

    let published = op(&server, "POST", "/api/articles/spring/publish", &json!({}));
    assert_eq!(published.status, 201, "{published:?}");
    assert_eq!(published.body["article"]["status"], "published");
    assert_eq!(published.body["idempotency_key"], "editor:spring:1");
    let broadcast = published.body["broadcast"]
        .as_str()
        .expect("broadcast id")
        .to_string();
    eventually("the broadcast to reach fan1", || {
        let got = server.outbox("acct", "fan1");
        got.into_iter().find(|m| m["delivery"] == "broadcast")
    });
    let message = server
        .outbox("acct", "fan1")
        .into_iter()
        .find(|m| m["delivery"] == "broadcast")
        .expect("broadcast message");
    let text = message.to_string();
    assert!(
        text.contains("春日 <活动>") && text.contains("/p/acct/editor/a/spring"),
        "{message}"
    );
    let job = server.get(&format!("/api/v1/accounts/acct/broadcasts/{broadcast}"));
    assert_eq!(job.status, 200, "{job:?}");
    let published_events = events(&server, "editor.article.published");
    assert_eq!(published_events.len(), 1, "{published_events:?}");
    assert_eq!(published_events[0]["properties"]["article"], "spring");

    // The public page: the vote is rendered by interactive, the product and ad plugins are not
    // installed (nothing), the mini-program card and the allowed video are drawn here.
    let page = server.get_as("/p/acct/editor/a/spring", None);
    assert_eq!(page.status, 200, "{page:?}");
    let text = html(&page);
    assert!(text.contains("<h1>春日 &lt;活动&gt;</h1>"), "{text}");
    assert!(
        text.contains("午饭吃什么") && text.contains("/p/acct/interactive/votes/lunch"),
        "{text}"
    );
    assert!(
        !text.contains("[vote") && !text.contains("[product") && !text.contains("[ad "),
        "{text}"
    );
    assert!(text.contains("商城 Shop") && text.contains("data-appid=\"wx123\""));
    assert!(
        text.contains("<iframe src=\"https://v.qq.com/txp/iframe/player.html?vid=x1\" sandbox=")
    );
    assert!(!text.contains("evil.example"));

    // A follower asks for the history, opens the article through the signed link: the read is
    // theirs, once a day however often they open it; share and like are recorded.
    let reply = server.text("acct", "fan2", "m1", "历史消息");
    assert_eq!(reply.body["reply"]["msg_type"], "article_link", "{reply:?}");
    let history = path_of(&server, reply.body["reply"]["url"].as_str().expect("url"));
    let page = server.get_as(&history, None);
    assert_eq!(page.status, 200, "{page:?}");
    let list = html(&page);
    assert!(
        list.contains("春日 &lt;活动&gt;") && list.contains("欢迎使用编辑器"),
        "{list}"
    );
    assert!(
        list.find("春日").unwrap_or(usize::MAX) < list.find("欢迎使用编辑器").unwrap_or(0),
        "newest first: {list}"
    );
    let article_link = list
        .match_indices("href=\"")
        .filter_map(|(i, _)| list[i + 6..].split('"').next())
        .find(|u| u.contains("/a/spring"))
        .expect("a link to the article")
        .to_string();
    let article_path = path_of(&server, &article_link);
    assert!(article_path.contains("plaza_token="), "{article_path}");
    for _ in 0..2 {
        assert_eq!(server.get_as(&article_path, None).status, 200);
    }
    let reads = events(&server, "editor.article.read");
    let by_fan2 = reads.iter().filter(|e| e["openid"] == "fan2").count();
    assert_eq!(by_fan2, 1, "{reads:?}");
    assert_eq!(
        reads.len(),
        2,
        "one anonymous read and one by fan2: {reads:?}"
    );
    let fan_page = html(&server.get_as(&article_path, None));
    let like_url = fan_page
        .split("data-ed-action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("like button");
    let like_path = path_of(&server, like_url);
    let liked = server.post_raw(&like_path, None, "application/json", b"");
    assert_eq!(
        (liked.status, liked.body["likes"].clone()),
        (200, json!(1)),
        "{liked:?}"
    );
    let again = server.post_raw(&like_path, None, "application/json", b"");
    assert_eq!(
        (again.body["new"].clone(), again.body["likes"].clone()),
        (json!(false), json!(1))
    );
    let share_url = fan_page
        .split("data-ed-action=\"")
        .nth(2)
        .and_then(|s| s.split('"').next())
        .expect("share button");
    let share_path = path_of(&server, share_url);
    assert_eq!(
        server
            .post_raw(&share_path, None, "application/json", b"")
            .status,
        200
    );
    let likes = events(&server, "editor.article.like");
    assert_eq!(likes.len(), 1);
    assert_eq!(
        (
            likes[0]["openid"].clone(),
            likes[0]["properties"]["title"].clone()
        ),
        (json!("fan2"), json!("春日 <活动>"))
    );
    let shares = events(&server, "editor.article.share");
    assert_eq!(
        (shares.len(), shares[0]["openid"].clone()),
        (1, json!("fan2"))
    );

    // Featured: only what the operator marks (plus the welcome article).
    let featured = server.get_as("/p/acct/editor/featured", None);
    assert!(!html(&featured).contains("春日"));
    let marked = op(
        &server,
        "POST",
        "/api/articles/spring/feature",
        &json!({"featured": true}),
    );
    assert_eq!(marked.status, 200, "{marked:?}");
    let featured = html(&server.get_as("/p/acct/editor/featured", None));
    assert!(
        featured.contains("春日 &lt;活动&gt;") && featured.contains("欢迎使用编辑器"),
        "{featured}"
    );
}

#[test]
fn preview_links_are_signed_and_publishing_respects_schedule_and_quota() {
    let (_tmp, server) = setup("subscription", false);
    subscribe(&server, 2);
    let created = op(
        &server,
        "POST",
        "/api/articles",
        &json!({"id": "d1", "title": "草稿 Draft", "body": "<p>secret draft</p>"}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let link = op(
        &server,
        "POST",
        "/api/articles/d1/preview",
        &json!({"ttl_minutes": 10}),
    );
    assert_eq!(link.status, 201, "{link:?}");
    let path = path_of(&server, link.body["url"].as_str().expect("url"));
    let page = server.get_as(&path, None);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(html(&page).contains("secret draft") && html(&page).contains("预览 Preview"));
    // Tampered signature, another article, a later expiry, no signature: 403.
    let tampered = {
        let mut p = path.clone();
        let last = p.pop().expect("sig");
        p.push(if last == '0' { '1' } else { '0' });
        p
    };
    let exp = link.body["expires_at"].as_u64().expect("expires_at");
    for bad in [
        tampered,
        path.replace("/preview/d1", "/preview/welcome"),
        path.replace(&format!("exp={exp}"), &format!("exp={}", exp + 1)),
        "/p/acct/editor/preview/d1".to_string(),
    ] {
        let r = server.get_as(&bad, None);
        assert_eq!(r.status, 403, "{bad}: {r:?}");
        assert!(!html(&r).contains("secret draft"));
    }
    // Not published: the public page does not show it.
    assert_eq!(server.get_as("/p/acct/editor/a/d1", None).status, 404);

    // Scheduled (定时发送) far ahead: the host holds the broadcast, the article waits.
    let created_at = created.body["created_at"].as_u64().expect("created_at");
    let at = created_at + 365 * 24 * 3600 * 1000;
    let scheduled = op(
        &server,
        "POST",
        "/api/articles/d1/publish",
        &json!({"at": at}),
    );
    assert_eq!(scheduled.status, 201, "{scheduled:?}");
    assert_eq!(scheduled.body["article"]["status"], "scheduled");
    let id = scheduled.body["broadcast"]
        .as_str()
        .expect("broadcast")
        .to_string();
    let job = server.get(&format!("/api/v1/accounts/acct/broadcasts/{id}"));
    assert_eq!(
        (job.body["status"].clone(), job.body["at"].clone()),
        (json!("scheduled"), json!(at)),
        "{job:?}"
    );
    let again = op(&server, "POST", "/api/articles/d1/publish", &json!({}));
    assert_eq!(
        (again.status, again.error_code()),
        (409, "conflict"),
        "{again:?}"
    );
    assert!(events(&server, "editor.article.published").is_empty());

    // A subscription account broadcasts once a day: the first publication goes out, the second
    // is refused with the host's quota error, and the article stays a draft.
    op(
        &server,
        "POST",
        "/api/articles",
        &json!({"id": "n1", "title": "今天 Today"}),
    );
    op(
        &server,
        "POST",
        "/api/articles",
        &json!({"id": "n2", "title": "还有 More"}),
    );
    let first = op(&server, "POST", "/api/articles/n1/publish", &json!({}));
    assert_eq!(first.status, 201, "{first:?}");
    let second = op(
        &server,
        "POST",
        "/api/articles/n2/publish",
        &json!({"audience": "all"}),
    );
    assert_eq!(
        (second.status, second.error_code()),
        (429, "quota_exceeded"),
        "{second:?}"
    );
    let n2 = op(&server, "GET", "/api/articles/n2", &Value::Null);
    assert_eq!(
        (n2.body["status"].clone(), n2.body["publications"].clone()),
        (json!("draft"), json!(0))
    );
    let bad = op(
        &server,
        "POST",
        "/api/articles/n2/publish",
        &json!({"at": 1}),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    let bad = op(
        &server,
        "POST",
        "/api/articles/n2/publish",
        &json!({"audience": "everyone"}),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
}
