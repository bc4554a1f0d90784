//! The allow-list sanitiser every article body goes through: HTML pasted from 135编辑器 or 秀米,
//! fetched from a granted host, or typed into the JSON API.
//!
//! [`ammonia`] does the parsing (html5ever, as browsers parse) and keeps only the tags and
//! attributes listed here; on top of it:
//!
//! * `style` attributes keep only the CSS properties operators style articles with
//!   ([`STYLE_PROPERTIES`]), and a declaration whose value calls any function other than colours
//!   and transforms (`url(`, `expression(`, `image-set(` …) or uses CSS escapes is dropped;
//! * `<img src>` is kept only as a media-store URL: `http(s)` and `data:` images are handed to a
//!   [`Rehost`] (which fetches or decodes them into the media store) and dropped when it cannot;
//! * `<iframe>`s whose `src` is on an allowed video host become `[video src="…"]` short codes
//!   (rendered as sandboxed frames when the page is served); every other iframe is removed with
//!   its content, as are scripts, styles, objects, forms and the like;
//! * links keep `http`, `https` and `mailto` URLs only and get `rel="noopener noreferrer"`.
//!
//! What was removed or re-hosted is counted in a [`Report`], for the import answer.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use regex_lite::Regex;
use serde::Serialize;

/// Tags kept (with their content). The block and inline tags 135 and 秀米 export.
pub const TAGS: &[&str] = &[
    "section",
    "div",
    "p",
    "span",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "br",
    "img",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "caption",
    "colgroup",
    "col",
    "hr",
    "figure",
    "figcaption",
    "a",
    "pre",
    "code",
];

/// Tags removed together with everything inside them.
pub const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "object", "embed", "applet", "form", "textarea", "select",
    "button", "noscript", "template", "title", "svg", "math", "frameset", "frame", "noembed",
    "noframes", "xmp", "audio", "video",
];

/// CSS properties a `style` attribute may keep.
pub const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "background",
    "font",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-decoration",
    "text-align",
    "text-indent",
    "text-transform",
    "letter-spacing",
    "word-spacing",
    "word-break",
    "white-space",
    "line-height",
    "vertical-align",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-radius",
    "border-collapse",
    "width",
    "max-width",
    "min-width",
    "height",
    "max-height",
    "min-height",
    "display",
    "box-sizing",
    "overflow",
    "float",
    "clear",
    "opacity",
    "transform",
    "flex",
    "flex-direction",
    "justify-content",
    "align-items",
    "list-style-type",
];

/// CSS functions a kept declaration may call: colours and transforms.
const STYLE_FUNCTIONS: &[&str] = &[
    "rgb",
    "rgba",
    "hsl",
    "hsla",
    "rotate",
    "rotatez",
    "translate",
    "translatex",
    "translatey",
    "scale",
    "scalex",
    "scaley",
    "skew",
    "skewx",
    "skewy",
];

/// What the sanitiser needs to know about the account.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Hosts whose iframes (video players) are kept, e.g. `v.qq.com`.
    pub video_hosts: Vec<String>,
    /// The path prefix of this account's media-store URLs (`/media/{account}/`): images there
    /// are kept as they are.
    pub media_prefix: String,
}

/// Puts a remote (`http(s)://…`) or inline (`data:…`) image into the media store.
pub trait Rehost: Send + Sync {
    /// The media-store URL the image now has, or why it could not be re-hosted.
    fn image(&self, src: &str) -> Result<String, String>;
}

/// A [`Rehost`] that re-hosts nothing (every remote image is removed).
pub struct NoRehost;

impl Rehost for NoRehost {
    fn image(&self, _src: &str) -> Result<String, String> {
        Err("re-hosting is off".into())
    }
}

/// What sanitising removed or changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub scripts_removed: u32,
    pub event_handlers_removed: u32,
    pub javascript_urls_removed: u32,
    pub iframes_kept_as_video: u32,
    pub iframes_removed: u32,
    pub images_rehosted: u32,
    pub images_removed: u32,
    pub style_declarations_removed: u32,
    /// Why images could not be re-hosted (first few), e.g. a host without an outbound grant.
    pub notes: Vec<String>,
}

