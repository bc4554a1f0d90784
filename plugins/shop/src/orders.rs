//! Orders as a state machine (created → paid → shipped → completed; cancelled; refunded), the
//! transition table in one place ([`allowed`]), every transition appended to the order's history
//! with who made it and written in one `storage.batch` that checks the order did not change
//! meanwhile — together with what the transition implies (stock released, coupon restored) so
//! that happens exactly once. Checkout reserves stock atomically ([`checkout`]).

use std::collections::BTreeMap;

use plaza_sdk::messaging::TemplateField;
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Error, Result, events, log, messaging, plugins, scheduling};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::catalogue::{self, stock_key};
use crate::config::Config;
use crate::coupons::{self, CouponState};
use crate::external::{AppliedExternal, ExternalOrder, ExternalStatus};
use crate::util::{now_ms, random_code, yuan};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Created,
    Paid,
    Shipped,
    Completed,
    Cancelled,
    Refunded,
}

impl State {
    /// The lowercase name used in JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Paid => "paid",
            State::Shipped => "shipped",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
            State::Refunded => "refunded",
        }
    }

    /// 中文 label for pages.
    pub fn label(self) -> &'static str {
        match self {
            State::Created => "待付款 awaiting payment",
            State::Paid => "已付款 paid",
            State::Shipped => "已发货 shipped",
            State::Completed => "已完成 completed",
            State::Cancelled => "已取消 cancelled",
            State::Refunded => "已退款 refunded",
        }
    }
}

/// The transition table: the only place that says which moves are legal.
pub fn allowed(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Created, Paid)
            | (Created, Cancelled)
            | (Paid, Shipped)
            | (Paid, Refunded)
            | (Shipped, Completed)
            | (Shipped, Refunded)
            | (Completed, Refunded)
    )
}

/// The legal path from `from` to `to` (the states passed through, `to` last), if any: external
/// shops may report a later state without the ones in between (paid and shipped at once).
pub fn path(from: State, to: State) -> Option<Vec<State>> {
    use State::*;
    if allowed(from, to) {
        return Some(vec![to]);
    }
    let forward = [Created, Paid, Shipped, Completed];
    let (Some(i), Some(j)) = (
        forward.iter().position(|s| *s == from),
        forward.iter().position(|s| *s == to),
    ) else {
        return None;
    };
    (j > i).then(|| forward[i + 1..=j].to_vec())
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub product_id: String,
    pub sku_id: String,
    pub title: String,
    pub quantity: u32,
    pub unit_cents: i64,
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub from: Option<State>,
    pub to: State,
    /// `buyer:<openid>`, `operator:<name>`, `payment:<transaction id>`, `system:expiry`, `bridge:<id>` …
    pub by: String,
    pub at: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    /// `shop` or `bridge:<id>`.
    pub source: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub openid: Option<String>,
    pub lines: Vec<Line>,
    pub subtotal_cents: i64,
    pub member_discount_cents: i64,
    #[serde(default)]
    pub coupon: Option<String>,
    pub coupon_discount_cents: i64,
    pub total_cents: i64,
    pub currency: String,
    pub state: State,
    pub created_at: u64,
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub paid_at: Option<u64>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub prepay_id: Option<String>,
    #[serde(default)]
    pub tracking_no: Option<String>,
    pub history: Vec<Step>,
}

/// Storage keys.
pub fn order_key(id: &str) -> String {
    format!("order:{id}")
}
fn buyer_key(openid: &str, id: &str) -> String {
    format!("buyer:{openid}:{id}")
}
fn ext_key(bridge: &str, external_id: &str) -> String {
    format!("ext:{bridge}:{external_id}")
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal(format!("encoding: {e}")))
}

/// The order and its stored bytes.
pub fn get_raw(id: &str) -> Result<Option<(Order, Vec<u8>)>> {
    let Some(raw) = storage::get(&order_key(id))? else {
        return Ok(None);
    };
    let order = serde_json::from_slice(&raw)
        .map_err(|e| Error::internal(format!("order {id} is not readable: {e}")))?;
    Ok(Some((order, raw)))
}

