//! Follower web identity through a real HTTP server: a link made by `Platform::follower_url`
//! reaches the probe's route with the follower set; an expired, tampered or other-account link
//! is refused before the plugin runs; key rotation over the admin API; the follower outbox lists
//! a message's links.

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::api::{self, AppState, auth::AdminToken};
use plaza_host::platform::{Clock, ManualClock};
use plaza_host::plugins::InstallRequest;
use plaza_host::plugins::grants::Capability;
use serde_json::{Value, json};

const T0: u64 = 1_750_000_000_000;
const ADMIN: &str = "admin-token-for-links-test";
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

struct Setup {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    p: Arc<Platform>,
    base: String,
}

/// A platform with accounts `acme` and `other`, the probe installed on both (routes and sending
/// granted), served over HTTP on a free loopback port that is also its public URL.
async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::new(T0));
    let (dir, p) = common::platform(clock.clone(), |_| {});
    let grants = [Capability::HttpRoutes, Capability::MessagingSend];
    common::register_probe(&p, &common::probe_manifest(&grants), T0).await;
    for account in ["acme", "other"] {
        common::service_account(&p, account, None, T0).await;
        p.install_plugin(
            account,
            InstallRequest {
                plugin: "probe".into(),
                grants: grants.to_vec(),
                ..Default::default()
            },
        )
        .await
        .expect("install");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    p.set_public_url(&base);
    let app = api::router(AppState {
        platform: p.clone(),
        admin_token: Arc::new(AdminToken::new(ADMIN)),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup {
        _dir: dir,
        clock,
        p,
        base,
    }
}

/// One HTTP request from a blocking client (off the runtime's threads): status and body.
async fn request(
    method: &'static str,
    url: &str,
    headers: &[(&'static str, String)],
    body: Option<Value>,
) -> (u16, String) {
    let url = url.to_string();
    let headers = headers.to_vec();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut resp = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                for (n, v) in &headers {
                    r = r.header(*n, v);
                }
                r.call()
            }
            (_, body) => {
                let mut r = agent.post(&url);
                for (n, v) in &headers {
                    r = r.header(*n, v);
                }
                match body {
                    Some(b) => r.send_json(b),
                    None => r.send_empty(),
                }
            }
        }
        .expect("request");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().expect("body"))
    })
    .await
    .expect("request thread")
}

async fn get(url: &str) -> (u16, String) {
    request("GET", url, &[], None).await
}

fn admin() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN}"))
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["error"]["code"].as_str().expect("error code").to_string()
}

