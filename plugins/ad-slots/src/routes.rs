//! The HTTP API (operator, brand and public routes), the queries other plugins ask, and the
//! timers. See README.md for the reference.

use std::collections::BTreeSet;

use plaza_sdk::html::{self, escape};
use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::storage;
use plaza_sdk::{
    CallContext, Error, HttpRequest, HttpResponse, Result, config, plugins, scheduling,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::{
    Ad, Brand, Campaign, CampaignRequest, CampaignState, Config, Slot, check_id, days_between,
    local_day, timezone,
};
use crate::report::{self, Day};
use crate::serving::{self, LiveCampaign};
use crate::store::{self, now_ms, rebuild_index};

/// Hourly: re-materialise segments, rebuild the index (CTR-based ranks), prune old markers.
const REFRESH_CRON: &str = "17 * * * *";
const REFRESH: &[u8] = b"refresh";
/// Ads accepted by one `POST /ads/import`.
const IMPORT_MAX: usize = 1000;

fn cfg() -> Result<Config> {
    config::parse()
}

pub fn install() -> Result<()> {
    store::tracking_key()?;
    let already = scheduling::list()?.iter().any(|j| j.payload == REFRESH);
    if !already {
        scheduling::every(REFRESH_CRON, REFRESH)?;
    }
    Ok(())
}

pub fn http(ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
    Router::new()
        // Serving and tracking.
        .get("/serve", Access::Public, serve)
        .get("/i/{token}", Access::Public, |r| {
            let tracked = serving::impression(&cfg()?, r.param("token"))?;
            Ok(pixel(tracked.billable).with_header("x-ad-excluded", tracked.reason))
        })
        .get("/c/{token}", Access::Public, |r| {
            let tracked = serving::click(&cfg()?, r.param("token"))?;
            let to = tracked.landing_url.unwrap_or_default();
            Ok(HttpResponse::new(302)
                .with_header("location", to)
                .with_header("cache-control", "no-store")
                .with_header(
                    "x-ad-billable",
                    if tracked.billable { "true" } else { "false" },
                )
                .with_header("x-ad-excluded", tracked.reason))
        })
        // Slots.
        .get("/slots", Access::Operator, |_| {
            list_json::<Slot>("slot:", "slots")
        })
        .post("/slots", Access::Operator, |r| put_slot(r.json()?, true))
        .get("/slots/{id}", Access::Operator, |r| {
            get_json_or_404::<Slot>("slot", r.param("id"))
        })
        .put("/slots/{id}", Access::Operator, |r| {
            let mut slot: Slot = r.json()?;
            slot.id = r.param("id").to_string();
            put_slot(slot, false)
        })
        .delete("/slots/{id}", Access::Operator, |r| {
            delete("slot", r.param("id"))
        })
        // Ads.
        .get("/ads", Access::Operator, |_| list_ads())
        .post("/ads", Access::Operator, |r| put_ads(vec![r.json()?], true))
        .post("/ads/import", Access::Operator, |r| {
            #[derive(Deserialize)]
            struct Import {
                ads: Vec<Ad>,
            }
            let import: Import = r.json()?;
            put_ads(import.ads, false)
        })
        .get("/ads/{id}", Access::Operator, |r| get_ad(r.param("id")))
        .put("/ads/{id}", Access::Operator, |r| {
            let mut ad: Ad = r.json()?;
            ad.id = r.param("id").to_string();
            put_ads(vec![ad], false)
        })
        .delete("/ads/{id}", Access::Operator, |r| {
            let resp = delete("ad", r.param("id"))?;
            rebuild_index(&cfg()?, now_ms())?;
            Ok(resp)
        })
        // Reports.
        .get("/", Access::Operator, dashboard)
        .get("/report", Access::Operator, |r| {
            let (from, to) = range(r)?;
            Ok(HttpResponse::json(200, &report_json(&from, &to)?))
        })
        .get("/report.svg", Access::Operator, |r| {
            let (from, to) = range(r)?;
            let days = collect_days(&from, &to)?;
            Ok(HttpResponse::text(200, report::svg(&days))
                .with_header("content-type", "image/svg+xml"))
        })
        .get("/ledger", Access::Operator, ledger)
        // 互选: brands and campaigns.
        .post("/brands", Access::Operator, |r| create_brand(r.json()?))
        .get("/brands", Access::Operator, |_| list_brands())
        .get("/campaigns", Access::Operator, |_| list_campaigns(None))
        .get("/campaigns/{id}", Access::Operator, |r| {
            campaign_report(r.param("id"), None)
        })
        .post("/campaigns/{id}/accept", Access::Operator, |r| {
            accept(r.param("id"))
        })
        .post("/campaigns/{id}/decline", Access::Operator, |r| {
            #[derive(Deserialize, Default)]
            struct Why {
                #[serde(default)]
                reason: String,
            }
            let why: Why = if r.http.body.is_empty() {
                Why::default()
            } else {
                r.json()?
            };
            decline(r.param("id"), why.reason)
        })
        .post("/campaigns/{id}/settle", Access::Operator, |r| {
            let c = settle(r.param("id"), true)?;
            Ok(HttpResponse::json(200, &campaign_json(&c, now_ms())?))
        })
        .post("/brand/campaigns", Access::Public, |r| {
            let brand = brand_of(r)?;
            submit(&brand, r.json()?)
        })
        .get("/brand/campaigns", Access::Public, |r| {
            let brand = brand_of(r)?;
            list_campaigns(Some(&brand.id))
        })
        .get("/brand/campaigns/{id}", Access::Public, |r| {
            let brand = brand_of(r)?;
            campaign_report(r.param("id"), Some(&brand.id))
        })
        .handle(ctx, &req)
}

/// A 1×1 transparent GIF.
fn pixel(billable: bool) -> HttpResponse {
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
    HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: GIF.to_vec(),
    }
    .with_header("content-type", "image/gif")
    .with_header("cache-control", "no-store")
    .with_header("x-ad-billable", if billable { "true" } else { "false" })
}