/// The order `id`, or `not-found`.
pub fn require(id: &str) -> Result<Order> {
    get_raw(id)?
        .map(|(o, _)| o)
        .ok_or_else(|| Error::not_found(format!("no order {id:?}")))
}

/// A follower's orders, newest first.
pub fn of(openid: &str) -> Result<Vec<Order>> {
    let mut out = Vec::new();
    for entry in storage::scan_prefix(&format!("buyer:{openid}:")) {
        let entry = entry?;
        let id = entry.key.rsplit(':').next().unwrap_or_default();
        if let Some((o, _)) = get_raw(id)? {
            out.push(o);
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(out)
}

/// Every order (operator listing), newest first, optionally in one state.
pub fn all(state: Option<State>) -> Result<Vec<Order>> {
    let mut out: Vec<Order> = storage::scan_prefix_json::<Order>("order:")
        .map(|r| r.map(|(_, o)| o))
        .filter(|r| {
            r.as_ref()
                .map_or(true, |o| state.is_none_or(|s| o.state == s))
        })
        .collect::<Result<_>>()?;
    out.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(out)
}

/// A line a buyer asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wanted {
    pub product: String,
    pub sku: String,
    pub quantity: u32,
}

/// Resolves wanted lines against the catalogue (on shelf, SKU exists, 1–99 each), merging
/// repeated SKUs.
pub fn resolve(wanted: &[Wanted]) -> Result<Vec<Line>> {
    if wanted.is_empty() || wanted.len() > 50 {
        return Err(Error::invalid("an order has 1 to 50 lines"));
    }
    let mut merged: BTreeMap<(String, String), u32> = BTreeMap::new();
    for w in wanted {
        if !(1..=99).contains(&w.quantity) {
            return Err(Error::invalid("quantity must be 1 to 99"));
        }
        let q = merged
            .entry((w.product.clone(), w.sku.clone()))
            .or_default();
        *q = (*q + w.quantity).min(99);
    }
    let mut lines = Vec::new();
    for ((product, sku), quantity) in merged {
        let p = catalogue::get(&product)?
            .filter(|p| p.on_shelf)
            .ok_or_else(|| {
                Error::not_found(format!("no product {product:?} on sale 商品不存在或已下架"))
            })?;
        let s = p
            .sku(&sku)
            .ok_or_else(|| Error::not_found(format!("product {product:?} has no sku {sku:?}")))?;
        lines.push(Line {
            product_id: product,
            sku_id: sku,
            title: catalogue::sku_title(&p, s),
            quantity,
            unit_cents: s.price_cents,
        });
    }
    Ok(lines)
}

/// The member discount percent membership answers for `openid`; 0 when membership is not
/// installed (or not granted), or answers an error (logged).
pub fn member_discount_percent(openid: &str) -> i64 {
    #[derive(Deserialize)]
    struct Discount {
        discount_percent: i64,
    }
    match plugins::query_json::<_, Discount>(
        "membership",
        "member.discount",
        &json!({ "openid": openid }),
    ) {
        Ok(d) => d.discount_percent.clamp(0, 100),
        Err(Error::NotFound(_)) | Err(Error::PermissionDenied(_)) => 0,
        Err(e) => {
            log::warn(format!(
                "membership's member.discount failed: {}",
                e.display()
            ));
            0
        }
    }
}

/// Prices: subtotal, member discount, coupon discount, total (always ≥ 1 cent when lines exist).
pub fn price(lines: &[Line], member_percent: i64) -> (i64, i64) {
    let subtotal: i64 = lines
        .iter()
        .map(|l| l.unit_cents * i64::from(l.quantity))
        .sum();
    let member = (subtotal * member_percent / 100).min((subtotal - 1).max(0));
    (subtotal, member)
}

/// A checkout request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The lines; absent = the buyer's cart.
    #[serde(default)]
    pub items: Option<Vec<Wanted>>,
    #[serde(default)]
    pub coupon: Option<String>,
}

