//! The operator dashboard: one mobile-friendly page with headline numbers and the charts inline
//! (inline `<svg>`, because `<img>` requests would carry no operator token). A section whose
//! report fails (e.g. too many entries for a long range) shows why instead of failing the page.

use std::fmt::Write as _;

use plaza_sdk::Error;
use plaza_sdk::html::{document, escape};

use crate::report::{
    self, ArticlesReport, AudienceReport, Ctx, FunnelReport, GrowthReport, HoursReport,
    RetentionReport,
};
use crate::svg;
use crate::time::DateRange;

/// Charts shared by the SVG routes and the dashboard.
pub fn growth_chart(g: &GrowthReport) -> String {
    let labels = labels(g.days.iter().map(|d| d.date.as_str()));
    svg::line_chart(
        "用户增长 User growth",
        &labels,
        &[
            svg::Series {
                name: "新关注 new",
                values: g.days.iter().map(|d| d.new as f64).collect(),
            },
            svg::Series {
                name: "取消关注 unfollowed",
                values: g.days.iter().map(|d| d.unfollowed as f64).collect(),
            },
            svg::Series {
                name: "净增 net",
                values: g.days.iter().map(|d| d.net as f64).collect(),
            },
        ],
    )
}

pub fn cumulative_chart(g: &GrowthReport) -> String {
    let labels = labels(g.days.iter().map(|d| d.date.as_str()));
    svg::line_chart(
        "累计关注 Followers at end of day",
        &labels,
        &[svg::Series {
            name: "累计 cumulative",
            values: g.days.iter().map(|d| d.cumulative as f64).collect(),
        }],
    )
}

pub fn articles_chart(a: &ArticlesReport) -> String {
    let labels = labels(a.days.iter().map(|d| d.date.as_str()));
    svg::line_chart(
        "阅读与分享 Reads and shares",
        &labels,
        &[
            svg::Series {
                name: "阅读 reads",
                values: a.days.iter().map(|d| d.reads as f64).collect(),
            },
            svg::Series {
                name: "分享 shares",
                values: a.days.iter().map(|d| d.shares as f64).collect(),
            },
        ],
    )
}

pub fn comparison_chart(a: &ArticlesReport) -> Option<String> {
    let series = a.articles.as_ref().filter(|s| !s.is_empty())?;
    let labels = labels(a.days.iter().map(|d| d.date.as_str()));
    let lines: Vec<svg::Series<'_>> = series
        .iter()
        .map(|s| svg::Series {
            name: &s.title,
            values: s.reads_per_day.iter().map(|v| *v as f64).collect(),
        })
        .collect();
    Some(svg::line_chart(
        "文章对比 Reads per article",
        &labels,
        &lines,
    ))
}

pub fn hours_chart(h: &HoursReport) -> String {
    let bars: Vec<(String, f64)> = h
        .hours
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{i}"), *n as f64))
        .collect();
    svg::bar_chart("活跃时段 Messages per hour", &bars)
}

pub fn share_chart(title: &str, shares: &[crate::audience::Share]) -> String {
    let bars: Vec<(String, f64)> = shares
        .iter()
        .map(|s| (s.value.clone(), s.followers as f64))
        .collect();
    svg::bar_chart(title, &bars)
}

pub fn funnel_chart(f: &FunnelReport) -> String {
    let steps: Vec<(String, u64, Option<f64>)> = f
        .steps
        .iter()
        .map(|s| (s.label.clone(), s.followers, s.from_previous))
        .collect();
    svg::funnel_chart(&format!("漏斗 Funnel: {}", f.name), &steps)
}

/// `MM-DD` of `YYYY-MM-DD` dates: short enough for a phone's x axis.
fn labels<'a>(dates: impl Iterator<Item = &'a str>) -> Vec<String> {
    dates.map(|d| d.get(5..).unwrap_or(d).to_string()).collect()
}

fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn failed(out: &mut String, what: &str, e: &Error) {
    let _ = write!(
        out,
        "<section><h2>{}</h2><p class=\"error\">{}</p></section>",
        escape(what),
        escape(e.message())
    );
}

