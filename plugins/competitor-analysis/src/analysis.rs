//! The comparison report, computed from stored peer articles and the account's own numbers
//! (from analytics). Pure: the host reads are in `store` and `own`.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::keywords;
use crate::metrics::{Article, DATE_FORMAT};

/// An inclusive range of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The Monday of each week that overlaps the range.
    pub fn weeks(&self) -> Vec<NaiveDate> {
        let mut w = week_start(self.from);
        let mut out = Vec::new();
        while w <= self.to {
            out.push(w);
            w += Duration::days(7);
        }
        out
    }

    /// Each week of [`weeks`](Self::weeks) clipped to the range.
    pub fn week_ranges(&self) -> Vec<Range> {
        self.weeks()
            .into_iter()
            .map(|w| Range {
                from: w.max(self.from),
                to: (w + Duration::days(6)).min(self.to),
            })
            .collect()
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// The Monday of `d`'s week.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

pub fn date(d: NaiveDate) -> String {
    d.format(DATE_FORMAT).to_string()
}

/// One account's column of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub id: String,
    pub name: String,
    pub category: String,
    pub posts: u64,
    /// Posts per 7 days over the range.
    pub posts_per_week: f64,
    pub reads: u64,
    pub likes: u64,
    pub shares: u64,
    /// Totals divided by posts; `null` without posts.
    pub reads_per_post: Option<f64>,
    pub likes_per_post: Option<f64>,
    pub shares_per_post: Option<f64>,
    /// Posts in each week of the report's `weeks`.
    pub weekly_posts: Vec<u64>,
    pub top_keywords: Vec<Keyword>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyword {
    pub word: String,
    /// Titles that contain it.
    pub posts: u64,
}

/// Totals an account's column is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub posts: u64,
    pub reads: u64,
    pub likes: u64,
    pub shares: u64,
    pub weekly_posts: Vec<u64>,
}

