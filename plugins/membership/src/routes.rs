//! HTTP routes under `/p/{account}/membership/…`.
//!
//! Follower routes (`Access::Follower`: opened through the signed link of the 会员 reply; the
//! link for `/me` covers everything under it). Each `POST` takes JSON, or an HTML form (then it
//! answers a small page with a link back to the card):
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/me` | | the member card (HTML) |
//! | GET | `/me/status` | | `member.level`'s JSON |
//! | POST | `/me/checkin` | | `{"checked_in","date","streak","points","balance"}` |
//! | POST | `/me/rewards/{id}/redeem` | | `{"redemption":{…},"balance"}`; 409 out of stock / not enough points |
//! | POST | `/me/birthday` | `{"birthday":"MM-DD"}` | `{"birthday"}` |
//! | POST | `/me/consultations` | `{"date","time","topic"}` | `{"booking":{…}}`; 403 below the levels that offer it, 409 slot taken |
//!
//! Operator routes (`Access::Operator`, an operator token of the account):
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/members/{openid}` | | status, record and lots |
//! | GET | `/members/{openid}/ledger` | | `{"entries":[…]}` newest first |
//! | POST | `/members/{openid}/adjust` | `{"points","reason","growth"?}` | `{"points","growth","by"}` |
//! | POST | `/members/{openid}/renew` | `{"months"?}` | the member record |
//! | GET | `/rewards` | | `{"rewards":[{…,"stock"}]}` (public: the catalogue) |
//! | PUT | `/rewards/{id}` | `{"name","cost","description"?,"stock"?}` | the reward with its stock |
//! | GET | `/redemptions` | | `{"redemptions":[…]}` |
//! | GET | `/consultations` | | `{"bookings":[…]}` |
//! | POST | `/maintenance/daily` | `{"date"?}` | what the daily job did for that day |
//! | GET | `/maintenance/jobs` | | `{"jobs":[{"id","cron","next_run","payload"}]}`: the daily job |

use plaza_sdk::html::{self, escape};
use plaza_sdk::prelude::*;
use plaza_sdk::router::{Access, Request, Router, error_response};
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{config, followers, links};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::members::{self, now_ms};
use crate::rules::{self, Config};
use crate::store::{self, LedgerEntry, Reward, Spent};

/// The header the host sets to the name of the operator token that made the request (it strips
/// any such header the client sent, so it cannot be forged).
pub const OPERATOR_HEADER: &str = "x-plaza-operator";

pub fn handle(ctx: &CallContext, req: &HttpRequest) -> Result<HttpResponse> {
    Router::new()
        .get("/me", Access::Follower, card)
        .get("/me/status", Access::Follower, |r| {
            let config: Config = config::parse()?;
            let s = members::status(r.follower()?, &config, today(r))?;
            Ok(HttpResponse::json(200, &s))
        })
        .post("/me/checkin", Access::Follower, |r| {
            form_or_json(r, checkin)
        })
        .post("/me/rewards/{id}/redeem", Access::Follower, |r| {
            form_or_json(r, redeem)
        })
        .post("/me/birthday", Access::Follower, |r| {
            form_or_json(r, set_birthday)
        })
        .post("/me/consultations", Access::Follower, |r| {
            form_or_json(r, book)
        })
        .get("/members/{openid}", Access::Operator, member_details)
        .get("/members/{openid}/ledger", Access::Operator, |r| {
            let openid = path_openid(r)?;
            Ok(HttpResponse::json(
                200,
                &json!({ "entries": store::ledger(&openid, 500)? }),
            ))
        })
        .post("/members/{openid}/adjust", Access::Operator, adjust)
        .post("/members/{openid}/renew", Access::Operator, renew)
        .get("/rewards", Access::Public, |_| {
            Ok(HttpResponse::json(200, &json!({ "rewards": catalogue()? })))
        })
        .put("/rewards/{id}", Access::Operator, put_reward)
        .get("/redemptions", Access::Operator, |_| {
            Ok(HttpResponse::json(
                200,
                &json!({ "redemptions": store::redemptions(None)? }),
            ))
        })
        .get("/consultations", Access::Operator, |_| {
            let bookings: Vec<Booking> = storage::scan_prefix_json::<Booking>("consult:")
                .map(|r| r.map(|(_, b)| b))
                .collect::<Result<_>>()?;
            Ok(HttpResponse::json(200, &json!({ "bookings": bookings })))
        })
        .post("/maintenance/daily", Access::Operator, daily)
        .get("/maintenance/jobs", Access::Operator, |_| {
            let jobs: Vec<Value> = plaza_sdk::scheduling::list()?
                .into_iter()
                .map(|j| {
                    json!({ "id": j.id, "cron": j.cron, "next_run": j.next_run,
                            "payload": String::from_utf8_lossy(&j.payload) })
                })
                .collect();
            Ok(HttpResponse::json(200, &json!({ "jobs": jobs })))
        })
        .handle(ctx, req)
}

