//! The HTTP routes (see README.md for bodies and answers).

use chrono::{Duration, NaiveDate};
use plaza_sdk::router::{Access, Request, Router, error_response};
use plaza_sdk::{CallContext, Error, Header, HttpRequest, HttpResponse, html, scheduling, storage};
use serde::Deserialize;
use serde_json::json;

use crate::analysis::{self, Range, Report, date};
use crate::config::Config;
use crate::keywords::Segmenter;
use crate::metrics::{self, DATE_FORMAT, RowError};
use crate::store::{self, Peer};
use crate::{own, pages, sync, weekly};

pub fn handle(ctx: &CallContext, req: &HttpRequest) -> plaza_sdk::Result<HttpResponse> {
    Router::new()
        .get("/", Access::Operator, |r| {
            let c = config()?;
            let range = range(r, &c)?;
            let report = build_report(r.ctx, &c, range)?;
            let status: Option<store::SyncStatus> = storage::get_json(store::SYNC_KEY)?;
            Ok(html::page(
                200,
                pages::dashboard(&report, &store::peers()?, status.as_ref(), &store::reports()?),
            ))
        })
        .get("/api/peers", Access::Operator, |_| {
            Ok(HttpResponse::json(200, &json!({ "peers": store::peers()? })))
        })
        .post("/api/peers", Access::Operator, |r| {
            let peer = peer_body(r, None)?;
            if store::get_peer(&peer.id)?.is_some() {
                return Err(Error::conflict(format!("peer {:?} exists; PUT /api/peers/{} changes it", peer.id, peer.id)));
            }
            storage::set_json(&store::peer_key(&peer.id), &peer)?;
            Ok(HttpResponse::json(201, &peer))
        })
        .get("/api/peers/{id}", Access::Operator, |r| {
            Ok(HttpResponse::json(200, &known_peer(r.param("id"))?))
        })
        .put("/api/peers/{id}", Access::Operator, |r| {
            known_peer(r.param("id"))?;
            let peer = peer_body(r, Some(r.param("id")))?;
            storage::set_json(&store::peer_key(&peer.id), &peer)?;
            Ok(HttpResponse::json(200, &peer))
        })
        .delete("/api/peers/{id}", Access::Operator, |r| {
            known_peer(r.param("id"))?;
            store::delete_peer(r.param("id"))?;
            Ok(HttpResponse::json(200, &json!({ "deleted": true })))
        })
        .post("/api/peers/{id}/metrics", Access::Operator, |r| {
            known_peer(r.param("id"))?;
            upload(r, Some(r.param("id")))
        })
        .get("/api/peers/{id}/metrics", Access::Operator, |r| {
            let c = config()?;
            let peer = known_peer(r.param("id"))?;
            let range = range(r, &c)?;
            let articles: Vec<metrics::Article> = store::articles(&peer.id, range)?
                .into_iter()
                .filter(|a| {
                    NaiveDate::parse_from_str(&a.date, DATE_FORMAT).is_ok_and(|d| range.contains(d))
                })
                .collect();
            Ok(HttpResponse::json(200, &json!({ "peer": peer.id, "from": date(range.from), "to": date(range.to), "articles": articles })))
        })
        .post("/api/metrics", Access::Operator, |r| upload(r, None))
        .get("/api/report", Access::Operator, |r| {
            let c = config()?;
            Ok(HttpResponse::json(200, &build_report(r.ctx, &c, range(r, &c)?)?))
        })
        .get("/charts/reads.svg", Access::Operator, |r| {
            let c = config()?;
            Ok(svg(crate::charts::reads_per_post(&build_report(r.ctx, &c, range(r, &c)?)?)))
        })
        .get("/charts/posts.svg", Access::Operator, |r| {
            let c = config()?;
            Ok(svg(crate::charts::posts_per_week(&build_report(r.ctx, &c, range(r, &c)?)?)))
        })
        .post("/api/sync", Access::Operator, |r| {
            let c = config()?;
            Ok(HttpResponse::json(200, &sync::run(r.ctx, &c, "manual")?))
        })
        .get("/api/sync", Access::Operator, |_| {
            let status: Option<store::SyncStatus> = storage::get_json(store::SYNC_KEY)?;
            Ok(HttpResponse::json(200, &json!({ "last": status })))
        })
        .get("/api/schedule", Access::Operator, |_| {
            let jobs: Vec<serde_json::Value> = scheduling::list()?
                .into_iter()
                .map(|j| json!({ "id": j.id, "cron": j.cron, "next_run": j.next_run,
                                 "payload": String::from_utf8_lossy(&j.payload) }))
                .collect();
            Ok(HttpResponse::json(200, &json!({ "jobs": jobs })))
        })
        .get("/api/reports", Access::Operator, |_| {
            Ok(HttpResponse::json(200, &json!({ "reports": store::reports()? })))
        })
        .post("/api/reports/run", Access::Operator, |r| {
            #[derive(Deserialize, Default)]
            #[serde(deny_unknown_fields)]
            struct Run {
                /// A date in the week after the one reported (default: today).
                week_of: Option<String>,
            }
            let body: Run = if r.http.body.iter().all(u8::is_ascii_whitespace) {
                Run::default()
            } else {
                r.json()?
            };
            let at = match body.week_of {
                Some(d) => {
                    let d = parse_date("week_of", &d)?;
                    // Noon UTC of that date: the same local date in every timezone within ±12 h.
                    u64::try_from(d.and_hms_opt(12, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())).unwrap_or(0)
                }
                None => crate::now_ms(),
            };
            Ok(HttpResponse::json(200, &weekly::run(r.ctx, &config()?, at)?))
        })
        .get("/api/reports/{week}", Access::Operator, |r| {
            Ok(HttpResponse::json(200, &stored_report(r.param("week"))?))
        })
        .get("/reports/{week}", Access::FollowerOrOperator, |r| {
            if !r.ctx.operator {
                let c = config()?;
                let follower = r.follower()?;
                if !c.report_to.iter().any(|o| o == follower) {
                    return Err(Error::permission_denied("this report is for the account's operators (report_to)"));
                }
            }
            let stored = stored_report(r.param("week"))?;
            let report: Report = serde_json::from_value(stored.report.clone())
                .map_err(|e| Error::internal(format!("stored report does not parse: {e}")))?;
            Ok(html::page(200, pages::report_page(&report)))
        })
        .handle(ctx, req)
}