fn errors(p: &Platform, account: &str) -> usize {
    p.plugins
        .installations
        .errors(account, "probe")
        .expect("errors")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_link_reaches_the_plugin_with_the_follower_set() {
    let s = setup().await;
    let url =
        s.p.follower_url("acme", "probe", "o-1", "/whoami", 600, T0)
            .await
            .expect("link");
    assert!(
        url.starts_with(&format!("{}/p/acme/probe/whoami?plaza_token=", s.base)),
        "{url}"
    );
    assert_eq!(
        get(&url).await,
        (200, "acme/probe operator=false follower=o-1".to_string())
    );
    // Without a token the route is public and anonymous, as before.
    let plain = format!("{}/p/acme/probe/whoami", s.base);
    assert_eq!(
        get(&plain).await,
        (200, "acme/probe operator=false follower=-".to_string())
    );
    // The token may come in a header instead (a page's own fetches).
    let token = url.split("plaza_token=").nth(1).expect("token").to_string();
    let header = [("x-plaza-follower-token", token.clone())];
    assert_eq!(
        request("GET", &plain, &header, None).await,
        (200, "acme/probe operator=false follower=o-1".to_string())
    );
    // A link with a query keeps it; the token reaches the host, not the plugin's headers.
    let headers_url =
        s.p.follower_url("acme", "probe", "o-1", "/headers?x=1", 600, T0)
            .await
            .expect("link");
    assert!(
        headers_url.contains("/headers?x=1&plaza_token="),
        "{headers_url}"
    );
    let headers_token = headers_url.split("plaza_token=").nth(1).expect("token");
    let (status, names) = request(
        "GET",
        &format!("{}/p/acme/probe/headers?x=1", s.base),
        &[("x-plaza-follower-token", headers_token.to_string())],
        None,
    )
    .await;
    assert_eq!(status, 200, "{names}");
    assert!(!names.contains("x-plaza-follower-token"), "{names}");
    // The same token used for a path it was not issued for is refused.
    let (status, body) = request(
        "GET",
        &format!("{}/p/acme/probe/whoami", s.base),
        &[("x-plaza-follower-token", headers_token.to_string())],
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "permission_denied")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tampered_and_replayed_links_are_refused_before_the_plugin_runs() {
    let s = setup().await;
    // `/panic` makes the probe panic, which the host records as an installation error: a
    // refused request leaves no error, so the plugin did not run.
    let ttl = 600;
    let panic_url =
        s.p.follower_url("acme", "probe", "o-1", "/panic", ttl, T0)
            .await
            .expect("link");
    let whoami_url =
        s.p.follower_url("acme", "probe", "o-1", "/whoami", ttl, T0)
            .await
            .expect("link");

    // Tampered: one character of the token's expiry changed; the MAC no longer matches.
    let (head, token) = panic_url.split_once("plaza_token=").expect("token");
    let mut chars: Vec<char> = token.chars().collect();
    chars[12] = if chars[12] == 'A' { 'B' } else { 'A' };
    let tampered = format!(
        "{head}plaza_token={}",
        chars.into_iter().collect::<String>()
    );
    let (status, body) = get(&tampered).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "unauthorized"),
        "{body}"
    );
    assert_eq!(
        errors(&s.p, "acme"),
        0,
        "the plugin ran for a tampered link"
    );

    // Replayed on another account that has the same plugin.
    let replayed = panic_url.replace("/p/acme/", "/p/other/");
    let (status, body) = get(&replayed).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "permission_denied"),
        "{body}"
    );
    assert_eq!(
        errors(&s.p, "other"),
        0,
        "the plugin ran for a replayed link"
    );

    // Valid until the last millisecond, refused at expiry.
    s.clock.advance(u64::from(ttl) * 1000 - 1);
    assert_eq!(
        get(&whoami_url).await,
        (200, "acme/probe operator=false follower=o-1".to_string())
    );
    s.clock.advance(1);
    let (status, body) = get(&whoami_url).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "unauthorized"),
        "{body}"
    );
    assert!(body.contains("expired"), "{body}");
    let (status, body) = get(&panic_url).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "unauthorized"),
        "{body}"
    );
    assert_eq!(
        errors(&s.p, "acme"),
        0,
        "the plugin ran for an expired link"
    );

    // The control: the same kind of link, valid, does reach the plugin (and its panic is seen).
    let fresh =
        s.p.follower_url("acme", "probe", "o-1", "/panic", ttl, s.clock.now_ms())
            .await
            .expect("link");
    let (status, _) = get(&fresh).await;
    assert_eq!(status, 502);
    assert_eq!(errors(&s.p, "acme"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_link_key_keeps_sent_links_working_for_their_lifetime() {
    let s = setup().await;
    let month = plaza_host::links::MAX_TTL_SECONDS;
    let old =
        s.p.follower_url("acme", "probe", "o-1", "/whoami", month, T0)
            .await
            .expect("link");
    let rotate = format!("{}/api/v1/accounts/acme/link-key/rotate", s.base);
    // Admin only; an unknown account is not found.
    let (status, body) = request("POST", &rotate, &[], None).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "unauthorized"));
    let (status, body) = request(
        "POST",
        &format!("{}/api/v1/accounts/nobody/link-key/rotate", s.base),
        &[admin()],
        None,
    )
    .await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    let (status, body) = request("POST", &rotate, &[admin()], None).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["key_id"], json!(2));
    assert_eq!(v["live_key_ids"], json!([1, 2]));
    assert!(!body.contains("secret"), "{body}");
    let new =
        s.p.follower_url("acme", "probe", "o-2", "/whoami", month, T0)
            .await
            .expect("link");
    let ok = |who: &str| (200, format!("acme/probe operator=false follower={who}"));
    assert_eq!(get(&old).await, ok("o-1"));
    assert_eq!(get(&new).await, ok("o-2"));
    // The old link lives out its 30 days under the retired key; then it has expired, and so has
    // the new one (issued at the same time for as long).
    s.clock.advance(30 * DAY_MS - 1);
    assert_eq!(get(&old).await, ok("o-1"));
    s.clock.advance(1);
    assert_eq!(get(&old).await.0, 401);
    assert_eq!(get(&new).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_outbox_lists_the_links_of_each_message() {
    let s = setup().await;
    let inbound = format!("{}/api/v1/accounts/acme/inbound", s.base);
    let (status, body) = request(
        "POST",
        &inbound,
        &[admin()],
        Some(json!({
            "msg_id": "m1", "from": "o-1", "msg_type": "text",
            "content": "send Your card: https://plaza.example/p/acme/card?plaza_token=abc and javascript:alert(1)",
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = request(
        "GET",
        &format!("{}/api/v1/accounts/acme/followers/o-1/messages", s.base),
        &[admin()],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let messages = v["messages"].as_array().expect("messages");
    let card = messages
        .iter()
        .find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("Your card"))
        })
        .unwrap_or_else(|| panic!("the sent message is in the outbox: {body}"));
    assert_eq!(
        card["links"],
        json!([{ "url": "https://plaza.example/p/acme/card?plaza_token=abc" }])
    );
    // The stored fields are there as before.
    assert_eq!(card["msg_type"], json!("text"));
    assert!(card["id"].is_string() && card["at"].is_u64(), "{card}");
    // Every entry has `links`, empty when there are none.
    assert!(messages.iter().all(|m| m["links"].is_array()), "{body}");
    assert!(
        messages.iter().any(|m| m["links"] == json!([])),
        "the passive reply `sent:<id>` has no links: {body}"
    );
}
