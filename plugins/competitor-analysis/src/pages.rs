//! The operator page and the weekly report page (mobile-friendly, everything typed escaped).

use plaza_sdk::html::{document, escape};

use crate::analysis::{Column, Report};
use crate::charts;
use crate::store::{Peer, StoredReport, SyncStatus};

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v}"))
}

fn table(report: &Report) -> String {
    let mut rows = String::new();
    let mut row = |c: &Column| {
        let words: Vec<String> = c
            .top_keywords
            .iter()
            .map(|k| format!("{}({})", escape(&k.word), k.posts))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td>{} / {}</td><td>{} / {}</td><td>{} / {}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.category),
            c.posts,
            c.posts_per_week,
            c.reads,
            opt(c.reads_per_post),
            c.likes,
            opt(c.likes_per_post),
            c.shares,
            opt(c.shares_per_post),
            words.join(" ")
        ));
    };
    if let Some(c) = &report.own.column {
        row(c);
    }
    for c in &report.peers {
        row(c);
    }
    let note = report
        .own
        .note
        .as_ref()
        .map(|n| format!("<p class=\"muted\">本号 Own: {}</p>", escape(n)))
        .unwrap_or_default();
    format!(
        "{note}<div style=\"overflow-x:auto\"><table><tr><th>账号 Account</th><th>篇数 Posts</th><th>周更 /week</th>\
<th>阅读 Reads (总/篇 total/post)</th><th>点赞 Likes</th><th>分享 Shares</th><th>热词 Keywords</th></tr>{rows}</table></div>"
    )
}

fn charts(report: &Report) -> String {
    format!(
        "<section>{}</section><section>{}</section>",
        charts::reads_per_post(report),
        charts::posts_per_week(report)
    )
}

pub fn dashboard(
    report: &Report,
    peers: &[Peer],
    sync: Option<&SyncStatus>,
    reports: &[StoredReport],
) -> String {
    let mut body = format!(
        "<h1>竞品分析 Competitor analysis</h1><p class=\"muted\">{} – {}</p>\
<form method=\"get\"><input type=\"date\" name=\"from\" value=\"{}\"> <input type=\"date\" name=\"to\" value=\"{}\"> <input type=\"submit\" value=\"更新 Update\"></form>",
        escape(&report.from),
        escape(&report.to),
        escape(&report.from),
        escape(&report.to)
    );
    body.push_str(&format!("<section>{}</section>", table(report)));
    body.push_str(&charts(report));
    body.push_str(&format!(
        "<section><h2>对标账号 Peers ({})</h2><ul>",
        peers.len()
    ));
    for p in peers {
        body.push_str(&format!(
            "<li>{} <span class=\"muted\">{} · {} · {}</span></li>",
            escape(&p.name),
            escape(&p.id),
            escape(&p.category),
            escape(p.wechat_id.as_deref().unwrap_or("-"))
        ));
    }
    body.push_str("</ul><p class=\"muted\">上传 Upload: POST api/peers/{id}/metrics (CSV: date,title,reads,likes,shares,url)</p></section>");
    body.push_str("<section><h2>数据同步 Provider sync</h2>");
    match sync {
        None => body.push_str("<p class=\"muted\">尚未同步 Never run</p>"),
        Some(s) => {
            if let Some(e) = &s.error {
                body.push_str(&format!("<p class=\"error\">{}</p>", escape(e)));
            }
            body.push_str("<ul>");
            for p in &s.peers {
                body.push_str(&format!(
                    "<li>{}: {}</li>",
                    escape(&p.peer),
                    if p.ok {
                        format!("{} stored", p.stored)
                    } else {
                        format!(
                            "<span class=\"error\">{}</span>",
                            escape(p.error.as_deref().unwrap_or("failed"))
                        )
                    }
                ));
            }
            body.push_str("</ul>");
        }
    }
    body.push_str("</section><section><h2>周报 Weekly reports</h2><ul>");
    for r in reports.iter().take(20) {
        body.push_str(&format!(
            "<li><a href=\"reports/{w}\">{w}</a></li>",
            w = escape(&r.week)
        ));
    }
    body.push_str("</ul></section>");
    document("zh-CN", "竞品分析 Competitor analysis", &body)
}

pub fn report_page(report: &Report) -> String {
    let body = format!(
        "<h1>竞品周报 Competitor report</h1><p class=\"muted\">{} – {}</p><section>{}</section>{}",
        escape(&report.from),
        escape(&report.to),
        table(report),
        charts(report)
    );
    document("zh-CN", "竞品周报 Competitor report", &body)
}
