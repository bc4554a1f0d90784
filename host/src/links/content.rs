//! The links in a message, for showing them as links: the local channel's follower outbox lists
//! them beside each message so that a simulator or page can render them clickable without
//! parsing message text itself.

use linkify::{LinkFinder, LinkKind};
use serde::Serialize;

use crate::messaging::content::MessageContent;

/// One link in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentLink {
    pub url: String,
    /// What the message calls it (an article's title), when it names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Whether `url` is one a follower's page may make clickable: http or https only, so that a
/// `javascript:` or `data:` URL in content can never become a live link.
fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The http(s) URLs in `text`, in order of appearance.
pub fn text_links(text: &str) -> Vec<ContentLink> {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    finder
        .links(text)
        .map(|l| l.as_str())
        .filter(|u| is_web_url(u))
        .map(|u| ContentLink {
            url: u.to_string(),
            title: None,
        })
        .collect()
}

/// The links of a message: the URLs in a text, each news article's URL with its title (and any
/// URL written in its description). Media URLs are not links to follow.
pub fn content_links(content: &MessageContent) -> Vec<ContentLink> {
    match content {
        MessageContent::Text { content } => text_links(content),
        MessageContent::News { articles } => articles
            .iter()
            .flat_map(|a| {
                let own = is_web_url(&a.url).then(|| ContentLink {
                    url: a.url.clone(),
                    title: Some(a.title.clone()).filter(|t| !t.is_empty()),
                });
                own.into_iter().chain(text_links(&a.description))
            })
            .collect(),
        MessageContent::ArticleLink { title, url, .. }
        | MessageContent::Music {
            title,
            music_url: url,
            ..
        } => is_web_url(url)
            .then(|| ContentLink {
                url: url.clone(),
                title: Some(title.clone()).filter(|t| !t.is_empty()),
            })
            .into_iter()
            .collect(),
        // A mini-program card opens in WeChat, not in a browser: nothing to follow here.
        MessageContent::Image { .. }
        | MessageContent::Voice { .. }
        | MessageContent::Video { .. }
        | MessageContent::TransferCustomerService
        | MessageContent::MiniProgram { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::content::Article;

    fn urls(links: &[ContentLink]) -> Vec<&str> {
        links.iter().map(|l| l.url.as_str()).collect()
    }

    #[test]
    fn urls_in_text_are_found_and_only_web_ones() {
        let text = "Your card: https://plaza.example/p/acme/member/card?plaza_token=abc_-1. \
                    Also (http://x.example/a) and javascript:alert(1) and ftp://files.example/f \
                    and mailto:a@b.example and HTTPS://UPPER.example/Z";
        let links = text_links(text);
        assert_eq!(
            urls(&links),
            [
                "https://plaza.example/p/acme/member/card?plaza_token=abc_-1",
                "http://x.example/a",
                "HTTPS://UPPER.example/Z"
            ]
        );
        assert!(links.iter().all(|l| l.title.is_none()));
        assert!(text_links("no links here").is_empty());
    }

    #[test]
    fn news_articles_give_their_url_and_title() {
        let news = MessageContent::News {
            articles: vec![
                Article {
                    title: "Sale".into(),
                    description: "see https://more.example/x".into(),
                    url: "https://shop.example/sale".into(),
                    picture_url: Some("https://img.example/p.png".into()),
                },
                Article {
                    title: "Bad".into(),
                    description: String::new(),
                    url: "javascript:alert(1)".into(),
                    picture_url: None,
                },
            ],
        };
        assert_eq!(
            content_links(&news),
            [
                ContentLink {
                    url: "https://shop.example/sale".into(),
                    title: Some("Sale".into())
                },
                ContentLink {
                    url: "https://more.example/x".into(),
                    title: None
                },
            ]
        );
        let image = MessageContent::Image {
            media_id: "m".into(),
            url: Some("https://img.example/i.png".into()),
        };
        assert!(content_links(&image).is_empty());
    }
}
