//! The shop plugin end to end through the real host: catalogue and stock, checkout reserving stock
//! in one batch with the member discount (membership installed) and a coupon, WeChat-Pay-style
//! notifications signed by a real SDK (wechatpy, the provider stand-in) — verified, amount
//! checked, idempotent —, the order state machine with who did what, template notifications,
//! `shop.order.paid` reaching membership, coupons issued to a tag segment (only its followers, once per issue) and redeemed once at the counter,
//! product pages, `component.render`, the mini-program card and the live announcement; and
//! 100 parallel buyers for 10 items: exactly 10 orders, 10 paid, stock 0.

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use plaza_tests::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "mall";
const APPID: &str = "wx8888888888888888";
const MCH_ID: &str = "1900000109";
const API_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const GRANTS: &[&str] = &[
    "storage",
    "http.routes",
    "messaging.template",
    "messaging.send",
    "messaging.broadcast",
    "topics.publish:shop.order.paid",
    "events.emit",
    "scheduling",
    "query:membership",
    "followers.read",
];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// A raw HTTP call: status and body text.
fn call(method: &str, url: &str, auth: bool, body: Option<(&str, String)>) -> (u16, String) {
    let agent = agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if auth {
        builder = builder.header("authorization", format!("Bearer {TOKEN}"));
    }
    let resp = match body {
        Some((ct, body)) => agent.run(
            builder
                .header("content-type", ct)
                .body(body.into_bytes())
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
    server.url(&format!("/p/{ACCOUNT}/shop{path}"))
}

/// An operator call with the admin token.
fn operator(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, text) = call(
        method,
        &route(server, path),
        true,
        body.map(|b| ("application/json", b.to_string())),
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

/// A follower's signed shop link (the 商城 reply): `(base, query)` to re-point at any route.
struct Follower {
    base: String,
    query: String,
}

impl Follower {
    fn new(server: &Server, openid: &str) -> Follower {
        let a = server.text(ACCOUNT, openid, &format!("shop-{openid}"), "商城");
        assert_eq!(a.body["reply"]["msg_type"], "article_link", "{a:?}");
        let url = a.body["reply"]["url"]
            .as_str()
            .expect("shop link")
            .to_string();
        let (base, query) = url.split_once('?').expect("a signed link has a query");
        Follower {
            base: base.trim_end_matches('/').to_string(),
            query: query.to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}?{}", self.base, self.query)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = call(
            method,
            &self.url(path),
            false,
            body.map(|b| ("application/json", b.to_string())),
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
}

/// Signed payment notifications made by wechatpy (the provider stand-in): one per
/// `(order id, total_fee, transaction id, sign_type)`, signed with `key`.
fn notifications(key: &str, orders: &[(String, i64, String, &str)]) -> Vec<String> {
    let script = r#"
import json, sys
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac
key, appid, mch_id = sys.argv[1], sys.argv[2], sys.argv[3]
out = []
for order_id, total, txn, sign_type in json.loads(sys.stdin.read()):
    params = {"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": appid, "mch_id": mch_id,
              "nonce_str": "n" + txn, "out_trade_no": order_id, "total_fee": str(total),
              "transaction_id": txn, "openid": "o", "trade_type": "JSAPI", "bank_type": "CMC",
              "cash_fee": str(total), "fee_type": "CNY", "time_end": "20261128120000", "is_subscribe": "Y"}
    if sign_type == "HMAC-SHA256":
        params["sign_type"] = "HMAC-SHA256"
        sign = calculate_signature_hmac(params, key)
    else:
        sign = calculate_signature(params, key)
    body = "".join("<%s><![CDATA[%s]]></%s>" % (k, v, k) for k, v in sorted(params.items()))
    out.append("<xml>" + body + "<sign><![CDATA[" + sign + "]]></sign></xml>")
print(json.dumps(out))
"#;
    let input: Vec<Value> = orders
        .iter()
        .map(|(o, t, x, s)| json!([o, t, x, s]))
        .collect();
    let mut child = Command::new(python::python())
        .args(["-c", script, key, APPID, MCH_ID])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(Value::Array(input).to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("notifications JSON")
}

fn notify(server: &Server, xml: &str) -> (u16, String) {
    call(
        "POST",
        &route(server, "/pay/notify"),
        false,
        Some(("text/xml", xml.to_string())),
    )
}

fn setup(extra_config: Value) -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account(ACCOUNT, "service", true).status, 201);
    let mut config = json!({ "pay": { "appid": APPID, "mch_id": MCH_ID },
                             "templates": { "paid": "paid", "shipped": "shipped" },
                             "miniprogram_appid": "wx0123456789abcdef" });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra_config.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "shop", "config": config, "grants": GRANTS }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    let (status, body) = operator(
        &server,
        "PUT",
        "/api/pay/key",
        Some(json!({ "api_key": API_KEY })),
    );
    assert_eq!(status, 200, "{body}");
    for (id, content) in [
        (
            "paid",
            "{{first.DATA}} 订单 {{keyword1.DATA}} {{keyword2.DATA}} {{remark.DATA}}",
        ),
        (
            "shipped",
            "{{first.DATA}} 订单 {{keyword1.DATA}} 单号 {{keyword2.DATA}} {{remark.DATA}}",
        ),
    ] {
        let a = server.post(
            &format!("/api/v1/accounts/{ACCOUNT}/templates"),
            &json!({ "id": id, "title": id, "content": content }),
        );
        assert_eq!(a.status, 201, "{a:?}");
    }
    (tmp, server)
}

fn put_mug(server: &Server, stock: i64) {
    let (status, body) = operator(
        server,
        "PUT",
        "/api/products/mug",
        Some(
            json!({ "title": "马克杯 <Mug>", "description": "陶瓷 & ceramic",
                     "images": ["mugimage"],
                     "skus": [ { "id": "red", "attributes": { "颜色": "红" }, "price_cents": 5000, "stock": stock },
                               { "id": "blue", "attributes": { "颜色": "蓝" }, "price_cents": 6000, "stock": stock } ] }),
        ),
    );
    assert_eq!(status, 200, "{body}");
}

fn stock(server: &Server, sku: &str) -> i64 {
    let (status, body) = operator(server, "GET", "/api/products/mug", None);
    assert_eq!(status, 200, "{body}");
    body["product"]["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .find(|s| s["id"] == sku)
        .and_then(|s| s["stock"].as_i64())
        .expect("stock")
}

fn order(server: &Server, id: &str) -> Value {
    let (status, body) = operator(server, "GET", &format!("/orders/{id}"), None);
    assert_eq!(status, 200, "{body}");
    body["order"].clone()
}

#[test]
fn checkout_pay_ship_complete_with_member_discount_coupon_and_verified_notifications() {
    let (_tmp, server) = setup(json!({}));
    // Membership on the same account: every member gets 10 % off; it subscribes to shop.order.paid.
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "membership", "grants": ["storage", "http.routes", "topics.subscribe:shop.order.paid"],
                "config": { "levels": [ { "id": "m", "name": "Member", "tag": "会员", "min_growth": 0, "discount_percent": 10 } ] } }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    put_mug(&server, 3);
    let alice = Follower::new(&server, "o-alice");
    let a = server.text(ACCOUNT, "o-alice", "checkin", "签到");
    assert!(
        a.reply_text().is_some_and(|t| t.contains("签到成功")),
        "{a:?}"
    );

    // A coupon kind issued to every follower, once per issue id.
    let (status, body) = operator(
        &server,
        "PUT",
        "/api/coupon-kinds/minus10",
        Some(
            json!({ "title": "满50减10", "amount_off_cents": 1000, "min_spend_cents": 5000, "valid_days": 30 }),
        ),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = operator(
        &server,
        "POST",
        "/api/coupon-kinds/minus10/issue",
        Some(json!({ "issue_id": "launch" })),
    );
    assert_eq!((status, body["issued"].as_u64()), (200, Some(1)), "{body}");
    let (_, again) = operator(
        &server,
        "POST",
        "/api/coupon-kinds/minus10/issue",
        Some(json!({ "issue_id": "launch" })),
    );
    assert_eq!(
        (again["issued"].as_u64(), again["already"].as_u64()),
        (Some(0), Some(1)),
        "{again}"
    );
    let (status, coupons) = alice.call("GET", "/coupons", None);
    assert_eq!(status, 200, "{coupons}");
    let code = coupons["coupons"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();

    // Cart, then checkout from it: 2 red mugs = 100.00, −10 % member = 90.00, −10.00 coupon = 80.00.
    let (status, body) = alice.call(
        "PUT",
        "/cart",
        Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 2 } ] })),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = alice.call("POST", "/checkout", Some(json!({ "coupon": code })));
    assert_eq!(status, 201, "{body}");
    let o = &body["order"];
    assert_eq!(
        (
            o["subtotal_cents"].as_i64(),
            o["member_discount_cents"].as_i64(),
            o["coupon_discount_cents"].as_i64(),
            o["total_cents"].as_i64()
        ),
        (Some(10000), Some(1000), Some(1000), Some(8000)),
        "{body}"
    );
    assert_eq!(o["state"], "created");
    assert!(
        body["payment"]["package"]
            .as_str()
            .unwrap_or("")
            .starts_with("prepay_id="),
        "{body}"
    );
    assert_eq!(
        body["payment"]["paySign"].as_str().map(str::len),
        Some(32),
        "{body}"
    );
    let id = o["id"].as_str().expect("order id").to_string();
    assert_eq!(stock(&server, "red"), 1);
    // The cart was emptied and the coupon is used: a second checkout with it is refused.
    let (_, cart) = alice.call("GET", "/cart", None);
    assert_eq!(cart["items"], json!([]), "{cart}");
    let (status, body) = alice.call("POST", "/checkout", Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 1 } ], "coupon": code })));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    // More than the stock: sold out, nothing reserved.
    let (status, body) = alice.call(
        "POST",
        "/checkout",
        Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 2 } ] })),
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("sold out"),
        "{body}"
    );
    assert_eq!(stock(&server, "red"), 1);
    // Bad input is a typed error.
    let (status, body) = alice.call(
        "POST",
        "/checkout",
        Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 0 } ] })),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{body}"
    );

    // Notifications signed by wechatpy: wrong key, wrong amount → FAIL, nothing changes.
    let forged = notifications(
        "ffffffffffffffffffffffffffffffff",
        &[(id.clone(), 8000, "T1".into(), "MD5")],
    );
    let (status, text) = notify(&server, &forged[0]);
    assert!(status == 400 && text.contains("FAIL"), "{status} {text}");
    let wrong = notifications(API_KEY, &[(id.clone(), 1, "T1".into(), "MD5")]);
    let (status, text) = notify(&server, &wrong[0]);
    assert!(status == 400 && text.contains("FAIL"), "{status} {text}");
    assert_eq!(order(&server, &id)["state"], "created");
    // The right one (HMAC-SHA256) pays it; delivered again it answers SUCCESS and changes nothing.
    let good = notifications(
        API_KEY,
        &[(id.clone(), 8000, "4200000001".into(), "HMAC-SHA256")],
    );
    for _ in 0..2 {
        let (status, text) = notify(&server, &good[0]);
        assert!(status == 200 && text.contains("SUCCESS"), "{status} {text}");
    }
    let paid = order(&server, &id);
    assert_eq!(paid["state"], "paid");
    assert_eq!(paid["transaction_id"], "4200000001");
    assert_eq!(paid["history"].as_array().map(Vec::len), Some(2), "{paid}");
    assert_eq!(paid["history"][1]["by"], "payment:4200000001");

    // shop.order.paid reached membership: 80 yuan → 80 purchase points, once.
    eventually("purchase points from shop.order.paid", || {
        let (_, m) = call(
            "GET",
            &server.url(&format!("/p/{ACCOUNT}/membership/members/o-alice")),
            true,
            None,
        );
        let m = json_of(&m);
        (m["status"]["points"].as_i64() == Some(85)).then_some(())
    });
    // The paid template reached the buyer.
    let templates = |server: &Server| -> Vec<String> {
        server
            .outbox(ACCOUNT, "o-alice")
            .iter()
            .filter(|m| m["delivery"] == "template")
            .map(|m| m.to_string())
            .collect()
    };
    let t = templates(&server);
    assert!(
        t.iter()
            .any(|m| m.contains("支付成功") && m.contains(&id) && m.contains("¥80.00")),
        "{t:?}"
    );

    // State machine: the buyer cannot complete an unshipped order; ship needs a tracking number.
    let (status, body) = alice.call("POST", &format!("/orders/{id}/confirm"), None);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("is paid"),
        "{body}"
    );
    let (status, _) = alice.call(
        "POST",
        &format!("/orders/{id}/ship"),
        Some(json!({ "tracking_no": "SF1" })),
    );
    assert_eq!(status, 403);
    let (status, body) = operator(
        &server,
        "POST",
        &format!("/orders/{id}/ship"),
        Some(json!({ "tracking_no": "" })),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = operator(
        &server,
        "POST",
        &format!("/orders/{id}/ship"),
        Some(json!({ "tracking_no": "SF123456" })),
    );
    assert_eq!(
        (status, body["order"]["state"].as_str()),
        (200, Some("shipped")),
        "{body}"
    );
    eventually("the shipped template", || {
        templates(&server)
            .iter()
            .any(|m| m.contains("SF123456"))
            .then_some(())
    });
    let (status, body) = alice.call("POST", &format!("/orders/{id}/confirm"), None);
    assert_eq!(
        (status, body["order"]["state"].as_str()),
        (200, Some("completed")),
        "{body}"
    );
    let history: Vec<(String, String)> = body["order"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|s| {
            (
                s["to"].as_str().unwrap_or("").into(),
                s["by"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(history[0], ("created".into(), "buyer:o-alice".into()));
    assert_eq!(history[3], ("completed".into(), "buyer:o-alice".into()));
    assert!(history[2].1.starts_with("operator:"), "{history:?}");
    // Another follower sees none of it.
    let bob = Follower::new(&server, "o-bob");
    let (status, _) = bob.call("GET", &format!("/orders/{id}"), None);
    assert_eq!(status, 404);

    // Cancel (buyer, before paying) and refund (operator, paid not shipped) put stock back.
    let (status, body) = bob.call(
        "POST",
        "/checkout",
        Some(json!({ "items": [ { "product": "mug", "sku": "blue", "quantity": 2 } ] })),
    );
    assert_eq!(status, 201, "{body}");
    let cancel_id = body["order"]["id"].as_str().expect("id").to_string();
    assert_eq!(stock(&server, "blue"), 1);
    let (status, body) = bob.call("POST", &format!("/orders/{cancel_id}/cancel"), None);
    assert_eq!(
        (status, body["order"]["state"].as_str()),
        (200, Some("cancelled")),
        "{body}"
    );
    let (_, again) = bob.call("POST", &format!("/orders/{cancel_id}/cancel"), None);
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(stock(&server, "blue"), 3);
    // A payment arriving for a cancelled order does not revive it.
    let late = notifications(
        API_KEY,
        &[(cancel_id.clone(), 12000, "4200000002".into(), "MD5")],
    );
    let (status, _) = notify(&server, &late[0]);
    assert_eq!(status, 200);
    assert_eq!(order(&server, &cancel_id)["state"], "cancelled");

    let (_, body) = bob.call(
        "POST",
        "/checkout",
        Some(json!({ "items": [ { "product": "mug", "sku": "blue", "quantity": 1 } ] })),
    );
    let refund_id = body["order"]["id"].as_str().expect("id").to_string();
    let pay = notifications(
        API_KEY,
        &[(refund_id.clone(), 6000, "4200000003".into(), "MD5")],
    );
    assert_eq!(notify(&server, &pay[0]).0, 200);
    assert_eq!(stock(&server, "blue"), 2);
    let (status, body) = operator(
        &server,
        "POST",
        &format!("/orders/{refund_id}/refund"),
        Some(json!({ "reason": "客户退货" })),
    );
    assert_eq!(
        (status, body["order"]["state"].as_str()),
        (200, Some("refunded")),
        "{body}"
    );
    assert_eq!(stock(&server, "blue"), 3);
    let (status, body) = operator(
        &server,
        "POST",
        &format!("/orders/{refund_id}/ship"),
        Some(json!({ "tracking_no": "X" })),
    );
    assert_eq!(status, 409, "{body}");

    // The API key is only ever answered masked.
    let (_, key) = operator(&server, "GET", "/api/pay/key", None);
    assert_eq!(key["api_key"], "****6a2d");
}

#[test]
fn counter_codes_are_redeemed_once_and_pages_cards_and_live_work() {
    let (_tmp, server) = setup(json!({}));
    put_mug(&server, 5);
    let carol = Follower::new(&server, "o-carol");
    let (status, _) = operator(
        &server,
        "PUT",
        "/api/coupon-kinds/off20",
        Some(json!({ "title": "八折 20% off", "percent_off": 20, "valid_days": 7 })),
    );
    assert_eq!(status, 200);
    let (status, body) = operator(
        &server,
        "PUT",
        "/api/coupon-kinds/bad",
        Some(json!({ "title": "x", "percent_off": 20, "amount_off_cents": 5, "valid_days": 7 })),
    );
    assert_eq!(status, 400, "{body}");
    let (_, body) = operator(
        &server,
        "POST",
        "/api/coupon-kinds/off20/issue",
        Some(json!({ "issue_id": "i1", "openids": ["o-carol"] })),
    );
    assert_eq!(body["issued"], 1, "{body}");
    let (_, coupons) = carol.call("GET", "/coupons", None);
    let code = coupons["coupons"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    // The follower's page shows the code to present at the counter.
    let (status, page) = call("GET", &carol.url("/me"), false, None);
    assert!(status == 200 && page.contains(&code), "{status} {page}");

    // Eight staff redeem the same code at once: exactly one wins.
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (url, code, barrier) = (
                route(&server, "/coupons/redeem-code"),
                code.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                call(
                    "POST",
                    &url,
                    true,
                    Some(("application/json", json!({ "code": code }).to_string())),
                )
                .0
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let (status, _) = operator(
        &server,
        "POST",
        "/coupons/redeem-code",
        Some(json!({ "code": "NOPE" })),
    );
    assert_eq!(status, 404);

    // The public product page escapes what operators typed.
    let (status, page) = call("GET", &route(&server, "/products/mug"), false, None);
    assert_eq!(status, 200);
    assert!(
        page.contains("马克杯 &lt;Mug&gt;") && !page.contains("<Mug>"),
        "{page}"
    );
    assert!(
        page.contains("¥50.00") && page.contains("wx0123456789abcdef"),
        "{page}"
    );
    assert!(!page.contains("直播中"), "{page}");
    let (status, _) = call("GET", &route(&server, "/products/none"), false, None);
    assert_eq!(status, 404);

    // component.render kind product, asked by another plugin (the probe stands in for the editor).
    install_probe_with(&server, ACCOUNT, "asker", &["query:shop"], &["query:shop"]);
    let a = server.text(
        ACCOUNT,
        "o-carol",
        "q1",
        r#"@asker query shop component.render {"kind":"product","id":"mug"}"#,
    );
    let answer = a
        .reply_text()
        .and_then(|t| t.strip_prefix("answer:"))
        .unwrap_or_else(|| panic!("{a:?}"));
    let answer = json_of(answer);
    assert!(
        answer["html"]
            .as_str()
            .unwrap_or("")
            .contains("马克杯 &lt;Mug&gt;"),
        "{answer}"
    );
    assert!(
        answer["url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/p/mall/shop/products/mug"),
        "{answer}"
    );
    let a = server.text(
        ACCOUNT,
        "o-carol",
        "q2",
        r#"@asker query shop component.render {"kind":"product","id":"none"}"#,
    );
    assert!(
        a.reply_text()
            .is_some_and(|t| t.starts_with("error:not_found")),
        "{a:?}"
    );

    // The mini-program card to a follower.
    let (status, body) = operator(
        &server,
        "POST",
        "/api/products/mug/send-card",
        Some(json!({ "openid": "o-carol" })),
    );
    assert_eq!(status, 200, "{body}");
    let outbox = server.outbox(ACCOUNT, "o-carol");
    assert!(
        outbox
            .iter()
            .any(|m| m.to_string().contains("pages/product/index?id=mug")),
        "{outbox:?}"
    );

    // A live announcement: broadcast now, and a banner on the featured product's page while live.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    let (status, body) = operator(
        &server,
        "POST",
        "/api/live",
        Some(
            json!({ "title": "新品直播 <首发>", "finder_id": "sph123", "starts_at": now - 60_000, "products": ["mug"] }),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["broadcast"].as_str().is_some(), "{body}");
    let (_, page) = call("GET", &route(&server, "/products/mug"), false, None);
    assert!(
        page.contains("直播中") && page.contains("新品直播 &lt;首发&gt;"),
        "{page}"
    );
    let (status, _) = operator(
        &server,
        "POST",
        "/api/live",
        Some(json!({ "title": "x", "starts_at": now })),
    );
    assert_eq!(status, 400);
}

#[test]
fn a_subscription_account_cannot_take_payments() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(
        server.create_account(ACCOUNT, "subscription", false).status,
        201
    );
    let grants: Vec<&str> = GRANTS
        .iter()
        .copied()
        .filter(|g| *g != "messaging.template")
        .collect();
    let inst = server.install(ACCOUNT, json!({ "plugin": "shop", "grants": grants }));
    assert_eq!(inst.status, 201, "{inst:?}");
    put_mug(&server, 5);
    let dan = Follower::new(&server, "o-dan");
    let (status, body) = dan.call(
        "POST",
        "/checkout",
        Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 1 } ] })),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("service account"),
        "{body}"
    );
    assert_eq!(stock(&server, "red"), 5);
}

