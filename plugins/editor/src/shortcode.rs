//! Short codes in article bodies and how they become HTML when a page is served.
//!
//! A body is sanitised HTML ([`crate::sanitize`]); short codes live in its *text* (never inside a
//! tag or an attribute value, which [`render_body`] skips), e.g.
//!
//! * `[image media=ID]`, `[audio media=ID]`, `[video media=ID]`: media-store blocks;
//! * `[video src="https://v.qq.com/…"]`: a player from an allowed video host, as a sandboxed iframe;
//! * `[panorama media=ID]`: a 360° viewer of an equirectangular image;
//! * `[vote id=X]`, `[survey id=X]`, `[challenge id=X]` (interactive), `[ad slot=X]` (ad-slots),
//!   `[product id=X]` (shop): asked of their plugin through `component.render`;
//! * `[miniprogram appid=X path=Y title="T"]`: a mini-program card drawn here.
//!
//! Anything else in brackets stays text.

use plaza_sdk::html::escape;

/// The short-code names this plugin knows.
pub const NAMES: &[&str] = &[
    "image",
    "audio",
    "video",
    "panorama",
    "vote",
    "survey",
    "challenge",
    "ad",
    "product",
    "miniprogram",
];

/// One parsed short code: its name and attributes (values HTML-unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Code {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `[name a=b c="d e"]` at the start of `s` (which starts with `[`): the code and the bytes it
/// spans. Only known names; values unquoted (no spaces, no `]`) or double-quoted.
pub fn parse_code(s: &str) -> Option<(Code, usize)> {
    let inner_end = s.find(']')?;
    let inner = &s[1..inner_end];
    if inner.len() > 600 || inner.contains('[') {
        return None;
    }
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = &inner[..name_end];
    if !NAMES.contains(&name) {
        return None;
    }
    let mut attrs = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let after = &rest[eq + 1..];
        let (value, used) = if let Some(q) = after.strip_prefix('"') {
            let close = q.find('"')?;
            (&q[..close], close + 2)
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], end)
        };
        attrs.push((key.to_string(), unescape(value)));
        rest = after[used..].trim_start();
    }
    Some((
        Code {
            name: name.to_string(),
            attrs,
        },
        inner_end + 1,
    ))
}

/// Undoes the entities the HTML serialiser writes in text (and the common numeric ones).
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// What rendering needs from the world: other plugins' components and where media lives.
pub trait Components {
    /// `component.render` of the plugin answering `kind` (`vote`, `ad`, `product` …) for `id`;
    /// `None` when the plugin is missing or failed (the caller logs) — the code renders as nothing.
    fn component(&self, kind: &str, id: &str) -> Option<String>;
    /// The URL prefix of the account's media (`/media/{account}/`).
    fn media_prefix(&self) -> &str;
    /// Hosts video players may come from.
    fn video_hosts(&self) -> &[String];
}

