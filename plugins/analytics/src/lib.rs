//! # analytics — 数据统计
//!
//! Reports over the account's event log and follower list, for operators only: user growth per
//! day, article reads/shares and share rate, per-article comparison, retention cohorts (day
//! 1/7/30), funnels with operator-defined steps, active hours, region and gender. Each is a JSON
//! route and an SVG chart route; `GET /` is a dashboard page with the charts inline.
//!
//! Every day is a calendar day in the **account's timezone** ([`time`]). Counts per day come
//! from the host's daily aggregates (cheap over any number of entries); only the reports where
//! the order of one follower's entries matters (retention, funnels) or a property is grouped on
//! (articles compared, hours of day) read entries, over at most `max_scan_days` days and
//! `max_entries` entries ([`report`]). The definitions are in [`growth`], [`cohorts`] and
//! [`funnel`]; the routes and their answers in the README.
#![forbid(unsafe_code)]

pub mod articles;
pub mod audience;
pub mod cohorts;
pub mod config;
pub mod dashboard;
pub mod funnel;
pub mod growth;
pub mod report;
pub mod summary;
pub mod svg;
pub mod time;

use plaza_sdk::prelude::*;
use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::{Header, html, storage};

use crate::config::Config;
use crate::funnel::Funnel;
use crate::report::{Ctx, FUNNEL_PREFIX};

#[derive(Default)]
struct Analytics;

impl Plugin for Analytics {
    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        Router::new()
            .get("/", Access::Operator, |r| {
                let c = context(r)?;
                let (range, scan) = ranges(&c, r)?;
                Ok(html::page(200, dashboard::render(&c, range, scan)?))
            })
            .get("/api/growth", Access::Operator, |r| {
                let c = context(r)?;
                json(&report::growth(&c, range(&c, r)?)?)
            })
            .get("/api/articles", Access::Operator, |r| {
                let c = context(r)?;
                let range = range(&c, r)?;
                json(&report::articles(&c, range, true)?)
            })
            .get("/api/retention", Access::Operator, |r| {
                let c = context(r)?;
                json(&report::retention(&c, scan_range(&c, r)?)?)
            })
            .get("/api/active-hours", Access::Operator, |r| {
                let c = context(r)?;
                json(&report::active_hours(&c, scan_range(&c, r)?)?)
            })
            .get("/api/audience", Access::Operator, |r| {
                json(&report::audience(&context(r)?)?)
            })
            .get("/api/funnels", Access::Operator, |r| {
                json(&serde_json::json!({ "funnels": report::funnels(&context(r)?)? }))
            })
            .get("/api/funnels/{id}", Access::Operator, |r| {
                json(&report::find_funnel(&context(r)?, r.param("id"))?)
            })
            .put("/api/funnels/{id}", Access::Operator, put_funnel)
            .delete("/api/funnels/{id}", Access::Operator, |r| {
                funnel::validate_id(r.param("id"))?;
                let deleted = storage::delete(&format!("{FUNNEL_PREFIX}{}", r.param("id")))?;
                if !deleted {
                    return Err(Error::not_found(format!(
                        "no stored funnel {:?} (funnels of the configuration are changed there)",
                        r.param("id")
                    )));
                }
                Ok(HttpResponse::json(
                    200,
                    &serde_json::json!({ "deleted": true }),
                ))
            })
            .get("/api/funnels/{id}/report", Access::Operator, |r| {
                let c = context(r)?;
                let f = report::find_funnel(&c, r.param("id"))?;
                json(&report::funnel_report(&c, &f.funnel, scan_range(&c, r)?)?)
            })
            .get("/charts/growth.svg", Access::Operator, |r| {
                let c = context(r)?;
                Ok(svg(dashboard::growth_chart(&report::growth(
                    &c,
                    range(&c, r)?,
                )?)))
            })
            .get("/charts/cumulative.svg", Access::Operator, |r| {
                let c = context(r)?;
                Ok(svg(dashboard::cumulative_chart(&report::growth(
                    &c,
                    range(&c, r)?,
                )?)))
            })
            .get("/charts/articles.svg", Access::Operator, |r| {
                let c = context(r)?;
                Ok(svg(dashboard::articles_chart(&report::articles(
                    &c,
                    range(&c, r)?,
                    false,
                )?)))
            })
            .get("/charts/article-comparison.svg", Access::Operator, |r| {
                let c = context(r)?;
                let a = report::articles(&c, scan_range(&c, r)?, true)?;
                dashboard::comparison_chart(&a)
                    .map(svg)
                    .ok_or_else(|| Error::not_found("no article was read in this range"))
            })
            .get("/charts/active-hours.svg", Access::Operator, |r| {
                let c = context(r)?;
                Ok(svg(dashboard::hours_chart(&report::active_hours(
                    &c,
                    scan_range(&c, r)?,
                )?)))
            })
            .get("/charts/gender.svg", Access::Operator, |r| {
                let a = report::audience(&context(r)?)?;
                Ok(svg(dashboard::share_chart("性别 Gender", &a.gender)))
            })
            .get("/charts/region.svg", Access::Operator, |r| {
                let a = report::audience(&context(r)?)?;
                Ok(svg(dashboard::share_chart("地区 Region", &a.region)))
            })
            .get("/charts/funnels/{id}", Access::Operator, |r| {
                let c = context(r)?;
                let id = r.param("id").strip_suffix(".svg").unwrap_or(r.param("id"));
                let f = report::find_funnel(&c, id)?;
                Ok(svg(dashboard::funnel_chart(&report::funnel_report(
                    &c,
                    &f.funnel,
                    scan_range(&c, r)?,
                )?)))
            })
            .handle(ctx, &req)
    }

    /// `analytics.summary` `{"from","to"}` (`YYYY-MM-DD`, the account's timezone) →
    /// [`summary::Summary`]; any other name is `not-found`.
    fn on_query(&self, ctx: &CallContext, name: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
        if name != "analytics.summary" {
            return Err(Error::not_found(format!(
                "analytics answers no query {name:?} (it answers analytics.summary)"
            )));
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Question {
            from: String,
            to: String,
        }
        let q: Question = serde_json::from_slice(&payload).map_err(|e| {
            Error::invalid(format!(
                "analytics.summary takes {{\"from\":\"YYYY-MM-DD\",\"to\":\"YYYY-MM-DD\"}}: {e}"
            ))
        })?;
        let c = Ctx::new(
            &ctx.account.timezone,
            now_ms()?,
            plaza_sdk::config::parse::<Config>()?,
        )?;
        let range = c.range(Some(&q.from), Some(&q.to))?;
        plaza_sdk::plugins::answer_json(&report::summary(&c, range)?)
    }
}