/// The benchmark's scenario as a test: 100 buyers at once for 10 items.
#[test]
fn a_hundred_parallel_buyers_for_ten_items_make_exactly_ten_paid_orders() {
    let (_tmp, server) = setup(json!({}));
    put_mug(&server, 10);
    let buyers: Vec<Follower> = (0..100)
        .map(|i| Follower::new(&server, &format!("o-b{i}")))
        .collect();
    let barrier = Arc::new(Barrier::new(buyers.len()));
    let handles: Vec<_> = buyers
        .into_iter()
        .map(|b| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                b.call(
                    "POST",
                    "/checkout",
                    Some(json!({ "items": [ { "product": "mug", "sku": "red", "quantity": 1 } ] })),
                )
            })
        })
        .collect();
    let results: Vec<(u16, Value)> = handles
        .into_iter()
        .map(|h| h.join().expect("buyer"))
        .collect();
    let created: Vec<(String, i64)> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| {
            (
                b["order"]["id"].as_str().expect("id").to_string(),
                b["order"]["total_cents"].as_i64().expect("total"),
            )
        })
        .collect();
    let refused = results.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((created.len(), refused), (10, 90), "{results:?}");
    assert_eq!(stock(&server, "red"), 0);
    let xmls = notifications(
        API_KEY,
        &created
            .iter()
            .enumerate()
            .map(|(i, (id, total))| (id.clone(), *total, format!("42000{i}"), "MD5"))
            .collect::<Vec<_>>(),
    );
    for xml in &xmls {
        let (status, text) = notify(&server, xml);
        assert!(status == 200 && text.contains("SUCCESS"), "{status} {text}");
    }
    let (_, paid) = operator(&server, "GET", "/api/orders?state=paid", None);
    assert_eq!(paid["orders"].as_array().map(Vec::len), Some(10), "{paid}");
    let (_, all) = operator(&server, "GET", "/api/orders", None);
    assert_eq!(all["orders"].as_array().map(Vec::len), Some(10), "{all}");
    assert_eq!(stock(&server, "red"), 0);
}