/// `GET /serve?slot=ID[&format=html]`: one decision for the follower of the signed link (or an
/// anonymous viewer).
fn serve(r: &Request) -> Result<HttpResponse> {
    let slot = r
        .query("slot")
        .ok_or_else(|| Error::invalid("slot is required: /serve?slot=ID"))?;
    check_id("slot", &slot)?;
    let served = serving::decide(r.ctx, &slot, r.ctx.follower.as_deref())?;
    if r.query("format").as_deref() == Some("html") {
        let body = served.as_ref().map(serving::snippet).unwrap_or_default();
        return Ok(html::page(200, html::document("zh-CN", "广告 Ad", &body))
            .with_header("cache-control", "no-store"));
    }
    Ok(
        HttpResponse::json(200, &serving::served_json(served.as_ref()))
            .with_header("cache-control", "no-store"),
    )
}

fn get_json_or_404<T: serde::de::DeserializeOwned + serde::Serialize>(
    what: &str,
    id: &str,
) -> Result<HttpResponse> {
    let value: T = storage::get_json(&format!("{what}:{id}"))?
        .ok_or_else(|| Error::not_found(format!("no {what} {id:?}")))?;
    Ok(HttpResponse::json(200, &value))
}

fn list_json<T: serde::de::DeserializeOwned + serde::Serialize>(
    prefix: &str,
    field: &str,
) -> Result<HttpResponse> {
    let mut items = Vec::new();
    for item in storage::scan_prefix_json::<T>(prefix) {
        items.push(item?.1);
    }
    Ok(HttpResponse::json(200, &json!({ field: items })))
}

fn delete(what: &str, id: &str) -> Result<HttpResponse> {
    if !storage::delete(&format!("{what}:{id}"))? {
        return Err(Error::not_found(format!("no {what} {id:?}")));
    }
    Ok(HttpResponse::new(204))
}

fn put_slot(slot: Slot, create: bool) -> Result<HttpResponse> {
    slot.validate()?;
    let key = format!("slot:{}", slot.id);
    let bytes = serde_json::to_vec(&slot).map_err(|e| Error::internal(e.to_string()))?;
    if create {
        if !storage::compare_and_swap(&key, None, Some(&bytes))? {
            return Err(Error::conflict(format!(
                "slot {:?} exists; PUT /slots/{} to change it",
                slot.id, slot.id
            )));
        }
        return Ok(HttpResponse::json(201, &slot));
    }
    storage::set(&key, bytes)?;
    Ok(HttpResponse::json(200, &slot))
}

