//! Reports: the host reads (daily aggregates, bounded entry scans, the follower list, stored
//! funnels) feeding the pure computations of the other modules.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use plaza_sdk::events::{self, Filter, LoggedEvent};
use plaza_sdk::{Error, followers, storage};
use serde::Serialize;

use crate::articles::{self, ArticleDay, ArticleSeries};
use crate::audience::{self, Share};
use crate::cohorts::{self, Cohort};
use crate::config::Config;
use crate::funnel::{self, Funnel, StepResult};
use crate::growth::{self, GrowthDay};
use crate::time::{DATE_FORMAT, DateRange, day_start_ms, local_date, parse_timezone};

/// Storage key prefix of the funnels defined through the routes.
pub const FUNNEL_PREFIX: &str = "funnel:";

/// What every report needs: the account's timezone, today in it, and the configuration.
pub struct Ctx {
    pub tz: Tz,
    pub now_ms: u64,
    pub today: NaiveDate,
    pub config: Config,
}

impl Ctx {
    pub fn new(timezone: &str, now_ms: u64, config: Config) -> Result<Ctx, Error> {
        let tz = parse_timezone(timezone)?;
        Ok(Ctx {
            tz,
            now_ms,
            today: local_date(tz, now_ms),
            config,
        })
    }

    /// A range for the daily-count reports.
    pub fn range(&self, from: Option<&str>, to: Option<&str>) -> Result<DateRange, Error> {
        DateRange::parse(
            from,
            to,
            self.today,
            self.config.default_days,
            self.config.max_days,
        )
    }

    /// A range for the reports that read entries (shorter bound).
    pub fn scan_range(&self, from: Option<&str>, to: Option<&str>) -> Result<DateRange, Error> {
        DateRange::parse(
            from,
            to,
            self.today,
            self.config.default_days.min(self.config.max_scan_days),
            self.config.max_scan_days,
        )
    }

    /// Entries of `kinds` in `[since, until)`, oldest first; `too_large` past `max_entries`.
    fn entries(&self, kinds: &[&str], since: u64, until: u64) -> Result<Vec<LoggedEvent>, Error> {
        let cap = self.config.max_entries as usize;
        let mut out = Vec::new();
        let filter = Filter::all()
            .kinds(kinds)
            .between(Some(since), Some(until.min(self.now_ms.saturating_add(1))));
        for e in events::query_all(filter) {
            let mut e = e?;
            // Nothing reads these; a few hundred thousand entries are held at once.
            e.id = String::new();
            e.plugin = None;
            out.push(e);
            if out.len() > cap {
                return Err(Error::too_large(format!(
                    "more than {cap} log entries ({}) in this range; choose a shorter range (from/to) or raise max_entries",
                    kinds.join(", ")
                )));
            }
        }
        Ok(out)
    }
}

fn date(d: NaiveDate) -> String {
    d.format(DATE_FORMAT).to_string()
}

#[derive(Serialize)]
pub struct GrowthReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub subscribed_now: u64,
    pub days: Vec<GrowthDay>,
}

/// Followers subscribed now (the anchor of the cumulative series).
fn subscribed_now() -> Result<u64, Error> {
    let mut n = 0;
    for f in followers::list_all(None) {
        if f?.subscribed {
            n += 1;
        }
    }
    Ok(n)
}

pub fn growth(ctx: &Ctx, range: DateRange) -> Result<GrowthReport, Error> {
    let to = date(range.to);
    let counts = events::daily(&date(range.from), &to, &["follower_event"])?;
    // The net change after the range up to today, in chunks the host accepts.
    let mut net_after = 0;
    let mut start = range.to + Duration::days(1);
    while start <= ctx.today {
        let end =
            (start + Duration::days(i64::from(ctx.config.max_days.max(1)) - 1)).min(ctx.today);
        net_after += growth::net(&events::daily(
            &date(start),
            &date(end),
            &["follower_event"],
        )?);
        start = end + Duration::days(1);
    }
    let now = subscribed_now()?;
    Ok(GrowthReport {
        from: date(range.from),
        to,
        timezone: ctx.tz.name().to_string(),
        subscribed_now: now,
        days: growth::growth(range, &counts, now, net_after),
    })
}

