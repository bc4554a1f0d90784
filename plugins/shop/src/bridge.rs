//! # The external-shop bridge (有赞 / 微小店 / Shopify style)
//!
//! Integrators who sell through an external shop connect it to the account:
//!
//! * **Inbound**: the external shop posts order webhooks to `POST /bridge/{id}/webhook`. Each is
//!   verified with HMAC-SHA256 over the raw body and the bridge's secret before anything is read,
//!   then mapped to an [`ExternalOrder`] and applied to the shop's orders
//!   ([`crate::orders::apply_external`]), idempotently on the external order id: a redelivery or a
//!   stale state changes nothing, and the paid side effects (`shop.order.paid`, the event, the
//!   buyer's notification) run once, when the order first becomes paid.
//!   Two signature variants exist in the wild, and both are accepted (chosen per bridge by `kind`):
//!   - `shopify`: header `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, body)), the topic in
//!     `X-Shopify-Topic` (`orders/create`, `orders/paid`, `orders/fulfilled`, …), the order JSON as
//!     the body (`total_price` as a decimal string, `note_attributes` carrying the buyer's `openid`).
//!   - `youzan`: header `Event-Sign` = lowercase hex HMAC-SHA256(secret, body), a push envelope
//!     (`id`, `type`, `status`, `test`, `msg`) whose `msg` is the percent-encoded order JSON
//!     (`full_order_info`), the buyer's openid in `buyer_info.outer_user_id`; answered with
//!     `{"code":0,"msg":"success"}`, as 有赞 expects.
//! * **Outbound**: after an operator changes the catalogue ([`catalogue_changed`]) and on demand
//!   (`POST /api/bridges/{id}/sync`), every SKU with its price and stock is posted to the bridge's
//!   `sync_url`, signed the same way (`X-Plaza-Signature: sha256=<hex>`). The request goes through
//!   the host's outbound HTTP, which only connects to a host the operator granted
//!   (`http.outbound:<host>`): a bridge pointing anywhere else is refused, and the refusal is
//!   recorded in the bridge's status and answered to the operator.
//!
//! Bridges are configured in the installation config (`bridges: [{id, kind, name, sync_url}]`);
//! each bridge's secret is set through `PUT /api/bridges/{id}/secret`, kept in the plugin's storage
//! and never answered back (only its last four characters), so a config export or the console never
//! shows it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use plaza_sdk::prelude::*;
use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::signing::Key;
use plaza_sdk::{config, http, log, storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::external::{ExternalItem, ExternalOrder, ExternalStatus};

/// Shortest secret accepted: HMAC keys shorter than this are guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// Which external shop's conventions a bridge speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeKind {
    Shopify,
    Youzan,
}

/// One configured bridge (installation config, `bridges[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// The bridge's id in URLs (`/bridge/{id}/webhook`).
    pub id: String,
    pub kind: BridgeKind,
    /// Shown to operators.
    #[serde(default)]
    pub name: Option<String>,
    /// Where the catalogue is pushed; unset = no outbound sync.
    #[serde(default)]
    pub sync_url: Option<String>,
}

/// What the bridge remembers about its traffic (shown by `GET /api/bridges`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeStatus {
    pub webhooks_applied: u64,
    pub webhooks_unchanged: u64,
    pub webhooks_rejected: u64,
    pub last_webhook_at: Option<u64>,
    pub last_rejection: Option<String>,
    pub last_sync: Option<SyncRecord>,
}

/// The outcome of the last outbound sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub at: u64,
    pub ok: bool,
    pub skus: usize,
    pub message: String,
}

#[derive(Deserialize)]
struct BridgesSection {
    #[serde(default)]
    bridges: Vec<BridgeConfig>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn secret_key(id: &str) -> String {
    format!("bridge:secret:{id}")
}

fn status_key(id: &str) -> String {
    format!("bridge:status:{id}")
}

/// Every configured bridge.
pub fn bridges() -> Result<Vec<BridgeConfig>> {
    Ok(config::parse::<BridgesSection>()?.bridges)
}

fn bridge(id: &str) -> Result<BridgeConfig> {
    bridges()?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| Error::not_found(format!("no bridge {id:?} is configured")))
}

fn secret(id: &str) -> Result<Option<String>> {
    storage::get_string(&secret_key(id))
}