/// Creates an order for `openid`: ONE `storage.batch` checks every SKU counter ≥ quantity,
/// decrements them, writes the order (created) and its buyer index, marks the coupon used and
/// empties the cart when it came from it. A failed stock check is `conflict` (sold out); a coupon
/// changed meanwhile is retried.
pub fn checkout(
    openid: &str,
    req: &CheckoutRequest,
    cart: Option<Vec<Wanted>>,
    config: &Config,
) -> Result<Order> {
    let from_cart = req.items.is_none();
    let wanted = match (&req.items, cart) {
        (Some(items), _) => items.clone(),
        (None, Some(c)) => c,
        (None, None) => return Err(Error::invalid("the cart is empty 购物车为空")),
    };
    let lines = resolve(&wanted)?;
    let percent = member_discount_percent(openid);
    let (subtotal, member) = price(&lines, percent);
    for _ in 0..8 {
        let now = now_ms();
        let mut checks = Vec::new();
        let mut writes = Vec::new();
        for l in &lines {
            let key = stock_key(&l.product_id, &l.sku_id);
            checks.push(Check::counter_at_least(key.clone(), i64::from(l.quantity)));
            writes.push(Write::increment(key, -i64::from(l.quantity)));
        }
        let id = format!("{}{}", now, random_code(6));
        let mut coupon_off = 0;
        let mut coupon_code = None;
        if let Some(code) = req
            .coupon
            .as_deref()
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
        {
            let (mut coupon, raw) = coupons::get_raw(&code)?
                .filter(|(c, _)| c.openid == openid)
                .ok_or_else(|| {
                    Error::not_found(format!("you have no coupon {code:?} 无此优惠券"))
                })?;
            coupon_off = coupon.discount_on(subtotal - member, now)?;
            checks.push(Check::equals(coupons::coupon_key(&code), raw));
            coupon.state = CouponState::Used;
            coupon.used_by = Some(format!("order:{id}"));
            coupon.used_at = Some(now);
            writes.push(Write::set(coupons::coupon_key(&code), encode(&coupon)?));
            coupon_code = Some(code);
        }
        let expires_at = now + u64::from(config.order_expire_minutes) * 60_000;
        let order = Order {
            id: id.clone(),
            source: "shop".into(),
            external_id: None,
            openid: Some(openid.to_string()),
            lines: lines.clone(),
            subtotal_cents: subtotal,
            member_discount_cents: member,
            coupon: coupon_code,
            coupon_discount_cents: coupon_off,
            total_cents: subtotal - member - coupon_off,
            currency: "CNY".into(),
            state: State::Created,
            created_at: now,
            expires_at: Some(expires_at),
            paid_at: None,
            transaction_id: None,
            prepay_id: Some(format!("wx{now}{}", random_code(10))),
            tracking_no: None,
            history: vec![Step {
                from: None,
                to: State::Created,
                by: format!("buyer:{openid}"),
                at: now,
                note: String::new(),
            }],
        };
        checks.push(Check::absent(order_key(&id)));
        writes.push(Write::set(order_key(&id), encode(&order)?));
        writes.push(Write::set(buyer_key(openid, &id), Vec::new()));
        if from_cart {
            writes.push(Write::delete(cart_key(openid)));
        }
        match storage::batch(&checks, &writes)? {
            BatchOutcome::Applied => {
                if let Err(e) = scheduling::at(expires_at, format!("expire:{id}")) {
                    log::warn(format!("order {id}: no expiry timer: {}", e.display()));
                }
                return Ok(order);
            }
            BatchOutcome::CheckFailed(i) if (i as usize) < lines.len() => {
                let l = &lines[i as usize];
                return Err(Error::conflict(format!(
                    "sold out 库存不足: {} ({}/{})",
                    l.title, l.product_id, l.sku_id
                )));
            }
            // The coupon changed (used elsewhere) or the id collided: look again.
            _ => continue,
        }
    }
    Err(Error::conflict("checkout kept racing; try again 请重试"))
}

