//! WeChat message JSON (`{"msgtype":"text","text":{"content":…}}`, as `custom/send` and
//! `mass/*` take it) → Plaza [`MessageContent`].
//!
//! Types Plaza has no content for are sent as the nearest thing followers can use: `music` as a
//! text with the title, description and link; `msgmenu` as a text listing the choices. Types that
//! name WeChat-side material Plaza does not store (`mpnews`, `mpnewsarticle`, `wxcard`) are
//! refused with 40008.

use serde_json::Value;

use super::errcode::WxError;
use crate::messaging::content::{Article, MessageContent};

/// Most articles in one `news` message (WeChat's older limit; the current one is 1).
pub const MAX_NEWS_ARTICLES: usize = 8;

fn field<'a>(body: &'a Value, section: &str, name: &str) -> Result<&'a str, WxError> {
    body.get(section)
        .and_then(|s| s.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            WxError::invalid_args(format!("{section}.{name} is missing or not a string"))
        })
}

fn opt<'a>(body: &'a Value, section: &str, name: &str) -> &'a str {
    body.get(section)
        .and_then(|s| s.get(name))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn media(body: &Value, section: &str) -> Result<String, WxError> {
    let id = body
        .get(section)
        .and_then(|s| s.get("media_id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if id.is_empty() {
        return Err(WxError::new(41006, "media_id missing"));
    }
    Ok(id.to_string())
}

/// The content of a WeChat message body whose type is `msgtype`.
pub fn content_of(msgtype: &str, body: &Value) -> Result<MessageContent, WxError> {
    Ok(match msgtype {
        "text" => {
            let content = field(body, "text", "content")?;
            if content.is_empty() {
                return Err(WxError::new(44004, "empty content"));
            }
            MessageContent::Text {
                content: content.to_string(),
            }
        }
        "image" => MessageContent::Image {
            media_id: media(body, "image")?,
            url: None,
        },
        "voice" => MessageContent::Voice {
            media_id: media(body, "voice")?,
            url: None,
        },
        "video" | "mpvideo" => MessageContent::Video {
            media_id: media(body, msgtype)?,
            url: None,
        },
        "music" => {
            let lines: Vec<&str> = ["title", "description", "musicurl"]
                .iter()
                .map(|f| opt(body, "music", f))
                .filter(|s| !s.is_empty())
                .collect();
            if lines.is_empty() {
                return Err(WxError::invalid_args("music needs a title or musicurl"));
            }
            MessageContent::Text {
                content: lines.join("\n"),
            }
        }
        "news" => {
            let articles = body
                .get("news")
                .and_then(|n| n.get("articles"))
                .and_then(Value::as_array)
                .ok_or_else(|| WxError::invalid_args("news.articles is missing"))?;
            if articles.is_empty() {
                return Err(WxError::new(44003, "empty news data"));
            }
            if articles.len() > MAX_NEWS_ARTICLES {
                return Err(WxError::new(
                    45008,
                    format!("article size out of limit: at most {MAX_NEWS_ARTICLES}"),
                ));
            }
            let mut out = Vec::new();
            for a in articles {
                let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let pic = s("picurl");
                out.push(Article {
                    title: s("title"),
                    description: s("description"),
                    url: s("url"),
                    picture_url: (!pic.is_empty()).then_some(pic),
                });
            }
            MessageContent::News { articles: out }
        }
        "miniprogrampage" => MessageContent::MiniProgram {
            appid: field(body, "miniprogrampage", "appid")?.to_string(),
            page_path: field(body, "miniprogrampage", "pagepath")?.to_string(),
            title: opt(body, "miniprogrampage", "title").to_string(),
            thumb_media_id: opt(body, "miniprogrampage", "thumb_media_id").to_string(),
        },
        "msgmenu" => {
            let menu = body
                .get("msgmenu")
                .ok_or_else(|| WxError::invalid_args("msgmenu is missing"))?;
            let mut lines = Vec::new();
            let head = opt(body, "msgmenu", "head_content");
            if !head.is_empty() {
                lines.push(head.to_string());
            }
            for item in menu
                .get("list")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let id = item.get("id").and_then(Value::as_str).unwrap_or("");
                let text = item.get("content").and_then(Value::as_str).unwrap_or("");
                lines.push(format!("{id}. {text}"));
            }
            let tail = opt(body, "msgmenu", "tail_content");
            if !tail.is_empty() {
                lines.push(tail.to_string());
            }
            if lines.is_empty() {
                return Err(WxError::invalid_args("msgmenu has no content"));
            }
            MessageContent::Text {
                content: lines.join("\n"),
            }
        }
        other => return Err(WxError::invalid_msgtype(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wechat_bodies_become_plaza_content() {
        let text = content_of("text", &json!({"text": {"content": "你好"}})).unwrap();
        assert_eq!(
            text,
            MessageContent::Text {
                content: "你好".into()
            }
        );
        let music = content_of(
            "music",
            &json!({"music": {"title": "T", "description": "D", "musicurl": "http://m"}}),
        )
        .unwrap();
        assert_eq!(
            music,
            MessageContent::Text {
                content: "T\nD\nhttp://m".into()
            }
        );
        let menu = content_of(
            "msgmenu",
            &json!({"msgmenu": {"head_content": "Happy?", "list": [{"id": "1", "content": "yes"}], "tail_content": "bye"}}),
        )
        .unwrap();
        assert_eq!(
            menu,
            MessageContent::Text {
                content: "Happy?\n1. yes\nbye".into()
            }
        );
        assert_eq!(content_of("mpnews", &json!({})).unwrap_err().errcode, 40008);
        assert_eq!(
            content_of("image", &json!({"image": {}}))
                .unwrap_err()
                .errcode,
            41006
        );
        assert_eq!(
            content_of("text", &json!({"text": 3})).unwrap_err().errcode,
            40035
        );
    }
}
