//! The HTML pages followers read: an article, the history (历史消息) and the featured list
//! (历史消息精选). Everything typed by an operator is escaped here; the article body is already
//! sanitised HTML ([`crate::sanitize`]) with its short codes rendered ([`crate::shortcode`]).

use plaza_sdk::html::{document, escape};
use plaza_sdk::time::{Tz, local_day};
use plaza_sdk::{Header, HttpResponse};

use crate::article::{Article, HistoryEntry};

/// Styles and the small panorama / like / share script of the editor's own page template (the
/// chrome around bodies, which never pass their own scripts: the sanitiser removes them).
const ARTICLE_STYLE: &str = "<style>article{background:#fff;border-radius:12px;padding:1rem}\
article img{max-width:100%;height:auto}.ed-meta{color:#6e7781;font-size:.9rem}\
.ed-panorama{height:14rem;border-radius:8px;background-size:auto 100%;background-repeat:repeat-x;\
cursor:grab;touch-action:pan-y;position:relative}.ed-panorama span{position:absolute;bottom:.4rem;\
left:.6rem;color:#fff;font-size:.8rem;text-shadow:0 1px 2px #000}.ed-actions{display:flex;gap:.5rem;\
margin:1rem 0}.ed-actions button{flex:1}.ed-miniprogram{border:1px solid #eee}\
.ed-preview{background:#fff8c5;padding:.5rem;border-radius:8px}</style>";

const ARTICLE_SCRIPT: &str = "<script>(function(){\
document.querySelectorAll('.ed-panorama').forEach(function(p){var x=0,d=null;\
function set(){p.style.backgroundPosition=x+'px 0'}\
p.addEventListener('pointerdown',function(e){d=e.clientX;p.setPointerCapture(e.pointerId)});\
p.addEventListener('pointermove',function(e){if(d!==null){x+=e.clientX-d;d=e.clientX;set()}});\
p.addEventListener('pointerup',function(){d=null});\
setInterval(function(){if(d===null){x-=1;set()}},40)});\
document.querySelectorAll('[data-ed-action]').forEach(function(b){b.addEventListener('click',function(){\
fetch(b.getAttribute('data-ed-action'),{method:'POST'}).then(function(r){return r.json()}).then(function(j){\
if(j.likes!==undefined){b.textContent='👍 '+j.likes}else{b.textContent='已分享 Shared'}});\
if(b.hasAttribute('data-ed-share')&&navigator.share){navigator.share({title:document.title,url:location.href.split('?')[0]})}\
})})})();</script>";

/// What an article page shows besides the article.
pub struct ArticleView<'a> {
    pub article: &'a Article,
    /// The account's timezone, in which dates are shown.
    pub timezone: Tz,
    /// The body with short codes rendered.
    pub body_html: &'a str,
    /// Absolute URL of the cover, if any.
    pub cover_url: Option<&'a str>,
    /// The end-of-article ad (already rendered by ad-slots), if any.
    pub end_ad: &'a str,
    /// Where the like and share buttons post (with the follower's token when there is one);
    /// `None` on a preview.
    pub actions: Option<(&'a str, &'a str)>,
    pub likes: i64,
    pub preview: bool,
    /// Link back to the history page (keeps the follower's token).
    pub history_url: &'a str,
}

/// The article page.
pub fn article_page(v: &ArticleView<'_>) -> String {
    let a = v.article;
    let mut body = String::from(ARTICLE_STYLE);
    if v.preview {
        body.push_str("<p class=\"ed-preview\">预览 Preview — 尚未发布 not published</p>");
    }
    body.push_str("<article>");
    body.push_str(&format!("<h1>{}</h1>", escape(&a.title)));
    let when = a.published_at.unwrap_or(a.updated_at);
    body.push_str(&format!(
        "<p class=\"ed-meta\">{}{}</p>",
        if a.author.is_empty() {
            String::new()
        } else {
            format!("{} · ", escape(&a.author))
        },
        local_day(when, v.timezone)
    ));
    if let Some(cover) = v.cover_url {
        body.push_str(&format!(
            "<img class=\"ed-cover\" src=\"{}\" alt=\"\">",
            escape(cover)
        ));
    }
    body.push_str("<div class=\"ed-body\">");
    body.push_str(v.body_html);
    body.push_str("</div>");
    body.push_str(v.end_ad);
    if let Some((like, share)) = v.actions {
        body.push_str(&format!(
            "<div class=\"ed-actions\"><button type=\"button\" data-ed-action=\"{}\">👍 {}</button>\
             <button type=\"button\" data-ed-share data-ed-action=\"{}\">分享 Share</button></div>",
            escape(like),
            v.likes,
            escape(share)
        ));
    }
    body.push_str("</article>");
    body.push_str(&format!(
        "<p><a href=\"{}\">历史消息 History</a></p>",
        escape(v.history_url)
    ));
    body.push_str(ARTICLE_SCRIPT);
    document("zh-CN", &a.title, &body)
}

