//! The bundled ad-slots plugin over several days of an injected clock, on an account in
//! Asia/Shanghai: a brand's 互选 campaign is accepted, waits for its dates, is delivered (ahead
//! of nothing else in its slot) and counted on each of its two days, is not settled while it runs
//! whatever the scheduler does, and is settled by its scheduled job once the clock passes its end,
//! for the amount the README's pricing gives for what was delivered; and a 流量主 ad whose daily
//! budget is spent stops serving until the account-local midnight. (Everything else end to end
//! through the real binary: `tests/tests/ad_slots.rs`.)

mod common;

use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::accounts::followers::Touch;
use plaza_host::harness::{self, Caller};
use plaza_host::plugin_api as api;
use plaza_host::runtime::{Invocation, Outcome};
use serde_json::{Value, json};

const ACCOUNT: &str = "mag";
const PLUGIN: &str = "ad-slots";
const MINUTE: u64 = 60_000;

/// A plugin answer: status, headers, body.
struct Answer {
    status: u16,
    headers: Vec<api::Header>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} answered a body that is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A request to ad-slots' routes with extra `headers` (the harness sends none; brands
/// authenticate with `x-brand-key`), made by `caller` as the host would after verifying it.
async fn call(
    p: &Arc<Platform>,
    caller: Caller<'_>,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    let active = p
        .plugins
        .find_active(ACCOUNT, PLUGIN)
        .expect("ad-slots is active");
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut all = vec![api::Header {
        name: "content-type".into(),
        value: "application/json".into(),
    }];
    all.extend(headers.iter().map(|(name, value)| api::Header {
        name: (*name).into(),
        value: (*value).into(),
    }));
    let req = api::HttpRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: all,
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
    };
    let (follower, operator) = match caller {
        Caller::Public => (None, false),
        Caller::Follower(openid) => (Some(openid.to_string()), false),
        Caller::Operator => (None, true),
    };
    match p
        .call_plugin(&active, follower, operator, |ctx| {
            Invocation::Http(ctx, req)
        })
        .await
    {
        Ok(Outcome::Http(r)) => Answer {
            status: r.status,
            headers: r.headers,
            body: r.body,
        },
        other => panic!("{method} {path_and_query}: {other:?}"),
    }
}