/// The cart's key.
pub fn cart_key(openid: &str) -> String {
    format!("cart:{openid}")
}

/// What a transition did.
pub struct Moved {
    pub order: Order,
    /// False when the order was already in the target state (nothing written).
    pub changed: bool,
}

/// Moves order `id` to `to` on behalf of `by`, after `edit` (e.g. the tracking number), in one
/// batch with its consequences: cancelling a shop order, or refunding one not shipped yet, puts
/// its stock back; cancelling restores its coupon. Illegal → `conflict` naming the current state;
/// already there → unchanged.
pub fn transition(
    id: &str,
    to: State,
    by: &str,
    note: &str,
    edit: impl Fn(&mut Order),
) -> Result<Moved> {
    for _ in 0..storage::UPDATE_ATTEMPTS {
        let (order, raw) =
            get_raw(id)?.ok_or_else(|| Error::not_found(format!("no order {id:?}")))?;
        if order.state == to {
            return Ok(Moved {
                order,
                changed: false,
            });
        }
        if !allowed(order.state, to) {
            return Err(Error::conflict(format!(
                "order {id} is {}; it cannot become {} 订单状态为 {}",
                order.state.name(),
                to.name(),
                order.state.label()
            )));
        }
        let now = now_ms();
        let mut next = order.clone();
        edit(&mut next);
        next.history.push(Step {
            from: Some(order.state),
            to,
            by: by.to_string(),
            at: now,
            note: note.to_string(),
        });
        next.state = to;
        let mut writes = vec![Write::set(order_key(id), encode(&next)?)];
        let mut checks = vec![Check::equals(order_key(id), raw)];
        let restock = order.source == "shop"
            && (to == State::Cancelled || (to == State::Refunded && order.state == State::Paid));
        if restock {
            for l in &order.lines {
                writes.push(Write::increment(
                    stock_key(&l.product_id, &l.sku_id),
                    i64::from(l.quantity),
                ));
            }
        }
        if to == State::Cancelled
            && let Some(code) = &order.coupon
            && let Some((mut c, craw)) = coupons::get_raw(code)?
            && c.used_by.as_deref() == Some(&format!("order:{id}"))
        {
            c.state = CouponState::Issued;
            c.used_by = None;
            c.used_at = None;
            checks.push(Check::equals(coupons::coupon_key(code), craw));
            writes.push(Write::set(coupons::coupon_key(code), encode(&c)?));
        }
        if storage::batch(&checks, &writes)? == BatchOutcome::Applied {
            return Ok(Moved {
                order: next,
                changed: true,
            });
        }
    }
    Err(Error::conflict(format!(
        "order {id} kept changing; try again"
    )))
}

/// Runs once when an order becomes paid: publishes `shop.order.paid`, emits the event, sends the
/// buyer the paid template. Failures are logged: the payment stands.
pub fn paid_effects(order: &Order, config: &Config) {
    let payload = json!({
        "order_id": order.id,
        "openid": order.openid.clone().unwrap_or_default(),
        "amount_cents": order.total_cents,
        "currency": order.currency,
        "paid_at": order.paid_at.unwrap_or_else(now_ms),
    });
    if let Err(e) = messaging::publish("shop.order.paid", payload.to_string()) {
        log::error(format!(
            "order {}: shop.order.paid not published: {}",
            order.id,
            e.display()
        ));
    }
    let amount = order.total_cents.to_string();
    if let Err(e) = events::emit(
        "shop.order.paid",
        order.openid.as_deref(),
        &[("order_id", &order.id), ("amount_cents", &amount)],
    ) {
        log::warn(format!(
            "order {}: event not emitted: {}",
            order.id,
            e.display()
        ));
    }
    notify(
        order,
        config.templates.paid.as_deref(),
        "paid",
        &[
            ("first", "支付成功 Payment received".to_string()),
            ("keyword1", order.id.clone()),
            ("keyword2", yuan(order.total_cents)),
            ("remark", "我们会尽快发货 We will ship soon".to_string()),
        ],
    );
}

