//! Charts as plain SVG strings, drawn on the server: no script, no external font or stylesheet,
//! a `viewBox` so that they scale to the width of a phone, every label escaped.

use std::fmt::Write as _;

use plaza_sdk::html::escape;

const W: f64 = 640.0;
const PALETTE: [&str; 6] = [
    "#07c160", "#1677ff", "#fa8c16", "#eb2f96", "#722ed1", "#13c2c2",
];
const FONT: &str = "font-family=\"-apple-system,system-ui,sans-serif\"";

/// A named series of a line chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
}

fn open(height: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height}\" width=\"100%\" role=\"img\" aria-label=\"{t}\" {FONT}>\
         <title>{t}</title><rect width=\"{W}\" height=\"{height}\" fill=\"#fff\" rx=\"8\"/>\
         <text x=\"16\" y=\"26\" font-size=\"16\" font-weight=\"600\" fill=\"#222\">{t}</text>",
        t = escape(title)
    );
    s
}

/// A "nice" upper bound for an axis, and its tick step (1, 2 or 5 times a power of ten).
fn nice_max(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn number(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// A line chart of `series` over `labels` (x axis, e.g. dates `MM-DD`); negative values allowed.
pub fn line_chart(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let h = 300.0;
    let (left, right, top, bottom) = (48.0, W - 16.0, 64.0, h - 36.0);
    let mut s = open(h, title);
    // Legend.
    let mut x = 16.0;
    for (i, se) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"38\" width=\"10\" height=\"10\" fill=\"{c}\" rx=\"2\"/>\
             <text x=\"{}\" y=\"47\" font-size=\"12\" fill=\"#555\">{}</text>",
            x + 14.0,
            escape(se.name)
        );
        x += 24.0 + 7.0 * se.name.chars().count().min(24) as f64;
    }
    let all = series.iter().flat_map(|se| se.values.iter().copied());
    let (min, max) = all.fold((0f64, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (hi, step) = nice_max(max.max(-min));
    let lo = if min < 0.0 {
        -((-min / step).ceil() * step)
    } else {
        0.0
    };
    let y_of = |v: f64| bottom - (v - lo) / (hi - lo).max(f64::EPSILON) * (bottom - top);
    let n = labels.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (n - 1) as f64
        }
    };
    // Grid and y labels.
    let mut v = lo;
    while v <= hi + step / 2.0 {
        let y = y_of(v);
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" fill=\"#888\" text-anchor=\"end\">{}</text>",
            if v == 0.0 { "#bbb" } else { "#eee" },
            left - 6.0,
            y + 4.0,
            number(v)
        );
        v += step;
    }
    // X labels: at most 8, evenly spaced.
    let every = labels.len().div_ceil(8).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % every == 0 || i + 1 == labels.len() {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" fill=\"#888\" text-anchor=\"middle\">{}</text>",
                x_of(i),
                h - 14.0,
                escape(l)
            );
        }
    }
    for (i, se) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = se
            .values
            .iter()
            .enumerate()
            .map(|(j, v)| format!("{:.1},{:.1}", x_of(j), y_of(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2.5\" stroke-linejoin=\"round\" points=\"{}\"/>",
            points.join(" ")
        );
        if se.values.len() <= 31 {
            for p in &points {
                let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{c}\"/>");
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// A vertical bar chart, one bar per label, the value written above each bar.
pub fn bar_chart(title: &str, bars: &[(String, f64)]) -> String {
    let h = 280.0;
    let (left, right, top, bottom) = (16.0, W - 16.0, 52.0, h - 40.0);
    let mut s = open(h, title);
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let (hi, _) = nice_max(max);
    let n = bars.len().max(1) as f64;
    let slot = (right - left) / n;
    let bar_w = (slot * 0.7).max(2.0);
    let show_every = if bars.len() > 12 {
        bars.len().div_ceil(12)
    } else {
        1
    };
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#bbb\"/>"
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let bh = (v / hi).max(0.0) * (bottom - top);
        let cx = x + bar_w / 2.0;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{bh:.1}\" fill=\"{}\" rx=\"2\"><title>{}: {}</title></rect>",
            bottom - bh,
            PALETTE[0],
            escape(label),
            number(*v)
        );
        if bars.len() <= 24 && *v > 0.0 {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#333\" text-anchor=\"middle\">{}</text>",
                bottom - bh - 4.0,
                number(*v)
            );
        }
        if i % show_every == 0 {
            let short: String = label.chars().take(8).collect();
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{}\" font-size=\"11\" fill=\"#666\" text-anchor=\"middle\">{}</text>",
                h - 20.0,
                escape(&short)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A funnel: one centred bar per step, its width proportional to the followers reaching it, with
/// the count and the conversion from the previous step.
pub fn funnel_chart(title: &str, steps: &[(String, u64, Option<f64>)]) -> String {
    let row = 52.0;
    let h = 48.0 + row * steps.len().max(1) as f64 + 8.0;
    let mut s = open(h, title);
    let first = steps.first().map(|s| s.1).unwrap_or(0).max(1) as f64;
    let max_w = W - 32.0;
    for (i, (label, n, from_prev)) in steps.iter().enumerate() {
        let y = 44.0 + row * i as f64;
        let w = (*n as f64 / first * max_w).max(4.0);
        let x = (W - w) / 2.0;
        let rate = from_prev
            .map(|r| format!(" · {:.1}%", r * 100.0))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\" rx=\"4\" opacity=\"0.85\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"13\" fill=\"#222\" text-anchor=\"middle\">{}. {} — {n}{rate}</text>",
            row - 20.0,
            PALETTE[i % PALETTE.len()],
            W / 2.0,
            y + row - 8.0 - 20.0 / 2.0 - 4.0,
            i + 1,
            escape(label),
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale() {
        let l = line_chart(
            "Growth <b>",
            &["05-01".into(), "05-02".into()],
            &[Series {
                name: "net & new",
                values: vec![-2.0, 5.0],
            }],
        );
        assert!(l.starts_with("<svg") && l.ends_with("</svg>"));
        assert!(l.contains("viewBox=\"0 0 640 300\""));
        assert!(l.contains("Growth &lt;b&gt;") && !l.contains("<b>"));
        assert!(l.contains("net &amp; new"));
        assert!(l.contains("<polyline"));
        let b = bar_chart("Hours", &[("<0>".into(), 3.0), ("1".into(), 0.0)]);
        assert!(b.contains("&lt;0&gt;") && b.contains(">3</text>"));
        let f = funnel_chart(
            "F",
            &[("follow".into(), 4, None), ("read".into(), 1, Some(0.25))],
        );
        assert!(f.contains("1. follow — 4") && f.contains("2. read — 1 · 25.0%"));
        assert_eq!(nice_max(7.0), (8.0, 2.0));
        assert_eq!(nice_max(0.0), (1.0, 0.25));
    }
}
