//! Small helpers for plugins that serve HTML pages (member cards, votes, dashboards).

use crate::{Header, HttpResponse};

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe inside element content and
/// inside quoted attribute values. Everything a follower or operator typed goes through this
/// before it is written into a page.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `text/html; charset=utf-8` response. Pages get a strict `Content-Security-Policy` (no
/// scripts from elsewhere, no framing by other sites); inline styles are allowed because
/// mobile pages carry them.
pub fn page(status: u16, html: impl Into<String>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            Header {
                name: "content-type".into(),
                value: "text/html; charset=utf-8".into(),
            },
            Header {
                name: "content-security-policy".into(),
                value: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'self'".into(),
            },
        ],
        body: html.into().into_bytes(),
    }
}

/// A complete mobile-friendly document: `<!doctype html>`, UTF-8, a viewport for phones, the
/// escaped `title`, a small readable default style, then `body` (already HTML: escape what goes
/// into it).
pub fn document(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        lang = escape(lang),
        title = escape(title),
    )
}

const STYLE: &str = "body{font:16px/1.5 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;\
margin:0 auto;max-width:40rem;padding:1rem;color:#1f2328;background:#f6f8fa}\
h1{font-size:1.4rem}main,section,.card{background:#fff;border-radius:12px;padding:1rem;margin:.75rem 0;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}button,input[type=submit]{font:inherit;padding:.6rem 1.2rem;\
border:0;border-radius:8px;background:#07c160;color:#fff}input,select,textarea{font:inherit;\
padding:.4rem;max-width:100%}table{border-collapse:collapse;width:100%}td,th{padding:.3rem;\
border-bottom:1px solid #eee;text-align:left}.muted{color:#6e7781}.error{color:#cf222e}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("会员 card"), "会员 card");
    }
}