/// The shipped notification.
pub fn shipped_effects(order: &Order, config: &Config) {
    notify(
        order,
        config.templates.shipped.as_deref(),
        "shipped",
        &[
            ("first", "已发货 Your order has shipped".to_string()),
            ("keyword1", order.id.clone()),
            ("keyword2", order.tracking_no.clone().unwrap_or_default()),
            (
                "remark",
                "收到后请确认收货 Please confirm when it arrives".to_string(),
            ),
        ],
    );
}

fn notify(order: &Order, template: Option<&str>, what: &str, fields: &[(&str, String)]) {
    let Some(openid) = order.openid.as_deref() else {
        return;
    };
    let Some(template) = template.filter(|t| !t.is_empty()) else {
        log::info(format!(
            "order {}: no {what} template configured, no notification",
            order.id
        ));
        return;
    };
    let fields: Vec<TemplateField> = fields
        .iter()
        .map(|(n, v)| TemplateField {
            name: n.to_string(),
            value: v.clone(),
            color: None,
        })
        .collect();
    let url =
        plaza_sdk::links::follower_url(openid, &format!("/me/orders/{}", order.id), 7 * 86_400)
            .ok();
    if let Err(e) = messaging::send_template(openid, template, &fields, url.as_deref()) {
        log::warn(format!(
            "order {}: {what} template not sent: {}",
            order.id,
            e.display()
        ));
    }
}