#[derive(Serialize)]
pub struct ArticlesReport {
    pub from: String,
    pub to: String,
    pub reads: u64,
    pub shares: u64,
    pub share_rate: Option<f64>,
    pub days: Vec<ArticleDay>,
    /// The most read articles, per day (only when the range is within `max_scan_days`).
    pub articles: Option<Vec<ArticleSeries>>,
}

pub fn articles(ctx: &Ctx, range: DateRange, compare: bool) -> Result<ArticlesReport, Error> {
    if compare && range.len() <= ctx.config.max_scan_days {
        let (since, until) = range.bounds_ms(ctx.tz);
        let entries = ctx.entries(&[articles::READ, articles::SHARE], since, until)?;
        articles_with(ctx, range, Some(&entries))
    } else {
        articles_with(ctx, range, None)
    }
}

/// The articles report, with the per-article comparison computed from `entries` when given
/// (they may hold other kinds and times too: the comparison keeps reads and shares of `range`).
pub fn articles_with(
    ctx: &Ctx,
    range: DateRange,
    entries: Option<&[LoggedEvent]>,
) -> Result<ArticlesReport, Error> {
    let counts = events::daily(
        &date(range.from),
        &date(range.to),
        &[articles::READ, articles::SHARE],
    )?;
    let days = articles::per_day(range, &counts);
    let reads = days.iter().map(|d| d.reads).sum();
    let shares = days.iter().map(|d| d.shares).sum();
    let series =
        entries.map(|e| articles::compare(range, ctx.tz, e, ctx.config.top_articles as usize));
    Ok(ArticlesReport {
        from: date(range.from),
        to: date(range.to),
        reads,
        shares,
        share_rate: articles::rate(shares, reads),
        days,
        articles: series,
    })
}

/// `analytics.summary` over `range`: the daily counts of follower events and the editor's
/// article events, and the titles of the articles published in it (few entries: one per
/// broadcast article).
pub fn summary(ctx: &Ctx, range: DateRange) -> Result<crate::summary::Summary, Error> {
    let counts = events::daily(
        &date(range.from),
        &date(range.to),
        &["follower_event", "editor.article.*"],
    )?;
    let (since, until) = range.bounds_ms(ctx.tz);
    let published = ctx.entries(&[crate::summary::PUBLISHED], since, until)?;
    Ok(crate::summary::summarize(&counts, &published))
}

/// The end (exclusive) of the entries retention needs: the last cohort's day 30.
fn retention_until(ctx: &Ctx, range: DateRange) -> u64 {
    day_start_ms(ctx.tz, range.to + Duration::days(cohorts::OFFSETS[2] + 1))
}

/// One read of every entry the dashboard's entry-based sections need over `range` (and the 30
/// days after it, for retention), instead of one read per section.
pub fn shared_entries(
    ctx: &Ctx,
    range: DateRange,
    funnels: &[FunnelEntry],
) -> Result<Vec<LoggedEvent>, Error> {
    let mut kinds: Vec<&str> = vec![
        "follower_event",
        "inbound_message",
        articles::READ,
        articles::SHARE,
    ];
    for f in funnels {
        kinds.extend(f.funnel.kinds());
    }
    kinds.sort_unstable();
    kinds.dedup();
    let (since, _) = range.bounds_ms(ctx.tz);
    ctx.entries(&kinds, since, retention_until(ctx, range))
}

#[derive(Serialize)]
pub struct RetentionReport {
    pub from: String,
    pub to: String,
    pub offsets: [i64; 3],
    pub cohorts: Vec<Cohort>,
}

pub fn retention(ctx: &Ctx, range: DateRange) -> Result<RetentionReport, Error> {
    let (since, _) = range.bounds_ms(ctx.tz);
    let until = retention_until(ctx, range);
    let entries = ctx.entries(&["follower_event", "inbound_message"], since, until)?;
    Ok(retention_of(ctx, range, &entries))
}

/// Retention from entries read already (from the start of `range` to the last cohort's day 30).
pub fn retention_of(ctx: &Ctx, range: DateRange, entries: &[LoggedEvent]) -> RetentionReport {
    RetentionReport {
        from: date(range.from),
        to: date(range.to),
        offsets: cohorts::OFFSETS,
        cohorts: cohorts::cohorts(range, ctx.tz, ctx.today, entries),
    }
}

#[derive(Serialize)]
pub struct HoursReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    /// Inbound messages per local hour, index 0 = 00:00-00:59.
    pub hours: [u64; 24],
}

