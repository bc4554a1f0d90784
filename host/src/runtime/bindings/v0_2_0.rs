//! `plaza:platform@0.2.0`, the newest version: its host functions are implemented by the concerns
//! (`storage/host.rs`, `messaging/host.rs`, `events/host.rs`, …); this module holds the generated
//! bindings, the type conversions and the export calls.

use wasmtime::Store;
use wasmtime::component::Instance;

use super::{CallResult, HandlerExports, call_typed};
use crate::messaging::content::MessageContent;
use crate::runtime::state::CallState;
use crate::runtime::{Invocation, Outcome};

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

impl From<wit::ReviewVerdict> for api::ReviewVerdict {
    fn from(v: wit::ReviewVerdict) -> Self {
        match v {
            wit::ReviewVerdict::Allow => api::ReviewVerdict::Allow,
            wit::ReviewVerdict::Mask(c) => api::ReviewVerdict::Mask(c.into()),
            wit::ReviewVerdict::Block(reason) => api::ReviewVerdict::Block(reason),
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

/// Calls the export `invocation` names on a 0.2 instance.
pub(super) async fn call(
    instance: &Instance,
    exports: &HandlerExports,
    store: &mut Store<CallState>,
    invocation: Invocation,
) -> CallResult {
    type Ctx = wit::CallContext;
    Ok(match invocation {
        Invocation::Install(ctx) => {
            call_typed::<_, (), wit::Error>(instance, store, &exports.on_install, (Ctx::from(ctx),))
                .await?
                .map(|()| Outcome::Done)
        }
        Invocation::Uninstall(ctx) => call_typed::<_, (), wit::Error>(
            instance,
            store,
            &exports.on_uninstall,
            (Ctx::from(ctx),),
        )
        .await?
        .map(|()| Outcome::Done),
        Invocation::Message(ctx, msg) => call_typed::<_, Option<wit::Content>, wit::Error>(
            instance,
            store,
            &exports.on_message,
            (Ctx::from(ctx), wit::InboundMessage::from(msg)),
        )
        .await?
        .map(|reply| Outcome::Reply(reply.map(Into::into))),
        Invocation::Event(ctx, ev) => call_typed::<_, Option<wit::Content>, wit::Error>(
            instance,
            store,
            &exports.on_event,
            (Ctx::from(ctx), wit::Event::from(ev)),
        )
        .await?
        .map(|reply| Outcome::Reply(reply.map(Into::into))),
        Invocation::Http(ctx, req) => call_typed::<_, wit::HttpResponse, wit::Error>(
            instance,
            store,
            &exports.on_http,
            (Ctx::from(ctx), wit::HttpRequest::from(req)),
        )
        .await?
        .map(|r| Outcome::Http(r.into())),
        Invocation::Review(ctx, content) => call_typed::<_, wit::ReviewVerdict, wit::Error>(
            instance,
            store,
            &exports.review_outbound,
            (Ctx::from(ctx), wit::Content::from(content)),
        )
        .await?
        .map(|v| Outcome::Verdict(v.into())),
        Invocation::Query(ctx, name, payload) => {
            let Some(on_query) = &exports.on_query else {
                return Ok(Err(PlazaError::not_found("this plugin answers no queries")));
            };
            call_typed::<_, Vec<u8>, wit::Error>(
                instance,
                store,
                on_query,
                (Ctx::from(ctx), name, payload),
            )
            .await?
            .map(Outcome::Answer)
        }
    })
}