fn update_status(id: &str, f: impl Fn(&mut BridgeStatus)) {
    let result = storage::update_json(&status_key(id), |s: Option<BridgeStatus>| {
        let mut s = s.unwrap_or_default();
        f(&mut s);
        Ok(Some(s))
    });
    if let Err(e) = result {
        log::warn(format!("bridge {id}: status not recorded: {}", e.display()));
    }
}

/// The last four characters, for recognising a secret without revealing it.
fn hint(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// Adds the bridge's routes to the shop's router.
pub fn mount(router: Router<'_>) -> Router<'_> {
    router
        .get("/api/bridges", Access::Operator, list_route)
        .put("/api/bridges/{id}/secret", Access::Operator, secret_route)
        .post("/api/bridges/{id}/sync", Access::Operator, sync_route)
        .post("/bridge/{id}/webhook", Access::Public, webhook_route)
}

fn list_route(_r: &Request<'_>) -> Result<HttpResponse> {
    let mut out = Vec::new();
    for b in bridges()? {
        let secret = secret(&b.id)?;
        let status: BridgeStatus = storage::get_json(&status_key(&b.id))?.unwrap_or_default();
        out.push(json!({
            "id": b.id,
            "kind": b.kind,
            "name": b.name,
            "sync_url": b.sync_url,
            "webhook_path": format!("/bridge/{}/webhook", b.id),
            "secret_set": secret.is_some(),
            "secret_hint": secret.as_deref().map(hint),
            "status": status,
        }));
    }
    Ok(HttpResponse::json(200, &json!({ "bridges": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    secret: String,
}

fn secret_route(r: &Request<'_>) -> Result<HttpResponse> {
    let b = bridge(r.param("id"))?;
    let body: SecretBody = r.json()?;
    let secret = body.secret.trim();
    if secret.chars().count() < MIN_SECRET_LEN {
        return Err(Error::invalid(format!(
            "secret: at least {MIN_SECRET_LEN} characters (the external shop's webhook signing key)"
        )));
    }
    storage::set(&secret_key(&b.id), secret)?;
    log::info(format!("bridge {}: secret set by an operator", b.id));
    Ok(HttpResponse::json(
        200,
        &json!({ "id": b.id, "secret_set": true, "secret_hint": hint(secret) }),
    ))
}

fn sync_route(r: &Request<'_>) -> Result<HttpResponse> {
    let b = bridge(r.param("id"))?;
    let record = sync(&b)?;
    Ok(HttpResponse::json(200, &record))
}

/// Pushes the catalogue to every bridge with a `sync_url`. Called after an operator changed a
/// product, SKU or stock; failures are logged and recorded in the bridge's status, never raised:
/// the operator's change stands whether or not an external shop heard of it (a later change or
/// `POST /api/bridges/{id}/sync` sends everything again).
pub fn catalogue_changed() {
    let bridges = match bridges() {
        Ok(b) => b,
        Err(e) => {
            log::warn(format!("bridge sync skipped: {}", e.display()));
            return;
        }
    };
    for b in bridges.iter().filter(|b| b.sync_url.is_some()) {
        if let Err(e) = sync(b) {
            log::warn(format!("bridge {}: sync failed: {}", b.id, e.display()));
        }
    }
}

/// Posts every SKU to the bridge's `sync_url`, signed with its secret; records the outcome.
pub fn sync(b: &BridgeConfig) -> Result<SyncRecord> {
    let result = push_catalogue(b);
    let record = match &result {
        Ok(skus) => SyncRecord {
            at: now_ms(),
            ok: true,
            skus: *skus,
            message: format!("{skus} SKUs sent"),
        },
        Err(e) => SyncRecord {
            at: now_ms(),
            ok: false,
            skus: 0,
            message: e.display().to_string(),
        },
    };
    let stored = record.clone();
    update_status(&b.id, move |s| s.last_sync = Some(stored.clone()));
    result.map(|_| record)
}

fn push_catalogue(b: &BridgeConfig) -> Result<usize> {
    let Some(url) = b.sync_url.as_deref() else {
        return Err(Error::invalid(format!(
            "bridge {:?} has no sync_url: set one in the installation config",
            b.id
        )));
    };
    let Some(secret) = secret(&b.id)? else {
        return Err(Error::conflict(format!(
            "bridge {:?} has no secret yet: PUT /api/bridges/{}/secret first",
            b.id, b.id
        )));
    };
    let products = crate::catalogue::snapshots()?;
    let body = serde_json::to_vec(&json!({ "bridge": b.id, "products": products }))
        .map_err(|e| Error::internal(format!("cannot encode the catalogue: {e}")))?;
    let signature = format!("sha256={}", Key::new(secret.as_bytes())?.sign_hex(&body));
    let headers = [
        ("content-type", "application/json"),
        ("x-plaza-signature", signature.as_str()),
    ];
    let response = http::request("POST", url, &headers, &body).map_err(|e| match e {
        Error::PermissionDenied(m) => Error::permission_denied(format!(
            "the sync_url's host is not granted to the shop plugin (grant http.outbound:<host> \
             to allow it): {m}"
        )),
        other => other,
    })?;
    if !(200..300).contains(&response.status) {
        let text = String::from_utf8_lossy(&response.body);
        let text: String = text.chars().take(200).collect();
        return Err(Error::unavailable(format!(
            "the external shop answered {}: {text}",
            response.status
        )));
    }
    Ok(products.len())
}

/// Why a webhook was refused before being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No signature header, or it does not decode.
    MissingSignature(&'static str),
    /// The signature does not match the body.
    BadSignature,
}

/// Checks the webhook's signature header for the bridge's kind.
pub fn verify_webhook(
    kind: BridgeKind,
    secret: &str,
    req: &HttpRequest,
) -> std::result::Result<(), Rejection> {
    let decoded = match kind {
        BridgeKind::Shopify => {
            let h = "x-shopify-hmac-sha256";
            let v = req.header(h).ok_or(Rejection::MissingSignature(h))?;
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| Rejection::MissingSignature(h))?
        }
        BridgeKind::Youzan => {
            let h = "event-sign";
            let v = req.header(h).ok_or(Rejection::MissingSignature(h))?;
            hex::decode(v.trim()).map_err(|_| Rejection::MissingSignature(h))?
        }
    };
    match Key::new(secret.as_bytes()) {
        Ok(key) if key.verify(&req.body, &decoded) => Ok(()),
        _ => Err(Rejection::BadSignature),
    }
}

/// What a verified webhook asks of the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// An order to apply.
    Order(ExternalOrder),
    /// Verified, but nothing for the shop (a test push, a topic about something else).
    Ignored(String),
}

/// Money as the external shops write it (`"199.00"`, `"0.5"`, `"12"`) in cents, exactly.
pub fn parse_money(s: &str) -> Result<i64> {
    let bad = || Error::invalid(format!("{s:?} is not an amount of money"));
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 2 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = int.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or_else(bad)
}

fn money_field(v: &Value, field: &str) -> Result<i64> {
    match v.get(field) {
        Some(Value::String(s)) => parse_money(s),
        Some(Value::Number(n)) => parse_money(&n.to_string()),
        _ => Err(Error::invalid(format!("{field}: missing amount"))),
    }
}

fn id_field(v: &Value, field: &str) -> Option<String> {
    match v.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Where a shop's order JSON keeps its line items: the two styles differ only in names.
struct LineFields {
    /// The array of lines in the order.
    list: &'static str,
    /// The SKU fields of a line, the first present wins (有赞 has its own and the merchant's).
    sku: &'static [&'static str],
    quantity: &'static str,
    price: &'static str,
}

/// The line items of `order`, each checked, errors naming the line and field (`orders[2].num`).
fn line_items(order: &Value, fields: &LineFields) -> Result<Vec<ExternalItem>> {
    let lines = order.get(fields.list).and_then(Value::as_array);
    let mut items = Vec::new();
    for (i, line) in lines.into_iter().flatten().enumerate() {
        let at = |what: &str| format!("{}[{i}].{what}", fields.list);
        items.push(ExternalItem {
            sku: fields
                .sku
                .iter()
                .find_map(|f| id_field(line, f))
                .unwrap_or_default(),
            title: line
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            quantity: line
                .get(fields.quantity)
                .and_then(Value::as_u64)
                .and_then(|q| u32::try_from(q).ok())
                .ok_or_else(|| Error::invalid(format!("{}: missing", at(fields.quantity))))?,
            price_cents: money_field(line, fields.price)
                .map_err(|e| Error::invalid(at(e.message())))?,
        });
    }
    Ok(items)
}

/// A Shopify-style order webhook (`X-Shopify-Topic` + the order JSON) as an [`ExternalOrder`].
pub fn parse_shopify(bridge: &str, topic: &str, body: &[u8], now: u64) -> Result<Delivery> {
    if !topic.starts_with("orders/") {
        return Ok(Delivery::Ignored(format!(
            "topic {topic:?} is not about orders"
        )));
    }
    let order: Value = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("the order is not JSON: {e}")))?;
    let external_id =
        id_field(&order, "id").ok_or_else(|| Error::invalid("id: the order has no id"))?;
    let amount_cents = money_field(&order, "total_price")?;
    let currency = order
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("CNY")
        .to_string();
    let openid = order
        .get("note_attributes")
        .and_then(Value::as_array)
        .and_then(|attrs| {
            attrs.iter().find_map(|a| {
                (a.get("name").and_then(Value::as_str) == Some("openid"))
                    .then(|| a.get("value").and_then(Value::as_str))
                    .flatten()
                    .map(str::to_string)
            })
        });
    let financial = order
        .get("financial_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    let fulfillment = order
        .get("fulfillment_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    let cancelled = order.get("cancelled_at").is_some_and(|v| !v.is_null());
    let status = if matches!(financial, "refunded" | "partially_refunded") {
        ExternalStatus::Refunded
    } else if cancelled || topic == "orders/cancelled" {
        ExternalStatus::Cancelled
    } else if fulfillment == "fulfilled" || topic == "orders/fulfilled" {
        ExternalStatus::Shipped
    } else if financial == "paid" || topic == "orders/paid" {
        ExternalStatus::Paid
    } else {
        ExternalStatus::Created
    };
    let items = line_items(
        &order,
        &LineFields {
            list: "line_items",
            sku: &["sku"],
            quantity: "quantity",
            price: "price",
        },
    )?;
    Ok(Delivery::Order(ExternalOrder {
        bridge: bridge.to_string(),
        external_id,
        openid,
        amount_cents,
        currency,
        status,
        items,
        at: now,
    }))
}

/// A 有赞-style push (envelope + percent-encoded `msg`) as an [`ExternalOrder`].
pub fn parse_youzan(bridge: &str, body: &[u8], now: u64) -> Result<Delivery> {
    let push: Value = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("the push is not JSON: {e}")))?;
    if push.get("test").and_then(Value::as_bool) == Some(true) {
        return Ok(Delivery::Ignored("a test push".into()));
    }
    let kind = push.get("type").and_then(Value::as_str).unwrap_or("");
    if !kind.starts_with("trade") {
        return Ok(Delivery::Ignored(format!(
            "type {kind:?} is not about trades"
        )));
    }
    let msg = push
        .get("msg")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("msg: the push carries no message"))?;
    let msg = percent_encoding::percent_decode_str(msg)
        .decode_utf8()
        .map_err(|_| Error::invalid("msg: not percent-encoded UTF-8"))?;
    let msg: Value =
        serde_json::from_str(&msg).map_err(|e| Error::invalid(format!("msg: not JSON: {e}")))?;
    let info = msg
        .get("full_order_info")
        .ok_or_else(|| Error::invalid("msg.full_order_info: missing"))?;
    let order_info = info.get("order_info").unwrap_or(&Value::Null);
    let external_id = id_field(order_info, "tid")
        .or_else(|| id_field(&msg, "tid"))
        .ok_or_else(|| Error::invalid("order_info.tid: the order has no id"))?;
    let state = order_info
        .get("status")
        .and_then(Value::as_str)
        .or_else(|| push.get("status").and_then(Value::as_str))
        .unwrap_or("");
    let status = if kind.contains("Refund") && kind.contains("Success") {
        ExternalStatus::Refunded
    } else {
        match state {
            "WAIT_BUYER_PAY" | "TRADE_NO_CREATE_PAY" | "WAIT_PAY_RETURN" => ExternalStatus::Created,
            "TRADE_PAID" | "WAIT_SELLER_SEND_GOODS" | "WAIT_CONFIRM" | "WAIT_GROUP" => {
                ExternalStatus::Paid
            }
            "WAIT_BUYER_CONFIRM_GOODS" | "TRADE_SELLER_SEND_GOODS" => ExternalStatus::Shipped,
            "TRADE_SUCCESS" => ExternalStatus::Completed,
            "TRADE_CLOSED" | "TRADE_CLOSE" => ExternalStatus::Cancelled,
            other => return Err(Error::invalid(format!("status {other:?} is not known"))),
        }
    };
    let pay = info.get("pay_info").unwrap_or(&Value::Null);
    let amount_cents = money_field(pay, "payment")?;
    let openid = info
        .get("buyer_info")
        .and_then(|b| id_field(b, "outer_user_id"));
    let items = line_items(
        info,
        &LineFields {
            list: "orders",
            sku: &["outer_sku_id", "sku_id"],
            quantity: "num",
            price: "payment",
        },
    )?;
    Ok(Delivery::Order(ExternalOrder {
        bridge: bridge.to_string(),
        external_id,
        openid,
        amount_cents,
        currency: "CNY".into(),
        status,
        items,
        at: now,
    }))
}

fn webhook_route(r: &Request<'_>) -> Result<HttpResponse> {
    let b = bridge(r.param("id"))?;
    let Some(secret) = secret(&b.id)? else {
        // Not a 2xx: the external shop retries, and the delivery is applied once a secret is set.
        return Ok(HttpResponse::json_error(
            503,
            "unavailable",
            "this bridge has no secret yet; the operator sets it with PUT /api/bridges/{id}/secret",
        ));
    };
    if let Err(why) = verify_webhook(b.kind, &secret, r.http) {
        let message = match why {
            Rejection::MissingSignature(h) => format!("missing or malformed {h} header"),
            Rejection::BadSignature => "the signature does not match the body".to_string(),
        };
        let recorded = message.clone();
        update_status(&b.id, move |s| {
            s.webhooks_rejected += 1;
            s.last_rejection = Some(recorded.clone());
        });
        return Ok(HttpResponse::json_error(401, "unauthenticated", &message));
    }
    let now = now_ms();
    let delivery = match b.kind {
        BridgeKind::Shopify => {
            let topic = r.http.header("x-shopify-topic").unwrap_or("");
            parse_shopify(&b.id, topic, &r.http.body, now)?
        }
        BridgeKind::Youzan => parse_youzan(&b.id, &r.http.body, now)?,
    };
    let answer = match delivery {
        Delivery::Ignored(why) => json!({ "applied": false, "ignored": why }),
        Delivery::Order(order) => {
            let applied = crate::orders::apply_external(&order)?;
            let unchanged = applied.unchanged;
            update_status(&b.id, move |s| {
                if unchanged {
                    s.webhooks_unchanged += 1;
                } else {
                    s.webhooks_applied += 1;
                }
                s.last_webhook_at = Some(now);
            });
            json!({
                "applied": !applied.unchanged,
                "order_id": applied.order_id,
                "became_paid": applied.became_paid,
            })
        }
    };
    Ok(match b.kind {
        BridgeKind::Shopify => HttpResponse::json(200, &answer),
        // 有赞 retries unless it reads exactly this answer.
        BridgeKind::Youzan => HttpResponse::json(200, &json!({ "code": 0, "msg": "success" })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(secret: &str, body: &[u8]) -> [u8; 32] {
        Key::new(secret.as_bytes()).unwrap().sign(body)
    }

    fn req(headers: &[(&str, &str)], body: &[u8]) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/bridge/b/webhook".into(),
            query: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| plaza_sdk::Header {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    const SECRET: &str = "hush-hush-hush-hush";

    #[test]
    fn money_is_parsed_exactly() {
        assert_eq!(parse_money("199.00").ok(), Some(19900));
        assert_eq!(parse_money("0.5").ok(), Some(50));
        assert_eq!(parse_money("12").ok(), Some(1200));
        for bad in ["", "1.234", "-1", "1e3", "abc", ".5", "1.-2"] {
            assert!(parse_money(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shopify_signatures_are_checked_over_the_raw_body() {
        let body = br#"{"id":1}"#;
        let good = base64::engine::general_purpose::STANDARD.encode(mac(SECRET, body));
        assert_eq!(
            verify_webhook(
                BridgeKind::Shopify,
                SECRET,
                &req(&[("X-Shopify-Hmac-Sha256", &good)], body)
            ),
            Ok(())
        );
        // One byte of the body changed, the wrong secret, the other variant's header, none at all.
        let r = req(&[("X-Shopify-Hmac-Sha256", &good)], br#"{"id":2}"#);
        assert_eq!(
            verify_webhook(BridgeKind::Shopify, SECRET, &r),
            Err(Rejection::BadSignature)
        );
        let r = req(&[("X-Shopify-Hmac-Sha256", &good)], body);
        assert_eq!(
            verify_webhook(BridgeKind::Shopify, "another-secret-entirely", &r),
            Err(Rejection::BadSignature)
        );
        let hexed = hex::encode(mac(SECRET, body));
        let r = req(&[("Event-Sign", &hexed)], body);
        assert!(matches!(
            verify_webhook(BridgeKind::Shopify, SECRET, &r),
            Err(Rejection::MissingSignature(_))
        ));
        assert_eq!(
            verify_webhook(BridgeKind::Youzan, SECRET, &r),
            Ok(()),
            "the Youzan variant reads Event-Sign as hex"
        );
        let r = req(&[("Event-Sign", "zz")], body);
        assert!(matches!(
            verify_webhook(BridgeKind::Youzan, SECRET, &r),
            Err(Rejection::MissingSignature(_))
        ));
    }

    #[test]
    fn shopify_orders_map_to_external_orders() {
        let body = r##"{"id":820982911946154508,"name":"#1001","currency":"CNY","total_price":"199.00",
            "financial_status":"paid","fulfillment_status":null,"cancelled_at":null,
            "note_attributes":[{"name":"gift","value":"no"},{"name":"openid","value":"o-buyer"}],
            "line_items":[{"sku":"TEA-250","title":"龙井 250g","quantity":2,"price":"99.50"}]}"##;
        let Delivery::Order(o) = parse_shopify("s", "orders/paid", body.as_bytes(), 7)
            .unwrap_or_else(|e| {
                panic!("{e:?}");
            })
        else {
            panic!("ignored");
        };
        assert_eq!(o.external_id, "820982911946154508");
        assert_eq!(o.amount_cents, 19900);
        assert_eq!(o.openid.as_deref(), Some("o-buyer"));
        assert_eq!(o.status, ExternalStatus::Paid);
        assert_eq!(o.items[0].quantity, 2);
        assert_eq!(o.items[0].price_cents, 9950);
        let refunded = br#"{"id":5,"total_price":"1.00","financial_status":"refunded"}"#;
        assert!(matches!(
            parse_shopify("s", "orders/updated", refunded, 0),
            Ok(Delivery::Order(ExternalOrder {
                status: ExternalStatus::Refunded,
                ..
            }))
        ));
        assert!(matches!(
            parse_shopify("s", "products/update", b"{}", 0),
            Ok(Delivery::Ignored(_))
        ));
        assert!(parse_shopify("s", "orders/paid", br#"{"total_price":"1"}"#, 0).is_err());
    }

    #[test]
    fn youzan_pushes_map_to_external_orders() {
        let msg = r#"{"full_order_info":{"order_info":{"tid":"E20261128","status":"WAIT_SELLER_SEND_GOODS"},"buyer_info":{"outer_user_id":"o-1"},"pay_info":{"payment":"88.80"},"orders":[{"outer_sku_id":"MUG-1","title":"马克杯","num":1,"payment":"88.80"}]}}"#;
        let encoded =
            percent_encoding::utf8_percent_encode(msg, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let body = json!({"id":"p1","type":"trade_TradePaid","status":"WAIT_SELLER_SEND_GOODS",
            "test":false,"msg":encoded,"kdt_id":55})
        .to_string();
        let Ok(Delivery::Order(o)) = parse_youzan("y", body.as_bytes(), 3) else {
            panic!("not an order");
        };
        assert_eq!(
            (o.external_id.as_str(), o.amount_cents, o.status),
            ("E20261128", 8880, ExternalStatus::Paid)
        );
        assert_eq!(o.openid.as_deref(), Some("o-1"));
        assert_eq!(o.items[0].sku, "MUG-1");
        let test_push = json!({"type":"trade_TradePaid","test":true,"msg":""}).to_string();
        assert!(matches!(
            parse_youzan("y", test_push.as_bytes(), 0),
            Ok(Delivery::Ignored(_))
        ));
        let unknown = body.replace("WAIT_SELLER_SEND_GOODS", "SOMETHING");
        // The status inside msg still says WAIT_SELLER_SEND_GOODS: msg wins over the envelope.
        assert!(parse_youzan("y", unknown.as_bytes(), 0).is_ok());
    }
}
