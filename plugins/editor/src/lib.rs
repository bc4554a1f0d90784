//! # editor — 编辑器集成: articles, 135/秀米 import, components by short code, publishing
//!
//! * **Articles** ([`article`], [`store`]): drafts with title, cover, digest, author and body;
//!   every save keeps a version (list, read, restore). Bodies are sanitised HTML ([`sanitize`])
//!   whose text may hold short codes ([`shortcode`]) for media blocks (image, audio, video, a
//!   360° panorama), video players from allowed hosts, and other plugins' components.
//! * **Import** (`POST /api/import`): HTML as 135编辑器 and 秀米 export it, pasted or fetched from a
//!   granted host, sanitised by an allow-list with `ammonia`; remote and `data:` images are
//!   re-hosted into the media store (or removed), and the answer reports what was removed.
//! * **Components**: `[vote id=…]`, `[survey id=…]`, `[challenge id=…]` (interactive),
//!   `[ad slot=…]` (ad-slots), `[product id=…]` (shop) are asked of their plugin through
//!   `component.render` on every page view; `[miniprogram …]` is drawn here. A missing plugin
//!   renders nothing (and is logged). The account's end-of-article ad slot (`ad.slots`) is added.
//! * **Preview and publish**: signed, expiring preview links ([`preview`]); publishing sends a
//!   news broadcast now or at a time (the host enforces the quota), records
//!   `editor.article.published` and puts the article in the public history (历史消息) and,
//!   when the operator features it, the featured list (历史消息精选).
//! * **Pages** ([`pages`]): article pages record `editor.article.read` (once per follower per
//!   article per UTC day when the reader came through a signed link), and like and share buttons
//!   record `editor.article.like` / `editor.article.share` — for analytics.
//!
//! Routes, configuration and capabilities: `README.md`; the route table is [`routes::handle`].
#![forbid(unsafe_code)]

pub mod article;
pub mod config;
pub mod pages;
pub mod preview;
pub mod routes;
pub mod sanitize;
pub mod shortcode;
pub mod store;

use plaza_sdk::prelude::*;
use plaza_sdk::{Link, links, log};

use crate::routes::{Env, PublishTimer};

#[derive(Default)]
struct Editor;

impl Plugin for Editor {
    fn on_install(&self, ctx: &CallContext) -> Result<()> {
        let env = Env {
            config: plaza_sdk::config::parse()?,
            ctx,
        };
        // A failed welcome article must not fail the installation (e.g. storage not granted).
        if let Err(e) = routes::install_welcome(&env) {
            log::warn(format!("no welcome article: {}", e.display()));
        }
        Ok(())
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx, &req)
    }

    fn on_event(&self, _ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        if let Event::Timer(timer) = ev {
            match serde_json::from_slice::<PublishTimer>(&timer.payload) {
                Ok(t) => routes::on_publish_timer(&t, timer.scheduled_for)?,
                Err(e) => log::warn(format!("ignoring a timer with an unknown payload: {e}")),
            }
        }
        Ok(None)
    }

    fn on_message(&self, _ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let Some(text) = msg.text() else {
            return Ok(None);
        };
        let config: config::Config = plaza_sdk::config::parse()?;
        let text = text.trim();
        if !config
            .history_keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(text))
        {
            return Ok(None);
        }
        // A signed link: the follower's reads from the history page carry their openid.
        let url = links::follower_url(&msg.from, "/history", 7 * 24 * 3600)?;
        Ok(Some(Content::ArticleLink(Link {
            title: "历史消息 History".into(),
            description: "往期文章 Past articles".into(),
            url,
        })))
    }
}

plaza_sdk::register!(Editor);