/// A sanitised body and what was removed.
#[derive(Debug, Clone)]
pub struct Sanitized {
    pub html: String,
    pub report: Report,
}

/// Pre-compiled patterns used to find iframes; build once per call.
pub struct Patterns {
    iframe: Regex,
    src: Regex,
}

impl Default for Patterns {
    fn default() -> Self {
        // The patterns are fixed strings: a failure here is a bug caught by every unit test.
        let re = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("bad pattern {p}: {e}"));
        Patterns {
            iframe: re(r"(?is)<iframe\b([^>]*)>(.*?</iframe\s*>)?"),
            src: re(r#"(?is)\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#),
        }
    }
}

/// Event-handler attributes (`on…=`) inside the tags of `lower` (lower-cased HTML), counted by
/// a plain scan (for the report; the sanitiser removes them whatever this finds).
fn count_handlers(lower: &str) -> u32 {
    let bytes = lower.as_bytes();
    let mut count = 0;
    let mut in_tag = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            b'o' if in_tag
                && i > 0
                && matches!(
                    bytes[i - 1],
                    b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'/'
                )
                && bytes.get(i + 1) == Some(&b'n') =>
            {
                let mut j = i + 2;
                while j < bytes.len() && bytes[j].is_ascii_lowercase() {
                    j += 1;
                }
                let name_len = j - i - 2;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if name_len > 0 && bytes.get(j) == Some(&b'=') {
                    count += 1;
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    count
}

/// Sanitises `html` under `policy`; remote and inline images go through `rehost`.
pub fn sanitize(
    html: &str,
    policy: &Policy,
    patterns: &Patterns,
    rehost: Arc<dyn Rehost>,
) -> Sanitized {
    let lower = html.to_ascii_lowercase();
    let report = Arc::new(Mutex::new(Report {
        scripts_removed: lower.matches("<script").count() as u32,
        event_handlers_removed: count_handlers(&lower),
        javascript_urls_removed: lower.matches("javascript:").count() as u32,
        ..Report::default()
    }));
    let has_iframes = lower.contains("<iframe");
    drop(lower);
    let html = if has_iframes {
        iframes_to_video_codes(html, policy, patterns, &report)
    } else {
        html.to_string()
    };

    let mut builder = ammonia::Builder::empty();
    builder
        .add_tags(TAGS.iter().copied())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .add_generic_attributes(["style", "title", "align"])
        .add_tag_attributes("img", ["src", "alt", "width", "height"])
        .add_tag_attributes("a", ["href", "title"])
        .add_tag_attributes("td", ["colspan", "rowspan", "width", "valign"])
        .add_tag_attributes("th", ["colspan", "rowspan", "width", "valign"])
        .add_tag_attributes("col", ["span", "width"])
        .add_tag_attributes("ol", ["start"])
        // `data` only so that inline images reach the filter below, which re-hosts them; a
        // `data:` link is dropped there.
        .url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect());
    let media_prefix = policy.media_prefix.clone();
    let filter_report = report.clone();
    builder.attribute_filter(move |element, attribute, value| {
        let mut report = match filter_report.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        match (element, attribute) {
            (_, "style") => {
                let (kept, removed) = filter_style(value);
                report.style_declarations_removed += removed;
                Some(Cow::Owned(kept))
            }
            (_, "href") => {
                let squeezed: String = value
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if squeezed.starts_with("data:") {
                    None
                } else {
                    Some(Cow::Borrowed(value))
                }
            }
            ("img", "src") => {
                let src = value.trim();
                if src.starts_with(&media_prefix) && !src.contains("..") {
                    return Some(Cow::Owned(src.to_string()));
                }
                let lower = src.to_ascii_lowercase();
                if lower.starts_with("http://")
                    || lower.starts_with("https://")
                    || lower.starts_with("data:image/")
                    || lower.starts_with("//")
                {
                    let absolute = if lower.starts_with("//") {
                        format!("https:{src}")
                    } else {
                        src.to_string()
                    };
                    // The lock is not held while re-hosting (it may fetch over the network).
                    drop(report);
                    let outcome = rehost.image(&absolute);
                    let mut report = match filter_report.lock() {
                        Ok(r) => r,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    match outcome {
                        Ok(url) => {
                            report.images_rehosted += 1;
                            Some(Cow::Owned(url))
                        }
                        Err(why) => {
                            report.images_removed += 1;
                            if report.notes.len() < 10 {
                                report.notes.push(why);
                            }
                            None
                        }
                    }
                } else {
                    report.images_removed += 1;
                    None
                }
            }
            _ => Some(Cow::Borrowed(value)),
        }
    });
    let cleaned = builder.clean(&html).to_string();
    drop(builder);
    let report = match Arc::try_unwrap(report) {
        Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(shared) => shared.lock().map(|r| r.clone()).unwrap_or_default(),
    };
    Sanitized {
        html: remove_empty_images(&cleaned),
        report,
    }
}

/// `<img>` left without a `src` (removed above) is dropped from the serialised output.
fn remove_empty_images(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        out.push_str(&rest[..at]);
        let tag_end = match rest[at..].find('>') {
            Some(e) => at + e + 1,
            None => {
                out.push_str(&rest[at..]);
                return out;
            }
        };
        let tag = &rest[at..tag_end];
        if tag.contains(" src=\"") {
            out.push_str(tag);
        }
        rest = &rest[tag_end..];
    }
    out.push_str(rest);
    out
}

/// Replaces every `<iframe>` whose `src` is an `https` URL on an allowed video host by a
/// `[video src="…"]` short code; others stay and are removed by ammonia with their content.
fn iframes_to_video_codes(
    html: &str,
    policy: &Policy,
    patterns: &Patterns,
    report: &Mutex<Report>,
) -> String {
    let mut kept = 0;
    let mut removed = 0;
    let out = patterns
        .iframe
        .replace_all(html, |caps: &regex_lite::Captures<'_>| {
            let attrs = caps.get(1).map_or("", |m| m.as_str());
            let src = patterns.src.captures(attrs).and_then(|c| {
                c.get(1)
                    .or_else(|| c.get(2))
                    .or_else(|| c.get(3))
                    .map(|m| m.as_str().replace("&amp;", "&"))
            });
            match src.and_then(|s| allowed_video_url(&s, &policy.video_hosts)) {
                Some(url) => {
                    kept += 1;
                    format!("[video src=\"{url}\"]")
                }
                None => {
                    removed += 1;
                    // Left for ammonia to remove, content and all.
                    caps.get(0)
                        .map_or(String::new(), |m| m.as_str().to_string())
                }
            }
        });
    if let Ok(mut r) = report.lock() {
        r.iframes_kept_as_video += kept;
        r.iframes_removed += removed;
    }
    out.into_owned()
}

