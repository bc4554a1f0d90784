//! The editor's import through the real plugin, in-process: the bundled `editor` component
//! installed on an account, `POST /api/import` with a generated 秀米-style article (nested
//! sections, inline styles on every element, images already in the account's media store) — the
//! whole call: a fresh instance, JSON decoding, the ammonia sanitiser compiled to WebAssembly,
//! the draft and its first version written to storage. Prints ms per import and MB/s.
//!
//! The default size is 1 MiB. A stored article (body included) must fit the host's 1 MiB storage
//! value: this sample sanitises to about 0.94 MiB and fits; a bigger one is refused (413).
//!
//! Run: `cargo run --release -p plaza-host --example editor_import_bench [bytes] [rounds]`

use std::time::Instant;

use plaza_host::PlatformOptions;
use plaza_host::accounts::AccountKind;
use plaza_host::harness::{self, Caller};
use serde_json::json;

const ACCOUNT: &str = "bench";

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
<section style=\"text-align: center; margin: 10px 0px; box-sizing: border-box;\"><img src=\"/media/{ACCOUNT}/{i:064x}\" \
style=\"width: 100%; vertical-align: middle; box-sizing: border-box;\" data-ratio=\"0.75\" data-w=\"1080\"></section>\
<section style=\"margin: 8px 0px; box-sizing: border-box;\"><section style=\"background-color: rgb(196, 91, 45); height: 1px; \
width: 100%; box-sizing: border-box;\"><br></section></section></section></section>"
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (size, rounds) = (arg(1, 1 << 20), arg(2, 10));
    let mut html =
        String::from("<section powered-by=\"xiumi.us\" style=\"box-sizing: border-box;\">");
    let mut i = 0;
    while html.len() < size {
        html.push_str(&card(i));
        i += 1;
    }
    html.push_str("</section>");
    let body = json!({ "html": html }).to_string();

    let dir = tempfile::tempdir()?;
    let platform = harness::platform(PlatformOptions::new(dir.path().join("data"))).await?;
    harness::account(&platform, ACCOUNT, AccountKind::Service, None).await?;
    harness::install_bundled(&platform, ACCOUNT, "editor", None).await?;
    let import = || async {
        let (status, answer) = harness::plugin_http(
            &platform,
            ACCOUNT,
            "editor",
            Caller::of(None, true),
            "POST",
            "/api/import",
            body.as_bytes(),
        )
        .await
        .expect("editor answers");
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
        answer.len()
    };
    let answer_len = import().await; // warm-up: the component compiled and cached
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        import().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mib = html.len() as f64 / (1024.0 * 1024.0);
    println!(
        "import of a {} byte ({mib:.2} MiB) 秀米-style article through the editor plugin (answer {answer_len} bytes): \
         {rounds} rounds, median {median:.1} ms/import (min {:.1}, max {:.1}), {:.1} MiB/s",
        html.len(),
        times[0],
        times[times.len() - 1],
        mib / (median / 1000.0)
    );
    Ok(())
}
