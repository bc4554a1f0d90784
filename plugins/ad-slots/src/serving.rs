//! Serving decisions and tracking through the host: the decision (campaign first, then the
//! inventory), the impression pixel and the click redirect with de-duplication, fraud checks,
//! spend counters and the ledger.

use plaza_sdk::html::escape;
use plaza_sdk::storage::{self, Check, Write};
use plaza_sdk::{CallContext, Error, Result, events, followers, links};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Ad, Billing, Campaign, Config, Creative, Slot, local_day, timezone};
use crate::select::{Entry, Search, Viewer};
use crate::store::{self, IndexMeta, StoreCounters, apply, counter, now_ms};
use crate::tracking::{self, ClickFacts, Decision};

/// An accepted campaign as the decision needs it (`campidx` holds them all, a short list).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LiveCampaign {
    pub id: String,
    pub slot: String,
    pub starts: u64,
    pub ends: u64,
}

/// What a decision answers.
#[derive(Debug, Clone, Serialize)]
pub struct Served {
    /// `ad` (流量主) or `campaign` (互选).
    pub kind: &'static str,
    pub ad: String,
    pub slot: String,
    pub position: crate::model::Position,
    pub style: &'static str,
    pub size: String,
    pub creative: Creative,
    pub image_src: Option<String>,
    pub impression_url: String,
    pub click_url: String,
}

/// The openid public URLs are derived for; never a real follower's.
const PUBLIC_OPENID: &str = "ad-slots-public-url";

/// The absolute URL of this plugin's root (`…/p/{account}/ad-slots`). The host offers no "base
/// URL" call, so this asks for a one-second follower link and keeps the part before the path.
pub fn plugin_base() -> Result<String> {
    let url = links::follower_url(PUBLIC_OPENID, "/", 1)?;
    let cut = url.find('?').unwrap_or(url.len());
    Ok(url[..cut].trim_end_matches('/').to_string())
}

