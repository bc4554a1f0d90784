//! Which parts of outbound content are text to check, masking them, and a serialisable copy of
//! content for the review queue.

use plaza_sdk::{Article, Content, Link, Media, MiniProgramCard};
use serde::{Deserialize, Serialize};

use crate::matcher::{Action, Finding, Matcher, mask};

/// The texts of `content` a follower reads: a text message; titles and descriptions of news
/// articles and article links; a mini-program card's title. Media and hand-overs have none.
pub fn texts(content: &Content) -> Vec<&str> {
    match content {
        Content::Text(t) => vec![t.as_str()],
        Content::News(articles) => articles
            .iter()
            .flat_map(|a| [a.title.as_str(), a.description.as_str()])
            .collect(),
        Content::ArticleLink(l) => vec![l.title.as_str(), l.description.as_str()],
        Content::MiniProgram(card) => vec![card.title.as_str()],
        Content::Image(_) | Content::Voice(_) | Content::Video(_) | Content::TransferToService => {
            Vec::new()
        }
    }
}

/// Every finding over the texts of `content`, combined: the strongest action, every list and
/// word once. `None` when nothing matched.
pub fn scan(matcher: &Matcher, content: &Content) -> Option<Finding> {
    let mut combined: Option<Finding> = None;
    for text in texts(content) {
        let Some(f) = matcher.scan(text) else {
            continue;
        };
        match &mut combined {
            None => combined = Some(f),
            Some(c) => {
                c.action = c.action.max(f.action);
                for l in f.lists {
                    if !c.lists.contains(&l) {
                        c.lists.push(l);
                    }
                }
                for w in f.words {
                    if !c.words.contains(&w) {
                        c.words.push(w);
                    }
                }
            }
        }
    }
    combined.map(|mut c| {
        // Ranges are per text; the combined finding is for verdicts and reports only.
        c.ranges.clear();
        c
    })
}

/// `content` with every matched word in every text replaced by `***`.
pub fn masked(matcher: &Matcher, content: &Content) -> Content {
    let m = |text: &str| match matcher.scan(text) {
        Some(f) => mask(text, &f.ranges),
        None => text.to_string(),
    };
    match content {
        Content::Text(t) => Content::Text(m(t)),
        Content::News(articles) => Content::News(
            articles
                .iter()
                .map(|a| Article {
                    title: m(&a.title),
                    description: m(&a.description),
                    url: a.url.clone(),
                    picture_url: a.picture_url.clone(),
                })
                .collect(),
        ),
        Content::ArticleLink(l) => Content::ArticleLink(Link {
            title: m(&l.title),
            description: m(&l.description),
            url: l.url.clone(),
        }),
        Content::MiniProgram(card) => Content::MiniProgram(MiniProgramCard {
            title: m(&card.title),
            ..card.clone()
        }),
        other => other.clone(),
    }
}

/// The reason given to the host (shown in its review queue, and in the error a sending plugin
/// gets) for a finding. It names the lists and how many words matched, never the words: a
/// plugin that passes the error on to a follower would otherwise repeat them (and have its own
/// message stopped for it). The words are in the held item and answered by `POST /check`.
pub fn reason(finding: &Finding) -> String {
    let what = match finding.action {
        Action::Block => "blocked",
        Action::Hold => "held for review",
        Action::Mask => "masked",
    };
    let n = finding.words.len();
    format!(
        "{what}: {n} word{s} of list {lists}",
        s = if n == 1 { "" } else { "s" },
        lists = finding.lists.join(", ")
    )
}

