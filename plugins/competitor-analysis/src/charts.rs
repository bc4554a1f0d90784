//! SVG charts of a report: reads per post by account (bars) and posts per week (lines).
//! Self-contained SVG, every label escaped.

use plaza_sdk::html::escape;

use crate::analysis::{Column, Report};

const W: f64 = 640.0;
const COLORS: &[&str] = &[
    "#07c160", "#1f6feb", "#d4a72c", "#cf222e", "#8250df", "#1b7c83", "#bc4c00", "#6e7781",
];

/// The own account (when available) then the peers, in report order.
fn columns(report: &Report) -> Vec<&Column> {
    report
        .own
        .column
        .iter()
        .chain(report.peers.iter())
        .collect()
}

/// Horizontal bars: reads per post of each account.
pub fn reads_per_post(report: &Report) -> String {
    let cols = columns(report);
    let row = 28.0;
    let h = 50.0 + row * cols.len().max(1) as f64;
    let max = cols
        .iter()
        .filter_map(|c| c.reads_per_post)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let mut s = header(h, "每篇阅读 Reads per post");
    if cols.is_empty() {
        s.push_str("<text x=\"10\" y=\"60\" fill=\"#6e7781\">暂无数据 No data</text>");
    }
    for (i, c) in cols.iter().enumerate() {
        let y = 40.0 + row * i as f64;
        let v = c.reads_per_post.unwrap_or(0.0);
        let len = (W - 260.0) * v / max;
        s.push_str(&format!(
            "<text x=\"10\" y=\"{ty}\" font-size=\"13\">{name}</text>\
<rect x=\"170\" y=\"{y}\" width=\"{len:.1}\" height=\"18\" fill=\"{color}\"><title>{name}: {v}</title></rect>\
<text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"12\">{v}</text>",
            ty = y + 14.0,
            name = escape(&truncate(&c.name, 12)),
            color = COLORS[i % COLORS.len()],
            tx = 175.0 + len,
        ));
    }
    s.push_str("</svg>");
    s
}

/// Lines: posts per week of each account.
pub fn posts_per_week(report: &Report) -> String {
    let cols = columns(report);
    let h = 300.0;
    let (left, top, bottom, right) = (40.0, 40.0, 250.0, W - 150.0);
    let n = report.weeks.len().max(1);
    let max = cols
        .iter()
        .flat_map(|c| c.weekly_posts.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |i: usize| {
        if n == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| bottom - (bottom - top) * v as f64 / max;
    let mut s = header(h, "每周发文 Posts per week");
    s.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#999\"/>\
<text x=\"5\" y=\"{ty}\" font-size=\"11\">{max}</text><text x=\"5\" y=\"{bottom}\" font-size=\"11\">0</text>",
        ty = top + 4.0
    ));
    if let (Some(first), Some(last)) = (report.weeks.first(), report.weeks.last()) {
        s.push_str(&format!(
            "<text x=\"{left}\" y=\"270\" font-size=\"11\">{}</text><text x=\"{lx}\" y=\"270\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            escape(first),
            escape(last),
            lx = right
        ));
    }
    for (i, c) in cols.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = c
            .weekly_posts
            .iter()
            .enumerate()
            .map(|(j, v)| format!("{:.1},{:.1}", x(j), y(*v)))
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>\
<rect x=\"{lx}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{}</text>",
            points.join(" "),
            escape(&c.name),
            escape(&truncate(&c.name, 10)),
            lx = right + 10.0,
            ly = top + 18.0 * i as f64,
            tx = right + 25.0,
            ty = top + 18.0 * i as f64 + 9.0,
        ));
    }
    s.push_str("</svg>");
    s
}

fn header(h: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"100%\" role=\"img\" \
font-family=\"system-ui,sans-serif\"><title>{t}</title><text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Own, Range, Totals, column};
    use chrono::NaiveDate;

    #[test]
    fn charts_escape_names_and_draw_every_account() {
        let r = Range {
            from: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 1, 18).unwrap(),
        };
        let t = |posts, reads| Totals {
            posts,
            reads,
            likes: 0,
            shares: 0,
            weekly_posts: vec![posts, 0],
        };
        let report = Report {
            from: "2026-01-05".into(),
            to: "2026-01-18".into(),
            weeks: vec!["2026-01-05".into(), "2026-01-12".into()],
            own: Own {
                available: false,
                note: Some("analytics not installed".into()),
                column: None,
            },
            peers: vec![
                column("a", "<b>A</b>", "", r, t(2, 300), vec![]),
                column("b", "B", "", r, t(1, 50), vec![]),
            ],
        };
        let bars = reads_per_post(&report);
        assert!(bars.contains("&lt;b&gt;A&lt;/b&gt;") && !bars.contains("<b>"));
        assert_eq!(bars.matches("<rect").count(), 2);
        assert!(bars.contains(">150<"), "{bars}");
        let lines = posts_per_week(&report);
        assert_eq!(lines.matches("<polyline").count(), 2);
    }
}