/// The expiry timer: cancels the order if it is still unpaid (idempotent).
pub fn expire(id: &str) -> Result<()> {
    match transition(
        id,
        State::Cancelled,
        "system:expiry",
        "unpaid 超时未支付",
        |_| {},
    ) {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(Error::Conflict(m)) => {
            log::info(format!("expiry of {id}: nothing to do ({m})"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The auto-complete timer: completes a shipped order the buyer did not confirm.
pub fn auto_complete(id: &str) -> Result<()> {
    match transition(id, State::Completed, "system:auto-complete", "", |_| {}) {
        Ok(_) | Err(Error::NotFound(_)) | Err(Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn external_state(s: ExternalStatus) -> State {
    match s {
        ExternalStatus::Created => State::Created,
        ExternalStatus::Paid => State::Paid,
        ExternalStatus::Shipped => State::Shipped,
        ExternalStatus::Completed => State::Completed,
        ExternalStatus::Cancelled => State::Cancelled,
        ExternalStatus::Refunded => State::Refunded,
    }
}

/// Maps an external shop's order onto ours: one order per (bridge, external id), moved along the
/// legal path to the reported state (a stale or out-of-order delivery changes nothing); the paid
/// side effects run when this delivery makes it paid. External orders never touch our stock: the
/// external shop owns its stock (its SKUs are recorded on the lines as they came).
pub fn apply_external(ext: &ExternalOrder) -> Result<AppliedExternal> {
    crate::util::check_id("bridge", &ext.bridge)?;
    if ext.external_id.is_empty() || ext.external_id.len() > 128 {
        return Err(Error::invalid("external_id must be 1 to 128 characters"));
    }
    let by = format!("bridge:{}", ext.bridge);
    let key = ext_key(&ext.bridge, &ext.external_id);
    // The first delivery of an external order creates it: a change even when it stays created.
    let mut created_now = false;
    let id = match storage::get_string(&key)? {
        Some(id) => id,
        None => {
            let id = format!("{}{}", now_ms(), random_code(6));
            let order = Order {
                id: id.clone(),
                source: by.clone(),
                external_id: Some(ext.external_id.clone()),
                openid: ext.openid.clone().filter(|o| !o.is_empty()),
                lines: ext
                    .items
                    .iter()
                    .map(|i| Line {
                        product_id: String::new(),
                        sku_id: i.sku.clone(),
                        title: i.title.clone(),
                        quantity: i.quantity,
                        unit_cents: i.price_cents,
                    })
                    .collect(),
                subtotal_cents: ext.amount_cents,
                member_discount_cents: 0,
                coupon: None,
                coupon_discount_cents: 0,
                total_cents: ext.amount_cents,
                currency: ext.currency.clone(),
                state: State::Created,
                created_at: ext.at,
                expires_at: None,
                paid_at: None,
                transaction_id: None,
                prepay_id: None,
                tracking_no: None,
                history: vec![Step {
                    from: None,
                    to: State::Created,
                    by: by.clone(),
                    at: ext.at,
                    note: String::new(),
                }],
            };
            let mut writes = vec![
                Write::set(key.clone(), id.clone()),
                Write::set(order_key(&id), encode(&order)?),
            ];
            if let Some(o) = &order.openid {
                writes.push(Write::set(buyer_key(o, &id), Vec::new()));
            }
            match storage::batch(&[Check::absent(key.clone())], &writes)? {
                BatchOutcome::Applied => {
                    created_now = true;
                    id
                }
                _ => storage::get_string(&key)?
                    .ok_or_else(|| Error::internal("external order index vanished"))?,
            }
        }
    };
    let current = require(&id)?;
    let target = external_state(ext.status);
    let Some(steps) = path(current.state, target) else {
        return Ok(AppliedExternal {
            order_id: id,
            became_paid: false,
            unchanged: !created_now,
        });
    };
    let mut became_paid = false;
    let mut changed = false;
    for step in steps {
        let at = ext.at;
        let moved = match transition(&id, step, &by, "", |o| {
            if step == State::Paid {
                o.paid_at = Some(at);
            }
        }) {
            Ok(m) => m,
            // A concurrent delivery moved it past this step: that one ran the effects.
            Err(Error::Conflict(_)) => break,
            Err(e) => return Err(e),
        };
        if moved.changed {
            changed = true;
            if step == State::Paid {
                became_paid = true;
                paid_effects(&moved.order, &Config::load().unwrap_or_default());
            }
        }
    }
    Ok(AppliedExternal {
        order_id: id,
        became_paid,
        unchanged: !changed && !created_now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn the_transition_table() {
        assert!(allowed(Created, Paid));
        assert!(allowed(Created, Cancelled));
        assert!(allowed(Paid, Shipped));
        assert!(allowed(Shipped, Completed));
        assert!(allowed(Paid, Refunded));
        assert!(!allowed(Paid, Cancelled));
        assert!(!allowed(Created, Shipped));
        assert!(!allowed(Cancelled, Paid));
        assert!(!allowed(Refunded, Paid));
        assert!(!allowed(Completed, Shipped));
    }

    #[test]
    fn external_paths_skip_forward_but_never_back() {
        assert_eq!(path(Created, Shipped), Some(vec![Paid, Shipped]));
        assert_eq!(path(Created, Paid), Some(vec![Paid]));
        assert_eq!(path(Shipped, Paid), None);
        assert_eq!(path(Paid, Paid), None);
        assert_eq!(path(Cancelled, Paid), None);
        assert_eq!(path(Shipped, Refunded), Some(vec![Refunded]));
    }

    #[test]
    fn prices_leave_at_least_a_cent() {
        let lines = vec![Line {
            product_id: "p".into(),
            sku_id: "s".into(),
            title: "t".into(),
            quantity: 3,
            unit_cents: 1000,
        }];
        assert_eq!(price(&lines, 10), (3000, 300));
        assert_eq!(price(&lines, 0), (3000, 0));
        assert_eq!(price(&lines, 100), (3000, 2999));
    }
}
