//! Article reads and shares (the editor's `editor.article.read` / `editor.article.share` events).
//! Totals per day come from the host's daily aggregates; the per-article comparison reads the
//! entries of the range (bounded by the caller) because it groups by the `article` property.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use plaza_sdk::events::{DayCount, LoggedEvent};
use serde::Serialize;

use crate::time::{DATE_FORMAT, DateRange, local_date};

pub const READ: &str = "editor.article.read";
pub const SHARE: &str = "editor.article.share";

/// Reads and shares of all articles on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleDay {
    pub date: String,
    pub reads: u64,
    pub shares: u64,
    /// `shares / reads`, `null` on a day without reads.
    pub share_rate: Option<f64>,
}

/// Reads and shares of one article over the range, per day (same order as the range's days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleSeries {
    pub article: String,
    /// The title of its latest event that carried one.
    pub title: String,
    pub reads: u64,
    pub shares: u64,
    pub share_rate: Option<f64>,
    pub reads_per_day: Vec<u64>,
    pub shares_per_day: Vec<u64>,
}

pub fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Per-day totals over `range` from daily counts of the two kinds.
pub fn per_day(range: DateRange, counts: &[DayCount]) -> Vec<ArticleDay> {
    let mut reads = vec![0u64; range.len() as usize];
    let mut shares = reads.clone();
    for c in counts {
        let Some(i) = NaiveDate::parse_from_str(&c.date, DATE_FORMAT)
            .ok()
            .and_then(|d| range.index(d))
        else {
            continue;
        };
        match c.kind.as_str() {
            READ => reads[i] += c.count,
            SHARE => shares[i] += c.count,
            _ => {}
        }
    }
    range
        .days()
        .zip(reads.into_iter().zip(shares))
        .map(|(d, (r, s))| ArticleDay {
            date: d.format(DATE_FORMAT).to_string(),
            reads: r,
            shares: s,
            share_rate: rate(s, r),
        })
        .collect()
}

/// Per-article series from read/share entries, most read first, at most `top`.
pub fn compare(
    range: DateRange,
    tz: Tz,
    entries: &[LoggedEvent],
    top: usize,
) -> Vec<ArticleSeries> {
    let n = range.len() as usize;
    let mut by_article: BTreeMap<&str, ArticleSeries> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind == READ || e.kind == SHARE) {
        let Some(article) = e.property("article").filter(|a| !a.is_empty()) else {
            continue;
        };
        let Some(i) = range.index(local_date(tz, e.at)) else {
            continue;
        };
        let s = by_article.entry(article).or_insert_with(|| ArticleSeries {
            article: article.to_string(),
            title: String::new(),
            reads: 0,
            shares: 0,
            share_rate: None,
            reads_per_day: vec![0; n],
            shares_per_day: vec![0; n],
        });
        if let Some(title) = e.property("title").filter(|t| !t.is_empty()) {
            s.title = title.to_string();
        }
        match e.kind.as_str() {
            READ => {
                s.reads += 1;
                s.reads_per_day[i] += 1;
            }
            SHARE => {
                s.shares += 1;
                s.shares_per_day[i] += 1;
            }
            _ => {}
        }
    }
    let mut all: Vec<ArticleSeries> = by_article
        .into_values()
        .map(|mut s| {
            s.share_rate = rate(s.shares, s.reads);
            if s.title.is_empty() {
                s.title = s.article.clone();
            }
            s
        })
        .collect();
    all.sort_by(|a, b| b.reads.cmp(&a.reads).then(a.article.cmp(&b.article)));
    all.truncate(top);
    all
}

#[cfg(test)]
pub(crate) fn plugin_event(
    at: u64,
    openid: &str,
    kind: &str,
    props: &[(&str, &str)],
) -> LoggedEvent {
    LoggedEvent {
        id: format!("{at:013}-x"),
        at,
        kind: kind.into(),
        sub_kind: kind.into(),
        openid: Some(openid.into()),
        plugin: kind.split('.').next().map(str::to_string),
        properties: props
            .iter()
            .map(|(n, v)| plaza_sdk::events::Property {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::growth::day_count;
    use crate::time::{day_start_ms, parse_date, parse_timezone};

    #[test]
    fn share_rate_per_day_and_per_article_in_local_days() {
        let range = DateRange {
            from: parse_date("from", "2024-05-01").unwrap(),
            to: parse_date("to", "2024-05-02").unwrap(),
        };
        let days = per_day(
            range,
            &[
                day_count("2024-05-01", READ, READ, 4),
                day_count("2024-05-01", SHARE, SHARE, 1),
                day_count("2024-05-02", SHARE, SHARE, 2),
            ],
        );
        assert_eq!(days[0].share_rate, Some(0.25));
        assert_eq!(days[1].share_rate, None);
        assert_eq!(days[1].shares, 2);

        let sh = parse_timezone("Asia/Shanghai").unwrap();
        let may2 = day_start_ms(sh, range.to);
        let e = [
            plugin_event(
                may2 - 1_800_000,
                "a",
                READ,
                &[("article", "x"), ("title", "X <1>")],
            ),
            plugin_event(may2 + 1_800_000, "b", READ, &[("article", "x")]),
            plugin_event(may2 + 1_800_000, "b", SHARE, &[("article", "x")]),
            plugin_event(may2 + 1_900_000, "c", READ, &[("article", "y")]),
            plugin_event(may2 + 1_900_000, "c", READ, &[("title", "no id")]),
        ];
        let c = compare(range, sh, &e, 5);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].article.as_str(), c[0].title.as_str()), ("x", "X <1>"));
        assert_eq!(c[0].reads_per_day, [1, 1]);
        assert_eq!(c[0].shares_per_day, [0, 1]);
        assert_eq!(c[0].share_rate, Some(0.5));
        assert_eq!((c[1].article.as_str(), c[1].title.as_str()), ("y", "y"));
        assert_eq!(compare(range, sh, &e, 1).len(), 1);
    }
}