pub fn column(
    id: &str,
    name: &str,
    category: &str,
    range: Range,
    totals: Totals,
    top_keywords: Vec<(String, u64)>,
) -> Column {
    let per = |n: u64| (totals.posts > 0).then(|| round2(n as f64 / totals.posts as f64));
    Column {
        id: id.into(),
        name: name.into(),
        category: category.into(),
        posts: totals.posts,
        posts_per_week: round2(totals.posts as f64 * 7.0 / range.days() as f64),
        reads: totals.reads,
        likes: totals.likes,
        shares: totals.shares,
        reads_per_post: per(totals.reads),
        likes_per_post: per(totals.likes),
        shares_per_post: per(totals.shares),
        weekly_posts: totals.weekly_posts,
        top_keywords: top_keywords
            .into_iter()
            .map(|(word, posts)| Keyword { word, posts })
            .collect(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A peer's column from its stored articles (any dates: those outside `range` are ignored).
pub fn peer_column(
    id: &str,
    name: &str,
    category: &str,
    range: Range,
    articles: &[Article],
    top: usize,
) -> Column {
    let weeks = range.weeks();
    let mut totals = Totals {
        weekly_posts: vec![0; weeks.len()],
        ..Totals::default()
    };
    let mut kept: Vec<&Article> = Vec::new();
    for a in articles {
        let Ok(d) = NaiveDate::parse_from_str(&a.date, DATE_FORMAT) else {
            continue;
        };
        if !range.contains(d) {
            continue;
        }
        totals.posts += 1;
        totals.reads += a.reads;
        totals.likes += a.likes;
        totals.shares += a.shares;
        let i = ((week_start(d) - weeks[0]).num_days() / 7) as usize;
        if let Some(slot) = totals.weekly_posts.get_mut(i) {
            *slot += 1;
        }
        kept.push(a);
    }
    let top_keywords = keywords::top(kept.iter().map(|a| a.keywords.as_slice()), top);
    column(id, name, category, range, totals, top_keywords)
}

/// The account's own column, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Own {
    pub available: bool,
    /// Why the column is empty (e.g. "analytics not installed").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<Column>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    /// The Monday of each week of the range (the x axis of `weekly_posts`).
    pub weeks: Vec<String>,
    pub own: Own,
    pub peers: Vec<Column>,
}

impl Report {
    /// A few lines for a message: the own account, then peers by reads per post.
    pub fn summary_text(&self) -> String {
        let mut lines = vec![format!(
            "竞品周报 Competitor report {} – {}",
            self.from, self.to
        )];
        let fmt = |c: &Column| {
            format!(
                "{}: {} 篇 posts, {} 阅读 reads ({} /post), {} 赞 likes, {} 分享 shares",
                c.name,
                c.posts,
                c.reads,
                c.reads_per_post.map_or("-".to_string(), |r| format!("{r}")),
                c.likes,
                c.shares
            )
        };
        match &self.own.column {
            Some(c) => lines.push(format!("本号 Own — {}", fmt(c))),
            None => lines.push(format!(
                "本号 Own — {}",
                self.own.note.as_deref().unwrap_or("-")
            )),
        }
        let mut peers: Vec<&Column> = self.peers.iter().collect();
        peers.sort_by(|a, b| {
            b.reads_per_post
                .unwrap_or(0.0)
                .total_cmp(&a.reads_per_post.unwrap_or(0.0))
        });
        for c in peers {
            let mut line = fmt(c);
            if !c.top_keywords.is_empty() {
                let words: Vec<&str> = c
                    .top_keywords
                    .iter()
                    .take(3)
                    .map(|k| k.word.as_str())
                    .collect();
                line.push_str(&format!("; 热词 keywords: {}", words.join("、")));
            }
            lines.push(line);
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, DATE_FORMAT).unwrap()
    }

    fn art(date: &str, reads: u64, kw: &[&str]) -> Article {
        Article {
            date: date.into(),
            title: "t".into(),
            reads,
            likes: 1,
            shares: 2,
            url: None,
            keywords: kw.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn weeks_start_on_monday_and_clip() {
        // 2026-01-07 is a Wednesday.
        let r = Range {
            from: d("2026-01-07"),
            to: d("2026-01-19"),
        };
        assert_eq!(
            r.weeks(),
            vec![d("2026-01-05"), d("2026-01-12"), d("2026-01-19")]
        );
        let wr = r.week_ranges();
        assert_eq!((wr[0].from, wr[0].to), (d("2026-01-07"), d("2026-01-11")));
        assert_eq!((wr[2].from, wr[2].to), (d("2026-01-19"), d("2026-01-19")));
    }

    #[test]
    fn a_peer_column_counts_only_its_range() {
        let r = Range {
            from: d("2026-01-05"),
            to: d("2026-01-18"),
        };
        let arts = vec![
            art("2026-01-04", 1000, &["旧"]),
            art("2026-01-05", 100, &["咖啡", "早餐"]),
            art("2026-01-07", 300, &["咖啡"]),
            art("2026-01-12", 200, &["面包"]),
        ];
        let c = peer_column("p", "P", "food", r, &arts, 2);
        assert_eq!(c.posts, 3);
        assert_eq!(c.reads, 600);
        assert_eq!(c.reads_per_post, Some(200.0));
        assert_eq!(c.likes, 3);
        assert_eq!(c.shares_per_post, Some(2.0));
        assert_eq!(c.posts_per_week, 1.5);
        assert_eq!(c.weekly_posts, vec![2, 1]);
        assert_eq!(
            c.top_keywords[0],
            Keyword {
                word: "咖啡".into(),
                posts: 2
            }
        );
        assert_eq!(c.top_keywords.len(), 2);
        let empty = peer_column("q", "Q", "", r, &[], 2);
        assert_eq!((empty.posts, empty.reads_per_post), (0, None));
    }
}