/// Validates and stores ads (every one is validated before any is stored), materialises their
/// segments (an invalid expression is refused here), then rebuilds the index once.
fn put_ads(ads: Vec<Ad>, create: bool) -> Result<HttpResponse> {
    if ads.is_empty() || ads.len() > IMPORT_MAX {
        return Err(Error::invalid(format!(
            "ads: 1 to {IMPORT_MAX} ads per request"
        )));
    }
    let mut ids = BTreeSet::new();
    for (i, ad) in ads.iter().enumerate() {
        ad.validate().map_err(|e| {
            if ads.len() == 1 {
                e
            } else {
                Error::invalid(format!("ads[{i}]: {}", e.message()))
            }
        })?;
        if !ids.insert(ad.id.clone()) {
            return Err(Error::invalid(format!(
                "ads[{i}]: id {:?} appears twice",
                ad.id
            )));
        }
    }
    let segments: BTreeSet<&str> = ads
        .iter()
        .filter_map(|a| a.targeting.segment.as_deref())
        .collect();
    for segment in segments {
        store::materialise_segment(segment).map_err(|e| match e {
            Error::Invalid(m) => Error::invalid(format!("targeting.segment: {m}")),
            other => other,
        })?;
    }
    for ad in &ads {
        let key = format!("ad:{}", ad.id);
        let bytes = serde_json::to_vec(ad).map_err(|e| Error::internal(e.to_string()))?;
        if create {
            if !storage::compare_and_swap(&key, None, Some(&bytes))? {
                return Err(Error::conflict(format!(
                    "ad {:?} exists; PUT /ads/{} to change it",
                    ad.id, ad.id
                )));
            }
        } else {
            storage::set(&key, bytes)?;
        }
    }
    let meta = rebuild_index(&cfg()?, now_ms())?;
    if create && ads.len() == 1 {
        return ad_response(201, &ads[0]);
    }
    if ads.len() == 1 {
        return ad_response(200, &ads[0]);
    }
    Ok(HttpResponse::json(
        200,
        &json!({ "stored": ads.len(), "indexed": meta.ads, "chunks": meta.chunks }),
    ))
}

fn spend(ad: &Ad) -> Result<Value> {
    let spent = -store::counter(&format!("neg:{}", ad.id))?;
    Ok(json!({
        "spent_millicents": spent,
        "spent_cents": spent as f64 / 1000.0,
        "budget_left_cents": (ad.budget_cents as i64 * 1000 - spent) as f64 / 1000.0,
        "impressions": store::counter(&format!("adstat:{}:imp", ad.id))?,
        "clicks": store::counter(&format!("adstat:{}:clk", ad.id))?,
    }))
}

fn ad_response(status: u16, ad: &Ad) -> Result<HttpResponse> {
    let mut v = serde_json::to_value(ad).map_err(|e| Error::internal(e.to_string()))?;
    v["delivery"] = spend(ad)?;
    Ok(HttpResponse::json(status, &v))
}

fn get_ad(id: &str) -> Result<HttpResponse> {
    let ad: Ad = storage::get_json(&format!("ad:{id}"))?
        .ok_or_else(|| Error::not_found(format!("no ad {id:?}")))?;
    ad_response(200, &ad)
}

fn list_ads() -> Result<HttpResponse> {
    let mut ads = Vec::new();
    for item in storage::scan_prefix_json::<Ad>("ad:") {
        let (_, ad) = item?;
        ads.push(json!({
            "id": ad.id, "title": ad.creative.title, "billing": ad.billing,
            "price_cents": ad.price_cents, "budget_cents": ad.budget_cents, "active": ad.active,
        }));
    }
    let meta: store::IndexMeta = storage::get_json("index:meta")?.unwrap_or_default();
    Ok(HttpResponse::json(
        200,
        &json!({ "ads": ads, "indexed": meta.ads }),
    ))
}

