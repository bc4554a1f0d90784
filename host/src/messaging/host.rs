//! WIT host impl of `messaging`: grant check → account rules → outbox, durable before return.

use crate::error::{PlazaError, Result};
use crate::plugins::grants::Capability;
use crate::runtime::bindings::v0_1_0::plaza::platform::messaging;
use crate::runtime::state::CallState;
use crate::runtime::{MAX_CONTENT_BYTES, content_size, wit};

use super::broadcast::{Audience, NewBroadcast};
use super::content::MessageContent;
use super::outbox::Delivery;

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
        let (platform, plugin) = (self.platform.clone(), self.plugin_name().to_string());
        let entry = platform
            .deliver_reviewed(
                &account,
                &to,
                Delivery::CustomerService,
                Some(&plugin),
                content.into(),
            )
            .await?;
        platform.commit.commit().await?;
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
        crate::templates::check_template_rights(account)?;
        let follower = self.platform.followers.get(&account.id, &to)?;
        if !follower.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {to:?} has unsubscribed"
            )));
        }
        let values: Vec<(String, String)> = fields.into_iter().map(|f| (f.name, f.value)).collect();
        let mut text = self
            .platform
            .templates
            .render(&account.id, &template_id, &values)?;
        if let Some(url) = url {
            text.push_str(&format!("\n{url}"));
        }
        let content = MessageContent::Text { content: text };
        let (platform, account, plugin) = (
            self.platform.clone(),
            account.id.clone(),
            self.plugin_name().to_string(),
        );
        let entry = platform
            .deliver_reviewed(&account, &to, Delivery::Template, Some(&plugin), content)
            .await?;
        platform.commit.commit().await?;
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
        let audience = match audience {
            messaging::Audience::All => Audience::All,
            messaging::Audience::Tag(t) => Audience::Tag(t),
            messaging::Audience::Segment(s) => Audience::Segment(s),
            messaging::Audience::Openids(ids) => Audience::Openids(ids),
        };
        let req = NewBroadcast {
            idempotency_key,
            audience,
            content: content.into(),
            at,
        };
        let (platform, account, plugin) = (
            self.platform.clone(),
            self.account_id().to_string(),
            self.plugin_name().to_string(),
        );
        Ok(platform
            .create_broadcast(&account, Some(&plugin), req)
            .await?
            .id)
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
        self.platform
            .publish_topic(&account, &plugin, &topic, payload)
            .await
    }
}