/// A copy of [`Content`] that can be stored (the generated type has no serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename_all = "snake_case")]
pub enum StoredContent {
    Text {
        content: String,
    },
    Image {
        media_id: String,
        url: Option<String>,
    },
    Voice {
        media_id: String,
        url: Option<String>,
    },
    Video {
        media_id: String,
        url: Option<String>,
    },
    News {
        articles: Vec<StoredArticle>,
    },
    TransferToService,
    MiniProgram {
        appid: String,
        page_path: String,
        title: String,
        thumb_media_id: String,
    },
    ArticleLink {
        title: String,
        description: String,
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredArticle {
    pub title: String,
    pub description: String,
    pub url: String,
    pub picture_url: Option<String>,
}

impl From<&Content> for StoredContent {
    fn from(c: &Content) -> Self {
        match c {
            Content::Text(t) => StoredContent::Text { content: t.clone() },
            Content::Image(m) => StoredContent::Image {
                media_id: m.media_id.clone(),
                url: m.url.clone(),
            },
            Content::Voice(m) => StoredContent::Voice {
                media_id: m.media_id.clone(),
                url: m.url.clone(),
            },
            Content::Video(m) => StoredContent::Video {
                media_id: m.media_id.clone(),
                url: m.url.clone(),
            },
            Content::News(a) => StoredContent::News {
                articles: a
                    .iter()
                    .map(|a| StoredArticle {
                        title: a.title.clone(),
                        description: a.description.clone(),
                        url: a.url.clone(),
                        picture_url: a.picture_url.clone(),
                    })
                    .collect(),
            },
            Content::TransferToService => StoredContent::TransferToService,
            Content::MiniProgram(c) => StoredContent::MiniProgram {
                appid: c.appid.clone(),
                page_path: c.page_path.clone(),
                title: c.title.clone(),
                thumb_media_id: c.thumb_media_id.clone(),
            },
            Content::ArticleLink(l) => StoredContent::ArticleLink {
                title: l.title.clone(),
                description: l.description.clone(),
                url: l.url.clone(),
            },
        }
    }
}

impl From<&StoredContent> for Content {
    fn from(c: &StoredContent) -> Self {
        let media = |media_id: &String, url: &Option<String>| Media {
            media_id: media_id.clone(),
            url: url.clone(),
        };
        match c {
            StoredContent::Text { content } => Content::Text(content.clone()),
            StoredContent::Image { media_id, url } => Content::Image(media(media_id, url)),
            StoredContent::Voice { media_id, url } => Content::Voice(media(media_id, url)),
            StoredContent::Video { media_id, url } => Content::Video(media(media_id, url)),
            StoredContent::News { articles } => Content::News(
                articles
                    .iter()
                    .map(|a| Article {
                        title: a.title.clone(),
                        description: a.description.clone(),
                        url: a.url.clone(),
                        picture_url: a.picture_url.clone(),
                    })
                    .collect(),
            ),
            StoredContent::TransferToService => Content::TransferToService,
            StoredContent::MiniProgram {
                appid,
                page_path,
                title,
                thumb_media_id,
            } => Content::MiniProgram(MiniProgramCard {
                appid: appid.clone(),
                page_path: page_path.clone(),
                title: title.clone(),
                thumb_media_id: thumb_media_id.clone(),
            }),
            StoredContent::ArticleLink {
                title,
                description,
                url,
            } => Content::ArticleLink(Link {
                title: title.clone(),
                description: description.clone(),
                url: url.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::WordList;

    fn matcher() -> Matcher {
        Matcher::new(&[
            WordList {
                name: "m".into(),
                action: Action::Mask,
                words: vec!["spam".into()],
            },
            WordList {
                name: "h".into(),
                action: Action::Hold,
                words: vec!["refund".into()],
            },
        ])
        .unwrap()
    }

    #[test]
    fn every_text_of_news_is_checked_and_masked() {
        let news = Content::News(vec![Article {
            title: "S P A M deal".into(),
            description: "no refund".into(),
            url: "https://x/spam".into(),
            picture_url: None,
        }]);
        let f = scan(&matcher(), &news).unwrap();
        assert_eq!(f.action, Action::Hold);
        assert_eq!(f.lists, ["m", "h"]);
        assert_eq!(reason(&f), "held for review: 2 words of list m, h");
        let Content::News(a) = masked(&matcher(), &news) else {
            panic!()
        };
        assert_eq!(a[0].title, "*** deal");
        assert_eq!(a[0].description, "no ***");
        assert_eq!(a[0].url, "https://x/spam", "URLs are not rewritten");
    }

    #[test]
    fn media_has_no_text() {
        let image = Content::Image(Media {
            media_id: "m".into(),
            url: None,
        });
        assert!(texts(&image).is_empty());
        assert!(scan(&matcher(), &image).is_none());
        assert_eq!(masked(&matcher(), &image), image);
    }

    #[test]
    fn stored_content_round_trips() {
        for c in [
            Content::Text("hi".into()),
            Content::Image(Media {
                media_id: "m".into(),
                url: Some("/u".into()),
            }),
            Content::TransferToService,
            Content::ArticleLink(Link {
                title: "t".into(),
                description: "d".into(),
                url: "u".into(),
            }),
            Content::MiniProgram(MiniProgramCard {
                appid: "a".into(),
                page_path: "p".into(),
                title: "t".into(),
                thumb_media_id: "m".into(),
            }),
        ] {
            let stored = StoredContent::from(&c);
            let json = serde_json::to_string(&stored).unwrap();
            let back: StoredContent = serde_json::from_str(&json).unwrap();
            assert_eq!(Content::from(&back), c);
        }
    }
}