pub fn active_hours(ctx: &Ctx, range: DateRange) -> Result<HoursReport, Error> {
    let (since, until) = range.bounds_ms(ctx.tz);
    let entries = ctx.entries(&["inbound_message"], since, until)?;
    Ok(hours_of(ctx, range, &entries))
}

/// Active hours from entries read already (those outside `range` are left out).
pub fn hours_of(ctx: &Ctx, range: DateRange, entries: &[LoggedEvent]) -> HoursReport {
    let (since, until) = range.bounds_ms(ctx.tz);
    let inside = entries.iter().filter(|e| e.at >= since && e.at < until);
    HoursReport {
        from: date(range.from),
        to: date(range.to),
        timezone: ctx.tz.name().to_string(),
        hours: audience::active_hours(ctx.tz, inside),
    }
}

#[derive(Serialize)]
pub struct AudienceReport {
    pub subscribed: u64,
    pub gender: Vec<Share>,
    pub region: Vec<Share>,
}

pub fn audience(ctx: &Ctx) -> Result<AudienceReport, Error> {
    let mut genders = Vec::new();
    let mut regions = Vec::new();
    for f in followers::list_all(None) {
        let f = f?;
        if f.subscribed {
            genders.push(f.gender);
            regions.push(f.region);
        }
    }
    Ok(AudienceReport {
        subscribed: genders.len() as u64,
        gender: audience::distribution(genders.iter().map(String::as_str), 8),
        region: audience::distribution(
            regions.iter().map(String::as_str),
            ctx.config.top_regions as usize,
        ),
    })
}

/// Where a funnel definition comes from.
#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FunnelSource {
    Config,
    Stored,
}

#[derive(Serialize)]
pub struct FunnelEntry {
    pub source: FunnelSource,
    #[serde(flatten)]
    pub funnel: Funnel,
}

/// Every funnel: the stored ones, and those of the configuration no stored one supersedes.
pub fn funnels(ctx: &Ctx) -> Result<Vec<FunnelEntry>, Error> {
    let mut out: Vec<FunnelEntry> = Vec::new();
    for item in storage::scan_prefix_json::<Funnel>(FUNNEL_PREFIX) {
        let (_, funnel) = item?;
        out.push(FunnelEntry {
            source: FunnelSource::Stored,
            funnel,
        });
    }
    for f in &ctx.config.funnels {
        if !out.iter().any(|e| e.funnel.id == f.id) {
            out.push(FunnelEntry {
                source: FunnelSource::Config,
                funnel: f.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.funnel.id.cmp(&b.funnel.id));
    Ok(out)
}

pub fn find_funnel(ctx: &Ctx, id: &str) -> Result<FunnelEntry, Error> {
    funnel::validate_id(id)?;
    if let Some(funnel) = storage::get_json::<Funnel>(&format!("{FUNNEL_PREFIX}{id}"))? {
        return Ok(FunnelEntry {
            source: FunnelSource::Stored,
            funnel,
        });
    }
    ctx.config
        .funnels
        .iter()
        .find(|f| f.id == id)
        .map(|f| FunnelEntry {
            source: FunnelSource::Config,
            funnel: f.clone(),
        })
        .ok_or_else(|| Error::not_found(format!("no funnel {id:?}")))
}

#[derive(Serialize)]
pub struct FunnelReport {
    pub id: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub window_hours: u32,
    pub steps: Vec<StepResult>,
}

pub fn funnel_report(ctx: &Ctx, f: &Funnel, range: DateRange) -> Result<FunnelReport, Error> {
    let (since, until) = range.bounds_ms(ctx.tz);
    let entries = ctx.entries(&f.kinds(), since, until)?;
    Ok(funnel_of(ctx, f, range, &entries))
}

/// A funnel from entries read already (any kinds, from the start of `range`).
pub fn funnel_of(ctx: &Ctx, f: &Funnel, range: DateRange, entries: &[LoggedEvent]) -> FunnelReport {
    let (since, until) = range.bounds_ms(ctx.tz);
    FunnelReport {
        id: f.id.clone(),
        name: f.title().to_string(),
        from: date(range.from),
        to: date(range.to),
        window_hours: f.window_hours,
        steps: f.evaluate(entries, since, until),
    }
}