/// `body` with every short code in its text replaced by its HTML. Tags and attribute values are
/// copied untouched (the body is serialised HTML: attributes are double-quoted with `"` escaped,
/// and text never holds a raw `<`).
pub fn render_body(body: &str, components: &dyn Components) -> String {
    let mut out = String::with_capacity(body.len() + 256);
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                // Skip the whole tag, honouring quoted attribute values.
                let mut j = i + 1;
                let mut quoted = false;
                while j < bytes.len() {
                    match bytes[j] {
                        b'"' => quoted = !quoted,
                        b'>' if !quoted => break,
                        _ => {}
                    }
                    j += 1;
                }
                i = (j + 1).min(bytes.len());
            }
            b'[' => {
                if let Some((code, used)) = parse_code(&body[i..]) {
                    out.push_str(&body[text_start..i]);
                    out.push_str(&render_code(&code, components));
                    i += used;
                    text_start = i;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&body[text_start..]);
    out
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The HTML of one short code (empty when it cannot be drawn).
pub fn render_code(code: &Code, components: &dyn Components) -> String {
    let media = |c: &Code| {
        c.attr("media")
            .filter(|id| valid_id(id))
            .map(|id| format!("{}{id}", components.media_prefix()))
    };
    match code.name.as_str() {
        "image" => media(code).map_or_else(String::new, |url| {
            format!(
                "<figure class=\"ed-image\"><img src=\"{}\" alt=\"{}\" style=\"max-width:100%\"></figure>",
                escape(&url),
                escape(code.attr("alt").unwrap_or(""))
            )
        }),
        "audio" => media(code).map_or_else(String::new, |url| {
            format!(
                "<audio class=\"ed-audio\" controls preload=\"none\" src=\"{}\" style=\"width:100%\"></audio>",
                escape(&url)
            )
        }),
        "video" => {
            if let Some(url) = media(code) {
                format!(
                    "<video class=\"ed-video\" controls playsinline preload=\"metadata\" src=\"{}\" style=\"width:100%\"></video>",
                    escape(&url)
                )
            } else if let Some(url) = code
                .attr("src")
                .and_then(|s| crate::sanitize::allowed_video_url(s, components.video_hosts()))
            {
                format!(
                    "<div class=\"ed-embed\"><iframe src=\"{}\" sandbox=\"allow-scripts allow-same-origin allow-presentation\" \
                     allow=\"fullscreen\" referrerpolicy=\"no-referrer\" loading=\"lazy\" \
                     style=\"width:100%;aspect-ratio:16/9;border:0\"></iframe></div>",
                    escape(&url)
                )
            } else {
                String::new()
            }
        }
        "panorama" => media(code).map_or_else(String::new, |url| {
            format!(
                "<div class=\"ed-panorama\" data-src=\"{url}\" role=\"img\" aria-label=\"360° 全景 panorama\" \
                 style=\"background-image:url('{url}')\"><span>360° 拖动查看 Drag to look around</span></div>",
                url = escape(&url)
            )
        }),
        "miniprogram" => {
            let appid = code.attr("appid").unwrap_or("");
            let path = code.attr("path").unwrap_or("");
            let title = code.attr("title").unwrap_or("小程序 Mini program");
            if !valid_id(appid) {
                return String::new();
            }
            format!(
                "<div class=\"card ed-miniprogram\" data-appid=\"{}\" data-path=\"{}\">\
                 <strong>{}</strong><br><span class=\"muted\">小程序 Mini program · {}</span></div>",
                escape(appid),
                escape(path),
                escape(title),
                escape(appid)
            )
        }
        kind @ ("vote" | "survey" | "challenge" | "product") => code
            .attr("id")
            .filter(|id| valid_id(id))
            .and_then(|id| components.component(kind, id))
            .unwrap_or_default(),
        "ad" => code
            .attr("slot")
            .filter(|id| valid_id(id))
            .and_then(|id| components.component("ad", id))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The plugin that answers `component.render` for a component kind.
pub fn plugin_for(kind: &str) -> Option<&'static str> {
    match kind {
        "vote" | "survey" | "challenge" => Some("interactive"),
        "ad" => Some("ad-slots"),
        "product" => Some("shop"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Vec<String>);
    impl Components for Fake {
        fn component(&self, kind: &str, id: &str) -> Option<String> {
            (kind != "product").then(|| format!("<div>{kind}:{id}</div>"))
        }
        fn media_prefix(&self) -> &str {
            "/media/acct/"
        }
        fn video_hosts(&self) -> &[String] {
            &self.0
        }
    }

    #[test]
    fn codes_in_text_render_and_others_stay() {
        let fake = Fake(vec!["v.qq.com".into()]);
        let out = render_body(
            "<p>a [vote id=v1] b [ad slot=top] [product id=p1] [nope x=1] [image media=abc]</p>\
             <p title=\"[vote id=v2]\">[video src=\"https://v.qq.com/x?a=1&amp;b=2\"]</p>\
             [video src=\"https://evil.example/x\"][miniprogram appid=wx1 path=pages/i title=\"Shop &lt;1&gt;\"]",
            &fake,
        );
        assert!(
            out.contains("a <div>vote:v1</div> b <div>ad:top</div>  [nope x=1]"),
            "{out}"
        );
        assert!(out.contains("<img src=\"/media/acct/abc\""));
        assert!(
            out.contains("title=\"[vote id=v2]\""),
            "attribute untouched: {out}"
        );
        assert!(out.contains("<iframe src=\"https://v.qq.com/x?a=1&amp;b=2\" sandbox="));
        assert!(!out.contains("evil.example"));
        assert!(out.contains("<strong>Shop &lt;1&gt;</strong>"), "{out}");
    }

    #[test]
    fn bad_ids_render_nothing() {
        let fake = Fake(vec![]);
        assert_eq!(render_body("[vote id=\"a b\"]", &fake), "");
        assert_eq!(render_body("[image media=../x]", &fake), "");
        let (code, used) = parse_code("[miniprogram appid=wx path=\"a b\"] tail").unwrap();
        assert_eq!(code.attr("path"), Some("a b"));
        assert_eq!(used, 33);
    }
}
