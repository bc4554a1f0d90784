//! The HTML followers see: mobile-friendly pages (`plaza_sdk::html`) and the snippets that
//! short codes turn into. Everything an operator or follower typed goes through
//! [`escape`]; URLs come from the host (signed links) or from checked `http(s)` input.
//!
//! Pure functions from data to markup, so they are unit-tested natively.

use std::collections::BTreeMap;

use plaza_sdk::HttpResponse;
use plaza_sdk::html::{document, escape, page};

use crate::challenge::{Challenge, Progress, Standing};
use crate::favourites::Favourite;
use crate::survey::{FieldError, FieldKind, Survey};
use crate::text::mask_openid;
use crate::vote::{Vote, VoteStatus};

/// Extra style for results bars, snippets and forms.
const STYLE: &str = "<style>.bar{background:#e8f5e9;border-radius:6px;height:.6rem;margin:.2rem 0 .6rem}\
.bar>span{display:block;height:100%;border-radius:6px;background:#07c160}\
.field{margin:.9rem 0}.field label{display:block;font-weight:600}.choice{display:block;font-weight:400;margin:.3rem 0}\
.notice{padding:.6rem;border-radius:8px;background:#e8f5e9}.notice.error{background:#ffebe9}\
.plaza-component{border:1px solid #e5e7eb;border-radius:12px;padding:.8rem;margin:.8rem 0}\
a.button{display:inline-block;padding:.5rem 1rem;border-radius:8px;background:#07c160;color:#fff;text-decoration:none}</style>";

/// A notice at the top of a page: what just happened, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ok(String),
    Error(String),
}

/// A complete page response with `status`.
pub fn respond(status: u16, title: &str, body: &str) -> HttpResponse {
    page(status, document("zh-CN", title, &format!("{STYLE}{body}")))
}

fn notice_html(notice: Option<&Notice>) -> String {
    match notice {
        None => String::new(),
        Some(Notice::Ok(m)) => format!("<p class=\"notice\" role=\"status\">{}</p>", escape(m)),
        Some(Notice::Error(m)) => {
            format!("<p class=\"notice error\" role=\"alert\">{}</p>", escape(m))
        }
    }
}

/// One entry of a list page: title, where it leads, a status line.
pub struct ListItem {
    pub title: String,
    pub url: String,
    pub status: String,
}

/// A list of votes, questionnaires or challenges.
pub fn list_body(heading: &str, items: &[ListItem], empty: &str) -> String {
    let mut body = format!("<h1>{}</h1>", escape(heading));
    if items.is_empty() {
        body.push_str(&format!("<p class=\"muted\">{}</p>", escape(empty)));
    }
    for item in items {
        body.push_str(&format!(
            "<section><a href=\"{}\"><strong>{}</strong></a><div class=\"muted\">{}</div></section>",
            escape(&item.url),
            escape(&item.title),
            escape(&item.status)
        ));
    }
    body
}

/// The status of a vote in words.
pub fn vote_status_text(status: VoteStatus) -> &'static str {
    match status {
        VoteStatus::Open => "进行中 / open",
        VoteStatus::Ended => "已截止 / ended",
        VoteStatus::Closed => "已关闭 / closed",
    }
}

/// Live results: one bar per option.
fn results_html(vote: &Vote, tallies: &[i64], voters: i64, mine: Option<&[usize]>) -> String {
    let total: i64 = tallies.iter().sum();
    let mut html = format!(
        "<p class=\"muted\">{voters} 人参与 / {voters} voter{}</p>",
        if voters == 1 { "" } else { "s" }
    );
    for (i, label) in vote.options.iter().enumerate() {
        let n = tallies.get(i).copied().unwrap_or(0);
        let percent = if total > 0 { n * 100 / total } else { 0 };
        let chosen = if mine.is_some_and(|m| m.contains(&i)) {
            " ✓"
        } else {
            ""
        };
        html.push_str(&format!(
            "<div>{}{chosen} <span class=\"muted\">{n} 票 · {percent}%</span></div>\
<div class=\"bar\"><span style=\"width:{percent}%\"></span></div>",
            escape(label)
        ));
    }
    html
}

/// What a vote page shows besides the vote itself.
pub struct VoteView<'a> {
    pub tallies: &'a [i64],
    pub voters: i64,
    pub status: VoteStatus,
    /// The follower's ballot, if they voted.
    pub mine: Option<&'a [usize]>,
    /// Where the ballot form posts (a signed link), when the follower may vote now.
    pub action: Option<&'a str>,
    pub notice: Option<&'a Notice>,
    /// Deadline, formatted in the account's timezone.
    pub deadline: Option<String>,
}

