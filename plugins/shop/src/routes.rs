//! The shop's HTTP routes (see README.md for the full table) and its `on-query` answers.

use plaza_sdk::html::{self, escape};
use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::{
    AccountKind, Content, Error, HttpRequest, HttpResponse, Link, MiniProgramCard, Result, links,
    log, messaging, plugins, storage,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalogue::{self, Product, ProductInput};
use crate::config::Config;
use crate::coupons::{self, CouponKind};
use crate::orders::{self, CheckoutRequest, State, Wanted};
use crate::pay;
use crate::refunds::{self, RefundDue};
use crate::util::{check_id, now_ms, random_code, yuan};

/// Storage key of the WeChat Pay API key (set by an operator, never answered in clear).
const PAY_KEY: &str = "secret:pay_api_key";
/// Storage key of the current live-stream announcement.
const LIVE_KEY: &str = "live:current";

/// Answers an HTTP request.
pub fn handle(ctx: &plaza_sdk::CallContext, req: &HttpRequest) -> Result<HttpResponse> {
    let router = Router::new()
        .get("/", Access::Public, home)
        .get("/products/{id}", Access::Public, product_page)
        .get("/me", Access::Follower, me_page)
        .get("/me/orders/{id}", Access::Follower, my_order_page)
        .get("/cart", Access::Follower, get_cart)
        .put("/cart", Access::Follower, put_cart)
        .post("/checkout", Access::Follower, checkout)
        .get("/orders", Access::Follower, my_orders)
        .get("/orders/{id}", Access::FollowerOrOperator, get_order)
        .post("/orders/{id}/cancel", Access::FollowerOrOperator, cancel)
        .post("/orders/{id}/confirm", Access::Follower, confirm)
        .post("/orders/{id}/ship", Access::Operator, ship)
        .post("/orders/{id}/refund", Access::Operator, refund)
        .get("/coupons", Access::Follower, my_coupons)
        .post("/coupons/redeem-code", Access::Operator, redeem_code)
        .post("/pay/notify", Access::Public, pay_notify)
        .get("/api/products", Access::Operator, list_products)
        .get("/api/products/{id}", Access::Operator, get_product)
        .put("/api/products/{id}", Access::Operator, put_product)
        .delete("/api/products/{id}", Access::Operator, delete_product)
        .post("/api/products/{id}/stock", Access::Operator, change_stock)
        .post("/api/products/{id}/send-card", Access::Operator, send_card)
        .get("/api/orders", Access::Operator, list_orders)
        .get("/api/refunds-due", Access::Operator, list_refunds_due)
        .post(
            "/api/refunds-due/{txn}/done",
            Access::Operator,
            refund_due_done,
        )
        .put("/api/pay/key", Access::Operator, set_pay_key)
        .get("/api/pay/key", Access::Operator, get_pay_key)
        .put("/api/coupon-kinds/{id}", Access::Operator, put_coupon_kind)
        .post(
            "/api/coupon-kinds/{id}/issue",
            Access::Operator,
            issue_coupons,
        )
        .post("/api/live", Access::Operator, announce_live)
        .get("/api/live", Access::Operator, get_live);
    crate::bridge::mount(router).handle(ctx, req)
}

fn ok(v: Value) -> Result<HttpResponse> {
    Ok(HttpResponse::json(200, &v))
}

/// Who an operator call is from (the host's `x-plaza-operator`), for order history.
fn operator_name(r: &Request<'_>) -> String {
    format!(
        "operator:{}",
        r.http.header("x-plaza-operator").unwrap_or("admin")
    )
}

// ---- catalogue -------------------------------------------------------------------------------

fn product_json(p: &Product) -> Result<Value> {
    let mut skus = Vec::new();
    for s in &p.skus {
        skus.push(
            json!({ "id": s.id, "attributes": s.attributes, "price_cents": s.price_cents,
                          "stock": catalogue::stock(&p.id, &s.id)? }),
        );
    }
    Ok(
        json!({ "id": p.id, "title": p.title, "description": p.description, "images": p.images,
               "on_shelf": p.on_shelf, "skus": skus }),
    )
}

fn list_products(_: &Request<'_>) -> Result<HttpResponse> {
    let list = catalogue::all()?
        .iter()
        .map(product_json)
        .collect::<Result<Vec<_>>>()?;
    ok(json!({ "products": list }))
}

fn get_product(r: &Request<'_>) -> Result<HttpResponse> {
    ok(json!({ "product": product_json(&catalogue::require(r.param("id"))?)? }))
}

fn put_product(r: &Request<'_>) -> Result<HttpResponse> {
    let input: ProductInput = r.json()?;
    let p = catalogue::put(r.param("id"), input)?;
    crate::bridge::catalogue_changed();
    ok(json!({ "product": product_json(&p)? }))
}

fn delete_product(r: &Request<'_>) -> Result<HttpResponse> {
    let p = catalogue::require(r.param("id"))?;
    storage::delete(&catalogue::product_key(&p.id))?;
    for s in &p.skus {
        storage::delete(&catalogue::stock_key(&p.id, &s.id))?;
    }
    crate::bridge::catalogue_changed();
    ok(json!({ "deleted": p.id }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockChange {
    sku: String,
    #[serde(default)]
    delta: Option<i64>,
    #[serde(default)]
    set: Option<i64>,
}

fn change_stock(r: &Request<'_>) -> Result<HttpResponse> {
    let p = catalogue::require(r.param("id"))?;
    let c: StockChange = r.json()?;
    if p.sku(&c.sku).is_none() {
        return Err(Error::not_found(format!(
            "product {:?} has no sku {:?}",
            p.id, c.sku
        )));
    }
    let stock = match (c.delta, c.set) {
        (Some(d), None) if d.abs() <= 10_000_000 => catalogue::add_stock(&p.id, &c.sku, d)?,
        (None, Some(n)) if (0..=10_000_000).contains(&n) => catalogue::set_stock(&p.id, &c.sku, n)?,
        _ => {
            return Err(Error::invalid(
                "give exactly one of delta or set (0 to 10000000)",
            ));
        }
    };
    crate::bridge::catalogue_changed();
    ok(json!({ "product": p.id, "sku": c.sku, "stock": stock }))
}

// ---- cart and checkout -----------------------------------------------------------------------

#[derive(Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Cart {
    items: Vec<Wanted>,
}

fn get_cart(r: &Request<'_>) -> Result<HttpResponse> {
    let cart: Cart = storage::get_json(&orders::cart_key(r.follower()?))?.unwrap_or_default();
    ok(json!({ "items": cart.items }))
}

fn put_cart(r: &Request<'_>) -> Result<HttpResponse> {
    let cart: Cart = r.json()?;
    let key = orders::cart_key(r.follower()?);
    if cart.items.is_empty() {
        storage::delete(&key)?;
    } else {
        orders::resolve(&cart.items)?;
        storage::set_json(&key, &cart)?;
    }
    ok(json!({ "items": cart.items }))
}

fn checkout(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?.clone();
    let req: CheckoutRequest = if r.http.body.is_empty() {
        CheckoutRequest::default()
    } else {
        r.json()?
    };
    if r.ctx.account.kind != AccountKind::Service {
        return Err(Error::permission_denied(
            "微信支付仅限服务号 WeChat Pay needs a service account: this account cannot take payments",
        ));
    }
    let config = Config::load()?;
    let api_key = storage::get_string(PAY_KEY)?;
    let (Some(api_key), false) = (
        api_key,
        config.pay.appid.is_empty() || config.pay.mch_id.is_empty(),
    ) else {
        return Err(Error::unavailable(
            "payments are not set up (pay.appid, pay.mch_id and the API key) 商户未配置微信支付",
        ));
    };
    let cart = if req.items.is_none() {
        storage::get_json::<Cart>(&orders::cart_key(&openid))?.map(|c| c.items)
    } else {
        None
    };
    let order = orders::checkout(&openid, &req, cart, &config)?;
    let prepay = order.prepay_id.clone().unwrap_or_default();
    let params = pay::jsapi_params(
        &config.pay.appid,
        &prepay,
        &random_code(16),
        now_ms() / 1000,
        &api_key,
    );
    Ok(HttpResponse::json(
        201,
        &json!({ "order": order, "payment": params }),
    ))
}

fn my_orders(r: &Request<'_>) -> Result<HttpResponse> {
    ok(json!({ "orders": orders::of(r.follower()?)? }))
}

/// The order, if the caller may see it (its buyer, or an operator).
fn visible_order(r: &Request<'_>) -> Result<orders::Order> {
    let order = orders::require(r.param("id"))?;
    if !r.ctx.operator && order.openid.as_ref() != r.ctx.follower.as_ref() {
        return Err(Error::not_found(format!("no order {:?}", r.param("id"))));
    }
    Ok(order)
}

fn get_order(r: &Request<'_>) -> Result<HttpResponse> {
    ok(json!({ "order": visible_order(r)? }))
}

fn list_orders(r: &Request<'_>) -> Result<HttpResponse> {
    let state = match r.query("state") {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<State>(Value::String(s.clone()))
                .map_err(|_| Error::invalid(format!("unknown state {s:?}")))?,
        ),
    };
    ok(json!({ "orders": orders::all(state)? }))
}

fn cancel(r: &Request<'_>) -> Result<HttpResponse> {
    let order = visible_order(r)?;
    let by = if r.ctx.operator {
        operator_name(r)
    } else {
        format!("buyer:{}", r.follower()?)
    };
    let moved = orders::transition(&order.id, State::Cancelled, &by, "", |_| {})?;
    ok(json!({ "order": moved.order, "changed": moved.changed }))
}

fn confirm(r: &Request<'_>) -> Result<HttpResponse> {
    let order = visible_order(r)?;
    let by = format!("buyer:{}", r.follower()?);
    let moved = orders::transition(&order.id, State::Completed, &by, "", |_| {})?;
    ok(json!({ "order": moved.order, "changed": moved.changed }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ship {
    tracking_no: String,
}

fn ship(r: &Request<'_>) -> Result<HttpResponse> {
    let s: Ship = r.json()?;
    let tracking = s.tracking_no.trim().to_string();
    if tracking.is_empty() || tracking.len() > 64 {
        return Err(Error::invalid("tracking_no must be 1 to 64 characters"));
    }
    let config = Config::load()?;
    let moved = orders::transition(
        r.param("id"),
        State::Shipped,
        &operator_name(r),
        &tracking,
        |o| {
            o.tracking_no = Some(tracking.clone());
        },
    )?;
    if moved.changed {
        orders::shipped_effects(&moved.order, &config);
        let when = now_ms() + u64::from(config.auto_complete_days) * 86_400_000;
        if let Err(e) = plaza_sdk::scheduling::at(when, format!("complete:{}", moved.order.id)) {
            log::warn(format!(
                "order {}: no auto-complete timer: {}",
                moved.order.id,
                e.display()
            ));
        }
    }
    ok(json!({ "order": moved.order, "changed": moved.changed }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Refund {
    #[serde(default)]
    reason: String,
}

fn refund(r: &Request<'_>) -> Result<HttpResponse> {
    let body: Refund = if r.http.body.is_empty() {
        Refund::default()
    } else {
        r.json()?
    };
    let moved = orders::transition(
        r.param("id"),
        State::Refunded,
        &operator_name(r),
        &body.reason,
        |_| {},
    )?;
    ok(json!({ "order": moved.order, "changed": moved.changed }))
}

// ---- payments --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayKey {
    api_key: String,
}

fn set_pay_key(r: &Request<'_>) -> Result<HttpResponse> {
    let k: PayKey = r.json()?;
    if k.api_key.len() != 32 || !k.api_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "the WeChat Pay API key is 32 letters and digits",
        ));
    }
    storage::set(PAY_KEY, &k.api_key)?;
    ok(json!({ "api_key": pay::mask(&k.api_key) }))
}

fn get_pay_key(_: &Request<'_>) -> Result<HttpResponse> {
    let key = storage::get_string(PAY_KEY)?;
    ok(json!({ "api_key": key.as_deref().map(pay::mask) }))
}

fn xml(status: u16, success: bool, message: &str) -> Result<HttpResponse> {
    Ok(
        HttpResponse::text(status, pay::answer_xml(success, message))
            .with_header("content-type", "application/xml; charset=utf-8"),
    )
}

/// The provider's payment notification: verified (signature, merchant, amount), idempotent on
/// the transaction id. `SUCCESS` when the payment is recorded (or already was), `FAIL` with
/// nothing changed otherwise.
fn pay_notify(r: &Request<'_>) -> Result<HttpResponse> {
    let Ok(text) = std::str::from_utf8(&r.http.body) else {
        return xml(400, false, "body is not UTF-8");
    };
    let params = match pay::parse_xml(text) {
        Ok(p) => p,
        Err(e) => return xml(400, false, &format!("bad XML: {e}")),
    };
    let Some(api_key) = storage::get_string(PAY_KEY)? else {
        log::error("payment notification received but no API key is set");
        return xml(503, false, "not configured");
    };
    if !pay::verify(&params, &api_key) {
        log::warn("payment notification with a bad signature refused");
        return xml(400, false, "signature mismatch");
    }
    let config = Config::load()?;
    let field = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if field("appid") != config.pay.appid || field("mch_id") != config.pay.mch_id {
        log::warn("payment notification for another merchant refused");
        return xml(400, false, "appid or mch_id mismatch");
    }
    if field("return_code") != "SUCCESS" || field("result_code") != "SUCCESS" {
        log::info(format!(
            "payment for {} did not succeed: {}",
            field("out_trade_no"),
            field("err_code")
        ));
        return xml(200, true, "OK");
    }
    let (order_id, txn) = (
        field("out_trade_no").to_string(),
        field("transaction_id").to_string(),
    );
    if txn.is_empty() {
        return xml(400, false, "no transaction_id");
    }
    let Some((order, _)) = orders::get_raw(&order_id)? else {
        return xml(404, false, "unknown out_trade_no");
    };
    if field("total_fee").parse::<i64>().ok() != Some(order.total_cents) {
        log::error(format!(
            "payment for {order_id}: total_fee {} ≠ order total {}",
            field("total_fee"),
            order.total_cents
        ));
        return xml(400, false, "total_fee does not match the order");
    }
    let paid_at = now_ms();
    let moved = orders::transition(&order_id, State::Paid, &format!("payment:{txn}"), "", |o| {
        o.transaction_id = Some(txn.clone());
        o.paid_at = Some(paid_at);
    });
    match moved {
        Ok(m) if m.changed => {
            orders::paid_effects(&m.order, &config);
            xml(200, true, "OK")
        }
        Ok(m) if m.order.transaction_id.as_deref() == Some(txn.as_str()) => xml(200, true, "OK"),
        // Money the order cannot take: kept as a refund due (once per transaction), and the
        // provider told SUCCESS so that it stops retrying.
        Ok(m) => {
            let reason = format!(
                "order already paid by {}",
                m.order
                    .transaction_id
                    .as_deref()
                    .unwrap_or("another payment")
            );
            refund_due(&order_id, &txn, order.total_cents, reason, paid_at)
        }
        Err(Error::Conflict(m)) => refund_due(&order_id, &txn, order.total_cents, m, paid_at),
        Err(e) => Err(e),
    }
}

fn refund_due(
    order_id: &str,
    txn: &str,
    amount_cents: i64,
    reason: String,
    at: u64,
) -> Result<HttpResponse> {
    refunds::record(&RefundDue {
        transaction_id: txn.to_string(),
        order_id: order_id.to_string(),
        amount_cents,
        reason,
        received_at: at,
        done_at: None,
        done_by: None,
    })?;
    xml(200, true, "OK")
}

fn list_refunds_due(r: &Request<'_>) -> Result<HttpResponse> {
    let open_only = match r.query("open").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Error::invalid(format!(
                "open: expected true or false, not {other:?}"
            )));
        }
    };
    ok(json!({ "refunds_due": refunds::list(open_only)? }))
}

fn refund_due_done(r: &Request<'_>) -> Result<HttpResponse> {
    let due = refunds::mark_done(r.param("txn"), &operator_name(r), now_ms())?;
    ok(json!({ "refund_due": due }))
}

// ---- coupons ---------------------------------------------------------------------------------

fn put_coupon_kind(r: &Request<'_>) -> Result<HttpResponse> {
    let mut kind: CouponKind = r.json()?;
    kind.id = r.param("id").to_string();
    kind.check()?;
    storage::set_json(&coupons::kind_key(&kind.id), &kind)?;
    ok(json!({ "kind": kind }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Issue {
    issue_id: String,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    openids: Option<Vec<String>>,
}

fn issue_coupons(r: &Request<'_>) -> Result<HttpResponse> {
    let kind: CouponKind = storage::get_json(&coupons::kind_key(r.param("id")))?
        .ok_or_else(|| Error::not_found(format!("no coupon kind {:?}", r.param("id"))))?;
    let issue: Issue = r.json()?;
    let done = coupons::issue(
        &kind,
        &issue.issue_id,
        issue.segment.as_deref(),
        issue.openids,
    )?;
    ok(json!({ "issued": done.issued, "already": done.already }))
}

fn my_coupons(r: &Request<'_>) -> Result<HttpResponse> {
    ok(json!({ "coupons": coupons::of(r.follower()?)? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Code {
    code: String,
}

fn redeem_code(r: &Request<'_>) -> Result<HttpResponse> {
    let c: Code = r.json()?;
    let who = r
        .http
        .header("x-plaza-operator")
        .unwrap_or("admin")
        .to_string();
    ok(json!({ "coupon": coupons::redeem_at_counter(&c.code, &who)? }))
}

// ---- mini-program card and live ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendCard {
    openid: String,
}

fn send_card(r: &Request<'_>) -> Result<HttpResponse> {
    let p = catalogue::require(r.param("id"))?;
    let to: SendCard = r.json()?;
    let config = Config::load()?;
    let appid = config
        .miniprogram_appid
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::unavailable("miniprogram_appid is not configured"))?;
    let thumb = p
        .images
        .first()
        .cloned()
        .ok_or_else(|| Error::invalid("the product needs an image for the card's thumbnail"))?;
    let card = Content::MiniProgram(MiniProgramCard {
        appid,
        page_path: config.miniprogram_page(&p.id),
        title: p.title.clone(),
        thumb_media_id: thumb,
    });
    let id = messaging::send(&to.openid, &card)?;
    ok(json!({ "message_id": id }))
}

/// A live-stream (视频号) announcement.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Live {
    pub title: String,
    #[serde(default)]
    pub room_url: Option<String>,
    #[serde(default)]
    pub finder_id: Option<String>,
    /// ms since the epoch.
    pub starts_at: u64,
    /// ms; default two hours after the start.
    #[serde(default)]
    pub ends_at: Option<u64>,
    #[serde(default)]
    pub products: Vec<String>,
    /// Tag to send to; absent = every follower.
    #[serde(default)]
    pub audience: Option<String>,
    /// When to send (ms); absent = now.
    #[serde(default)]
    pub at: Option<u64>,
}

impl Live {
    fn url(&self) -> String {
        match (&self.room_url, &self.finder_id) {
            (Some(u), _) => u.clone(),
            (None, Some(f)) => format!("https://channels.weixin.qq.com/{f}/live"),
            (None, None) => String::new(),
        }
    }
    fn live_at(&self, now: u64) -> bool {
        now >= self.starts_at && now < self.ends_at.unwrap_or(self.starts_at + 2 * 3_600_000)
    }
}

fn announce_live(r: &Request<'_>) -> Result<HttpResponse> {
    let live: Live = r.json()?;
    if live.title.trim().is_empty() || live.title.chars().count() > 64 {
        return Err(Error::invalid("title must be 1 to 64 characters"));
    }
    let url = live.url();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::invalid("give room_url (http(s)) or finder_id"));
    }
    if let Some(f) = &live.finder_id {
        check_id("finder_id", f)?;
    }
    for p in &live.products {
        catalogue::require(p)?;
    }
    let audience = match &live.audience {
        Some(tag) => messaging::Audience::Tag(tag.clone()),
        None => messaging::Audience::All,
    };
    let content = Content::ArticleLink(Link {
        title: format!("直播预告 Live: {}", live.title),
        description: "点击进入直播间 Tap to open the live room".into(),
        url,
    });
    let key = format!("live:{}:{}", live.starts_at, live.title);
    let broadcast = messaging::broadcast(&audience, &content, live.at, &key)?;
    storage::set_json(LIVE_KEY, &live)?;
    ok(json!({ "broadcast": broadcast, "live": live }))
}

fn get_live(_: &Request<'_>) -> Result<HttpResponse> {
    ok(json!({ "live": storage::get_json::<Live>(LIVE_KEY)? }))
}

/// The live banner for product `id`, when a stream featuring it is on now.
fn live_banner(id: &str) -> Result<String> {
    let Some(live) = storage::get_json::<Live>(LIVE_KEY)? else {
        return Ok(String::new());
    };
    if !live.live_at(now_ms())
        || !(live.products.is_empty() || live.products.iter().any(|p| p == id))
    {
        return Ok(String::new());
    }
    Ok(format!(
        "<section class=\"live\" style=\"background:#fa5151;color:#fff\"><strong>直播中 LIVE</strong> {} — <a style=\"color:#fff\" href=\"{}\">进入直播间 Watch</a></section>",
        escape(&live.title),
        escape(&live.url())
    ))
}

// ---- pages -----------------------------------------------------------------------------------

fn media_url(account: &str, media: &str) -> String {
    format!("/media/{}/{}", account, media)
}

/// A link to one of the shop's pages: signed for the follower when there is one.
fn page_link(r: &Request<'_>, path: &str) -> String {
    let hours = Config::load().map(|c| c.link_hours).unwrap_or(72);
    match r.ctx.follower.as_deref() {
        Some(o) => links::follower_url(o, path, hours * 3600).unwrap_or_default(),
        None => format!("/p/{}/{}{}", r.account(), r.ctx.plugin, path),
    }
}

fn home(r: &Request<'_>) -> Result<HttpResponse> {
    let mut body = String::from("<h1>商城 Shop</h1>");
    for p in catalogue::all()?.into_iter().filter(|p| p.on_shelf) {
        body.push_str(&card_html(
            r.account(),
            &p,
            &page_link(r, &format!("/products/{}", p.id)),
        ));
    }
    if r.ctx.follower.is_some() {
        body.push_str(&format!(
            "<p><a href=\"{}\">我的订单与优惠券 My orders and coupons</a></p>",
            escape(&page_link(r, "/me"))
        ));
    }
    Ok(html::page(200, html::document("zh-CN", "商城 Shop", &body)))
}

/// A product card (also the `component.render` snippet).
pub fn card_html(account: &str, p: &Product, url: &str) -> String {
    let img = p
        .images
        .first()
        .map(|m| {
            format!(
                "<img src=\"{}\" alt=\"\" style=\"max-width:100%;border-radius:8px\">",
                escape(&media_url(account, m))
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"card plaza-product\">{img}<h3>{}</h3><p><strong>{}</strong> 起 from</p><a href=\"{}\">查看商品 View</a></div>",
        escape(&p.title),
        escape(&yuan(p.min_price())),
        escape(url)
    )
}

fn product_page(r: &Request<'_>) -> Result<HttpResponse> {
    let Some(p) = catalogue::get(r.param("id"))?.filter(|p| p.on_shelf) else {
        let body = "<h1>商品不存在 Not found</h1><p class=\"muted\">该商品不存在或已下架。This product does not exist or is off the shelf.</p>";
        return Ok(html::page(404, html::document("zh-CN", "Not found", body)));
    };
    let config = Config::load()?;
    let mut body = live_banner(&p.id)?;
    body.push_str(&format!("<h1>{}</h1>", escape(&p.title)));
    for m in &p.images {
        body.push_str(&format!(
            "<img src=\"{}\" alt=\"\" style=\"max-width:100%\">",
            escape(&media_url(r.account(), m))
        ));
    }
    body.push_str(&format!(
        "<p>{}</p><table><tr><th>规格 Option</th><th>价格 Price</th><th>库存 Stock</th></tr>",
        escape(&p.description)
    ));
    for s in &p.skus {
        let attrs: Vec<String> = s
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let attrs = if attrs.is_empty() {
            s.id.clone()
        } else {
            attrs.join(" / ")
        };
        let stock = catalogue::stock(&p.id, &s.id)?;
        let stock = if stock > 0 {
            stock.to_string()
        } else {
            "售罄 sold out".into()
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&attrs),
            escape(&yuan(s.price_cents)),
            escape(&stock)
        ));
    }
    body.push_str("</table>");
    if let Some(appid) = config
        .miniprogram_appid
        .as_deref()
        .filter(|a| !a.is_empty())
    {
        body.push_str(&format!(
            "<section class=\"miniprogram\" data-appid=\"{}\" data-path=\"{}\"><strong>小程序 Mini-program</strong><p>在小程序中打开购买 Open in the mini-program to buy: {}</p></section>",
            escape(appid),
            escape(&config.miniprogram_page(&p.id)),
            escape(&p.title)
        ));
    }
    Ok(html::page(200, html::document("zh-CN", &p.title, &body)))
}

fn me_page(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?;
    let mut body = String::from("<h1>我的 Mine</h1><section><h2>订单 Orders</h2>");
    let list = orders::of(openid)?;
    if list.is_empty() {
        body.push_str("<p class=\"muted\">还没有订单 No orders yet</p>");
    }
    for o in list {
        body.push_str(&format!(
            "<p><a href=\"{}\">{}</a> · {} · {}</p>",
            escape(&page_link(r, &format!("/me/orders/{}", o.id))),
            escape(&o.id),
            escape(&yuan(o.total_cents)),
            escape(o.state.label())
        ));
    }
    body.push_str("</section><section><h2>优惠券 Coupons</h2>");
    let now = now_ms();
    for c in coupons::of(openid)? {
        let status = match (c.state, now >= c.expires_at) {
            (coupons::CouponState::Used, _) => "已使用 used",
            (_, true) => "已过期 expired",
            _ => "可用 valid — 到店出示券码 show this code at the counter",
        };
        body.push_str(&format!(
            "<div class=\"card\"><strong>{}</strong><p style=\"font-size:1.5rem;letter-spacing:.2em\">{}</p><p class=\"muted\">{}</p></div>",
            escape(&c.title),
            escape(&c.code),
            status
        ));
    }
    body.push_str("</section>");
    Ok(html::page(200, html::document("zh-CN", "我的 Mine", &body)))
}

fn my_order_page(r: &Request<'_>) -> Result<HttpResponse> {
    let order = visible_order(r)?;
    let mut body = format!(
        "<h1>订单 Order {}</h1><p>{}</p><table>",
        escape(&order.id),
        escape(order.state.label())
    );
    for l in &order.lines {
        body.push_str(&format!(
            "<tr><td>{}</td><td>×{}</td><td>{}</td></tr>",
            escape(&l.title),
            l.quantity,
            escape(&yuan(l.unit_cents))
        ));
    }
    body.push_str(&format!(
        "</table><p>小计 Subtotal {} · 会员优惠 Member −{} · 优惠券 Coupon −{}</p><p><strong>合计 Total {}</strong></p>",
        escape(&yuan(order.subtotal_cents)),
        escape(&yuan(order.member_discount_cents)),
        escape(&yuan(order.coupon_discount_cents)),
        escape(&yuan(order.total_cents))
    ));
    if let Some(t) = &order.tracking_no {
        body.push_str(&format!("<p>物流单号 Tracking: {}</p>", escape(t)));
    }
    Ok(html::page(
        200,
        html::document("zh-CN", "订单 Order", &body),
    ))
}

// ---- queries ---------------------------------------------------------------------------------

/// `on-query`: `component.render` kind `product` (the editor's `[product id=X]`).
pub fn on_query(ctx: &plaza_sdk::CallContext, name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    if name != "component.render" {
        return Err(Error::not_found(format!(
            "shop answers component.render, not {name:?}"
        )));
    }
    let q: Value = serde_json::from_slice(payload)
        .map_err(|e| Error::invalid(format!("component.render wants a JSON object: {e}")))?;
    let kind = q["kind"].as_str().unwrap_or_default();
    if kind != "product" {
        return Err(Error::not_found(format!(
            "shop renders kind product, not {kind:?}"
        )));
    }
    let id = q["id"].as_str().unwrap_or_default();
    let p = catalogue::get(id)?
        .filter(|p| p.on_shelf)
        .ok_or_else(|| Error::not_found(format!("no product {id:?} on sale")))?;
    let path = format!("/products/{}", p.id);
    let url = match q["openid"].as_str().filter(|o| !o.is_empty()) {
        Some(o) => links::follower_url(o, &path, 7 * 86_400)?,
        None => public_url(&path)?,
    };
    plugins::answer_json(&json!({ "html": card_html(&ctx.account.id, &p, &url), "url": url }))
}

/// The absolute URL of a public page: the host has no "base URL" call, so this asks for a
/// one-second follower link (for no real follower) and drops its token.
fn public_url(path: &str) -> Result<String> {
    let url = links::follower_url("shop-public-url", path, 1)?;
    Ok(url.split(['?', '&']).next().unwrap_or_default().to_string())
}