/// `src` normalised to `https://host/…` when its host is one of `hosts` and it holds only
/// URL-safe characters (so it can sit in a short code and an attribute); `None` otherwise.
pub fn allowed_video_url(src: &str, hosts: &[String]) -> Option<String> {
    let src = src.trim();
    let rest = src
        .strip_prefix("https://")
        .or_else(|| src.strip_prefix("http://"))
        .or_else(|| src.strip_prefix("//"))?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..host_end].to_ascii_lowercase();
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return None;
    }
    let safe = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/?#@!$&*+,;=%:".contains(&b));
    safe.then(|| format!("https://{host}{}", &rest[host_end..]))
}

/// A `style` value with only allowed declarations: property in [`STYLE_PROPERTIES`], value
/// free of CSS escapes, comments, `<`, and of functions other than [`STYLE_FUNCTIONS`]. Returns
/// the kept declarations and how many were dropped.
pub fn filter_style(style: &str) -> (String, u32) {
    let mut kept = Vec::new();
    let mut removed = 0;
    for declaration in style.split(';') {
        let declaration = declaration.trim();
        if declaration.is_empty() {
            continue;
        }
        let Some((property, value)) = declaration.split_once(':') else {
            removed += 1;
            continue;
        };
        let property = property.trim().to_ascii_lowercase();
        let value = value.trim();
        if STYLE_PROPERTIES.contains(&property.as_str()) && safe_style_value(value) {
            kept.push(format!("{property}:{value}"));
        } else {
            removed += 1;
        }
    }
    (kept.join(";"), removed)
}