/// The body of a vote's page.
pub fn vote_body(vote: &Vote, view: &VoteView<'_>) -> String {
    let mut body = format!(
        "<h1>{}</h1>{}",
        escape(&vote.title),
        notice_html(view.notice)
    );
    if !vote.description.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(&vote.description)));
    }
    let kind = if vote.multiple {
        match vote.max_choices {
            Some(m) => format!("多选，最多 {m} 项 / choose up to {m}"),
            None => "多选 / multiple choice".to_string(),
        }
    } else {
        "单选 / single choice".to_string()
    };
    body.push_str(&format!(
        "<p class=\"muted\">{} · {}{}</p>",
        escape(&kind),
        vote_status_text(view.status),
        view.deadline
            .as_deref()
            .map(|d| format!(" · 截止 / until {}", escape(d)))
            .unwrap_or_default()
    ));
    if let Some(action) = view.action {
        let input = if vote.multiple { "checkbox" } else { "radio" };
        body.push_str(&format!(
            "<form method=\"post\" action=\"{}\"><section>",
            escape(action)
        ));
        for (i, label) in vote.options.iter().enumerate() {
            body.push_str(&format!(
                "<label class=\"choice\"><input type=\"{input}\" name=\"option\" value=\"{i}\"> {}</label>",
                escape(label)
            ));
        }
        body.push_str("</section><button type=\"submit\">投票 / Vote</button></form>");
    }
    body.push_str(&format!(
        "<section><h2>结果 / Results</h2>{}</section>",
        results_html(vote, view.tallies, view.voters, view.mine)
    ));
    body
}

/// A questionnaire page: the form (with the values sent and each field's error), or a thank-you.
pub struct SurveyView<'a> {
    pub action: Option<&'a str>,
    pub values: &'a BTreeMap<String, Vec<String>>,
    pub errors: &'a [FieldError],
    pub notice: Option<&'a Notice>,
}

/// The body of a questionnaire's page.
pub fn survey_body(survey: &Survey, view: &SurveyView<'_>) -> String {
    let mut body = format!(
        "<h1>{}</h1>{}",
        escape(&survey.title),
        notice_html(view.notice)
    );
    if !survey.description.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(&survey.description)));
    }
    let Some(action) = view.action else {
        return body;
    };
    body.push_str(&format!(
        "<form method=\"post\" action=\"{}\"><section>",
        escape(action)
    ));
    for field in &survey.fields {
        let id = escape(&field.id);
        let values: &[String] = view.values.get(&field.id).map_or(&[], Vec::as_slice);
        let first = escape(values.first().map_or("", String::as_str));
        let required = if field.required {
            " <span class=\"error\">*</span>"
        } else {
            ""
        };
        let req_attr = if field.required { " required" } else { "" };
        body.push_str(&format!(
            "<div class=\"field\"><label for=\"f-{id}\">{}{required}</label>",
            escape(&field.label)
        ));
        if !field.help.is_empty() {
            body.push_str(&format!(
                "<div class=\"muted\">{}</div>",
                escape(&field.help)
            ));
        }
        let input = |kind: &str, extra: String| {
            format!(
                "<input id=\"f-{id}\" type=\"{kind}\" name=\"{id}\" value=\"{first}\"{req_attr}{extra}>"
            )
        };
        let bounds =
            |attr: &str, v: Option<f64>| v.map(|v| format!(" {attr}=\"{v}\"")).unwrap_or_default();
        body.push_str(&match field.kind {
            FieldKind::Text => input(
                "text",
                field
                    .max_length
                    .map(|m| format!(" maxlength=\"{m}\""))
                    .unwrap_or_default(),
            ),
            FieldKind::Textarea => format!(
                "<textarea id=\"f-{id}\" name=\"{id}\" rows=\"4\"{req_attr}>{first}</textarea>"
            ),
            FieldKind::Number => input(
                "number",
                format!(
                    " step=\"any\"{}{}",
                    bounds("min", field.min),
                    bounds("max", field.max)
                ),
            ),
            FieldKind::Date => input("date", String::new()),
            FieldKind::Phone => input("tel", String::new()),
            FieldKind::Email => input("email", String::new()),
            FieldKind::Single | FieldKind::Multiple => {
                let kind = if field.kind == FieldKind::Single {
                    "radio"
                } else {
                    "checkbox"
                };
                field
                    .options
                    .iter()
                    .map(|o| {
                        let checked = if values.iter().any(|v| v == o) {
                            " checked"
                        } else {
                            ""
                        };
                        format!(
                            "<label class=\"choice\"><input type=\"{kind}\" name=\"{id}\" value=\"{}\"{checked}> {}</label>",
                            escape(o),
                            escape(o)
                        )
                    })
                    .collect()
            }
        });
        for e in view.errors.iter().filter(|e| e.field == field.id) {
            body.push_str(&format!(
                "<div class=\"error\" data-field=\"{id}\">{}</div>",
                escape(&e.message)
            ));
        }
        body.push_str("</div>");
    }
    body.push_str("</section><button type=\"submit\">提交 / Submit</button></form>");
    body
}

