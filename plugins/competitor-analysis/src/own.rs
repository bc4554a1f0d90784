//! The account's own numbers, asked of the analytics plugin (`analytics.summary`, one question
//! per week of the report so that posting frequency has a weekly series too).

use plaza_sdk::{Error, plugins};
use serde::Deserialize;
use serde_json::json;

use crate::analysis::{self, Column, Own, Range, Totals, date};
use crate::keywords::{self, Segmenter};

/// `analytics.summary`'s answer.
#[derive(Debug, Deserialize)]
struct Summary {
    posts: u64,
    reads: u64,
    shares: u64,
    likes: u64,
    #[serde(default)]
    titles: Vec<String>,
}

/// The own column, or a note saying why there is none (analytics missing or failing).
pub fn own(account_name: &str, range: Range, top: usize, today: chrono::NaiveDate) -> Own {
    match column(account_name, range, top, today) {
        Ok(c) => Own {
            available: true,
            note: None,
            column: Some(c),
        },
        Err(Error::NotFound(_)) => Own {
            available: false,
            note: Some("analytics not installed (安装 analytics 插件以对比本号数据)".into()),
            column: None,
        },
        Err(e) => Own {
            available: false,
            note: Some(format!("analytics did not answer: {}", e.display())),
            column: None,
        },
    }
}

fn column(
    account_name: &str,
    range: Range,
    top: usize,
    today: chrono::NaiveDate,
) -> Result<Column, Error> {
    let mut totals = Totals::default();
    let mut titles = Vec::new();
    for week in range.week_ranges() {
        if week.from > today {
            totals.weekly_posts.push(0);
            continue;
        }
        let to = week.to.min(today);
        let s: Summary = plugins::query_json(
            "analytics",
            "analytics.summary",
            &json!({ "from": date(week.from), "to": date(to) }),
        )?;
        totals.posts += s.posts;
        totals.reads += s.reads;
        totals.likes += s.likes;
        totals.shares += s.shares;
        totals.weekly_posts.push(s.posts);
        titles.extend(s.titles);
    }
    let top_keywords = if titles.is_empty() {
        Vec::new()
    } else {
        let seg = Segmenter::load().map_err(Error::internal)?;
        let lists: Vec<Vec<String>> = titles.iter().map(|t| seg.keywords(t)).collect();
        keywords::top(lists.iter().map(Vec::as_slice), top)
    };
    Ok(analysis::column(
        "",
        &format!("本号 {account_name}"),
        "",
        range,
        totals,
        top_keywords,
    ))
}