plaza_sdk::register!(Analytics);

fn now_ms() -> Result<u64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::internal("the clock is before 1970"))?;
    Ok(u64::try_from(now.as_millis()).unwrap_or(u64::MAX))
}

/// The account's timezone, the current time (the wasi wall clock) and the configuration.
fn context(r: &Request<'_>) -> Result<Ctx> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::internal("the clock is before 1970"))?;
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    Ctx::new(
        &r.ctx.account.timezone,
        now_ms,
        plaza_sdk::config::parse::<Config>()?,
    )
}

fn range(c: &Ctx, r: &Request<'_>) -> Result<time::DateRange> {
    c.range(r.query("from").as_deref(), r.query("to").as_deref())
}

fn scan_range(c: &Ctx, r: &Request<'_>) -> Result<time::DateRange> {
    c.scan_range(r.query("from").as_deref(), r.query("to").as_deref())
}

/// The dashboard's range, and the part of it the entry-reading sections cover: its last
/// `max_scan_days` days.
fn ranges(c: &Ctx, r: &Request<'_>) -> Result<(time::DateRange, time::DateRange)> {
    let range = range(c, r)?;
    let mut scan = range;
    let max = i64::from(c.config.max_scan_days.max(1));
    if i64::from(range.len()) > max {
        scan.from = range.to - chrono::Duration::days(max - 1);
    }
    Ok((range, scan))
}

fn json<T: serde::Serialize>(body: &T) -> Result<HttpResponse> {
    Ok(HttpResponse::json(200, body))
}

fn svg(body: String) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            Header {
                name: "content-type".into(),
                value: "image/svg+xml; charset=utf-8".into(),
            },
            Header {
                name: "content-security-policy".into(),
                value: "default-src 'none'; style-src 'unsafe-inline'".into(),
            },
        ],
        body: body.into_bytes(),
    }
}

/// `PUT /api/funnels/{id}`: stores a funnel definition (the body without `id`, or with the same
/// `id`), replacing the stored one of that id; it supersedes a configuration funnel of that id.
fn put_funnel(r: &Request<'_>) -> Result<HttpResponse> {
    let id = r.param("id");
    funnel::validate_id(id)?;
    let mut body: serde_json::Value = r.json()?;
    let Some(obj) = body.as_object_mut() else {
        return Err(Error::invalid(
            "the body is a JSON object: {\"name\", \"steps\", \"window_hours\"}",
        ));
    };
    match obj.get("id") {
        None => {
            obj.insert("id".into(), id.into());
        }
        Some(v) if v.as_str() == Some(id) => {}
        Some(_) => return Err(Error::invalid("the body's id differs from the path's")),
    }
    let f: Funnel = serde_json::from_value(body)
        .map_err(|e| Error::invalid(format!("funnel definition: {e}")))?;
    f.validate()?;
    storage::set_json(&format!("{FUNNEL_PREFIX}{id}"), &f)?;
    Ok(HttpResponse::json(200, &f))
}