/// What a challenge page shows besides the challenge itself.
pub struct ChallengeView<'a> {
    pub progress: Option<&'a Progress>,
    pub board: &'a [Standing],
    /// Where the check-in form posts (a signed link), when the follower may check in now.
    pub action: Option<&'a str>,
    pub notice: Option<&'a Notice>,
    pub reward: Option<&'a str>,
}

/// The body of a challenge's page.
pub fn challenge_body(ch: &Challenge, view: &ChallengeView<'_>) -> String {
    let mut body = format!("<h1>{}</h1>{}", escape(&ch.title), notice_html(view.notice));
    if !ch.description.is_empty() {
        body.push_str(&format!("<p>{}</p>", escape(&ch.description)));
    }
    body.push_str(&format!(
        "<p class=\"muted\">{} 天挑战 / {}-day challenge · {} – {}{}</p>",
        ch.days,
        ch.days,
        ch.start,
        ch.end(),
        if ch.reward_points > 0 {
            format!(
                " · 完成奖励 {} 积分 / {} points",
                ch.reward_points, ch.reward_points
            )
        } else {
            String::new()
        }
    ));
    if let Some(p) = view.progress {
        body.push_str(&format!(
            "<section><h2>我的进度 / My progress</h2>\
<p><strong data-checked-in=\"{c}\">{c}/{d}</strong> 天 / days · 连续 {s} 天 / streak {s} · 最长 {b} / best {b} · 缺卡 {m} 天 / missed {m}</p>{done}{reward}</section>",
            c = p.checked_in,
            d = p.days,
            s = p.current_streak,
            b = p.best_streak,
            m = p.missed,
            done = if p.completed {
                "<p class=\"notice\">🎉 挑战完成 / Challenge completed</p>"
            } else {
                ""
            },
            reward = view
                .reward
                .map(|r| format!("<p class=\"muted\">奖励 / reward: {}</p>", escape(r)))
                .unwrap_or_default()
        ));
    }
    if let Some(action) = view.action {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{}\"><button type=\"submit\">今日打卡 / Check in today</button></form>",
            escape(action)
        ));
    }
    body.push_str("<section><h2>排行榜 / Leaderboard</h2>");
    if view.board.is_empty() {
        body.push_str("<p class=\"muted\">还没有人打卡 / nobody has checked in yet</p>");
    } else {
        body.push_str("<table><tr><th>#</th><th>粉丝 / follower</th><th>天数 / days</th><th>连续 / streak</th></tr>");
        for s in view.board {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                s.rank,
                escape(&mask_openid(&s.openid)),
                if s.completed { " 🏅" } else { "" },
                s.checked_in,
                s.current_streak
            ));
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    body
}

/// The follower's favourites, each with a remove button (a form posting to a signed link).
pub fn favourites_body(items: &[(Favourite, String)], notice: Option<&Notice>) -> String {
    let mut body = format!("<h1>我的收藏 / My favourites</h1>{}", notice_html(notice));
    if items.is_empty() {
        body.push_str("<p class=\"muted\">还没有收藏 / nothing saved yet</p>");
    }
    for (fav, remove) in items {
        body.push_str(&format!(
            "<section><a href=\"{}\">{}</a>\
<form method=\"post\" action=\"{}\"><button type=\"submit\">取消收藏 / Remove</button></form></section>",
            escape(&fav.url),
            escape(&fav.title),
            escape(remove)
        ));
    }
    body
}

/// A page asking the follower to confirm saving an article.
pub fn favourite_confirm_body(fav: &Favourite, action: &str) -> String {
    format!(
        "<h1>收藏文章 / Save article</h1><section><p><a href=\"{url}\">{title}</a></p>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"article\" value=\"{article}\">\
<input type=\"hidden\" name=\"title\" value=\"{title}\"><input type=\"hidden\" name=\"url\" value=\"{url}\">\
<button type=\"submit\">收藏 / Save</button></form></section>",
        url = escape(&fav.url),
        title = escape(&fav.title),
        article = escape(&fav.article),
        action = escape(action)
    )
}

