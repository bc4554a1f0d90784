//! # membership — 会员体系: levels, points, rewards and the member card
//!
//! * **Growth and levels.** Points earned (daily check-in, paid shop orders, awards from other
//!   plugins) add as much growth; the level is the highest whose `min_growth` the growth reaches
//!   ([`rules::Config::level_for`]). Each level carries its benefits (discount, priority customer
//!   service, exclusive content, 1-on-1 consultations) and a follower tag (`会员·金卡`), which
//!   members carry ([`members::sync_level`]).
//! * **Points** are kept in month lots ([`store`]) so that expiry after N months is exact; a daily
//!   cron job (set up on install) expires them and sends birthday and renewal reminders as
//!   template messages ([`members::run_daily`]).
//! * **Rewards** with stock: a redemption is one `storage.batch` checking stock and points
//!   ([`store::redeem`]), so concurrent redemptions never oversell or overdraw.
//! * **Member card** at `/me` through a signed follower link (keyword 会员 / member replies
//!   with it); operator routes adjust points (who and why recorded) — see [`routes`].
//! * **Other plugins** ask `member.level`, `member.discount` and `member.award_points`
//!   through `on-query` ([`queries`]).
#![forbid(unsafe_code)]

pub mod members;
pub mod queries;
pub mod routes;
pub mod rules;
pub mod store;

use plaza_sdk::prelude::*;
use plaza_sdk::{Link, config, log, scheduling};
use serde::Deserialize;

use crate::rules::Config;
use crate::store::LedgerEntry;

/// The payload of the daily cron job.
pub const DAILY_JOB: &[u8] = b"membership.daily";
/// When the daily job runs, in the account's timezone: five past midnight.
pub const DAILY_CRON: &str = "5 0 * * *";

#[derive(Default)]
struct Membership;

impl Plugin for Membership {
    fn on_install(&self, ctx: &CallContext) -> Result<()> {
        let config: Config = config::parse()?;
        // Without the scheduling grant the plugin works, minus expiry and reminders (and
        // `POST /maintenance/daily` still runs them): say so rather than refuse to install.
        match ensure_daily_job() {
            Err(Error::PermissionDenied(m)) => {
                log::warn(format!(
                    "no daily job (expiry, reminders) without scheduling: {m}"
                ));
            }
            other => other?,
        }
        for level in &config.levels {
            if let Err(e) = plaza_sdk::tags::ensure(&level.tag) {
                log::warn(format!(
                    "level tag {:?} not created: {}",
                    level.tag,
                    e.display()
                ));
            }
        }
        log::info(format!("membership installed on {}", ctx.account.id));
        Ok(())
    }

    fn on_message(&self, ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let Some(text) = msg.text() else {
            return Ok(None);
        };
        let word = text.trim().to_lowercase();
        let config: Config = config::parse()?;
        match word.as_str() {
            "会员" | "会员卡" | "member" | "membership" => {
                let url = members::card_url(&msg.from, &config)?;
                Ok(Some(Content::ArticleLink(Link {
                    title: "我的会员卡 My member card".into(),
                    description: "等级、积分、签到与兑换 Level, points, check-in and rewards"
                        .into(),
                    url,
                })))
            }
            "签到" | "checkin" | "check-in" | "check in" => {
                let date = rules::day_in(msg.at, &ctx.account.timezone);
                let done = members::checkin(&msg.from, &config, date, msg.at)?;
                let text = if done.checked_in {
                    format!(
                        "签到成功！连续 {s} 天，+{p} 积分，余额 {b}。\nChecked in: day {s} of your streak, +{p} points, balance {b}.",
                        s = done.streak,
                        p = done.points,
                        b = done.balance
                    )
                } else {
                    format!(
                        "今天已经签到过了（连续 {s} 天），余额 {b} 积分。\nYou already checked in today (day {s}); balance {b} points.",
                        s = done.streak,
                        b = done.balance
                    )
                };
                Ok(Some(Content::text(text)))
            }
            _ => Ok(None),
        }
    }

    fn on_event(&self, ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        match ev {
            Event::Timer(t) if t.payload == DAILY_JOB => {
                let config: Config = config::parse()?;
                let date = rules::day_in(t.scheduled_for, &ctx.account.timezone);
                let done = members::run_daily(&config, date, members::now_ms())?;
                log::info(format!(
                    "daily {}: {} points expired, {} birthday and {} renewal reminders",
                    done.date, done.expired_points, done.birthday_sent, done.renewal_sent
                ));
                Ok(None)
            }
            Event::Topic(t) if t.topic == "shop.order.paid" => {
                order_paid(ctx, &t.payload)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx, &req)
    }

    fn on_query(&self, ctx: &CallContext, name: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
        queries::answer(ctx, name, &payload)
    }
}

plaza_sdk::register!(Membership);

/// Schedules the daily job unless this installation already has it (installing again, or an
/// upgrade running `on-install` once more, must not add a second one).
fn ensure_daily_job() -> Result<()> {
    if scheduling::list()?.iter().any(|j| j.payload == DAILY_JOB) {
        return Ok(());
    }
    scheduling::every(DAILY_CRON, DAILY_JOB)?;
    Ok(())
}

/// `shop.order.paid`: `{"order_id","openid","amount_cents","currency","paid_at"}`.
#[derive(Deserialize)]
struct OrderPaid {
    order_id: String,
    openid: String,
    amount_cents: i64,
    #[serde(default)]
    paid_at: Option<u64>,
}

/// Points for a paid order, once per `order_id` (topic messages are delivered at least once).
fn order_paid(ctx: &CallContext, payload: &[u8]) -> Result<()> {
    let order: OrderPaid = match serde_json::from_slice(payload) {
        Ok(o) => o,
        Err(e) => {
            // A malformed message will not get better by retrying it.
            log::warn(format!(
                "ignoring a shop.order.paid that does not parse: {e}"
            ));
            return Ok(());
        }
    };
    if order.order_id.is_empty() || order.openid.is_empty() {
        log::warn("ignoring a shop.order.paid without order_id or openid");
        return Ok(());
    }
    let config: Config = config::parse()?;
    let points = config.purchase_points(order.amount_cents);
    if points <= 0 {
        return Ok(());
    }
    let at = order.paid_at.unwrap_or_else(members::now_ms);
    let today = rules::day_in(members::now_ms(), &ctx.account.timezone);
    let once = format!("order:{}", order.order_id);
    let entry = LedgerEntry {
        at,
        delta: points,
        growth: points,
        kind: "purchase".into(),
        reason: format!("order {} / 订单 {}", order.order_id, order.order_id),
        by: Some("shop".into()),
    };
    members::earn(
        &order.openid,
        points,
        &config,
        today,
        entry,
        Some((&once, order.openid.as_bytes())),
    )?;
    Ok(())
}
