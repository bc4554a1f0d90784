//! # auto-reply — keyword, follow and default replies
//!
//! Configuration (every field optional; validated by the host against `plugin.toml`'s schema):
//!
//! ```json
//! {"rules": [{"keyword": "hello", "match": "exact", "reply": "Hi there", "priority": 0}],
//!  "follow_reply": "Welcome!", "default_reply": "We got your message"}
//! ```
//!
//! * A text message is answered by the first matching rule, by `priority` descending and then
//!   list order ([`rules::find_match`]); without a match, by `default_reply` if set.
//! * Any other message (image, voice, location, link, …) is answered by `default_reply`.
//! * A subscribing follower gets `follow_reply`.
//! * Operators can manage the rules over HTTP (see [`routes`]); **rules stored that way supersede
//!   the configuration's `rules`** until they are deleted again. Without the `storage` grant the
//!   plugin still answers from its configuration; only the rule-editing routes need storage.
#![forbid(unsafe_code)]

pub mod routes;
pub mod rules;

use plaza_sdk::prelude::*;
use plaza_sdk::{config, log, storage};

use crate::routes::{RULES_KEY, RuleStore};
use crate::rules::{Config, Rule};

#[derive(Default)]
struct AutoReply;

impl Plugin for AutoReply {
    fn on_message(&self, _ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let config: Config = config::parse()?;
        let text = msg.text();
        // Non-text messages get the default reply whatever the rules: skip the storage read.
        let stored = match text {
            Some(_) => routes::stored_rules(&HostStore)?,
            None => None,
        };
        let reply = rules::reply_to(&config, stored.as_deref(), text, &mut warn_bad_regex);
        Ok(reply.map(Content::text))
    }

    fn on_event(&self, _ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        match ev {
            Event::Follower(ev) if ev.is_subscribe() => {
                Ok(config::parse::<Config>()?.follow_reply.map(Content::text))
            }
            _ => Ok(None),
        }
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx.operator, &req, &HostStore, &config::parse::<Config>)
    }
}

plaza_sdk::register!(AutoReply);

fn warn_bad_regex(rule: &Rule, err: &regex_lite::Error) {
    log::warn(format!(
        "skipping rule with invalid regex {:?}: {err}",
        rule.keyword
    ));
}

/// The stored rules in this plugin's storage on the current account.
struct HostStore;

impl RuleStore for HostStore {
    fn load(&self) -> Result<Option<Vec<u8>>> {
        match storage::get(RULES_KEY) {
            // Without the storage grant there can be no rules stored through the routes: the
            // configuration's rules are the whole truth, and replies keep working.
            Err(Error::PermissionDenied(_)) => Ok(None),
            other => other,
        }
    }

    fn save(&self, json: &[u8]) -> Result<()> {
        storage::set(RULES_KEY, json)
    }

    fn swap(&self, expected: Option<&[u8]>, json: &[u8]) -> Result<bool> {
        storage::compare_and_swap(RULES_KEY, expected, Some(json))
    }

    fn remove(&self) -> Result<bool> {
        storage::delete(RULES_KEY)
    }
}
