//! Shop checkouts per second under contention: the bundled `shop` plugin installed in-process, one
//! SKU, and concurrent buyers calling `POST /checkout` through the plugin's follower route (a
//! fresh instance per call, one `storage.batch` per checkout checking and decrementing the stock
//! counter and writing the order). Runs: `buyers` parallel buyers for a stock of `stock` (exactly
//! `stock` orders, the rest 409 sold out, then every order paid through a signed WeChat-Pay-style
//! notification: paid = stock, stock left 0), and a throughput run where the stock covers every
//! attempt. Prints attempts, orders, time and rates.
//!
//! Run: `cargo run --release -p plaza-host --example checkout_bench [buyers] [stock] [attempts] [tasks]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use plaza_host::accounts::AccountKind;
use plaza_host::harness::{self, Caller};
use plaza_host::{Platform, PlatformOptions};
use serde_json::{Value, json};
use shop::pay::{self, SignType};

const ACCOUNT: &str = "bench";
const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// A JSON call to shop's routes, by `follower` (or by an operator when `None`).
async fn http(
    platform: &Arc<Platform>,
    follower: Option<&str>,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let caller = Caller::of(follower, follower.is_none());
    harness::plugin_json(platform, ACCOUNT, "shop", caller, method, path, &body)
        .await
        .expect("shop answers")
}

/// A WeChat-Pay-style notification for `order`, signed HMAC-SHA256 with the API key by the
/// plugin's own signer (`tests/shop_clock.rs` signs independently).
fn notification(order: &str, total: i64, txn: &str) -> Vec<u8> {
    let params: BTreeMap<String, String> = [
        ("appid", "wx8888888888888888".to_string()),
        ("mch_id", "1900000109".to_string()),
        ("nonce_str", "abc".to_string()),
        ("out_trade_no", order.to_string()),
        ("result_code", "SUCCESS".to_string()),
        ("return_code", "SUCCESS".to_string()),
        ("sign_type", "HMAC-SHA256".to_string()),
        ("total_fee", total.to_string()),
        ("transaction_id", txn.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let sign = pay::sign(&params, API_KEY, SignType::HmacSha256);
    let body: String = params
        .iter()
        .map(|(k, v)| format!("<{k}>{v}</{k}>"))
        .collect();
    format!("<xml>{body}<sign>{sign}</sign></xml>").into_bytes()
}

async fn stock(platform: &Arc<Platform>, product: &str) -> i64 {
    let (_, body) = http(
        platform,
        None,
        "GET",
        &format!("/api/products/{product}"),
        Value::Null,
    )
    .await;
    body["product"]["skus"][0]["stock"].as_i64().expect("stock")
}

/// `attempts` checkouts by `tasks` concurrent buyers of a product with `stock`; returns the orders.
async fn run(
    platform: &Arc<Platform>,
    label: &str,
    product: &str,
    stock_n: i64,
    attempts: usize,
    tasks: usize,
) -> Vec<(String, i64)> {
    let body =
        json!({ "title": label, "skus": [ { "id": "s", "price_cents": 990, "stock": stock_n } ] });
    let (status, answer) = http(
        platform,
        None,
        "PUT",
        &format!("/api/products/{product}"),
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (platform, next, product) = (platform.clone(), next.clone(), product.to_string());
        handles.push(tokio::spawn(async move {
            let (mut orders, mut refused) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= attempts {
                    break;
                }
                let buyer = format!("o-{i}");
                let items =
                    json!({ "items": [ { "product": product, "sku": "s", "quantity": 1 } ] });
                let (status, body) =
                    http(&platform, Some(&buyer), "POST", "/checkout", items).await;
                match status {
                    201 => orders.push((
                        body["order"]["id"].as_str().expect("id").to_string(),
                        body["order"]["total_cents"].as_i64().expect("total"),
                    )),
                    409 => refused += 1,
                    _ => panic!("checkout answered {status}: {body}"),
                }
            }
            (orders, refused)
        }));
    }
    let (mut orders, mut refused) = (Vec::new(), 0);
    for h in handles {
        let (o, r) = h.await.expect("task");
        orders.extend(o);
        refused += r;
    }
    let secs = started.elapsed().as_secs_f64();
    let left = stock(platform, product).await;
    assert_eq!(orders.len() as i64, stock_n.min(attempts as i64), "orders");
    assert_eq!(left, stock_n - orders.len() as i64, "stock left");
    println!(
        "{label}: {attempts} checkouts by {tasks} concurrent buyers, stock {stock_n}: {} orders, \
         {refused} sold out (409), stock left {left}, none oversold; {secs:.2} s, {:.0} checkouts/s",
        orders.len(),
        attempts as f64 / secs
    );
    orders
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (buyers, stock_n, attempts, tasks) = (arg(1, 100), arg(2, 10), arg(3, 2000), arg(4, 16));
    let dir = tempfile::tempdir()?;
    let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
    harness::account(&platform, ACCOUNT, AccountKind::Service, None).await?;
    let pay = json!({ "pay": { "appid": "wx8888888888888888", "mch_id": "1900000109" } });
    harness::install_bundled(&platform, ACCOUNT, "shop", Some(pay)).await?;
    let key = json!({ "api_key": API_KEY });
    assert_eq!(
        http(&platform, None, "PUT", "/api/pay/key", key).await.0,
        200
    );
    // Warm-up: the component compiled and cached.
    run(&platform, "warm-up", "warm", 20, 20, tasks).await;
    let orders = run(
        &platform,
        "contention",
        "hot",
        stock_n as i64,
        buyers,
        buyers,
    )
    .await;
    let started = Instant::now();
    for (i, (id, total)) in orders.iter().enumerate() {
        let (status, body) = harness::plugin_http(
            &platform,
            ACCOUNT,
            "shop",
            Caller::Public,
            "POST",
            "/pay/notify",
            &notification(id, *total, &format!("T{i}")),
        )
        .await?;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let secs = started.elapsed().as_secs_f64();
    let (_, paid) = http(&platform, None, "GET", "/api/orders", Value::Null).await;
    let paid = paid["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter(|o| o["state"] == "paid" && o["lines"][0]["product_id"] == "hot")
        .count();
    assert_eq!(paid, orders.len(), "paid");
    println!(
        "payments: {} signed notifications verified and applied in {secs:.2} s: {paid} paid, stock left {}",
        orders.len(),
        stock(&platform, "hot").await
    );
    run(
        &platform,
        "throughput",
        "plenty",
        attempts as i64,
        attempts,
        tasks,
    )
    .await;
    Ok(())
}
