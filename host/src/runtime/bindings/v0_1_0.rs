//! `plaza:platform@0.1.0`, frozen: every host function delegates to its 0.2 implementation,
//! converting the few records that changed shape, so a 0.1 plugin gets exactly the behaviour
//! (grants, bounds, durability) of the code that serves 0.2 plugins.
//!
//! What a 0.1 plugin cannot express is converted conservatively: content it reviews that has no
//! 0.1 form (a mini-program card, an article link) reaches it as a one-article `news`; it is never
//! asked queries (`on-query` does not exist in its world).

use super::v0_2_0 as latest;
use crate::error::Result;
use crate::messaging::content::{Article, MessageContent};
use crate::runtime::state::CallState;

mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        trappable_error_type: {
            "plaza:platform/types.error" => crate::error::PlazaError,
        },
    });
}

pub use generated::Plugin;
use generated::plaza::platform::{
    accounts, config, followers, log, messaging, scheduling, storage, types as wit,
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
                ..
            } => W::News(articles_to_wit(vec![Article {
                title,
                description: String::new(),
                url: format!(
                    "miniprogram://{appid}/{}",
                    page_path.trim_start_matches('/')
                ),
                picture_url: None,
            }])),
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
            } => W::News(articles_to_wit(vec![Article {
                title,
                description,
                url,
                picture_url: None,
            }])),
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
        }
    }
}

super::handler_calls!();

// Host functions: each delegates to the 0.2 implementation.

impl accounts::Host for CallState {
    async fn current(&mut self) -> wasmtime::Result<wit::Account> {
        Ok(self.account().into())
    }
}

impl config::Host for CallState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        latest::config::Host::get(self).await
    }
}

impl log::Host for CallState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        use latest::log::Level as L;
        let level = match level {
            log::Level::Trace => L::Trace,
            log::Level::Debug => L::Debug,
            log::Level::Info => L::Info,
            log::Level::Warn => L::Warn,
            log::Level::Error => L::Error,
        };
        latest::log::Host::log(self, level, message).await
    }
}

fn follower(f: latest::followers::Follower) -> followers::Follower {
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
        attributes: f.attributes,
    }
}

impl followers::Host for CallState {
    async fn get(&mut self, id: String) -> Result<followers::Follower> {
        latest::followers::Host::get(self, id).await.map(follower)
    }

    async fn list(
        &mut self,
        segment: Option<String>,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<followers::Page> {
        let page = latest::followers::Host::list(self, segment, cursor, limit).await?;
        Ok(followers::Page {
            items: page.items.into_iter().map(follower).collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn tag(&mut self, ids: Vec<String>, tag: String) -> Result<()> {
        latest::followers::Host::tag(self, ids, tag).await
    }

    async fn untag(&mut self, ids: Vec<String>, tag: String) -> Result<()> {
        latest::followers::Host::untag(self, ids, tag).await
    }

    async fn set_attribute(&mut self, id: String, key: String, value: String) -> Result<()> {
        latest::followers::Host::set_attribute(self, id, key, value).await
    }

    async fn count(&mut self, id: String, counter: String, delta: i64) -> Result<i64> {
        latest::followers::Host::count(self, id, counter, delta).await
    }
}

impl storage::Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        latest::storage::Host::get(self, key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<()> {
        latest::storage::Host::set(self, key, value).await
    }

    async fn delete(&mut self, key: String) -> Result<bool> {
        latest::storage::Host::delete(self, key).await
    }

    async fn list_prefix(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<storage::Entries> {
        let page = latest::storage::Host::list_prefix(self, prefix, cursor, limit).await?;
        Ok(storage::Entries {
            items: page
                .items
                .into_iter()
                .map(|e| storage::Entry {
                    key: e.key,
                    value: e.value,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> Result<bool> {
        latest::storage::Host::compare_and_swap(self, key, expected, new).await
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64> {
        latest::storage::Host::increment(self, key, delta).await
    }
}

impl messaging::Host for CallState {
    async fn send(&mut self, to: String, content: wit::Content) -> Result<String> {
        let content = MessageContent::from(content);
        latest::messaging::Host::send(self, to, content.into()).await
    }

    async fn send_template(
        &mut self,
        to: String,
        template_id: String,
        fields: Vec<messaging::TemplateField>,
        url: Option<String>,
    ) -> Result<String> {
        let fields = fields
            .into_iter()
            .map(|f| latest::messaging::TemplateField {
                name: f.name,
                value: f.value,
                color: f.color,
            })
            .collect();
        let target = url.map(latest::messaging::TemplateTarget::Url);
        latest::messaging::Host::send_template(self, to, template_id, fields, target).await
    }

    async fn broadcast(
        &mut self,
        audience: messaging::Audience,
        content: wit::Content,
        at: Option<u64>,
        idempotency_key: String,
    ) -> Result<String> {
        use latest::messaging::Audience as A;
        let audience = match audience {
            messaging::Audience::All => A::All,
            messaging::Audience::Tag(t) => A::Tag(t),
            messaging::Audience::Segment(s) => A::Segment(s),
            messaging::Audience::Openids(ids) => A::Openids(ids),
        };
        let content = MessageContent::from(content);
        latest::messaging::Host::broadcast(self, audience, content.into(), at, idempotency_key)
            .await
    }

    async fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<String> {
        latest::messaging::Host::publish(self, topic, payload).await
    }
}

fn job(j: latest::scheduling::Job) -> scheduling::Job {
    scheduling::Job {
        id: j.id,
        next_run: j.next_run,
        cron: j.cron,
        payload: j.payload,
    }
}

impl scheduling::Host for CallState {
    async fn at(&mut self, when: u64, payload: Vec<u8>) -> Result<String> {
        latest::scheduling::Host::at(self, when, payload).await
    }

    async fn every(&mut self, cron: String, payload: Vec<u8>) -> Result<String> {
        latest::scheduling::Host::every(self, cron, payload).await
    }

    async fn cancel(&mut self, job_id: String) -> Result<bool> {
        latest::scheduling::Host::cancel(self, job_id).await
    }

    async fn list(&mut self) -> Result<Vec<scheduling::Job>> {
        latest::scheduling::Host::list(self)
            .await
            .map(|jobs| jobs.into_iter().map(job).collect())
    }
}