/// The history (or featured) list: newest first, each entry a link (`link(id)`).
pub fn list_page(
    title: &str,
    entries: &[&HistoryEntry],
    timezone: Tz,
    cover_url: &dyn Fn(&str) -> String,
    link: &dyn Fn(&str) -> String,
    other: (&str, &str),
) -> String {
    let mut body = format!("<h1>{}</h1>", escape(title));
    if entries.is_empty() {
        body.push_str("<p class=\"muted\">还没有文章 No articles yet</p>");
    }
    for e in entries {
        body.push_str(&format!(
            "<section class=\"ed-entry\"><a href=\"{}\"><strong>{}</strong></a>{}<br>\
             <span class=\"muted\">{}{}</span>{}</section>",
            escape(&link(&e.id)),
            escape(&e.title),
            if e.featured { " ⭐" } else { "" },
            local_day(e.published_at, timezone),
            if e.digest.is_empty() {
                String::new()
            } else {
                format!(" · {}", escape(&e.digest))
            },
            e.cover.as_deref().map_or(String::new(), |c| format!(
                "<br><img src=\"{}\" alt=\"\" style=\"max-width:100%\">",
                escape(&cover_url(c))
            )),
        ));
    }
    body.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>",
        escape(other.0),
        escape(other.1)
    ));
    document("zh-CN", title, &body)
}

/// A short error page (403 for a bad preview link, 404 for an unknown article).
pub fn message_page(status: u16, title: &str, text: &str) -> HttpResponse {
    page(
        status,
        document(
            "zh-CN",
            title,
            &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
        ),
        &[],
    )
}

/// An HTML response with the SDK page's policy, widened by `frame_hosts` for the video players
/// an article embeds (nothing else may be framed, and nothing may frame the page).
pub fn page(status: u16, html: String, frame_hosts: &[String]) -> HttpResponse {
    let mut response = plaza_sdk::html::page(status, html);
    if !frame_hosts.is_empty() {
        let frames: Vec<String> = frame_hosts
            .iter()
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            })
            .map(|h| format!("https://{h}"))
            .collect();
        for header in &mut response.headers {
            if header.name == "content-security-policy" {
                header.value = format!("{}; frame-src {}", header.value, frames.join(" "));
            }
        }
    }
    response.headers.push(Header {
        name: "referrer-policy".into(),
        value: "no-referrer".into(),
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_accounts_local_dates() {
        // 2026-03-01 16:30 UTC is 00:30 on 03-02 in Shanghai.
        let a = Article {
            published_at: Some(1_772_382_600_000),
            ..Article::default()
        };
        let view = |zone: &str| {
            article_page(&ArticleView {
                article: &a,
                timezone: plaza_sdk::time::timezone(zone),
                body_html: "",
                cover_url: None,
                end_ad: "",
                actions: None,
                likes: 0,
                preview: false,
                history_url: "/history",
            })
        };
        assert!(view("Asia/Shanghai").contains("2026-03-02"));
        assert!(view("Europe/London").contains("2026-03-01"));
    }

    #[test]
    fn typed_text_is_escaped_and_frames_are_limited() {
        let a = Article {
            id: "a1".into(),
            title: "<script>x</script>".into(),
            author: "\"me\"".into(),
            ..Article::default()
        };
        let html = article_page(&ArticleView {
            article: &a,
            timezone: plaza_sdk::time::timezone("Asia/Shanghai"),
            body_html: "<p>ok</p>",
            cover_url: None,
            end_ad: "",
            actions: Some(("/like?x=1&y=2", "/share")),
            likes: 3,
            preview: false,
            history_url: "/history",
        });
        assert!(html.contains("<h1>&lt;script&gt;x&lt;/script&gt;</h1>"));
        assert!(html.contains("&quot;me&quot;"));
        assert!(html.contains("data-ed-action=\"/like?x=1&amp;y=2\""));
        let r = page(200, html, &["v.qq.com".into(), "bad host\"".into()]);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.ends_with("; frame-src https://v.qq.com"), "{csp}");
    }
}