fn range(r: &Request) -> Result<(String, String)> {
    let today = local_day(now_ms(), timezone(&r.ctx.account.timezone));
    let to = r.query("to").unwrap_or_else(|| today.clone());
    let from = r.query("from").unwrap_or_else(|| to.clone());
    Ok((from, to))
}

fn collect_days(from: &str, to: &str) -> Result<Vec<Day>> {
    let mut out = Vec::new();
    for day in days_between(from, to, 92)? {
        let mut d = Day::new(&day);
        let prefix = format!("st:{day}:");
        for entry in storage::scan_prefix(&prefix) {
            let entry = entry?;
            let n: i64 = String::from_utf8_lossy(&entry.value)
                .trim()
                .parse()
                .unwrap_or(0);
            d.add(&entry.key[prefix.len()..], n);
        }
        out.push(d);
    }
    Ok(out)
}

fn report_json(from: &str, to: &str) -> Result<Value> {
    let days = collect_days(from, to)?;
    let totals = report::totals(&days);
    Ok(json!({ "from": from, "to": to, "totals": totals, "days": days }))
}

/// The operator page: the chart and a table per day.
fn dashboard(r: &Request) -> Result<HttpResponse> {
    let today = local_day(now_ms(), timezone(&r.ctx.account.timezone));
    let to = r.query("to").unwrap_or(today);
    let from = match r.query("from") {
        Some(f) => f,
        None => {
            let end = chrono::NaiveDate::parse_from_str(&to, "%Y-%m-%d")
                .map_err(|_| Error::invalid("to must be a date YYYY-MM-DD"))?;
            (end - chrono::Duration::days(13))
                .format("%Y-%m-%d")
                .to_string()
        }
    };
    let days = collect_days(&from, &to)?;
    let t = report::totals(&days);
    let mut rows = String::new();
    for d in days.iter().rev() {
        let excluded: i64 = d.total.excluded.values().sum();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>¥{:.2}</td></tr>",
            escape(&d.day), d.total.impressions, d.total.billable_impressions, d.total.clicks,
            d.total.billable_clicks, excluded, d.total.revenue_millicents as f64 / 100_000.0
        ));
    }
    let reasons: String = t
        .excluded
        .iter()
        .map(|(k, v)| format!("<li>{}: {v}</li>", escape(k)))
        .collect();
    let body = format!(
        "<h1>广告收入 Ad revenue</h1><p class=\"muted\">{from} – {to}</p><section>{svg}</section>\
<section><p>收入 Revenue: <strong>¥{rev:.2}</strong> · 曝光 Impressions {imp} (计费 billable {bimp}) · 点击 Clicks {clk} (计费 billable {bclk})</p>\
<p>排除 Excluded from billing:</p><ul>{reasons}</ul></section>\
<section><table><tr><th>日期 Day</th><th>曝光 Impr.</th><th>计费 Billable</th><th>点击 Clicks</th><th>计费 Billable</th><th>排除 Excluded</th><th>收入 Revenue</th></tr>{rows}</table></section>",
        from = escape(&from),
        to = escape(&to),
        svg = report::svg(&days),
        rev = t.revenue_millicents as f64 / 100_000.0,
        imp = t.impressions,
        bimp = t.billable_impressions,
        clk = t.clicks,
        bclk = t.billable_clicks,
    );
    Ok(html::page(
        200,
        html::document("zh-CN", "广告收入 Ad revenue", &body),
    ))
}

fn ledger(r: &Request) -> Result<HttpResponse> {
    let (_, day) = range(r)?;
    let day = r.query("day").unwrap_or(day);
    days_between(&day, &day, 1)?;
    let mut entries = Vec::new();
    for item in storage::scan_prefix_json::<Value>(&format!("led:{day}:")) {
        entries.push(item?.1);
    }
    Ok(HttpResponse::json(
        200,
        &json!({ "day": day, "entries": entries }),
    ))
}

