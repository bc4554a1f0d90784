//! `plaza:platform@0.2.0`, the newest version: its host functions are implemented by the concerns
//! (`storage/host.rs`, `messaging/host.rs`, `events/host.rs`, …); this module holds the generated
//! bindings, the type conversions and the export calls.

use crate::messaging::content::MessageContent;

mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.2.0",
        imports: { default: async | trappable },
        exports: { default: async },
        trappable_error_type: {
            "plaza:platform/types.error" => crate::error::PlazaError,
        },
    });
}

pub use generated::Plugin;
pub use generated::plaza::platform::{
    accounts, config, events, followers, links, log, media, messaging, plugins, scheduling,
    storage, tags, types as wit,
};

super::shared_conversions!();

impl From<MessageContent> for wit::Content {
    fn from(c: MessageContent) -> Self {
        use wit::Content as W;
        match c {
            MessageContent::Text { content } => W::Text(content),
            MessageContent::Image { media_id, url } => W::Image(wit::Media { media_id, url }),
            MessageContent::Voice { media_id, url } => W::Voice(wit::Media { media_id, url }),
            MessageContent::Video { media_id, url } => W::Video(wit::Media { media_id, url }),
            MessageContent::News { articles } => W::News(articles_to_wit(articles)),
            MessageContent::TransferCustomerService => W::TransferToService,
            MessageContent::MiniProgram {
                appid,
                page_path,
                title,
                thumb_media_id,
            } => W::MiniProgram(wit::MiniProgramCard {
                appid,
                page_path,
                title,
                thumb_media_id,
            }),
            MessageContent::ArticleLink {
                title,
                description,
                url,
            }
            // A music card reaches a reviewer as the link to its music.
            | MessageContent::Music {
                title,
                description,
                music_url: url,
                ..
            } => W::ArticleLink(wit::Link {
                title,
                description,
                url,
            }),
        }
    }
}

impl From<wit::Content> for MessageContent {
    fn from(c: wit::Content) -> Self {
        use wit::Content as W;
        match c {
            W::Text(content) => MessageContent::Text { content },
            W::Image(m) => {
                let (media_id, url) = media_from_wit(m);
                MessageContent::Image { media_id, url }
            }
            W::Voice(m) => {
                let (media_id, url) = media_from_wit(m);
                MessageContent::Voice { media_id, url }
            }
            W::Video(m) => {
                let (media_id, url) = media_from_wit(m);
                MessageContent::Video { media_id, url }
            }
            W::News(articles) => MessageContent::News {
                articles: articles_from_wit(articles),
            },
            W::TransferToService => MessageContent::TransferCustomerService,
            W::MiniProgram(card) => MessageContent::MiniProgram {
                appid: card.appid,
                page_path: card.page_path,
                title: card.title,
                thumb_media_id: card.thumb_media_id,
            },
            W::ArticleLink(link) => MessageContent::ArticleLink {
                title: link.title,
                description: link.description,
                url: link.url,
            },
        }
    }
}

impl From<api::CallContext> for wit::CallContext {
    fn from(c: api::CallContext) -> Self {
        wit::CallContext {
            account: (&c.account).into(),
            plugin: c.plugin,
            plugin_version: c.plugin_version,
            follower: c.follower,
            operator: c.operator,
            caller: c.caller,
        }
    }
}

impl From<crate::accounts::followers::Follower> for followers::Follower {
    fn from(f: crate::accounts::followers::Follower) -> Self {
        followers::Follower {
            openid: f.openid,
            nickname: f.nickname,
            region: f.region,
            gender: f.gender,
            language: f.language,
            subscribed: f.subscribed,
            subscribed_at: f.subscribed_at,
            last_interaction_at: f.last_interaction_at,
            tags: f.tags,
            attributes: f.attributes.into_iter().collect(),
            counters: f.counters.into_iter().collect(),
        }
    }
}

super::handler_calls!();
