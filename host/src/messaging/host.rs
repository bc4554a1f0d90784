//! WIT host impl of `messaging`: grant check → account rules → outbox, durable before return.

use crate::error::{PlazaError, Result};
use crate::plugins::grants::Capability;
use crate::runtime::bindings::v0_1_0::plaza::platform::messaging;
use crate::runtime::state::CallState;
use crate::runtime::{MAX_CONTENT_BYTES, content_size, wit};

use super::content::MessageContent;
use super::outbox::Delivery;
use crate::accounts::AccountKind;

/// Recipients one broadcast may name explicitly.
const MAX_OPENIDS: usize = 10_000;

fn check_content(c: &wit::Content) -> Result<()> {
    let n = content_size(c);
    if n > MAX_CONTENT_BYTES {
        return Err(PlazaError::TooLarge(format!(
            "content is {n} bytes; the limit is {MAX_CONTENT_BYTES}"
        )));
    }
    Ok(())
}

impl CallState {
    fn grant(&self, cap: Capability) -> Result<()> {
        self.install.installation.grants.require(&cap)
    }
}

impl messaging::Host for CallState {
    async fn send(&mut self, to: String, content: wit::Content) -> Result<String> {
        self.grant(Capability::MessagingSend)?;
        check_content(&content)?;
        let account = self.account_id().to_string();
        self.platform.check_service_window(&account, &to)?;
        let entry = self.platform.deliver(
            &account,
            &to,
            Delivery::CustomerService,
            Some(self.plugin_name()),
            content.into(),
        )?;
        self.platform.commit.commit().await?;
        Ok(entry.id)
    }

    async fn send_template(
        &mut self,
        to: String,
        template_id: String,
        fields: Vec<messaging::TemplateField>,
        url: Option<String>,
    ) -> Result<String> {
        self.grant(Capability::MessagingTemplate)?;
        let account = &self.install.account;
        if account.kind != AccountKind::Service || !account.verified {
            return Err(PlazaError::PermissionDenied(format!(
                "template messages need a verified service account; {} is not one",
                account.id
            )));
        }
        if template_id.is_empty() || fields.is_empty() {
            return Err(PlazaError::invalid(
                "a template message needs a template id and at least one field",
            ));
        }
        let follower = self.platform.followers.get(&account.id, &to)?;
        if !follower.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {to:?} has unsubscribed"
            )));
        }
        let mut text = format!("[{template_id}]");
        for f in &fields {
            text.push_str(&format!("\n{}: {}", f.name, f.value));
        }
        if let Some(url) = url {
            text.push_str(&format!("\n{url}"));
        }
        let content = MessageContent::Text { content: text };
        let id = account.id.clone();
        let entry = self.platform.deliver(
            &id,
            &to,
            Delivery::Template,
            Some(self.plugin_name()),
            content,
        )?;
        self.platform.commit.commit().await?;
        Ok(entry.id)
    }

    async fn broadcast(
        &mut self,
        audience: messaging::Audience,
        content: wit::Content,
        at: Option<u64>,
        idempotency_key: String,
    ) -> Result<String> {
        self.grant(Capability::MessagingBroadcast)?;
        check_content(&content)?;
        if at.is_some_and(|t| t > self.platform.clock.now_ms()) {
            return Err(PlazaError::invalid(
                "scheduled broadcasts are not supported by this host version; pass none",
            ));
        }
        if idempotency_key.is_empty() || idempotency_key.len() > 128 {
            return Err(PlazaError::invalid("idempotency-key must be 1-128 bytes"));
        }
        let account = self.account_id().to_string();
        let plugin = self.plugin_name().to_string();
        let recipients: Vec<String> = match audience {
            messaging::Audience::All => self.platform.subscribed_followers(&account, |_| true)?,
            messaging::Audience::Tag(tag) => self
                .platform
                .subscribed_followers(&account, |f| f.tags.contains(&tag))?,
            messaging::Audience::Openids(ids) => {
                if ids.len() > MAX_OPENIDS {
                    return Err(PlazaError::TooLarge(format!(
                        "{} openids; the limit is {MAX_OPENIDS}",
                        ids.len()
                    )));
                }
                ids
            }
            messaging::Audience::Segment(s) => {
                return Err(PlazaError::invalid(format!(
                    "segment {s:?}: segment audiences are not supported by this host version"
                )));
            }
        };
        let id = self.platform.broadcast_once(
            &account,
            &plugin,
            &idempotency_key,
            &recipients,
            content.into(),
        )?;
        self.platform.commit.commit().await?;
        Ok(id)
    }

    async fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<String> {
        self.grant(Capability::TopicPublish(topic.clone()))?;
        if payload.len() > MAX_CONTENT_BYTES {
            return Err(PlazaError::TooLarge(format!(
                "payload is {} bytes; the limit is {MAX_CONTENT_BYTES}",
                payload.len()
            )));
        }
        let account = self.account_id().to_string();
        let plugin = self.plugin_name().to_string();
        Ok(self
            .platform
            .publish_topic(&account, &plugin, &topic, payload))
    }
}