fn today(r: &Request<'_>) -> chrono::NaiveDate {
    rules::day_in(now_ms(), &r.ctx.account.timezone)
}

fn link_ttl(config: &Config) -> u32 {
    config.card_link_hours.saturating_mul(3600)
}

fn is_form(r: &Request<'_>) -> bool {
    r.http
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The request body as a JSON object: JSON as sent, a form's fields as strings, `{}` if empty.
fn body(r: &Request<'_>) -> Result<Value> {
    if is_form(r) {
        let fields: serde_json::Map<String, Value> = r
            .form()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Ok(Value::Object(fields));
    }
    if r.http.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    r.json()
}

/// Runs a follower action; a form post gets a page (with the outcome and a link back to the
/// card), anything else the JSON answer or the JSON error.
fn form_or_json(
    r: &Request<'_>,
    action: impl Fn(&Request<'_>, &Value) -> Result<(Value, String)>,
) -> Result<HttpResponse> {
    let outcome = body(r).and_then(|b| action(r, &b));
    if !is_form(r) {
        return outcome.map(|(v, _)| HttpResponse::json(200, &v));
    }
    let (status, message, class) = match &outcome {
        Ok((_, message)) => (200, message.clone(), "ok"),
        Err(e) => (error_response(e).status, e.message().to_string(), "error"),
    };
    let config: Config = config::parse()?;
    let back = links::follower_url(r.follower()?, "/me", link_ttl(&config))?;
    let page = html::document(
        "zh-CN",
        "会员 Membership",
        &format!(
            "<main><p class=\"{class}\">{}</p><p><a href=\"{}\">返回会员卡 Back to my card</a></p></main>",
            escape(&message),
            escape(&back)
        ),
    );
    Ok(html::page(status, page))
}

fn checkin(r: &Request<'_>, _: &Value) -> Result<(Value, String)> {
    let config: Config = config::parse()?;
    let at = now_ms();
    let done = members::checkin(r.follower()?, &config, today(r), at)?;
    let message = if done.checked_in {
        format!(
            "签到成功，连续 {} 天，+{} 积分 / Checked in: day {}, +{} points",
            done.streak, done.points, done.streak, done.points
        )
    } else {
        "今天已经签到过了 / You already checked in today".to_string()
    };
    Ok((serde_json::to_value(&done).unwrap_or_default(), message))
}

fn redeem(r: &Request<'_>, _: &Value) -> Result<(Value, String)> {
    let openid = r.follower()?;
    let id = r.param("id");
    let reward = store::reward(id)?
        .ok_or_else(|| Error::not_found(format!("no reward {id:?} / 没有这个礼品")))?;
    let config: Config = config::parse()?;
    store::ensure_member(openid, today(r), &config)?;
    let redemption = store::redeem(openid, &reward, now_ms())?;
    members::emit_points_changed(openid, -reward.cost, "redeem");
    if let Err(e) = plaza_sdk::events::emit(
        "membership.reward.redeemed",
        Some(openid),
        &[
            ("reward", reward.id.as_str()),
            ("cost", &reward.cost.to_string()),
        ],
    ) {
        plaza_sdk::log::debug(format!(
            "membership.reward.redeemed not emitted: {}",
            e.display()
        ));
    }
    let balance = store::counter(&store::points_key(openid))?;
    let message = format!(
        "兑换成功：{} / Redeemed {} for {} points",
        reward.name, reward.name, reward.cost
    );
    Ok((
        json!({ "redemption": redemption, "balance": balance }),
        message,
    ))
}

fn set_birthday(r: &Request<'_>, b: &Value) -> Result<(Value, String)> {
    let openid = r.follower()?;
    let raw = b["birthday"].as_str().unwrap_or_default();
    let birthday = rules::parse_birthday(raw)
        .ok_or_else(|| Error::invalid("birthday must be MM-DD, e.g. 03-07 / 生日格式为 月-日"))?;
    let config: Config = config::parse()?;
    store::ensure_member(openid, today(r), &config)?;
    store::update_member(openid, |m| m.birthday = Some(birthday.clone()))?;
    if let Err(e) = followers::set_attribute(openid, "birthday", &birthday) {
        plaza_sdk::log::warn(format!("birthday attribute not set: {}", e.display()));
    }
    Ok((
        json!({ "birthday": birthday }),
        format!("生日已保存 {birthday} / Birthday saved"),
    ))
}

/// A 1-on-1 consultation booked from the card.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Booking {
    id: String,
    openid: String,
    date: String,
    time: String,
    topic: String,
    level: String,
    at: u64,
}

fn book(r: &Request<'_>, b: &Value) -> Result<(Value, String)> {
    let openid = r.follower()?;
    let config: Config = config::parse()?;
    let today = today(r);
    let s = members::status(openid, &config, today)?;
    if !s.consultation {
        let offered: Vec<String> = config
            .sorted_levels()
            .into_iter()
            .filter(|l| l.consultation)
            .map(|l| l.name)
            .collect();
        return Err(Error::permission_denied(format!(
            "1-on-1 consultations are for members of {} / 仅限高等级会员",
            offered.join(", ")
        )));
    }
    let date = b["date"]
        .as_str()
        .and_then(rules::parse_date)
        .filter(|d| *d >= today)
        .ok_or_else(|| Error::invalid("date must be YYYY-MM-DD, today or later"))?;
    let time = b["time"].as_str().unwrap_or_default();
    if chrono::NaiveTime::parse_from_str(time, "%H:%M").is_err() || time.len() != 5 {
        return Err(Error::invalid("time must be HH:MM"));
    }
    let topic = b["topic"].as_str().unwrap_or_default().trim().to_string();
    if topic.chars().count() > 200 {
        return Err(Error::invalid("topic must be at most 200 characters"));
    }
    let booking = Booking {
        id: format!("c{:012}", store::next_seq()?),
        openid: openid.clone(),
        date: date.to_string(),
        time: time.to_string(),
        topic,
        level: s.level,
        at: now_ms(),
    };
    let record = serde_json::to_vec(&booking)
        .map_err(|e| Error::internal(format!("cannot encode a booking: {e}")))?;
    let slot = format!("slot:{date}T{time}");
    match storage::batch(
        &[Check::absent(&slot)],
        &[
            Write::set(&slot, booking.id.clone()),
            Write::set(format!("consult:{}", booking.id), record),
        ],
    )? {
        BatchOutcome::Applied => Ok((
            json!({ "booking": booking }),
            format!("已预约 {date} {time} / Booked for {date} {time}"),
        )),
        BatchOutcome::CheckFailed(_) => Err(Error::conflict(format!(
            "{date} {time} is already booked / 该时段已被预约"
        ))),
    }
}

fn path_openid(r: &Request<'_>) -> Result<String> {
    let openid = r.param("openid");
    if openid.is_empty() || openid.len() > 128 {
        return Err(Error::invalid("openid must be 1 to 128 characters"));
    }
    Ok(openid.to_string())
}

fn member_details(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = path_openid(r)?;
    let config: Config = config::parse()?;
    let lots: Vec<Value> = store::lots(&openid)?
        .into_iter()
        .filter(|(_, p)| *p > 0)
        .map(|(month, points)| {
            json!({ "month": month, "points": points,
                    "expires_on": config.lot_expires_on(&month).map(|d| d.to_string()) })
        })
        .collect();
    Ok(HttpResponse::json(
        200,
        &json!({
            "status": members::status(&openid, &config, today(r))?,
            "record": store::member(&openid)?,
            "lots": lots,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Adjustment {
    points: i64,
    reason: String,
    #[serde(default)]
    growth: i64,
}

/// Adds or takes points (and optionally growth), recording who (the operator token's name the
/// host forwards) and why. Taking more than the balance is refused (409).
fn adjust(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = path_openid(r)?;
    let a: Adjustment = r.json()?;
    let reason = a.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::invalid(
            "reason is required (1 to 200 characters): every adjustment says why",
        ));
    }
    if a.points == 0 || a.points.abs() > 1_000_000_000 || a.growth.abs() > 1_000_000_000 {
        return Err(Error::invalid(
            "points must be non-zero and at most 1000000000 either way (growth too)",
        ));
    }
    let by = r
        .http
        .header(OPERATOR_HEADER)
        .filter(|v| !v.is_empty())
        .unwrap_or("operator")
        .to_string();
    let config: Config = config::parse()?;
    let today = today(r);
    store::ensure_member(&openid, today, &config)?;
    let entry = LedgerEntry {
        at: now_ms(),
        delta: a.points,
        growth: a.growth,
        kind: "adjust".into(),
        reason,
        by: Some(by.clone()),
    };
    if a.points > 0 {
        store::earn(&openid, a.points, a.growth, today, &entry, None)?;
    } else {
        let growth_key = store::growth_key(&openid);
        let (checks, writes) = if a.growth != 0 {
            (
                vec![Check::counter_at_least(&growth_key, (-a.growth).max(0))],
                vec![Write::increment(&growth_key, a.growth)],
            )
        } else {
            (Vec::new(), Vec::new())
        };
        match store::spend(&openid, -a.points, &checks, &writes, &entry)? {
            Spent::Done => {}
            Spent::Insufficient => {
                return Err(Error::conflict(
                    "the member has fewer points than that; the balance never goes negative",
                ));
            }
            Spent::CheckFailed(_) => {
                return Err(Error::conflict("growth would go negative"));
            }
        }
    }
    members::emit_points_changed(&openid, a.points, "adjust");
    members::sync_level(&openid, &config)?;
    Ok(HttpResponse::json(
        200,
        &json!({
            "points": store::counter(&store::points_key(&openid))?,
            "growth": store::counter(&store::growth_key(&openid))?,
            "by": by,
        }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Renewal {
    months: Option<u32>,
}

fn renew(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = path_openid(r)?;
    let renewal: Renewal = if r.http.body.is_empty() {
        Renewal::default()
    } else {
        r.json()?
    };
    let config: Config = config::parse()?;
    let months = renewal.months.unwrap_or(config.membership_term_months);
    if months == 0 || months > 1200 {
        return Err(Error::invalid("months must be 1 to 1200"));
    }
    let today = today(r);
    store::ensure_member(&openid, today, &config)?;
    let member = store::update_member(&openid, |m| {
        let from = rules::parse_date(&m.expires_on)
            .filter(|end| *end > today)
            .unwrap_or(today);
        if let Some(end) = from.checked_add_months(chrono::Months::new(months)) {
            m.expires_on = end.to_string();
        }
    })?;
    Ok(HttpResponse::json(200, &member))
}

#[derive(Serialize)]
struct CatalogueItem {
    #[serde(flatten)]
    reward: Reward,
    stock: i64,
}

fn catalogue() -> Result<Vec<CatalogueItem>> {
    store::rewards()?
        .into_iter()
        .map(|reward| {
            let stock = store::counter(&store::stock_key(&reward.id))?;
            Ok(CatalogueItem { reward, stock })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RewardBody {
    name: String,
    #[serde(default)]
    description: String,
    cost: i64,
    /// Sets the stock (absolute); omitted keeps it.
    stock: Option<i64>,
}

fn put_reward(r: &Request<'_>) -> Result<HttpResponse> {
    let id = r.param("id");
    if id.is_empty()
        || id.len() > 40
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "a reward id is 1 to 40 letters, digits, '-' or '_'",
        ));
    }
    let b: RewardBody = r.json()?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(Error::invalid("name must be 1 to 60 characters"));
    }
    if b.description.chars().count() > 500 {
        return Err(Error::invalid("description must be at most 500 characters"));
    }
    if !(1..=1_000_000_000).contains(&b.cost) {
        return Err(Error::invalid("cost must be 1 to 1000000000 points"));
    }
    if b.stock.is_some_and(|s| !(0..=1_000_000_000).contains(&s)) {
        return Err(Error::invalid("stock must be 0 to 1000000000"));
    }
    let reward = Reward {
        id: id.to_string(),
        name,
        description: b.description,
        cost: b.cost,
    };
    store::save_reward(&reward)?;
    if let Some(stock) = b.stock {
        storage::set(&store::stock_key(id), stock.to_string())?;
    }
    let stock = store::counter(&store::stock_key(id))?;
    Ok(HttpResponse::json(200, &CatalogueItem { reward, stock }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct DailyBody {
    date: Option<String>,
}

/// Runs the daily job for a day now (the cron job does it at 00:05): to catch up by hand, and
/// how tests drive points expiry and reminders without waiting for midnight.
fn daily(r: &Request<'_>) -> Result<HttpResponse> {
    let body: DailyBody = if r.http.body.is_empty() {
        DailyBody::default()
    } else {
        r.json()?
    };
    let date = match body.date {
        Some(d) => {
            rules::parse_date(&d).ok_or_else(|| Error::invalid("date must be YYYY-MM-DD"))?
        }
        None => today(r),
    };
    let config: Config = config::parse()?;
    Ok(HttpResponse::json(
        200,
        &members::run_daily(&config, date, now_ms())?,
    ))
}

/// The member card: level, points, growth to the next level, benefits, check-in, rewards with a
/// redeem button, birthday, and consultation booking for the levels that offer it.
fn card(r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?;
    let config: Config = config::parse()?;
    let today = today(r);
    store::ensure_member(openid, today, &config)?;
    members::sync_level(openid, &config)?;
    let s = members::status(openid, &config, today)?;
    let member = store::member(openid)?;
    let ttl = link_ttl(&config);
    let url = |path: &str| links::follower_url(openid, path, ttl);
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>我的会员卡 · My member card</h1><section class=\"card\"><p><strong>{}</strong>{}</p>\
         <p>积分 Points: <strong id=\"points\">{}</strong> · 成长值 Growth: {}</p>",
        escape(&s.level_name),
        if s.member {
            ""
        } else {
            " <span class=\"error\">(已过期 expired)</span>"
        },
        s.points,
        s.growth
    ));
    match (&s.next_level, s.growth_to_next) {
        (Some(next), Some(missing)) => body.push_str(&format!(
            "<p class=\"muted\">再获得 {missing} 成长值升级为 {n} · {missing} more growth to {n}</p>",
            n = escape(next)
        )),
        _ => body.push_str("<p class=\"muted\">已是最高等级 · Top level</p>"),
    }
    if let Some(m) = &member {
        body.push_str(&format!(
            "<p class=\"muted\">有效期至 Valid until {}</p>",
            escape(&m.expires_on)
        ));
    }
    body.push_str("</section><section><h2>会员权益 Benefits</h2><ul>");
    let mut benefits = Vec::new();
    if s.discount_percent > 0 {
        benefits.push(format!(
            "购物 {} 折优惠 · {}% off in the shop",
            escape(&format_discount(s.discount_percent)),
            s.discount_percent
        ));
    }
    if s.priority_service {
        benefits.push("优先客服 · Priority customer service".into());
    }
    if s.exclusive_content {
        benefits.push("专属内容 · Exclusive content".into());
    }
    if s.consultation {
        benefits.push("一对一咨询 · 1-on-1 consultation".into());
    }
    if benefits.is_empty() {
        benefits
            .push("签到和购物赚积分，兑换礼品 · Earn points by checking in and shopping".into());
    }
    for b in benefits {
        body.push_str(&format!("<li>{b}</li>"));
    }
    body.push_str("</ul></section>");
    body.push_str(&format!(
        "<section><h2>每日签到 Daily check-in</h2><form method=\"post\" action=\"{}\">\
         <button type=\"submit\">签到 Check in</button></form></section>",
        escape(&url("/me/checkin")?)
    ));
    let rewards = catalogue()?;
    body.push_str("<section><h2>积分兑换 Rewards</h2>");
    if rewards.is_empty() {
        body.push_str("<p class=\"muted\">暂无礼品 · No rewards yet</p>");
    }
    for item in &rewards {
        let action = url(&format!("/me/rewards/{}/redeem", item.reward.id))?;
        body.push_str(&format!(
            "<div class=\"card\"><p><strong>{}</strong> — {} 积分 points · 库存 stock {}</p><p class=\"muted\">{}</p>\
             <form method=\"post\" action=\"{}\"><button type=\"submit\"{}>兑换 Redeem</button></form></div>",
            escape(&item.reward.name),
            item.reward.cost,
            item.stock,
            escape(&item.reward.description),
            escape(&action),
            if item.stock > 0 && s.points >= item.reward.cost { "" } else { " disabled" }
        ));
    }
    body.push_str("</section>");
    let birthday = member
        .as_ref()
        .and_then(|m| m.birthday.clone())
        .unwrap_or_default();
    body.push_str(&format!(
        "<section><h2>生日 Birthday</h2><form method=\"post\" action=\"{}\">\
         <input name=\"birthday\" placeholder=\"MM-DD\" value=\"{}\" pattern=\"\\d{{2}}-\\d{{2}}\" required> \
         <button type=\"submit\">保存 Save</button></form></section>",
        escape(&url("/me/birthday")?),
        escape(&birthday)
    ));
    if s.consultation {
        body.push_str(&format!(
            "<section><h2>一对一咨询 1-on-1 consultation</h2><form method=\"post\" action=\"{}\">\
             <p><input type=\"date\" name=\"date\" required> <input type=\"time\" name=\"time\" required></p>\
             <p><input name=\"topic\" placeholder=\"咨询内容 Topic\" maxlength=\"200\"></p>\
             <button type=\"submit\">预约 Book</button></form></section>",
            escape(&url("/me/consultations")?)
        ));
    }
    let history = store::ledger(openid, 10)?;
    if !history.is_empty() {
        body.push_str("<section><h2>积分记录 History</h2><table>");
        for e in history {
            body.push_str(&format!(
                "<tr><td>{:+}</td><td>{}</td></tr>",
                e.delta,
                escape(&e.reason)
            ));
        }
        body.push_str("</table></section>");
    }
    Ok(html::page(
        200,
        html::document("zh-CN", "会员卡 Member card", &body),
    ))
}

/// 10% off is "9折" in Chinese shops; 15% off "8.5折".
fn format_discount(percent_off: u8) -> String {
    let pay = 100u32.saturating_sub(u32::from(percent_off));
    if pay % 10 == 0 {
        format!("{}", pay / 10)
    } else {
        format!("{}.{}", pay / 10, pay % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::format_discount;

    #[test]
    fn discounts_read_as_chinese_shops_write_them() {
        assert_eq!(format_discount(10), "9");
        assert_eq!(format_discount(15), "8.5");
        assert_eq!(format_discount(0), "10");
    }
}