fn safe_style_value(value: &str) -> bool {
    if value.is_empty()
        || value.contains(['\\', '<', '>', '"', '\'', '{', '}', '@'])
        || value.contains("/*")
    {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'(' {
            let name = lower[start..i].trim();
            let name = name
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
                .unwrap_or("");
            if !STYLE_FUNCTIONS.contains(&name) {
                return false;
            }
        }
        if !(b.is_ascii_alphanumeric() || *b == b'-') {
            start = i + 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            video_hosts: vec!["v.qq.com".into(), "player.bilibili.com".into()],
            media_prefix: "/media/acct/".into(),
        }
    }

    struct FakeStore;
    impl Rehost for FakeStore {
        fn image(&self, src: &str) -> Result<String, String> {
            if src.starts_with("https://img.granted.example/") || src.starts_with("data:image/png")
            {
                Ok(format!("/media/acct/{}", src.len()))
            } else {
                Err(format!("{src}: host not granted"))
            }
        }
    }

    fn clean(html: &str) -> Sanitized {
        sanitize(html, &policy(), &Patterns::default(), Arc::new(FakeStore))
    }

    #[test]
    fn styles_keep_allowed_properties_only() {
        let (kept, removed) = filter_style(
            "color: rgb(255, 0, 0); box-sizing:border-box; position:fixed; background-image:url(javascript:x); \
             background: url(x); width: expression(alert(1)); transform: rotate(5deg); font-size:16px",
        );
        assert_eq!(
            kept,
            "color:rgb(255, 0, 0);box-sizing:border-box;transform:rotate(5deg);font-size:16px"
        );
        assert_eq!(removed, 4);
        assert_eq!(filter_style("color:r\\65 d").1, 1);
        assert_eq!(filter_style("color:red/**/").1, 1);
    }

    #[test]
    fn video_urls_need_an_allowed_host() {
        let hosts = policy().video_hosts;
        assert_eq!(
            allowed_video_url("//v.qq.com/txp/iframe/player.html?vid=x1", &hosts).as_deref(),
            Some("https://v.qq.com/txp/iframe/player.html?vid=x1")
        );
        assert_eq!(
            allowed_video_url("https://evil.example/v.qq.com", &hosts),
            None
        );
        assert_eq!(
            allowed_video_url("https://v.qq.com.evil.example/", &hosts),
            None
        );
        assert_eq!(
            allowed_video_url("https://v.qq.com/\"onload=", &hosts),
            None
        );
        assert_eq!(allowed_video_url("javascript:alert(1)", &hosts), None);
    }

    #[test]
    fn hostile_markup_is_removed_and_counted() {
        let out = clean(
            "<p onclick=\"x()\">hi<script>alert(1)</script></p>\
             <a href=\"javascript:alert(1)\">a</a><a href=\"https://ok.example/\">b</a>\
             <iframe src=\"https://evil.example/\">x</iframe>\
             <iframe src=\"https://v.qq.com/txp/iframe/player.html?vid=v1\"></iframe>\
             <img src=\"https://img.granted.example/a.png\" onerror=\"x()\">\
             <img src=\"https://other.example/b.png\"><img src=\"x.png\">",
        );
        assert!(!out.html.contains("script"), "{}", out.html);
        assert!(!out.html.contains("onclick") && !out.html.contains("onerror"));
        assert!(!out.html.contains("javascript"));
        assert!(!out.html.contains("evil.example"));
        assert!(
            out.html
                .contains("[video src=\"https://v.qq.com/txp/iframe/player.html?vid=v1\"]")
        );
        assert!(out.html.contains("<img src=\"/media/acct/"), "{}", out.html);
        assert!(!out.html.contains("other.example") && !out.html.contains("x.png"));
        assert!(out.html.contains("rel=\"noopener noreferrer\""));
        let r = out.report;
        assert_eq!(
            (
                r.scripts_removed,
                r.event_handlers_removed,
                r.javascript_urls_removed
            ),
            (1, 2, 1)
        );
        assert_eq!((r.iframes_kept_as_video, r.iframes_removed), (1, 1));
        assert_eq!((r.images_rehosted, r.images_removed), (1, 2));
    }

    #[test]
    fn data_images_are_rehosted_and_data_links_dropped() {
        let out = clean(
            "<img src=\"data:image/png;base64,AAAA\"><img src=\"data:text/html,x\">\
             <a href=\" DATA:text/html,x\">d</a>",
        );
        assert_eq!(
            out.html,
            "<img src=\"/media/acct/26\"><a rel=\"noopener noreferrer\">d</a>"
        );
        assert_eq!(
            (out.report.images_rehosted, out.report.images_removed),
            (1, 1)
        );
    }

    #[test]
    fn own_media_images_are_kept() {
        let out = clean("<img src=\"/media/acct/abc\" alt=\"x\"><img src=\"/media/other/abc\">");
        assert_eq!(out.html, "<img src=\"/media/acct/abc\" alt=\"x\">");
    }

    /// The start tags of serialised HTML: (name, attributes), in order.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            if rest.starts_with('/') {
                continue;
            }
            let mut quoted = false;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        quoted = !quoted;
                    }
                    c == '>' && !quoted
                })
                .map_or(rest.len(), |(i, _)| i);
            let inner = &rest[..end];
            let name_end = inner.find([' ', '/']).unwrap_or(inner.len());
            let mut attrs = Vec::new();
            let mut a = &inner[name_end..];
            while let Some(eq) = a.find("=\"") {
                let name = a[..eq].trim().to_string();
                let close = a[eq + 2..].find('"').map_or(a.len(), |c| eq + 2 + c);
                attrs.push((name, a[eq + 2..close].to_string()));
                a = &a[(close + 1).min(a.len())..];
            }
            out.push((inner[..name_end].to_ascii_lowercase(), attrs));
            rest = &rest[end.min(rest.len())..];
        }
        out
    }

    fn style_of<'a>(
        tags: &'a [(String, Vec<(String, String)>)],
        tag: &str,
        needle: &str,
    ) -> Vec<&'a str> {
        tags.iter()
            .filter(|(n, _)| n == tag)
            .flat_map(|(_, attrs)| {
                attrs
                    .iter()
                    .filter(|(a, _)| a == "style")
                    .map(|(_, v)| v.as_str())
            })
            .filter(|v| v.contains(needle))
            .collect()
    }

    #[test]
    fn a_xiumi_article_keeps_its_styling() {
        let out = clean(include_str!("../tests/fixtures/xiumi.html"));
        let t = tags(&out.html);
        assert!(
            t.iter().filter(|(n, _)| n == "section").count() >= 10,
            "{}",
            out.html
        );
        assert!(!style_of(&t, "section", "background-color:rgb(254, 249, 239)").is_empty());
        assert!(!style_of(&t, "section", "border-radius:10px").is_empty());
        assert!(!style_of(&t, "section", "transform:rotate(-2deg)").is_empty());
        assert!(!style_of(&t, "p", "text-indent:2em").is_empty());
        assert!(!style_of(&t, "span", "color:rgb(196, 91, 45)").is_empty());
        assert!(!style_of(&t, "h2", "color:rgb(58, 110, 200)").is_empty());
        assert!(!style_of(&t, "section", "border-left:4px solid rgb(58, 110, 200)").is_empty());
        assert!(style_of(&t, "section", "box-sizing:border-box").len() >= 10);
        // The background image is a url(): dropped, the colour beside it kept.
        assert!(!out.html.contains("bg.png"));
        assert!(!style_of(&t, "section", "background-color:rgb(240, 246, 255)").is_empty());
        // The remote image is not from a granted host here: removed and reported.
        assert_eq!(
            (out.report.images_rehosted, out.report.images_removed),
            (0, 1)
        );
        assert!(t.iter().all(|(n, _)| n != "svg" && n != "img"));
        assert!(out.html.contains("春日市集 · Spring Market"));
    }

    #[test]
    fn a_135_article_keeps_its_styling_and_its_video() {
        let out = clean(include_str!("../tests/fixtures/135.html"));
        let t = tags(&out.html);
        assert!(
            !style_of(&t, "h1", "color:#ff6f61").is_empty(),
            "{}",
            out.html
        );
        assert!(!style_of(&t, "section", "border:1px dashed #ff6f61").is_empty());
        assert!(!style_of(&t, "section", "background:#fff5f3").is_empty());
        assert!(!style_of(&t, "th", "background-color:#ff6f61").is_empty());
        assert!(!style_of(&t, "hr", "border-top:1px solid #ffb3a7").is_empty());
        assert!(!style_of(&t, "blockquote", "font-style:italic").is_empty());
        assert!(t.iter().any(|(n, _)| n == "table") && t.iter().any(|(n, _)| n == "td"));
        assert!(out.html.contains(
            "[video src=\"https://v.qq.com/txp/iframe/player.html?vid=m0036abcde&amp;width=500&amp;height=375&amp;auto=0\"]"
        ));
        assert_eq!(out.report.iframes_kept_as_video, 1);
        let link = t.iter().find(|(n, _)| n == "a").expect("the link stays");
        assert!(
            link.1
                .contains(&("href".into(), "https://www.135editor.com/".into()))
        );
        assert!(
            link.1
                .contains(&("rel".into(), "noopener noreferrer".into()))
        );
        assert!(!link.1.iter().any(|(a, _)| a == "target"));
        // Classes and data-* attributes are editor bookkeeping: gone.
        assert!(t.iter().all(|(_, attrs)| {
            attrs
                .iter()
                .all(|(a, _)| a != "class" && !a.starts_with("data-"))
        }));
    }

    #[test]
    fn a_hostile_article_comes_out_harmless() {
        let out = clean(include_str!("../tests/fixtures/hostile.html"));
        let t = tags(&out.html);
        let allowed: HashSet<&str> = TAGS.iter().copied().collect();
        for (name, attrs) in &t {
            assert!(
                allowed.contains(name.as_str()),
                "tag {name} in {}",
                out.html
            );
            for (attr, value) in attrs {
                assert!(!attr.starts_with("on"), "{attr} on {name}");
                assert!(
                    [
                        "style", "title", "align", "href", "rel", "src", "alt", "width", "height"
                    ]
                    .contains(&attr.as_str()),
                    "{attr} on {name}"
                );
                let lower = value.to_ascii_lowercase();
                assert!(
                    !lower.contains("javascript")
                        && !lower.contains("vbscript")
                        && !lower.contains("data:"),
                    "{attr}={value}"
                );
                if attr == "href" {
                    assert!(value.starts_with("https://ok.example/"), "{value}");
                }
                if attr == "style" {
                    assert!(
                        !lower.contains("url(")
                            && !lower.contains("expression")
                            && !lower.contains("position"),
                        "{value}"
                    );
                }
            }
        }
        for gone in [
            "evil frame text",
            "alert(",
            "evil.example",
            "password",
            "overlay\"",
            "<!--",
        ] {
            assert!(!out.html.contains(gone), "{gone} in {}", out.html);
        }
        // Visible text survives; styling that is fine survives.
        assert!(
            out.html.contains("Hello")
                && out.html.contains("fine link")
                && out.html.contains("overlay")
        );
        assert!(!style_of(&t, "section", "color:red").is_empty());
        let r = &out.report;
        assert!(r.scripts_removed >= 4, "{r:?}");
        assert!(r.event_handlers_removed >= 5, "{r:?}");
        assert_eq!(r.iframes_removed, 3, "{r:?}");
        assert_eq!(r.iframes_kept_as_video, 0);
        assert!(r.style_declarations_removed >= 5, "{r:?}");
    }
}
