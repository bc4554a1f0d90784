//! Message content as it appears in the JSON APIs, and its conversion to and from the WIT types.

use serde::{Deserialize, Serialize};

use crate::runtime::wit;

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
}

fn media(m: wit::Media) -> (String, Option<String>) {
    (m.media_id, m.url)
}

impl From<wit::Content> for MessageContent {
    fn from(c: wit::Content) -> Self {
        match c {
            wit::Content::Text(content) => MessageContent::Text { content },
            wit::Content::Image(m) => {
                let (media_id, url) = media(m);
                MessageContent::Image { media_id, url }
            }
            wit::Content::Voice(m) => {
                let (media_id, url) = media(m);
                MessageContent::Voice { media_id, url }
            }
            wit::Content::Video(m) => {
                let (media_id, url) = media(m);
                MessageContent::Video { media_id, url }
            }
            wit::Content::News(articles) => MessageContent::News {
                articles: articles
                    .into_iter()
                    .map(|a| Article {
                        title: a.title,
                        description: a.description,
                        url: a.url,
                        picture_url: a.picture_url,
                    })
                    .collect(),
            },
            wit::Content::TransferToService => MessageContent::TransferCustomerService,
        }
    }
}

impl From<MessageContent> for wit::Content {
    fn from(c: MessageContent) -> Self {
        match c {
            MessageContent::Text { content } => wit::Content::Text(content),
            MessageContent::Image { media_id, url } => {
                wit::Content::Image(wit::Media { media_id, url })
            }
            MessageContent::Voice { media_id, url } => {
                wit::Content::Voice(wit::Media { media_id, url })
            }
            MessageContent::Video { media_id, url } => {
                wit::Content::Video(wit::Media { media_id, url })
            }
            MessageContent::News { articles } => wit::Content::News(
                articles
                    .into_iter()
                    .map(|a| wit::Article {
                        title: a.title,
                        description: a.description,
                        url: a.url,
                        picture_url: a.picture_url,
                    })
                    .collect(),
            ),
            MessageContent::TransferCustomerService => wit::Content::TransferToService,
        }
    }
}
