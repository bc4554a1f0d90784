//! The daily revenue report: counters → per day, per ad, per slot, per campaign figures, and an
//! SVG bar chart of revenue per day (plain Rust, unit-tested natively).
//!
//! Tracking increments counters `st:{day}:{scope}:{metric}` where scope is `all`, `ad/{id}`,
//! `slot/{id}` or `camp/{id}` and metric is `imp`, `clk`, `bimp`, `bclk`, `rev` (milli-cents)
//! or `x.{reason}` (excluded traffic by reason).

use std::collections::BTreeMap;

use plaza_sdk::html::escape;
use serde::Serialize;

/// The figures of one scope on one day (or over the range).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub impressions: i64,
    pub clicks: i64,
    pub billable_impressions: i64,
    pub billable_clicks: i64,
    pub excluded: BTreeMap<String, i64>,
    pub revenue_millicents: i64,
    pub revenue_cents: f64,
}

impl Figures {
    fn add(&mut self, metric: &str, n: i64) {
        match metric {
            "imp" => self.impressions += n,
            "clk" => self.clicks += n,
            "bimp" => self.billable_impressions += n,
            "bclk" => self.billable_clicks += n,
            "rev" => {
                self.revenue_millicents += n;
                self.revenue_cents = self.revenue_millicents as f64 / 1000.0;
            }
            other => {
                if let Some(reason) = other.strip_prefix("x.") {
                    *self.excluded.entry(reason.to_string()).or_default() += n;
                }
            }
        }
    }
}

/// One day of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Day {
    pub day: String,
    #[serde(flatten)]
    pub total: Figures,
    pub ads: BTreeMap<String, Figures>,
    pub slots: BTreeMap<String, Figures>,
    pub campaigns: BTreeMap<String, Figures>,
}

impl Day {
    pub fn new(day: &str) -> Day {
        Day {
            day: day.to_string(),
            ..Day::default()
        }
    }

    /// Adds one counter (`key` without the `st:{day}:` prefix, e.g. `ad/a1:rev`).
    pub fn add(&mut self, key: &str, n: i64) {
        let Some((scope, metric)) = key.rsplit_once(':') else {
            return;
        };
        let figures = match scope.split_once('/') {
            None if scope == "all" => &mut self.total,
            Some(("ad", id)) => self.ads.entry(id.to_string()).or_default(),
            Some(("slot", id)) => self.slots.entry(id.to_string()).or_default(),
            Some(("camp", id)) => self.campaigns.entry(id.to_string()).or_default(),
            _ => return,
        };
        figures.add(metric, n);
    }
}

/// Totals over the days.
pub fn totals(days: &[Day]) -> Figures {
    let mut t = Figures::default();
    for d in days {
        t.add("imp", d.total.impressions);
        t.add("clk", d.total.clicks);
        t.add("bimp", d.total.billable_impressions);
        t.add("bclk", d.total.billable_clicks);
        t.add("rev", d.total.revenue_millicents);
        for (reason, n) in &d.total.excluded {
            t.add(&format!("x.{reason}"), *n);
        }
    }
    t
}

/// A bar chart of revenue per day (yuan), with the billable clicks as a line.
pub fn svg(days: &[Day]) -> String {
    let (w, h, pad) = (640.0_f64, 240.0_f64, 30.0_f64);
    let max_rev = days
        .iter()
        .map(|d| d.total.revenue_millicents)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let max_clk = days
        .iter()
        .map(|d| d.total.billable_clicks)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = days.len().max(1) as f64;
    let step = (w - 2.0 * pad) / n;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"收入 Revenue per day\">\
<line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#999\"/>",
        y0 = h - pad,
        x1 = w - pad
    );
    let mut points = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let x = pad + i as f64 * step;
        let bh = (h - 2.0 * pad) * d.total.revenue_millicents as f64 / max_rev;
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"#07c160\"><title>{day}: ¥{yuan:.2}</title></rect>",
            y = h - pad - bh,
            bw = (step * 0.7).max(1.0),
            day = escape(&d.day),
            yuan = d.total.revenue_millicents as f64 / 100_000.0,
        ));
        points.push(format!(
            "{:.1},{:.1}",
            x + step * 0.35,
            h - pad - (h - 2.0 * pad) * d.total.billable_clicks as f64 / max_clk
        ));
        if days.len() <= 14 || i % (days.len() / 7).max(1) == 0 {
            out.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{ty}\" font-size=\"10\" fill=\"#666\">{}</text>",
                escape(d.day.get(5..).unwrap_or(&d.day)),
                ty = h - pad / 3.0
            ));
        }
    }
    if !points.is_empty() {
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1677ff\" stroke-width=\"2\"/>",
            points.join(" ")
        ));
    }
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"14\" font-size=\"11\" fill=\"#333\">收入 Revenue (max ¥{:.2}) · 计费点击 billable clicks (line, max {})</text></svg>",
        max_rev / 100_000.0,
        max_clk as i64
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_fold_into_scopes_and_totals() {
        let mut d = Day::new("2026-01-01");
        for (k, n) in [
            ("all:imp", 3),
            ("all:bimp", 2),
            ("all:rev", 1500),
            ("all:x.duplicate", 1),
            ("ad/a1:imp", 3),
            ("slot/s1:clk", 1),
            ("camp/c1:bimp", 4),
            ("junk", 9),
        ] {
            d.add(k, n);
        }
        assert_eq!(d.total.impressions, 3);
        assert_eq!(d.total.revenue_cents, 1.5);
        assert_eq!(d.total.excluded["duplicate"], 1);
        assert_eq!(d.ads["a1"].impressions, 3);
        assert_eq!(d.slots["s1"].clicks, 1);
        assert_eq!(d.campaigns["c1"].billable_impressions, 4);
        let t = totals(&[d.clone(), d]);
        assert_eq!((t.impressions, t.revenue_millicents), (6, 3000));
        assert_eq!(t.excluded["duplicate"], 2);
    }

    #[test]
    fn the_chart_has_a_bar_per_day_and_escapes() {
        let mut a = Day::new("2026-01-01");
        a.add("all:rev", 100_000);
        let b = Day::new("2026-01-02<");
        let s = svg(&[a, b]);
        assert_eq!(s.matches("<rect").count(), 2);
        assert!(s.contains("¥1.00") && !s.contains("02<"));
    }
}