// ---- 互选 ----

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn create_brand(body: Value) -> Result<HttpResponse> {
    let name = body["name"].as_str().unwrap_or("").trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::invalid("name must be 1 to 80 characters"));
    }
    let id = match body["id"].as_str() {
        Some(id) => {
            check_id("id", id)?;
            id.to_string()
        }
        None => format!("b{}", hex::encode(store::random_bytes(6)?)),
    };
    let key = format!("{id}.{}", hex::encode(store::random_bytes(24)?));
    let brand = Brand {
        id: id.clone(),
        name,
        key_sha256: sha256_hex(&key),
        key_hint: key[key.len() - 4..].to_string(),
        created_at: now_ms(),
    };
    let bytes = serde_json::to_vec(&brand).map_err(|e| Error::internal(e.to_string()))?;
    if !storage::compare_and_swap(&format!("brand:{id}"), None, Some(&bytes))? {
        return Err(Error::conflict(format!("brand {id:?} exists")));
    }
    Ok(HttpResponse::json(
        201,
        &json!({ "id": id, "name": brand.name, "key": key,
                 "note": "此密钥只显示一次 The key is shown once: give it to the brand." }),
    ))
}

fn list_brands() -> Result<HttpResponse> {
    let mut out = Vec::new();
    for item in storage::scan_prefix_json::<Brand>("brand:") {
        let (_, b) = item?;
        out.push(json!({ "id": b.id, "name": b.name, "key": format!("…{}", b.key_hint), "created_at": b.created_at }));
    }
    Ok(HttpResponse::json(200, &json!({ "brands": out })))
}

/// The brand named by the `x-brand-key` header (or `authorization: Bearer`), else 401.
fn brand_of(r: &Request) -> Result<Brand> {
    let key = r
        .http
        .header("x-brand-key")
        .map(str::to_string)
        .or_else(|| {
            r.http
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(str::to_string)
        })
        .ok_or_else(|| Error::permission_denied("a brand key is required (header x-brand-key)"))?;
    let denied = || Error::permission_denied("unknown brand key");
    let (id, _) = key.split_once('.').ok_or_else(denied)?;
    check_id("brand", id).map_err(|_| denied())?;
    let brand: Brand = storage::get_json(&format!("brand:{id}"))?.ok_or_else(denied)?;
    if !bool::from(
        sha256_hex(&key)
            .as_bytes()
            .ct_eq(brand.key_sha256.as_bytes()),
    ) {
        return Err(denied());
    }
    Ok(brand)
}

fn submit(brand: &Brand, request: CampaignRequest) -> Result<HttpResponse> {
    request.validate()?;
    if storage::get(&format!("slot:{}", request.slot))?.is_none() {
        return Err(Error::invalid(format!(
            "slot: no slot {:?} on this account",
            request.slot
        )));
    }
    let now = now_ms();
    let c = Campaign {
        id: format!("c{}", hex::encode(store::random_bytes(6)?)),
        brand: brand.id.clone(),
        request,
        state: CampaignState::Submitted,
        decline_reason: None,
        settlement: None,
        created_at: now,
    };
    storage::set_json(&format!("camp:{}", c.id), &c)?;
    Ok(HttpResponse::json(201, &campaign_json(&c, now)?))
}

fn delivery(id: &str) -> Result<Value> {
    Ok(json!({
        "billable_impressions": store::counter(&format!("cst:{id}:bimp"))?,
        "billable_clicks": store::counter(&format!("cst:{id}:bclk"))?,
    }))
}

fn campaign_json(c: &Campaign, now: u64) -> Result<Value> {
    let mut v = serde_json::to_value(c).map_err(|e| Error::internal(e.to_string()))?;
    v["status"] = json!(c.status(now));
    v["delivery"] = delivery(&c.id)?;
    Ok(v)
}

fn load_campaign(id: &str, brand: Option<&str>) -> Result<Campaign> {
    check_id("campaign", id)?;
    let c: Campaign = storage::get_json(&format!("camp:{id}"))?
        .ok_or_else(|| Error::not_found(format!("no campaign {id:?}")))?;
    if brand.is_some_and(|b| b != c.brand) {
        return Err(Error::not_found(format!("no campaign {id:?}")));
    }
    Ok(c)
}