/// Makes one serving decision for `slot_id` and `openid` (anonymous when `None`): a running
/// 互选 campaign of the slot wins; otherwise the eligible inventory ad with the highest expected
/// revenue per impression. `Ok(None)`: nothing eligible.
pub fn decide(ctx: &CallContext, slot_id: &str, openid: Option<&str>) -> Result<Option<Served>> {
    let slot: Slot = storage::get_json(&format!("slot:{slot_id}"))?
        .ok_or_else(|| Error::not_found(format!("no slot {slot_id:?}")))?;
    let now = now_ms();
    let day = local_day(now, timezone(&ctx.account.timezone));

    let live: Vec<LiveCampaign> = storage::get_json("campidx")?.unwrap_or_default();
    let running = live
        .iter()
        .filter(|c| c.slot == slot.id && c.starts <= now && now < c.ends)
        .min_by_key(|c| (c.starts, c.id.clone()));
    let (kind, id, creative) = if let Some(c) = running {
        let campaign: Campaign = storage::get_json(&format!("camp:{}", c.id))?
            .ok_or_else(|| Error::internal(format!("campaign {} is indexed but gone", c.id)))?;
        ("c", campaign.id, campaign.request.creative)
    } else {
        let tags = match openid {
            Some(o) => match followers::get(o) {
                Ok(f) => f.tags,
                Err(Error::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            },
            None => Vec::new(),
        };
        let viewer = Viewer {
            openid,
            tags: &tags,
            now,
            day: &day,
        };
        let Some(winner) = search_inventory(&slot.id, &viewer)? else {
            return Ok(None);
        };
        let Some(ad) = storage::get_json::<Ad>(&format!("ad:{}", winner.id))? else {
            return Ok(None);
        };
        ("a", ad.id, ad.creative)
    };

    let decision = Decision {
        k: kind.into(),
        id: id.clone(),
        slot: slot.id.clone(),
        o: openid.unwrap_or("").into(),
        t: now,
        d: day,
        n: hex::encode(store::random_bytes(12)?),
    };
    let token = tracking::sign(&store::tracking_key()?, &decision)?;
    let base = plugin_base()?;
    Ok(Some(Served {
        kind: if kind == "c" { "campaign" } else { "ad" },
        ad: id,
        slot: slot.id,
        position: slot.position,
        style: slot.style.name(),
        size: slot.size,
        image_src: creative.image_src(&ctx.account.id),
        creative,
        impression_url: format!("{base}/i/{token}"),
        click_url: format!("{base}/c/{token}"),
    }))
}

/// Walks the index chunks best first and returns the winner.
pub fn search_inventory(slot: &str, viewer: &Viewer) -> Result<Option<Entry>> {
    let meta: IndexMeta = storage::get_json("index:meta")?.unwrap_or_default();
    let mut search = Search::new();
    let mut counters = StoreCounters;
    for i in 0..meta.chunks {
        let chunk: Vec<Entry> = storage::get_json(&format!("index:{i}"))?.unwrap_or_default();
        if search.scan(&chunk, slot, viewer, &mut counters)? {
            break;
        }
    }
    Ok(search.winner(viewer))
}

/// The decision as an embeddable snippet: creative, tracked click link, impression pixel, a
/// 广告 label. Everything typed by the operator or brand is escaped; no script.
pub fn snippet(served: &Served) -> String {
    let c = &served.creative;
    let image = served
        .image_src
        .as_ref()
        .filter(|_| served.style != "text")
        .map(|src| {
            format!(
                "<img src=\"{}\" alt=\"\" style=\"width:100%;aspect-ratio:{};object-fit:cover;border-radius:8px\">",
                escape(src),
                escape(&served.size.replace(':', "/"))
            )
        })
        .unwrap_or_default();
    let text = if c.text.is_empty() || served.style == "banner" {
        String::new()
    } else {
        format!("<p style=\"margin:.25rem 0\">{}</p>", escape(&c.text))
    };
    format!(
        "<div class=\"plaza-component plaza-ad plaza-ad-{style}\" data-slot=\"{slot}\" style=\"border:1px solid #eee;border-radius:12px;padding:.75rem;margin:1rem 0;background:#fff\">\
<a href=\"{click}\" rel=\"nofollow sponsored\" style=\"color:inherit;text-decoration:none;display:block\">{image}\
<strong>{title}</strong>{text}</a><small style=\"color:#6e7781\">广告 Ad</small>\
<img src=\"{pixel}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;width:1px;height:1px\"></div>",
        style = served.style,
        slot = escape(&served.slot),
        click = escape(&served.click_url),
        title = escape(&c.title),
        pixel = escape(&served.impression_url),
    )
}

/// Stats counter increments for one tracked event across its scopes.
fn stats(d: &Decision, metric: &str, n: i64) -> Vec<Write> {
    let scope = if d.k == "c" { "camp" } else { "ad" };
    vec![
        Write::increment(format!("st:{}:all:{metric}", d.d), n),
        Write::increment(format!("st:{}:{scope}/{}:{metric}", d.d, d.id), n),
        Write::increment(format!("st:{}:slot/{}:{metric}", d.d, d.slot), n),
    ]
}

/// Emits `ad-slots.impression` / `ad-slots.click` (the host only lets a plugin emit kinds under
/// its own name). A failure to log is not a failure to track: it is logged and tracking goes on.
fn emit(kind: &str, d: &Decision, billable: bool, reason: &str) -> Result<()> {
    let openid = (!d.o.is_empty()).then_some(d.o.as_str());
    let what = if d.k == "c" { "campaign" } else { "ad" };
    let kind = kind.replacen("ad.", "ad-slots.", 1);
    let mut props = vec![
        ("ad", d.id.as_str()),
        ("slot", d.slot.as_str()),
        ("billable", if billable { "true" } else { "false" }),
        ("kind", what),
    ];
    if !reason.is_empty() {
        props.push(("reason", reason));
    }
    if let Err(e) = events::emit(&kind, openid, &props) {
        plaza_sdk::log::warn(format!("{kind} not logged: {}", e.display()));
    }
    Ok(())
}

fn ledger(d: &Decision, kind: &str, amount_mc: i64, now: u64) -> Result<Write> {
    let entry = json!({
        "at": now, "day": d.d, "ad": d.id, "slot": d.slot, "openid": d.o, "kind": kind,
        "amount_millicents": amount_mc, "decision": d.n,
    });
    Ok(Write::set(
        format!("led:{}:{now:013}:{}:{kind}", d.d, d.n),
        serde_json::to_vec(&entry).map_err(|e| Error::internal(e.to_string()))?,
    ))
}

/// Budget checks for charging `charge` milli-cents to `ad` (indices 1 and 2 of the batch).
fn budget_checks(ad: &Ad, d: &Decision, charge: i64) -> Vec<Check> {
    let mut checks = vec![Check::counter_at_least(
        format!("neg:{}", ad.id),
        charge - ad.budget_cents as i64 * 1000,
    )];
    if let Some(daily) = ad.daily_budget_cents {
        checks.push(Check::counter_at_least(
            format!("dneg:{}:{}", ad.id, d.d),
            charge - daily as i64 * 1000,
        ));
    }
    checks
}

fn charge_writes(ad: &Ad, d: &Decision, charge: i64, kind: &str, now: u64) -> Result<Vec<Write>> {
    let mut w = vec![
        Write::increment(format!("neg:{}", ad.id), -charge),
        Write::increment(format!("dneg:{}:{}", ad.id, d.d), -charge),
        ledger(d, kind, charge, now)?,
    ];
    w.extend(stats(d, "rev", charge));
    Ok(w)
}

/// Outcome of one tracked impression or click.
pub struct Tracked {
    pub billable: bool,
    pub reason: &'static str,
    pub landing_url: Option<String>,
}

/// The impression pixel: one billable impression per decision; a CPM ad is charged (spend
/// counter, daily spend, ledger and revenue in one atomic batch) unless its budget ran out.
pub fn impression(config: &Config, token: &str) -> Result<Tracked> {
    let now = now_ms();
    let d = tracking::verify(&store::tracking_key()?, token, now, config)?;
    let seen = format!("seen:{}:i:{}", d.d, d.n);
    let mut common = vec![Write::set(seen.clone(), "1")];
    common.extend(stats(&d, "imp", 1));
    if !d.o.is_empty() {
        common.push(Write::increment(
            format!("freq:{}:{}:{}", d.d, d.id, d.o),
            1,
        ));
        common.push(Write::increment(format!("fu:{}:imp", d.o), 1));
    }
    let mut billable = common.clone();
    billable.extend(stats(&d, "bimp", 1));
    let mut checks = vec![Check::absent(seen.clone())];
    if d.k == "c" {
        billable.push(Write::increment(format!("cst:{}:bimp", d.id), 1));
    } else {
        let ad: Option<Ad> = storage::get_json(&format!("ad:{}", d.id))?;
        let Some(ad) = ad else {
            return record_excluded(&d, "impression", "ad_removed", common, seen, None);
        };
        billable.push(Write::increment(format!("adstat:{}:imp", d.id), 1));
        if ad.billing == Billing::Cpm {
            let charge = ad.charge_millicents();
            checks.extend(budget_checks(&ad, &d, charge));
            billable.extend(charge_writes(&ad, &d, charge, "impression", now)?);
        }
    }
    match apply(&checks, &billable)? {
        None => {
            emit("ad.impression", &d, true, "")?;
            Ok(Tracked {
                billable: true,
                reason: "",
                landing_url: None,
            })
        }
        Some(0) => duplicate(&d, "ad.impression", None),
        Some(_) => record_excluded(&d, "impression", "budget", common, seen, None),
    }
}

fn duplicate(d: &Decision, event: &str, landing_url: Option<String>) -> Result<Tracked> {
    apply(&[], &stats(d, "x.duplicate", 1))?;
    emit(event, d, false, "duplicate")?;
    Ok(Tracked {
        billable: false,
        reason: "duplicate",
        landing_url,
    })
}

/// Records traffic excluded from billing: counted (and the marker set, so a retry is a
/// duplicate), with its reason, but no charge.
fn record_excluded(
    d: &Decision,
    what: &str,
    reason: &'static str,
    mut writes: Vec<Write>,
    marker: String,
    landing_url: Option<String>,
) -> Result<Tracked> {
    writes.extend(stats(d, &format!("x.{reason}"), 1));
    let event = format!("ad.{what}");
    match apply(&[Check::absent(marker)], &writes)? {
        None => {
            emit(&event, d, false, reason)?;
            Ok(Tracked {
                billable: false,
                reason,
                landing_url,
            })
        }
        Some(_) => duplicate(d, &event, landing_url),
    }
}

/// The click redirect: fraud checks first (recorded, not billed when they apply), then one
/// billable click per decision; a CPC ad is charged atomically with its ledger entry.
pub fn click(config: &Config, token: &str) -> Result<Tracked> {
    let now = now_ms();
    let d = tracking::verify(&store::tracking_key()?, token, now, config)?;
    let (landing, ad) = if d.k == "c" {
        let c: Campaign = storage::get_json(&format!("camp:{}", d.id))?
            .ok_or_else(|| Error::not_found("this campaign no longer exists"))?;
        (c.request.creative.landing_url, None)
    } else {
        let ad: Ad = storage::get_json(&format!("ad:{}", d.id))?
            .ok_or_else(|| Error::not_found("this ad no longer exists"))?;
        (ad.creative.landing_url.clone(), Some(ad))
    };
    let marker = format!("seen:{}:c:{}", d.d, d.n);
    let duplicate_click = storage::get(&marker)?.is_some();
    if duplicate_click {
        return duplicate(&d, "ad.click", Some(landing));
    }
    let had_impression = storage::get(&format!("seen:{}:i:{}", d.d, d.n))?.is_some();
    let (clicks_in_window, follower) = if d.o.is_empty() {
        (0, None)
    } else {
        let window = u64::from(config.repeat_click_window_minutes.max(1)) * 60_000;
        let bucket = now / window;
        let n = storage::increment(&format!("rc:{}:{}:{bucket}", d.id, d.o), 1)?;
        let imp = counter(&format!("fu:{}:imp", d.o))?;
        let clk = storage::increment(&format!("fu:{}:clk", d.o), 1)?;
        (
            n.max(0) as u64,
            Some((imp.max(0) as u64, clk.max(0) as u64)),
        )
    };
    let slot_imp = counter(&format!("st:{}:slot/{}:imp", d.d, d.slot))?;
    let slot_clk = counter(&format!("st:{}:slot/{}:clk", d.d, d.slot))? + 1;
    let facts = ClickFacts {
        duplicate: false,
        had_impression,
        clicks_in_window,
        follower,
        slot: (slot_imp.max(0) as u64, slot_clk.max(0) as u64),
    };
    let mut common = vec![Write::set(marker.clone(), "1")];
    common.extend(stats(&d, "clk", 1));
    if let Some(reason) = tracking::click_exclusion(&facts, config) {
        return record_excluded(&d, "click", reason, common, marker, Some(landing));
    }
    let mut billable = common.clone();
    billable.extend(stats(&d, "bclk", 1));
    let mut checks = vec![Check::absent(marker.clone())];
    match &ad {
        None => billable.push(Write::increment(format!("cst:{}:bclk", d.id), 1)),
        Some(ad) => {
            billable.push(Write::increment(format!("adstat:{}:clk", d.id), 1));
            if ad.billing == Billing::Cpc {
                let charge = ad.charge_millicents();
                checks.extend(budget_checks(ad, &d, charge));
                billable.extend(charge_writes(ad, &d, charge, "click", now)?);
            }
        }
    }
    match apply(&checks, &billable)? {
        None => {
            emit("ad.click", &d, true, "")?;
            Ok(Tracked {
                billable: true,
                reason: "",
                landing_url: Some(landing),
            })
        }
        Some(0) => duplicate(&d, "ad.click", Some(landing)),
        Some(_) => record_excluded(&d, "click", "budget", common, marker, Some(landing)),
    }
}

/// The decision as JSON (the serving route's answer).
pub fn served_json(served: Option<&Served>) -> Value {
    match served {
        None => json!({ "ad": null }),
        Some(s) => json!({
            "ad": s.ad, "kind": s.kind, "slot": s.slot, "position": s.position, "style": s.style,
            "size": s.size, "creative": s.creative, "image_src": s.image_src,
            "impression_url": s.impression_url, "click_url": s.click_url,
        }),
    }
}