/// The whole page for `range` (the entry-reading sections use `scan`, the range's last
/// `max_scan_days` days).
pub fn render(ctx: &Ctx, range: DateRange, scan: DateRange) -> Result<String, Error> {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>数据统计 Analytics</h1><p class=\"muted\">{} — {} · {}</p>\
         <form method=\"get\" class=\"card\">从 From <input type=\"date\" name=\"from\" value=\"{}\"> \
         到 To <input type=\"date\" name=\"to\" value=\"{}\"> <button>查看 Show</button></form>",
        range.from,
        range.to,
        escape(ctx.tz.name()),
        range.from,
        range.to,
    );
    if scan != range {
        let _ = write!(
            body,
            "<p class=\"muted\">留存、漏斗、活跃时段与文章对比只统计 {} — {}。Retention, funnels, active hours and the article comparison cover {} to {} (max_scan_days).</p>",
            scan.from, scan.to, scan.from, scan.to
        );
    }

    let growth = report::growth(ctx, range);
    // The entry-based sections share one read of the log (see `report::shared_entries`).
    let funnels = report::funnels(ctx)?;
    let shared = report::shared_entries(ctx, scan, &funnels);
    let articles = report::articles(ctx, range, false);
    tiles(&mut body, growth.as_ref().ok(), articles.as_ref().ok());

    match growth {
        Ok(g) => {
            let new: u64 = g.days.iter().map(|d| d.new).sum();
            let gone: u64 = g.days.iter().map(|d| d.unfollowed).sum();
            let _ = write!(
                body,
                "<section><h2>用户增长 Growth</h2><table><tr><th>关注者 Followers now</th><td>{}</td></tr>\
                 <tr><th>新关注 New</th><td>{new}</td></tr><tr><th>取消关注 Unfollowed</th><td>{gone}</td></tr>\
                 <tr><th>净增 Net</th><td>{}</td></tr></table>{}{}</section>",
                g.subscribed_now,
                new as i64 - gone as i64,
                growth_chart(&g),
                cumulative_chart(&g),
            );
        }
        Err(e) => failed(&mut body, "用户增长 Growth", &e),
    }

    match articles {
        Ok(a) => {
            let _ = write!(
                body,
                "<section><h2>文章 Articles</h2><table><tr><th>阅读 Reads</th><td>{}</td></tr>\
                 <tr><th>分享 Shares</th><td>{}</td></tr><tr><th>分享率 Share rate</th><td>{}</td></tr></table>{}",
                a.reads,
                a.shares,
                percent(a.share_rate),
                articles_chart(&a),
            );
            match &shared {
                Ok(entries) => match report::articles_with(ctx, scan, Some(entries)) {
                    Ok(c) => comparison(&mut body, &c),
                    Err(e) => {
                        let _ = write!(body, "<p class=\"error\">{}</p>", escape(e.message()));
                    }
                },
                Err(e) => {
                    let _ = write!(body, "<p class=\"error\">{}</p>", escape(e.message()));
                }
            }
            body.push_str("</section>");
        }
        Err(e) => failed(&mut body, "文章 Articles", &e),
    }

    match &shared {
        Ok(entries) => retention_table(&mut body, &report::retention_of(ctx, scan, entries)),
        Err(e) => failed(&mut body, "留存 Retention", e),
    }

    for entry in &funnels {
        match &shared {
            Ok(entries) => {
                let f = report::funnel_of(ctx, &entry.funnel, scan, entries);
                let _ = write!(body, "<section>{}</section>", funnel_chart(&f));
            }
            Err(e) => failed(&mut body, entry.funnel.title(), e),
        }
    }

    match &shared {
        Ok(entries) => {
            let h = report::hours_of(ctx, scan, entries);
            let _ = write!(body, "<section>{}</section>", hours_chart(&h));
        }
        Err(e) => failed(&mut body, "活跃时段 Active hours", e),
    }

    match report::audience(ctx) {
        Ok(a) => audience_section(&mut body, &a),
        Err(e) => failed(&mut body, "用户画像 Audience", &e),
    }

    Ok(document("zh-CN", "数据统计 Analytics", &body))
}

/// The headline numbers as big tiles, first thing on the page.
fn tiles(out: &mut String, g: Option<&GrowthReport>, a: Option<&ArticlesReport>) {
    let mut tiles: Vec<(&str, String)> = Vec::new();
    if let Some(g) = g {
        let net: i64 = g.days.iter().map(|d| d.net).sum();
        tiles.push(("关注者 Followers", g.subscribed_now.to_string()));
        tiles.push(("净增 Net growth", format!("{net:+}")));
    }
    if let Some(a) = a {
        tiles.push(("阅读 Reads", a.reads.to_string()));
        tiles.push(("分享率 Share rate", percent(a.share_rate)));
    }
    out.push_str("<div style=\"display:grid;grid-template-columns:repeat(auto-fit,minmax(8rem,1fr));gap:.5rem\">");
    for (label, value) in tiles {
        let _ = write!(
            out,
            "<div class=\"card\" style=\"margin:0;text-align:center\"><div style=\"font-size:1.6rem;font-weight:600;color:#07c160\">{}</div><div class=\"muted\">{}</div></div>",
            escape(&value),
            escape(label)
        );
    }
    out.push_str("</div>");
}

fn comparison(out: &mut String, c: &ArticlesReport) {
    let Some(list) = c.articles.as_ref().filter(|l| !l.is_empty()) else {
        return;
    };
    out.push_str("<table><tr><th>文章 Article</th><th>阅读 Reads</th><th>分享 Shares</th><th>分享率 Rate</th></tr>");
    for s in list {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.title),
            s.reads,
            s.shares,
            percent(s.share_rate)
        );
    }
    out.push_str("</table>");
    out.push_str(&comparison_chart(c).unwrap_or_default());
}

fn retention_table(out: &mut String, r: &RetentionReport) {
    out.push_str(
        "<section><h2>留存 Retention</h2><p class=\"muted\">按关注日分组；第 k 天有消息或菜单等互动即为留存。Cohort = followers who subscribed that day; retained on day k = a message or follower event that day.</p>\
         <table><tr><th>关注日 Cohort</th><th>人数 Size</th><th>次日 Day 1</th><th>7 日 Day 7</th><th>30 日 Day 30</th></tr>",
    );
    for c in r.cohorts.iter().filter(|c| c.size > 0) {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td>", escape(&c.date), c.size);
        for (n, rate) in c.retained.iter().zip(&c.rate) {
            match n {
                Some(n) => {
                    let _ = write!(out, "<td>{n} ({})</td>", percent(*rate));
                }
                None => out.push_str("<td class=\"muted\">—</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></section>");
}

fn audience_section(out: &mut String, a: &AudienceReport) {
    let _ = write!(
        out,
        "<section><h2>用户画像 Audience</h2><p>{} 位关注者 subscribed followers</p>{}{}</section>",
        a.subscribed,
        share_chart("性别 Gender", &a.gender),
        share_chart("地区 Region", &a.region),
    );
}
