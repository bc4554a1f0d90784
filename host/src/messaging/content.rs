//! Message content: what an account sends to a follower, as the JSON APIs, the outbox and plugins
//! (through `runtime::bindings`) see it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
}

/// What an account sends to a follower, tagged by `msg_type` as in the WeChat protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MessageContent {
    Text {
        content: String,
    },
    Image {
        media_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    Voice {
        media_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    Video {
        media_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    News {
        articles: Vec<Article>,
    },
    TransferCustomerService,
    /// A mini-program card (小程序卡片): opens `page_path` of the mini-program `appid`.
    MiniProgram {
        appid: String,
        page_path: String,
        title: String,
        /// The card's thumbnail, a media id of the account's media store.
        thumb_media_id: String,
    },
    /// A link to one article (a page, e.g. a plugin route or a signed follower link).
    ArticleLink {
        title: String,
        #[serde(default)]
        description: String,
        url: String,
    },
    /// A music card (音乐消息): WeChat bots reply with it; plugins see it as an article link.
    Music {
        #[serde(default)]
        title: String,
        #[serde(default)]
        description: String,
        music_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hq_music_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumb_media_id: Option<String>,
    },
}

impl MessageContent {
    /// Approximate encoded size, for the bound on what crosses the plugin boundary.
    pub fn size(&self) -> usize {
        match self {
            MessageContent::Text { content } => content.len(),
            MessageContent::Image { media_id, url }
            | MessageContent::Voice { media_id, url }
            | MessageContent::Video { media_id, url } => {
                media_id.len() + url.as_ref().map_or(0, |u| u.len())
            }
            MessageContent::News { articles } => articles
                .iter()
                .map(|a| {
                    a.title.len()
                        + a.description.len()
                        + a.url.len()
                        + a.picture_url.as_ref().map_or(0, |u| u.len())
                })
                .sum(),
            MessageContent::TransferCustomerService => 0,
            MessageContent::MiniProgram {
                appid,
                page_path,
                title,
                thumb_media_id,
            } => appid.len() + page_path.len() + title.len() + thumb_media_id.len(),
            MessageContent::ArticleLink {
                title,
                description,
                url,
            } => title.len() + description.len() + url.len(),
            MessageContent::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                title.len()
                    + description.len()
                    + music_url.len()
                    + hq_music_url.as_ref().map_or(0, String::len)
                    + thumb_media_id.as_ref().map_or(0, String::len)
            }
        }
    }

    /// The content's type as the event log and the WeChat protocol name it.
    pub fn type_name(&self) -> &'static str {
        match self {
            MessageContent::Text { .. } => "text",
            MessageContent::Image { .. } => "image",
            MessageContent::Voice { .. } => "voice",
            MessageContent::Video { .. } => "video",
            MessageContent::News { .. } => "news",
            MessageContent::TransferCustomerService => "transfer_customer_service",
            MessageContent::MiniProgram { .. } => "mini_program",
            MessageContent::ArticleLink { .. } => "article_link",
            MessageContent::Music { .. } => "music",
        }
    }
}
