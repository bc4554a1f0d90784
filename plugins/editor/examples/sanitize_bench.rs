//! Benchmark: sanitising a generated 1 MB 秀米-style article (nested sections, inline styles on
//! every element, coloured titles, dividers, remote images — which are re-hosted by a stub that
//! answers a media URL at once, so only the sanitiser is measured).
//!
//! `cargo run --release -p editor --example sanitize_bench` (optional arguments: size in bytes,
//! rounds). Prints ms per article and MB/s.

use std::sync::Arc;
use std::time::Instant;

use editor::sanitize::{Patterns, Policy, Rehost, sanitize};

struct InstantStore;

impl Rehost for InstantStore {
    fn image(&self, src: &str) -> Result<String, String> {
        Ok(format!("/media/acct/{:x}", src.len()))
    }
}

/// One 秀米 card (~1.3 KB): a titled, bordered, rotated badge, a paragraph, an image, a divider.
fn card(i: usize) -> String {
    format!(
        "<section style=\"margin: 10px 0%; box-sizing: border-box;\"><section style=\"display: inline-block; width: 100%; \
vertical-align: top; background-color: rgb(254, 249, 239); padding: 15px; border-style: solid; border-width: 1px; \
border-color: rgb(232, 200, 150); border-radius: 10px; box-sizing: border-box;\"><section style=\"text-align: center; \
box-sizing: border-box;\"><section style=\"display: inline-block; padding: 4px 18px; background-color: rgb(196, 91, 45); \
color: rgb(255, 255, 255); border-radius: 20px; transform: rotate(-2deg); box-sizing: border-box;\"><p style=\"margin: 0px; \
box-sizing: border-box;\"><strong style=\"box-sizing: border-box;\">第 {i} 节 · Section {i}</strong></p></section></section>\
<section style=\"margin: 12px 0px; line-height: 1.8; letter-spacing: 1px; color: rgb(62, 62, 62); box-sizing: border-box;\">\
<p style=\"text-indent: 2em; margin: 0px; box-sizing: border-box;\">周末的市集又来啦！手作、咖啡、花艺，还有<span style=\"color: \
rgb(196, 91, 45); font-weight: bold; box-sizing: border-box;\">限时折扣</span>。The market is back this weekend.</p></section>\
<section style=\"text-align: center; margin: 10px 0px; box-sizing: border-box;\"><img src=\"https://img.xiumi.us/xmi/ua/{i}.png\" \
style=\"width: 100%; vertical-align: middle; box-sizing: border-box;\" data-ratio=\"0.75\" data-w=\"1080\"></section>\
<section style=\"margin: 8px 0px; box-sizing: border-box;\"><section style=\"background-color: rgb(196, 91, 45); height: 1px; \
width: 100%; box-sizing: border-box;\"><br></section></section></section></section>"
    )
}

/// A 秀米 export of at least `size` bytes.
pub fn article(size: usize) -> String {
    let mut html = String::from(
        "<section powered-by=\"xiumi.us\" style=\"box-sizing: border-box; font-size: 16px;\">",
    );
    let mut i = 0;
    while html.len() < size {
        html.push_str(&card(i));
        i += 1;
    }
    html.push_str("</section>");
    html
}

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1 << 20);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let html = article(size);
    let policy = Policy {
        video_hosts: vec!["v.qq.com".into()],
        media_prefix: "/media/acct/".into(),
    };
    let patterns = Patterns::default();
    let warm = sanitize(&html, &policy, &patterns, Arc::new(InstantStore));
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let out = sanitize(&html, &policy, &patterns, Arc::new(InstantStore));
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(out.html.len(), warm.html.len());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mb = html.len() as f64 / (1024.0 * 1024.0);
    println!(
        "input {} bytes ({:.2} MiB), output {} bytes, {} images re-hosted, {} style declarations dropped",
        html.len(),
        mb,
        warm.html.len(),
        warm.report.images_rehosted,
        warm.report.style_declarations_removed
    );
    println!(
        "{rounds} rounds: median {median:.1} ms/article, min {:.1} ms, max {:.1} ms, {:.1} MiB/s (median)",
        times[0],
        times[times.len() - 1],
        mb / (median / 1000.0)
    );
}
