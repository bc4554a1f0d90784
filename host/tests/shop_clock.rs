//! The bundled shop plugin's timers driven by an injected clock: an unpaid order is cancelled by
//! its expiry timer exactly when `order_expire_minutes` have passed (its stock and coupon back,
//! `system:expiry` in its history, a second firing changes nothing; paid late, the money becomes
//! a refund due for the operator), and a shipped order the buyer never confirms completes by
//! itself after `auto_complete_days`. (Everything else end to end through the real binary:
//! `tests/tests/shop.rs`.)

mod common;

use std::sync::Arc;

use hmac::{Hmac, Mac};
use plaza_host::Platform;
use plaza_host::events::query::EventFilter;
use plaza_host::harness::{self, Caller};
use serde_json::{Value, json};
use sha2::Sha256;

const ACCOUNT: &str = "mall";
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;
const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// A JSON call to shop's routes, by `follower` (or by an operator when `None`).
async fn http(
    p: &Arc<Platform>,
    follower: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let caller = Caller::of(follower, follower.is_none());
    harness::plugin_json(p, ACCOUNT, "shop", caller, method, path, &body)
        .await
        .expect("shop answers")
}

/// A WeChat-Pay-style notification for `order`, signed HMAC-SHA256 with the API key.
fn notification(order: &str, total: i64, txn: &str) -> Vec<u8> {
    let mut params = vec![
        ("appid", "wx8888888888888888".to_string()),
        ("mch_id", "1900000109".to_string()),
        ("nonce_str", "abc".to_string()),
        ("out_trade_no", order.to_string()),
        ("result_code", "SUCCESS".to_string()),
        ("return_code", "SUCCESS".to_string()),
        ("sign_type", "HMAC-SHA256".to_string()),
        ("total_fee", total.to_string()),
        ("transaction_id", txn.to_string()),
    ];
    params.sort();
    let mut text: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    text.push(format!("key={API_KEY}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(API_KEY.as_bytes()).expect("key");
    mac.update(text.join("&").as_bytes());
    let sign = hex::encode_upper(mac.finalize().into_bytes());
    let body: String = params
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
    format!("<xml>{body}<sign>{sign}</sign></xml>").into_bytes()
}

/// Posts a payment notification as the provider does: (status, the XML answer).
async fn notify(p: &Arc<Platform>, xml: &[u8]) -> (u16, String) {
    let (status, body) = harness::plugin_http(
        p,
        ACCOUNT,
        "shop",
        Caller::Public,
        "POST",
        "/pay/notify",
        xml,
    )
    .await
    .expect("shop answers");
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn stock(p: &Arc<Platform>) -> i64 {
    let (_, body) = http(p, None, "GET", "/api/products/mug", Value::Null).await;
    body["product"]["skus"][0]["stock"].as_i64().expect("stock")
}

async fn order(p: &Arc<Platform>, id: &str) -> Value {
    let (status, body) = http(p, None, "GET", &format!("/orders/{id}"), Value::Null).await;
    assert_eq!(status, 200, "{body}");
    body["order"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn unpaid_orders_expire_and_shipped_orders_complete_by_the_clock() {
    // The plugin reads the wall clock (WASI) for its timers' due times, the scheduler the
    // injected clock: start the injected clock at the real time, and step it by margins far
    // larger than this test's own run time.
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    let (clock, _dir, p) = common::bundled_in_shanghai(ACCOUNT, t0).await;
    let config = json!({ "order_expire_minutes": 30, "auto_complete_days": 10,
                         "pay": { "appid": "wx8888888888888888", "mch_id": "1900000109" } });
    harness::install_bundled(&p, ACCOUNT, "shop", Some(config))
        .await
        .expect("install");
    let (status, body) = http(
        &p,
        None,
        "PUT",
        "/api/pay/key",
        json!({ "api_key": API_KEY }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        &p,
        None,
        "PUT",
        "/api/products/mug",
        json!({ "title": "Mug", "skus": [ { "id": "red", "price_cents": 5000, "stock": 2 } ] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        &p,
        None,
        "PUT",
        "/api/coupon-kinds/k",
        json!({ "title": "减5", "amount_off_cents": 500, "valid_days": 30 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(
        &p,
        None,
        "POST",
        "/api/coupon-kinds/k/issue",
        json!({ "issue_id": "i", "openids": ["o-1"] }),
    )
    .await;
    assert_eq!(body["issued"], 1, "{body}");
    let (_, coupons) = http(&p, Some("o-1"), "GET", "/coupons", Value::Null).await;
    let code = coupons["coupons"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();

    // An order with the coupon, never paid.
    let items = json!([ { "product": "mug", "sku": "red", "quantity": 1 } ]);
    let (status, body) = http(
        &p,
        Some("o-1"),
        "POST",
        "/checkout",
        json!({ "items": items, "coupon": code }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let unpaid = body["order"]["id"].as_str().expect("id").to_string();
    assert_eq!(stock(&p).await, 1);

    // 29 minutes later nothing is due; 40 minutes later the timer has cancelled it.
    clock.set(t0 + 29 * MINUTE);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
    assert_eq!(order(&p, &unpaid).await["state"], "created");
    clock.set(t0 + 40 * MINUTE);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    let cancelled = order(&p, &unpaid).await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        cancelled["history"][1]["by"], "system:expiry",
        "{cancelled}"
    );
    assert_eq!(stock(&p).await, 2);
    let (_, coupons) = http(&p, Some("o-1"), "GET", "/coupons", Value::Null).await;
    assert_eq!(coupons["coupons"][0]["state"], "issued", "{coupons}");
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);

    // The buyer pays after all (and the provider retries): the money is kept as a refund due,
    // once, the provider hears SUCCESS, and the cancelled order takes neither stock nor coupon.
    for _ in 0..2 {
        let (status, body) = notify(&p, &notification(&unpaid, 4500, "T-LATE")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("SUCCESS"), "{body}");
    }
    assert_eq!(order(&p, &unpaid).await["state"], "cancelled");
    assert_eq!(stock(&p).await, 2);
    let (_, coupons) = http(&p, Some("o-1"), "GET", "/coupons", Value::Null).await;
    assert_eq!(coupons["coupons"][0]["state"], "issued", "{coupons}");
    let (status, dues) = http(&p, None, "GET", "/api/refunds-due", Value::Null).await;
    assert_eq!(status, 200, "{dues}");
    let list = dues["refunds_due"].as_array().expect("list");
    assert_eq!(list.len(), 1, "{dues}");
    assert_eq!(list[0]["transaction_id"], "T-LATE");
    assert_eq!(list[0]["order_id"], unpaid.as_str());
    assert_eq!(list[0]["amount_cents"], 4500);
    assert_eq!(list[0]["received_at"], t0 + 40 * MINUTE);
    assert!(list[0]["done_at"].is_null(), "{dues}");
    let filter = EventFilter::for_plugin(
        &["shop.payment.refund_due".to_string()],
        None,
        None,
        None,
        t0 + 40 * MINUTE + 1,
    )
    .expect("filter");
    let refund_events = p.events.list(ACCOUNT, &filter, None, 10).expect("events");
    assert_eq!(refund_events.events.len(), 1, "{refund_events:?}");
    // The operator refunds it and says so; saying it again changes nothing.
    let done = "/api/refunds-due/T-LATE/done";
    let (status, body) = http(&p, None, "POST", done, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    let done_at = body["refund_due"]["done_at"].clone();
    assert_eq!(done_at, t0 + 40 * MINUTE);
    let (_, again) = http(&p, None, "POST", done, Value::Null).await;
    assert_eq!(again["refund_due"]["done_at"], done_at, "{again}");
    let (_, open) = http(&p, None, "GET", "/api/refunds-due?open=true", Value::Null).await;
    assert_eq!(open["refunds_due"], json!([]), "{open}");
    let (status, _) = http(
        &p,
        None,
        "POST",
        "/api/refunds-due/T-NONE/done",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = http(&p, None, "GET", "/api/refunds-due?open=maybe", Value::Null).await;
    assert_eq!(status, 400);

    // A paid order's expiry timer changes nothing; shipped, it completes after 10 days.
    let (status, body) = http(
        &p,
        Some("o-1"),
        "POST",
        "/checkout",
        json!({ "items": items }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["order"]["id"].as_str().expect("id").to_string();
    // The notification is XML (the route reads the body whatever its content type) and so is
    // the answer.
    let (status, body) = notify(&p, &notification(&id, 5000, "T-1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(order(&p, &id).await["state"], "paid");
    // A second payment of a paid order is a refund due too; the order keeps its first.
    let (status, body) = notify(&p, &notification(&id, 5000, "T-2")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(order(&p, &id).await["transaction_id"], "T-1");
    let (_, open) = http(&p, None, "GET", "/api/refunds-due?open=true", Value::Null).await;
    assert_eq!(open["refunds_due"][0]["transaction_id"], "T-2", "{open}");
    assert!(
        open["refunds_due"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("T-1")),
        "{open}"
    );
    clock.set(t0 + 80 * MINUTE);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    assert_eq!(order(&p, &id).await["state"], "paid");
    assert_eq!(stock(&p).await, 1);
    let (status, body) = http(
        &p,
        None,
        "POST",
        &format!("/orders/{id}/ship"),
        json!({ "tracking_no": "SF1" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    clock.set(t0 + 9 * DAY);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 0);
    assert_eq!(order(&p, &id).await["state"], "shipped");
    // Shipped at t0 + 80 min (the plugin reads the same clock): due 10 days later.
    clock.set(t0 + 10 * DAY + 81 * MINUTE);
    assert_eq!(p.fire_due_jobs().await.expect("fire"), 1);
    let done = order(&p, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["history"][3]["by"], "system:auto-complete", "{done}");
}