/// The snippet a `[vote id=…]` short code becomes: title, live results, a link to vote.
pub fn vote_snippet(
    vote: &Vote,
    tallies: &[i64],
    voters: i64,
    status: VoteStatus,
    url: &str,
) -> String {
    format!(
        "<div class=\"plaza-component plaza-vote\" data-vote=\"{id}\"><strong>🗳 {title}</strong>\
<div class=\"muted\">{status}</div>{results}<a class=\"button\" href=\"{url}\">去投票 / Vote</a></div>",
        id = escape(&vote.id),
        title = escape(&vote.title),
        status = vote_status_text(status),
        results = results_html(vote, tallies, voters, None),
        url = escape(url)
    )
}

/// The snippet a `[survey id=…]` short code becomes.
pub fn survey_snippet(survey: &Survey, answered: i64, url: &str) -> String {
    format!(
        "<div class=\"plaza-component plaza-survey\" data-survey=\"{id}\"><strong>📝 {title}</strong>\
<div class=\"muted\">{n} 个问题 / questions · {answered} 人已填写 / answered</div>\
<a class=\"button\" href=\"{url}\">填写问卷 / Answer</a></div>",
        id = escape(&survey.id),
        title = escape(&survey.title),
        n = survey.fields.len(),
        url = escape(url)
    )
}

/// The snippet a `[challenge id=…]` short code becomes.
pub fn challenge_snippet(ch: &Challenge, participants: usize, url: &str) -> String {
    format!(
        "<div class=\"plaza-component plaza-challenge\" data-challenge=\"{id}\"><strong>📅 {title}</strong>\
<div class=\"muted\">{days} 天 / days · {start} – {end} · {participants} 人参加 / joined</div>\
<a class=\"button\" href=\"{url}\">去打卡 / Check in</a></div>",
        id = escape(&ch.id),
        title = escape(&ch.title),
        days = ch.days,
        start = ch.start,
        end = ch.end(),
        url = escape(url)
    )
}

/// Plain article text as HTML: escaped, line breaks kept.
pub fn text_html(text: &str) -> String {
    escape(text).replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vote::NewVote;

    fn vote() -> Vote {
        NewVote {
            id: Some("v1".into()),
            title: "<b>Best</b> tea?".into(),
            description: "a & b".into(),
            options: vec!["green <i>".into(), "black".into()],
            multiple: false,
            max_choices: None,
            deadline: None,
        }
        .into_vote("v1".into(), 0)
        .unwrap()
    }

    #[test]
    fn vote_page_escapes_and_shows_results() {
        let v = vote();
        let body = vote_body(
            &v,
            &VoteView {
                tallies: &[3, 1],
                voters: 4,
                status: VoteStatus::Open,
                mine: Some(&[0]),
                action: Some("https://x/p/a/interactive/votes/v1?plaza_token=t&x=\"1\""),
                notice: Some(&Notice::Ok("<ok>".into())),
                deadline: None,
            },
        );
        assert!(body.contains("&lt;b&gt;Best&lt;/b&gt; tea?"));
        assert!(!body.contains("<b>Best"));
        assert!(body.contains("green &lt;i&gt; ✓"));
        assert!(body.contains("3 票 · 75%"));
        assert!(body.contains("type=\"radio\" name=\"option\" value=\"1\""));
        assert!(body.contains("x=&quot;1&quot;"));
        assert!(body.contains("&lt;ok&gt;"));
        let closed = vote_body(
            &v,
            &VoteView {
                tallies: &[0, 0],
                voters: 0,
                status: VoteStatus::Ended,
                mine: None,
                action: None,
                notice: None,
                deadline: Some("2026-01-01 00:00:00".into()),
            },
        );
        assert!(!closed.contains("<form"));
        assert!(closed.contains("已截止"));
    }

    #[test]
    fn snippets_are_self_contained_and_escaped() {
        let s = vote_snippet(&vote(), &[1, 1], 2, VoteStatus::Open, "https://h/p?a=1&b=2");
        assert!(s.starts_with("<div class=\"plaza-component plaza-vote\""));
        assert!(s.ends_with("</div>"));
        assert!(s.contains("href=\"https://h/p?a=1&amp;b=2\""));
        assert!(!s.contains("<b>"));
        assert_eq!(text_html("a<b>\nc"), "a&lt;b&gt;<br>c");
    }
}