fn config() -> plaza_sdk::Result<Config> {
    plaza_sdk::config::parse()
}

fn stored_report(week: &str) -> plaza_sdk::Result<store::StoredReport> {
    parse_date("week", week)?;
    store::get_report(week)?
        .ok_or_else(|| Error::not_found(format!("no weekly report of the week {week}")))
}

fn known_peer(id: &str) -> plaza_sdk::Result<Peer> {
    store::get_peer(id)?.ok_or_else(|| Error::not_found(format!("no peer account {id:?}")))
}

fn parse_date(name: &str, raw: &str) -> plaza_sdk::Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), DATE_FORMAT)
        .map_err(|_| Error::invalid(format!("{name} {raw:?} is not a date (YYYY-MM-DD)")))
}

/// `from`/`to` (default: the 12 weeks up to today), at most `max_report_days` long.
fn range(r: &Request<'_>, c: &Config) -> plaza_sdk::Result<Range> {
    let today = crate::local_date(&r.ctx.account.timezone, crate::now_ms());
    let to = match r.query("to").filter(|s| !s.is_empty()) {
        Some(s) => parse_date("to", &s)?,
        None => today,
    };
    let from = match r.query("from").filter(|s| !s.is_empty()) {
        Some(s) => parse_date("from", &s)?,
        None => to - Duration::days(83),
    };
    if from > to {
        return Err(Error::invalid("from is after to"));
    }
    let range = Range { from, to };
    if range.days() > i64::from(c.max_report_days) {
        return Err(Error::invalid(format!(
            "the range is {} days; at most {} (max_report_days)",
            range.days(),
            c.max_report_days
        )));
    }
    Ok(range)
}