async fn operator(p: &Arc<Platform>, method: &str, path: &str, body: Value) -> Value {
    let a = call(p, Caller::Operator, method, path, &[], &body).await;
    assert!(
        (200..300).contains(&a.status),
        "{method} {path}: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    a.json()
}

/// One serving decision in `slot` for `follower` (through a signed link).
async fn serve(p: &Arc<Platform>, follower: &str, slot: &str) -> Value {
    let a = call(
        p,
        Caller::Follower(follower),
        "GET",
        &format!("/serve?slot={slot}"),
        &[],
        &Value::Null,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()
}

/// Opens one of a decision's tracking URLs (`impression_url` or `click_url`) as a browser would.
async fn track(p: &Arc<Platform>, decision: &Value, which: &str) -> Answer {
    let url = decision[which].as_str().expect("a tracking URL");
    let (_, route) = url
        .split_once(&format!("/p/{ACCOUNT}/{PLUGIN}"))
        .unwrap_or_else(|| panic!("{which} {url} is not under the plugin"));
    call(p, Caller::Public, "GET", route, &[], &Value::Null).await
}

/// A decision seen and counted: served, its impression recorded (billable).
async fn served_and_seen(p: &Arc<Platform>, follower: &str, slot: &str) -> Value {
    let d = serve(p, follower, slot).await;
    assert!(d["ad"].is_string(), "nothing served to {follower}: {d}");
    let pixel = track(p, &d, "impression_url").await;
    assert_eq!(pixel.status, 200);
    assert_eq!(pixel.header("x-ad-billable"), Some("true"), "{d}");
    d
}

async fn campaign(p: &Arc<Platform>, id: &str) -> Value {
    operator(p, "GET", &format!("/campaigns/{id}"), Value::Null).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_is_delivered_over_its_days_and_settled_by_its_job_at_the_end() {
    // Monday 2026-03-09, 09:00 in Shanghai; the campaign runs 03-10 and 03-11 (local days).
    let start = common::shanghai(2026, 3, 9, 9, 0);
    let (starts, ends) = (
        common::shanghai(2026, 3, 10, 0, 0),
        common::shanghai(2026, 3, 12, 0, 0),
    );
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, start).await;
    for follower in ["f-1", "f-2", "f-3"] {
        p.followers
            .touch(ACCOUNT, follower, Touch::Subscribe { scene: None }, start)
            .expect("subscribe")
            .detach();
    }
    harness::install_bundled(&p, ACCOUNT, PLUGIN, None)
        .await
        .expect("install");
    operator(
        &p,
        "POST",
        "/slots",
        json!({"id": "top", "position": "in_article", "style": "card", "size": "16:9"}),
    )
    .await;
    let brand = operator(
        &p,
        "POST",
        "/brands",
        json!({"id": "acme", "name": "Acme 品牌"}),
    )
    .await;
    let key = brand["key"].as_str().expect("the brand key").to_string();

    // The brand asks for 5 billable impressions: fewer delivered prorate the price.
    let (price, budget, min_impressions) = (80_000_u64, 50_000_u64, 5_u64);
    let submitted = call(
        &p,
        Caller::Public,
        "POST",
        "/brand/campaigns",
        &[("x-brand-key", &key)],
        &json!({"name": "Spring", "budget_cents": budget, "price_cents": price, "slot": "top",
                "starts": starts, "ends": ends,
                "requirements": {"note": "母婴 audience", "min_impressions": min_impressions},
                "creative": {"title": "Spring creative", "landing_url": "https://acme.example/"}}),
    )
    .await;
    assert_eq!(
        submitted.status,
        201,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let id = submitted.json()["id"].as_str().expect("id").to_string();
    let accepted = operator(&p, "POST", &format!("/campaigns/{id}/accept"), json!({})).await;
    assert_eq!(accepted["status"], "accepted", "{accepted}");
    // Its settlement is a one-off job at its end.
    let settle_job = format!("settle:{id}");
    let jobs = p.jobs.list(ACCOUNT, PLUGIN).expect("jobs");
    let job = jobs
        .iter()
        .find(|j| j.payload == settle_job.as_bytes())
        .unwrap_or_else(|| panic!("no settlement job in {jobs:?}"));
    assert_eq!(job.next_run, Some(ends));

    // Before its dates it is not served.
    assert_eq!(serve(&p, "f-1", "top").await["ad"], Value::Null);

    // Day 1: served to two followers, both impressions billable, one click; a second hit of a
    // pixel is a duplicate, not billed.
    clock.set(common::shanghai(2026, 3, 10, 10, 0));
    p.fire_due_jobs().await.expect("fire");
    let d1 = served_and_seen(&p, "f-1", "top").await;
    assert_eq!(
        (d1["ad"].as_str(), d1["kind"].as_str()),
        (Some(id.as_str()), Some("campaign")),
        "{d1}"
    );
    let click = track(&p, &d1, "click_url").await;
    assert_eq!(
        (
            click.status,
            click.header("location"),
            click.header("x-ad-billable")
        ),
        (302, Some("https://acme.example/"), Some("true"))
    );
    served_and_seen(&p, "f-2", "top").await;
    let again = track(&p, &d1, "impression_url").await;
    assert_eq!(again.header("x-ad-billable"), Some("false"));
    p.fire_due_jobs().await.expect("fire");
    assert_eq!(campaign(&p, &id).await["status"], "running");

    // Day 2: one more follower.
    clock.set(common::shanghai(2026, 3, 11, 10, 0));
    p.fire_due_jobs().await.expect("fire");
    let d2 = served_and_seen(&p, "f-3", "top").await;
    assert_eq!(d2["ad"].as_str(), Some(id.as_str()), "{d2}");

    // A minute before its end the scheduler runs and it is still running, unsettled; the
    // operator cannot settle it either.
    clock.set(ends - MINUTE);
    p.fire_due_jobs().await.expect("fire");
    let running = campaign(&p, &id).await;
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["settlement"], Value::Null, "{running}");
    let early = call(
        &p,
        Caller::Operator,
        "POST",
        &format!("/campaigns/{id}/settle"),
        &[],
        &json!({}),
    )
    .await;
    assert_eq!(early.status, 409);
    // What was delivered, per day and in all, as the brand sees it.
    let report = call(
        &p,
        Caller::Public,
        "GET",
        &format!("/brand/campaigns/{id}"),
        &[("x-brand-key", &key)],
        &Value::Null,
    )
    .await
    .json();
    let day = |d: &str| {
        report["days"]
            .as_array()
            .and_then(|days| days.iter().find(|x| x["day"] == d))
            .map(|x| x["figures"]["billable_impressions"].clone())
    };
    assert_eq!(day("2026-03-10"), Some(json!(2)), "{report}");
    assert_eq!(day("2026-03-11"), Some(json!(1)), "{report}");
    let delivered = report["delivery"]["billable_impressions"]
        .as_u64()
        .expect("delivered");
    let clicks = report["delivery"]["billable_clicks"]
        .as_u64()
        .expect("clicks");
    assert_eq!((delivered, clicks), (3, 1), "{report}");

    // Past its end the settlement job runs: settled at min(price, budget), prorated by the
    // billable impressions delivered below the minimum asked; in the ledger of that day.
    clock.set(ends + MINUTE);
    p.fire_due_jobs().await.expect("fire");
    let settled = campaign(&p, &id).await;
    let full = price.min(budget);
    let expected = if delivered >= min_impressions {
        full
    } else {
        full * delivered / min_impressions
    };
    assert_eq!(settled["status"], "settled", "{settled}");
    assert_eq!(
        settled["settlement"],
        json!({"amount_cents": expected, "billable_impressions": delivered,
               "billable_clicks": clicks, "settled_at": ends + MINUTE}),
        "{settled}"
    );
    let ledger = operator(&p, "GET", "/ledger?day=2026-03-12", Value::Null).await;
    let entries: Vec<&Value> = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "settlement")
        .collect();
    assert_eq!(entries.len(), 1, "{ledger}");
    assert_eq!(
        entries[0]["amount_millicents"],
        json!(expected * 1000),
        "{ledger}"
    );
    // Done once: the job is spent, the slot is free, a second settlement is refused.
    let jobs = p.jobs.list(ACCOUNT, PLUGIN).expect("jobs");
    assert!(
        jobs.iter()
            .all(|j| j.payload != settle_job.as_bytes() || j.next_run.is_none()),
        "{jobs:?}"
    );
    assert_eq!(serve(&p, "f-1", "top").await["ad"], Value::Null);
    let twice = call(
        &p,
        Caller::Operator,
        "POST",
        &format!("/campaigns/{id}/settle"),
        &[],
        &json!({}),
    )
    .await;
    assert_eq!(twice.status, 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ad_whose_daily_budget_is_spent_serves_again_after_local_midnight() {
    let start = common::shanghai(2026, 3, 9, 9, 0);
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, start).await;
    harness::install_bundled(&p, ACCOUNT, PLUGIN, None)
        .await
        .expect("install");
    operator(
        &p,
        "POST",
        "/slots",
        json!({"id": "feed", "position": "end_of_article", "style": "banner", "size": "4:1"}),
    )
    .await;
    // CPM at 10.00 per 1000: one impression costs 1 cent; 2 cents a day.
    operator(
        &p,
        "POST",
        "/ads",
        json!({"id": "house", "billing": "cpm", "price_cents": 1000, "budget_cents": 100,
               "daily_budget_cents": 2,
               "creative": {"title": "House ad", "landing_url": "https://house.example/"}}),
    )
    .await;

    served_and_seen(&p, "f-1", "feed").await;
    served_and_seen(&p, "f-2", "feed").await;
    assert_eq!(serve(&p, "f-3", "feed").await["ad"], Value::Null);
    // Still the same local day at 23:59 (15:59 UTC), whatever the hourly refresh does.
    clock.set(common::shanghai(2026, 3, 9, 23, 59));
    p.fire_due_jobs().await.expect("fire");
    assert_eq!(serve(&p, "f-3", "feed").await["ad"], Value::Null);
    // Past midnight in Shanghai (16:00 UTC, the same UTC day) the new day's budget serves it.
    clock.set(common::shanghai(2026, 3, 10, 0, 1));
    p.fire_due_jobs().await.expect("fire");
    let d = served_and_seen(&p, "f-3", "feed").await;
    assert_eq!(d["ad"], "house", "{d}");
    let ad = operator(&p, "GET", "/ads/house", Value::Null).await;
    assert_eq!(
        (
            &ad["delivery"]["impressions"],
            &ad["delivery"]["spent_millicents"]
        ),
        (&json!(3), &json!(3 * 1000)),
        "{ad}"
    );
}
