//! The shop's bridge for integrators (issue 10): an external shop (有赞 style and Shopify style)
//! posts signed order webhooks that become the shop's orders — verified with HMAC-SHA256 before
//! anything is read, idempotent on the external order id, the paid side effects exactly once —
//! and the catalogue is pushed to the external shop's API over outbound HTTP, only to the host the
//! operator granted. A loopback server plays the external shop; a second one, never granted, must
//! never hear from the plugin.

mod common;

use base64::Engine;
use common::{ADMIN, Full, request};
use hmac::{Hmac, Mac};
use plaza_tests::stand_in::{Reply, StandIn};
use plaza_tests::*;
use serde_json::{Value, json};
use sha2::Sha256;

const ACCOUNT: &str = "mall";
const YOUZAN_SECRET: &str = "youzan-push-secret-0001";
const SHOPIFY_SECRET: &str = "shpss_0123456789abcdef";

/// A loopback server playing the external shop's product API: records every request and
/// answers `200 {"ok":true}`.
fn external_shop() -> StandIn {
    StandIn::start(|_| Reply::json(r#"{"ok":true}"#))
}

fn hmac_sha256(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

fn op(server: &Server, method: &str, path: &str, body: Option<Value>) -> Full {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(
        server,
        method,
        &format!("/p/{ACCOUNT}/shop{path}"),
        &[ADMIN, ("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// Posts a webhook to the bridge with exactly these headers.
fn webhook(server: &Server, bridge: &str, headers: &[(&str, &str)], body: &[u8]) -> Full {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request(
        server,
        "POST",
        &format!("/p/{ACCOUNT}/shop/bridge/{bridge}/webhook"),
        &all,
        body,
    )
}

/// A 有赞 trade push for order `tid` in `status`, signed with `secret`.
fn youzan_push(tid: &str, kind: &str, status: &str, openid: &str) -> Vec<u8> {
    let msg = json!({
        "full_order_info": {
            "order_info": { "tid": tid, "status": status, "created": "2026-11-28 10:00:00",
                            "pay_time": "2026-11-28 10:01:30" },
            "buyer_info": { "outer_user_id": openid, "buyer_phone": "138****0000", "fans_type": 1 },
            "pay_info": { "payment": "128.00", "total_fee": "138.00", "post_fee": "0.00" },
            "orders": [
                { "outer_sku_id": "TEA-LJ-250", "title": "明前龙井 250g", "num": 1, "payment": "98.00" },
                { "outer_sku_id": "CUP-01", "title": "玻璃杯", "num": 2, "payment": "15.00" }
            ]
        }
    })
    .to_string();
    let encoded =
        percent_encoding::utf8_percent_encode(&msg, percent_encoding::NON_ALPHANUMERIC).to_string();
    json!({
        "client_id": "6cd25b3f99727975b5", "id": format!("{tid}-{status}"), "kdt_id": 91032,
        "kdt_name": "Plaza 茶舍", "mode": 1, "msg": encoded, "sendCount": 0, "status": status,
        "test": false, "type": kind, "version": 1764295290
    })
    .to_string()
    .into_bytes()
}

fn youzan(server: &Server, body: &[u8], secret: &str) -> Full {
    let sign = hex::encode(hmac_sha256(secret, body));
    webhook(
        server,
        "youzan",
        &[("Event-Sign", &sign), ("Event-Type", "trade_TradePaid")],
        body,
    )
}

/// A Shopify order webhook body.
fn shopify_order(id: u64, financial: &str, fulfillment: Option<&str>, openid: &str) -> Vec<u8> {
    json!({
        "id": id, "name": "#1042", "email": "buyer@example.com", "currency": "CNY",
        "created_at": "2026-11-28T10:00:00+08:00", "updated_at": "2026-11-28T10:05:00+08:00",
        "total_price": "59.90", "subtotal_price": "59.90", "total_tax": "0.00",
        "financial_status": financial, "fulfillment_status": fulfillment, "cancelled_at": null,
        "note_attributes": [ { "name": "openid", "value": openid } ],
        "line_items": [ { "id": 466157049, "sku": "MUG-1", "title": "Plaza mug", "quantity": 1,
                          "price": "59.90", "vendor": "Plaza" } ]
    })
    .to_string()
    .into_bytes()
}

fn shopify(server: &Server, topic: &str, body: &[u8], secret: &str) -> Full {
    let sign = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, body));
    webhook(
        server,
        "shopify",
        &[
            ("X-Shopify-Hmac-Sha256", &sign),
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Shop-Domain", "plaza-tea.myshopify.com"),
            (
                "X-Shopify-Webhook-Id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            ),
        ],
        body,
    )
}

/// The shop's `shop.order.paid` events, as the account's event log holds them.
fn paid_events(server: &Server) -> Vec<Value> {
    let a = server.get(&format!(
        "/api/v1/accounts/{ACCOUNT}/events?kind=shop.order.paid&limit=100"
    ));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["events"].as_array().cloned().unwrap_or_default()
}

/// Runs a probe command on the subscriber probe and returns its reply.
fn probe(server: &Server, n: &mut u32, text: &str) -> String {
    *n += 1;
    let a = server.text(ACCOUNT, "o-op", &format!("probe-{n}"), text);
    assert_eq!(a.status, 200, "{text}: {a:?}");
    a.reply_text().unwrap_or("").to_string()
}

/// Installs the shop with the external shop's host added to its manifest (a new version, as an
/// operator would) and granted, plus a `sub` probe that counts `shop.*` topic messages.
fn setup(server: &Server, granted: &StandIn, rogue: &StandIn) {
    server.create_account(ACCOUNT, "service", true);
    let outbound = granted.grant();
    let (manifest, wasm) = plugin_files("plugins/shop/plugin.toml", "shop");
    let requested = manifest_capabilities(&manifest);
    let manifest = manifest
        .replacen("version = \"0.1.0\"", "version = \"0.1.1\"", 1)
        .replacen(
            "capabilities = [",
            &format!("capabilities = [\"{outbound}\", "),
            1,
        );
    let up = server.upload(&manifest, &wasm);
    assert_eq!(up.status, 201, "{up:?}");
    let mut grants = requested;
    grants.push(outbound);
    let config = json!({ "bridges": [
        { "id": "youzan", "kind": "youzan", "name": "有赞微商城",
          "sync_url": granted.url("/api/stock/sync") },
        { "id": "shopify", "kind": "shopify", "name": "Shopify" },
        { "id": "rogue", "kind": "shopify",
          "sync_url": rogue.url("/api/stock/sync") }
    ]});
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "shop", "version": "0.1.1", "grants": grants, "config": config }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe_with(
        server,
        ACCOUNT,
        "sub",
        &["topics.subscribe:shop.*"],
        &["storage", "topics.subscribe:shop.*"],
    );
    for (bridge, secret) in [
        ("youzan", YOUZAN_SECRET),
        ("shopify", SHOPIFY_SECRET),
        ("rogue", SHOPIFY_SECRET),
    ] {
        let a = op(
            server,
            "PUT",
            &format!("/api/bridges/{bridge}/secret"),
            Some(json!({ "secret": secret })),
        );
        assert_eq!(a.status, 200, "{a:?}");
    }
}

/// The capabilities the bundled manifest requests (every one is granted): the quoted names in
/// its `capabilities = [ … ]` list, comments skipped.
fn manifest_capabilities(manifest: &str) -> Vec<String> {
    let start = manifest
        .find("capabilities = [")
        .expect("a capabilities list");
    let rest = &manifest[start + "capabilities = [".len()..];
    let list = &rest[..rest.find(']').expect("the list ends")];
    list.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split('"').skip(1).step_by(2))
        .map(str::to_string)
        .collect()
}

#[test]
fn signed_webhooks_from_both_shop_styles_become_orders_exactly_once() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let granted = external_shop();
    let rogue = external_shop();
    setup(&server, &granted, &rogue);
    let mut n = 0;

    // Unsigned, wrongly signed, signed with the other variant's header: refused, nothing stored.
    let created = youzan_push(
        "E2026112800001",
        "trade_TradeCreate",
        "WAIT_BUYER_PAY",
        "o-ann",
    );
    let a = webhook(&server, "youzan", &[], &created);
    assert_eq!((a.status, a.code()), (401, "unauthenticated"), "{a:?}");
    assert!(a.message().contains("event-sign"), "{a:?}");
    let a = youzan(&server, &created, "not-the-youzan-secret");
    assert_eq!((a.status, a.code()), (401, "unauthenticated"), "{a:?}");
    let mut tampered = created.clone();
    let at = tampered.len() - 3;
    tampered[at] = b'7';
    let sign = hex::encode(hmac_sha256(YOUZAN_SECRET, &created));
    let a = webhook(&server, "youzan", &[("Event-Sign", &sign)], &tampered);
    assert_eq!(a.status, 401, "a body changed after signing: {a:?}");
    let a = webhook(&server, "nosuch", &[], &created);
    assert_eq!(a.status, 404, "{a:?}");

    // 有赞: created, then paid (twice: 有赞 redelivers), then a stale "wait for payment".
    let a = youzan(&server, &created, YOUZAN_SECRET);
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, json!({ "code": 0, "msg": "success" }), "有赞's ack");
    let paid = youzan_push(
        "E2026112800001",
        "trade_TradePaid",
        "WAIT_SELLER_SEND_GOODS",
        "o-ann",
    );
    for _ in 0..2 {
        let a = youzan(&server, &paid, YOUZAN_SECRET);
        assert_eq!(a.status, 200, "{a:?}");
    }
    let a = youzan(&server, &created, YOUZAN_SECRET);
    assert_eq!(a.status, 200, "a stale delivery is acknowledged: {a:?}");

    // Shopify: paid (redelivered), then fulfilled.
    let body = shopify_order(820982911946154508, "paid", None, "o-bob");
    let first = shopify(&server, "orders/paid", &body, SHOPIFY_SECRET);
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["became_paid"], true, "{first:?}");
    let order_id = first.body["order_id"]
        .as_str()
        .expect("order id")
        .to_string();
    let again = shopify(&server, "orders/paid", &body, SHOPIFY_SECRET);
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(
        (
            again.body["applied"].clone(),
            again.body["became_paid"].clone()
        ),
        (json!(false), json!(false)),
        "{again:?}"
    );
    assert_eq!(again.body["order_id"], order_id.as_str());
    let wrong = shopify(&server, "orders/paid", &body, YOUZAN_SECRET);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let shipped = shopify_order(820982911946154508, "paid", Some("fulfilled"), "o-bob");
    let a = shopify(&server, "orders/fulfilled", &shipped, SHOPIFY_SECRET);
    assert_eq!(
        (a.status, a.body["applied"].clone()),
        (200, json!(true)),
        "{a:?}"
    );
    // A topic about something else is verified and ignored.
    let a = shopify(&server, "products/update", br#"{"id":1}"#, SHOPIFY_SECRET);
    assert_eq!(
        (a.status, a.body["applied"].clone()),
        (200, json!(false)),
        "{a:?}"
    );

    // The shop's orders: one per external order, in the state the last legal delivery set.
    let listed = op(&server, "GET", "/api/orders", None);
    assert_eq!(listed.status, 200, "{listed:?}");
    let orders = listed.body["orders"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let external: Vec<(String, String, String)> = orders
        .iter()
        .map(|o| {
            (
                o["source"].as_str().unwrap_or("?").to_string(),
                o["external_id"].as_str().unwrap_or("?").to_string(),
                o["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(external.len(), 2, "{orders:?}");
    assert!(
        external.contains(&(
            "bridge:youzan".into(),
            "E2026112800001".into(),
            "paid".into()
        )),
        "the stale 'wait for payment' did not move the order back: {external:?}"
    );
    assert!(
        external.contains(&(
            "bridge:shopify".into(),
            "820982911946154508".into(),
            "shipped".into()
        )),
        "{external:?}"
    );
    let one = op(&server, "GET", &format!("/orders/{order_id}"), None);
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body["order"]["openid"], "o-bob", "{one:?}");
    assert_eq!(one.body["order"]["total_cents"], 5990, "{one:?}");

    // Exactly two orders became paid: two events, two topic messages, with the right buyers and
    // amounts (128.00 from 有赞's pay_info.payment, 59.90 from Shopify's total_price).
    let events = eventually("two paid events", || {
        let e = paid_events(&server);
        (e.len() >= 2).then_some(e)
    });
    assert_eq!(events.len(), 2, "{events:?}");
    let mut amounts: Vec<String> = events
        .iter()
        .map(|e| {
            e["properties"]["amount_cents"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    amounts.sort();
    assert_eq!(amounts, ["12800", "5990"], "{events:?}");
    let last = eventually("the subscriber heard of both", || {
        let c = probe(&server, &mut n, "@sub get last-topic");
        (c != "<none>").then_some(c)
    });
    let last: Value = serde_json::from_str(&last).expect("topic payload is JSON");
    assert_eq!(last["openid"], "o-bob", "{last}");
    assert_eq!(last["amount_cents"], 5990, "{last}");
    assert_eq!(last["currency"], "CNY");
    assert_eq!(last["order_id"], order_id.as_str());
    assert_eq!(
        probe(&server, &mut n, &format!("@sub get topic-count:{last}")),
        "1",
        "the redelivered paid webhook published nothing more"
    );

    // The bridge's status counts what happened and never shows a secret.
    let status = op(&server, "GET", "/api/bridges", None);
    assert_eq!(status.status, 200, "{status:?}");
    let text = status.body.to_string();
    assert!(
        !text.contains(YOUZAN_SECRET) && !text.contains(SHOPIFY_SECRET),
        "{text}"
    );
    let youzan_status = status.body["bridges"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["id"] == "youzan"))
        .expect("the youzan bridge")
        .clone();
    assert_eq!(youzan_status["secret_hint"], "…0001", "{youzan_status}");
    assert_eq!(
        youzan_status["status"]["webhooks_applied"], 2,
        "{youzan_status}"
    );
    assert_eq!(
        youzan_status["status"]["webhooks_unchanged"], 2,
        "{youzan_status}"
    );
    assert_eq!(
        youzan_status["status"]["webhooks_rejected"], 3,
        "{youzan_status}"
    );

    // A short secret is refused; the old one keeps working.
    let a = op(
        &server,
        "PUT",
        "/api/bridges/youzan/secret",
        Some(json!({ "secret": "short" })),
    );
    assert_eq!((a.status, a.code()), (400, "invalid"), "{a:?}");
    let a = youzan(&server, &paid, YOUZAN_SECRET);
    assert_eq!(a.status, 200, "{a:?}");
}

#[test]
fn the_catalogue_is_pushed_signed_to_the_granted_host_and_nowhere_else() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let granted = external_shop();
    let rogue = external_shop();
    setup(&server, &granted, &rogue);

    // An operator puts a product on the shelf: the granted external shop hears of every SKU with
    // its price and stock, signed with the bridge's secret.
    let a = op(
        &server,
        "PUT",
        "/api/products/tea",
        Some(json!({ "title": "明前龙井 250g", "description": "西湖产区",
                     "skus": [ { "id": "250g", "attributes": { "规格": "250g" }, "price_cents": 9800, "stock": 40 },
                               { "id": "500g", "attributes": { "规格": "500g" }, "price_cents": 18800, "stock": 5 } ] })),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let sync = eventually("the external shop to receive the catalogue", || {
        granted.received().into_iter().next()
    });
    assert_eq!(
        (sync.method.as_str(), sync.path.as_str()),
        ("POST", "/api/stock/sync")
    );
    let body = sync.body.clone();
    let sent: Value = serde_json::from_slice(&body).expect("JSON");
    let signature = sync
        .header("x-plaza-signature")
        .expect("a signature header");
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(hmac_sha256(YOUZAN_SECRET, &body))),
        "signed with the youzan bridge's secret over the exact body"
    );
    let mut skus: Vec<(String, i64, i64)> = sent["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["product_id"].as_str().unwrap_or("?"),
                    p["sku_id"].as_str().unwrap_or("?")
                ),
                p["price_cents"].as_i64().unwrap_or(-1),
                p["stock"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    skus.sort();
    assert_eq!(
        skus,
        [("tea/250g".into(), 9800, 40), ("tea/500g".into(), 18800, 5)]
    );

    // A sync on demand answers what was sent.
    let before = granted.received().len();
    let a = op(&server, "POST", "/api/bridges/youzan/sync", None);
    assert_eq!(
        (a.status, a.body["ok"].clone(), a.body["skus"].clone()),
        (200, json!(true), json!(2)),
        "{a:?}"
    );
    assert_eq!(granted.received().len(), before + 1);

    // The rogue bridge points at a host nobody granted: the host refuses the request, the
    // operator is told why, the status keeps it, and the other server never hears a thing.
    let a = op(&server, "POST", "/api/bridges/rogue/sync", None);
    assert_eq!((a.status, a.code()), (403, "permission_denied"), "{a:?}");
    assert!(a.message().contains("not granted"), "{a:?}");
    let status = op(&server, "GET", "/api/bridges", None);
    let rogue_status = status.body["bridges"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["id"] == "rogue"))
        .expect("the rogue bridge")
        .clone();
    assert_eq!(
        rogue_status["status"]["last_sync"]["ok"], false,
        "{rogue_status}"
    );
    assert_eq!(rogue.connections(), 0, "{:?}", rogue.received());
    // A bridge without a sync_url says so.
    let a = op(&server, "POST", "/api/bridges/shopify/sync", None);
    assert_eq!((a.status, a.code()), (400, "invalid"), "{a:?}");
}