#[test]
fn coupons_issued_to_a_segment_reach_only_its_followers() {
    let (_tmp, server) = setup(json!({}));
    put_mug(&server, 5);
    let vip1 = Follower::new(&server, "o-vip1");
    let _vip2 = Follower::new(&server, "o-vip2");
    let plain = Follower::new(&server, "o-plain");
    let tag = server.post(
        &format!("/api/v1/accounts/{ACCOUNT}/tags"),
        &json!({ "name": "vip" }),
    );
    assert_eq!(tag.status, 201, "{tag:?}");
    let tagged = server.post(
        &format!("/api/v1/accounts/{ACCOUNT}/tags/vip/tag"),
        &json!({ "openids": ["o-vip1", "o-vip2"] }),
    );
    assert!(tagged.status < 300, "{tagged:?}");
    let (status, body) = operator(
        &server,
        "PUT",
        "/api/coupon-kinds/vip5",
        Some(json!({ "title": "会员立减 5 元", "amount_off_cents": 500, "valid_days": 7 })),
    );
    assert_eq!(status, 200, "{body}");

    // A segment the host cannot parse is refused, naming the problem; nothing is issued.
    let (status, body) = operator(
        &server,
        "POST",
        "/api/coupon-kinds/vip5/issue",
        Some(json!({ "issue_id": "bad", "segment": "tag:vip and and" })),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("segment")),
        "{body}"
    );
    let issue = || {
        operator(
            &server,
            "POST",
            "/api/coupon-kinds/vip5/issue",
            Some(json!({ "issue_id": "vip-week", "segment": "tag:vip" })),
        )
    };
    let (status, body) = issue();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["issued"].as_u64(), body["already"].as_u64()),
        (Some(2), Some(0)),
        "{body}"
    );
    // Issuing again under the same issue id gives nobody a second coupon.
    let (_, again) = issue();
    assert_eq!(
        (again["issued"].as_u64(), again["already"].as_u64()),
        (Some(0), Some(2)),
        "{again}"
    );

    let (_, mine) = vip1.call("GET", "/coupons", None);
    let coupons = mine["coupons"].as_array().expect("coupons");
    assert_eq!(coupons.len(), 1, "{mine}");
    let code = coupons[0]["code"].as_str().expect("code").to_string();
    let (_, theirs) = plain.call("GET", "/coupons", None);
    assert_eq!(theirs["coupons"], json!([]), "{theirs}");

    // The follower outside the segment cannot use a vip's coupon; its owner can, once.
    let buy = |f: &Follower| {
        f.call(
            "POST",
            "/checkout",
            Some(json!({ "items": [{ "product": "mug", "sku": "red", "quantity": 1 }], "coupon": code })),
        )
    };
    let (status, body) = buy(&plain);
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        stock(&server, "red"),
        5,
        "a refused checkout reserves nothing"
    );
    let (status, body) = buy(&vip1);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["order"]["coupon_discount_cents"], 500, "{body}");
    assert_eq!(body["order"]["total_cents"], 4500, "{body}");
    let (status, body) = buy(&vip1);
    assert_eq!(status, 409, "{body}");
}