/// The report over `range`: every registered peer, and the account itself from analytics.
pub fn build_report(ctx: &CallContext, c: &Config, range: Range) -> plaza_sdk::Result<Report> {
    let mut peers = Vec::new();
    for p in store::peers()? {
        let articles = store::articles(&p.id, range)?;
        peers.push(analysis::peer_column(
            &p.id,
            &p.name,
            &p.category,
            range,
            &articles,
            c.top_keywords,
        ));
    }
    let today = crate::local_date(&ctx.account.timezone, crate::now_ms());
    Ok(Report {
        from: date(range.from),
        to: date(range.to),
        weeks: range.weeks().into_iter().map(date).collect(),
        own: own::own(&ctx.account.name, range, c.top_keywords, today),
        peers,
    })
}

fn peer_body(r: &Request<'_>, path_id: Option<&str>) -> plaza_sdk::Result<Peer> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        id: Option<String>,
        name: String,
        #[serde(default)]
        category: String,
        wechat_id: Option<String>,
    }
    let b: Body = r.json()?;
    let id = match (b.id, path_id) {
        (Some(id), Some(p)) if id != p => {
            return Err(Error::invalid("the body's id differs from the path's"));
        }
        (_, Some(p)) => p.to_string(),
        (Some(id), None) => id,
        (None, None) => return Err(Error::invalid("id is required")),
    };
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid(format!(
            "id {id:?}: 1 to 40 of a-z, 0-9, - and _"
        )));
    }
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name: 1 to 100 characters"));
    }
    if b.category.chars().count() > 50 {
        return Err(Error::invalid("category: at most 50 characters"));
    }
    let wechat_id = b
        .wechat_id
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty());
    if wechat_id.as_ref().is_some_and(|w| w.len() > 100) {
        return Err(Error::invalid("wechat_id: at most 100 characters"));
    }
    Ok(Peer {
        id,
        name,
        category: b.category.trim().to_string(),
        wechat_id,
    })
}

/// An upload (CSV or JSON): 200 `{"stored","replaced"}`, or 422 with every row error and nothing
/// stored.
fn upload(r: &Request<'_>, path_peer: Option<&str>) -> plaza_sdk::Result<HttpResponse> {
    let c = config()?;
    let rows = match metrics::parse_body(&r.http.body, r.http.header("content-type")) {
        Ok(rows) => rows,
        Err(errors) => return Ok(rows_refused(errors)),
    };
    if rows.is_empty() {
        return Err(Error::invalid("the upload has no rows"));
    }
    if rows.len() > c.max_upload_rows {
        return Err(Error::too_large(format!(
            "{} rows; at most {} per upload (max_upload_rows)",
            rows.len(),
            c.max_upload_rows
        )));
    }
    let known: Vec<String> = if path_peer.is_some() {
        Vec::new()
    } else {
        store::peers()?.into_iter().map(|p| p.id).collect()
    };
    let rows = match metrics::validate(&rows, path_peer, &|p| known.iter().any(|k| k == p)) {
        Ok(rows) => rows,
        Err(errors) => return Ok(rows_refused(errors)),
    };
    let seg = Segmenter::load().map_err(Error::internal)?;
    let done = store::store_rows(rows, &seg)?;
    Ok(HttpResponse::json(200, &done))
}

fn rows_refused(rows: Vec<RowError>) -> HttpResponse {
    let message = format!("{} problems in the upload; nothing was stored", rows.len());
    let mut response = error_response(&Error::invalid(message.clone()));
    response.status = 422;
    response.body = serde_json::to_vec(
        &json!({ "error": { "code": "invalid", "message": message, "rows": rows } }),
    )
    .unwrap_or_default();
    response
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