fn list_campaigns(brand: Option<&str>) -> Result<HttpResponse> {
    let now = now_ms();
    let mut out = Vec::new();
    for item in storage::scan_prefix_json::<Campaign>("camp:") {
        let (_, c) = item?;
        if brand.is_none_or(|b| b == c.brand) {
            out.push(campaign_json(&c, now)?);
        }
    }
    Ok(HttpResponse::json(200, &json!({ "campaigns": out })))
}

/// The campaign with its delivery (billable impressions/clicks) and per-day figures.
fn campaign_report(id: &str, brand: Option<&str>) -> Result<HttpResponse> {
    let c = load_campaign(id, brand)?;
    let tz = timezone(&plaza_sdk::accounts::current().timezone);
    let now = now_ms();
    let from = local_day(c.request.starts, tz);
    let to = local_day(c.request.ends.min(now).max(c.request.starts), tz);
    let mut days = Vec::new();
    if let Ok(range) = days_between(&from, &to, 92) {
        for day in range {
            let prefix = format!("st:{day}:camp/{id}:");
            let mut d = Day::new(&day);
            for entry in storage::scan_prefix(&prefix) {
                let entry = entry?;
                let n: i64 = String::from_utf8_lossy(&entry.value)
                    .trim()
                    .parse()
                    .unwrap_or(0);
                d.add(&format!("all:{}", &entry.key[prefix.len()..]), n);
            }
            days.push(json!({ "day": day, "figures": d.total }));
        }
    }
    let mut v = campaign_json(&c, now)?;
    v["days"] = json!(days);
    Ok(HttpResponse::json(200, &v))
}

fn accept(id: &str) -> Result<HttpResponse> {
    let c = load_campaign(id, None)?;
    if c.state != CampaignState::Submitted {
        return Err(Error::conflict(format!(
            "campaign {id:?} is {}; only a submitted campaign can be accepted",
            c.status(now_ms())
        )));
    }
    storage::update_json("campidx", |live: Option<Vec<LiveCampaign>>| {
        let mut live = live.unwrap_or_default();
        if let Some(other) = live.iter().find(|o| {
            o.slot == c.request.slot && o.starts < c.request.ends && c.request.starts < o.ends
        }) {
            return Err(Error::conflict(format!(
                "slot {:?} is booked by campaign {:?} over these dates",
                c.request.slot, other.id
            )));
        }
        live.retain(|o| o.id != c.id);
        live.push(LiveCampaign {
            id: c.id.clone(),
            slot: c.request.slot.clone(),
            starts: c.request.starts,
            ends: c.request.ends,
        });
        Ok(Some(live))
    })?;
    let updated = transition(id, CampaignState::Submitted, |c| {
        c.state = CampaignState::Accepted;
    })?;
    scheduling::at(updated.request.ends, format!("settle:{id}"))?;
    Ok(HttpResponse::json(200, &campaign_json(&updated, now_ms())?))
}

fn decline(id: &str, reason: String) -> Result<HttpResponse> {
    if reason.chars().count() > 500 {
        return Err(Error::invalid("reason: at most 500 characters"));
    }
    let c = transition(id, CampaignState::Submitted, |c| {
        c.state = CampaignState::Declined;
        c.decline_reason = Some(reason.clone());
    })?;
    Ok(HttpResponse::json(200, &campaign_json(&c, now_ms())?))
}

/// Changes a campaign that is in `from` (a CAS: two operators cannot both move it).
fn transition(id: &str, from: CampaignState, mut f: impl FnMut(&mut Campaign)) -> Result<Campaign> {
    load_campaign(id, None)?;
    let now = now_ms();
    let c = storage::update_json(&format!("camp:{id}"), |c: Option<Campaign>| {
        let mut c = c.ok_or_else(|| Error::not_found(format!("no campaign {id:?}")))?;
        if c.state != from {
            return Err(Error::conflict(format!(
                "campaign {id:?} is {}, not {:?}",
                c.status(now),
                from
            )));
        }
        f(&mut c);
        Ok(Some(c))
    })?;
    c.ok_or_else(|| Error::internal("campaign vanished"))
}

/// Settles an accepted campaign after its end: amount = min(price, budget), prorated by
/// delivered billable impressions below `requirements.min_impressions`. Recorded in the ledger
/// and the day's revenue. `strict`: an error when it cannot be settled (operator route); the
/// timer ignores an already settled campaign.
fn settle(id: &str, strict: bool) -> Result<Campaign> {
    let c = load_campaign(id, None)?;
    let now = now_ms();
    if c.state != CampaignState::Accepted || now < c.request.ends {
        if !strict {
            return Ok(c);
        }
        return Err(Error::conflict(format!(
            "campaign {id:?} is {}; only an accepted campaign past its end can be settled",
            c.status(now)
        )));
    }
    let bimp = store::counter(&format!("cst:{id}:bimp"))?.max(0) as u64;
    let bclk = store::counter(&format!("cst:{id}:bclk"))?.max(0) as u64;
    let settled = transition(id, CampaignState::Accepted, |c| {
        c.settlement = Some(c.settle(bimp, bclk, now));
        c.state = CampaignState::Settled;
    })?;
    let amount = settled.settlement.as_ref().map_or(0, |s| s.amount_cents) as i64 * 1000;
    let day = local_day(now, timezone(&plaza_sdk::accounts::current().timezone));
    let entry = json!({ "at": now, "day": day, "campaign": id, "brand": settled.brand,
                        "kind": "settlement", "amount_millicents": amount });
    store::apply(
        &[],
        &[
            storage::Write::set(
                format!("led:{day}:{now:013}:{id}:settlement"),
                serde_json::to_vec(&entry).map_err(|e| Error::internal(e.to_string()))?,
            ),
            storage::Write::increment(format!("st:{day}:all:rev"), amount),
            storage::Write::increment(format!("st:{day}:camp/{id}:rev"), amount),
        ],
    )?;
    storage::update_json("campidx", |live: Option<Vec<LiveCampaign>>| {
        let mut live = live.unwrap_or_default();
        live.retain(|o| o.id != id);
        Ok(Some(live))
    })?;
    Ok(settled)
}

pub fn timer(ctx: &CallContext, payload: &[u8]) -> Result<()> {
    if payload == REFRESH {
        let config = cfg()?;
        store::refresh_segments()?;
        let now = now_ms();
        rebuild_index(&config, now)?;
        let tz = timezone(&ctx.account.timezone);
        let keep_days = u64::from(config.token_ttl_hours).div_ceil(24) + 1;
        let keep: BTreeSet<String> = (0..=keep_days)
            .map(|i| local_day(now.saturating_sub(i * 86_400_000), tz))
            .collect();
        store::prune_markers(&keep)?;
        return Ok(());
    }
    if let Some(id) = std::str::from_utf8(payload)
        .ok()
        .and_then(|p| p.strip_prefix("settle:"))
    {
        settle(id, false)?;
    }
    Ok(())
}

// ---- queries ----

#[derive(Deserialize)]
struct RenderQuestion {
    kind: String,
    id: String,
    #[serde(default)]
    openid: Option<String>,
}

pub fn query(ctx: &CallContext, name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    match name {
        "component.render" => {
            let q: RenderQuestion = serde_json::from_slice(payload)
                .map_err(|e| Error::invalid(format!("component.render: {e}")))?;
            if q.kind != "ad" {
                return Err(Error::not_found(format!(
                    "ad-slots renders kind \"ad\", not {:?}",
                    q.kind
                )));
            }
            check_id("id", &q.id)?;
            let openid = q.openid.as_deref().filter(|o| !o.is_empty());
            let served = serving::decide(ctx, &q.id, openid)?;
            let answer = match served {
                None => json!({ "html": "", "url": "" }),
                Some(s) => json!({ "html": serving::snippet(&s), "url": s.click_url }),
            };
            plugins::answer_json(&answer)
        }
        "ad.slots" => {
            let mut slots = Vec::new();
            for item in storage::scan_prefix_json::<Slot>("slot:") {
                let (_, s) = item?;
                slots.push(
                    json!({ "id": s.id, "position": s.position, "style": s.style, "size": s.size }),
                );
            }
            plugins::answer_json(&json!({ "slots": slots }))
        }
        other => Err(Error::not_found(format!(
            "ad-slots answers no query {other:?}"
        ))),
    }
}
