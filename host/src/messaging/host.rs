//! WIT host impl of `messaging`: the sender comes from the call's messaging grant; then account
//! rules, review, outbox — durable before the plugin hears back.

use crate::error::{PlazaError, Result};
use crate::runtime::MAX_CONTENT_BYTES;
use crate::runtime::bindings::v0_2_0::{messaging, wit};
use crate::runtime::state::CallState;

use super::broadcast::{Audience, NewBroadcast};
use super::content::MessageContent;
use super::send::{TemplateTarget, check_content};

impl messaging::Host for CallState {
    async fn send(&mut self, to: String, content: wit::Content) -> Result<String> {
        let sender = self.grants.send()?;
        let content = MessageContent::from(content);
        let entry = self
            .platform
            .clone()
            .send_customer_service(
                &sender.account,
                &to,
                Some(&sender.plugin),
                content,
                self.interaction.as_ref(),
            )
            .await?;
        Ok(entry.id)
    }

    async fn send_template(
        &mut self,
        to: String,
        template_id: String,
        fields: Vec<messaging::TemplateField>,
        target: Option<messaging::TemplateTarget>,
    ) -> Result<String> {
        let sender = self.grants.send_template()?;
        let values: Vec<(String, String)> = fields.into_iter().map(|f| (f.name, f.value)).collect();
        let target = target.map(|t| match t {
            messaging::TemplateTarget::Url(url) => TemplateTarget::Url(url),
            messaging::TemplateTarget::MiniProgram(page) => TemplateTarget::MiniProgram {
                appid: page.appid,
                page_path: page.page_path,
            },
        });
        let account = self.account().clone();
        let entry = self
            .platform
            .clone()
            .send_template_message(
                &account,
                &to,
                Some(&sender.plugin),
                &template_id,
                &values,
                target,
            )
            .await?;
        Ok(entry.id)
    }

    async fn broadcast(
        &mut self,
        audience: messaging::Audience,
        content: wit::Content,
        at: Option<u64>,
        idempotency_key: String,
    ) -> Result<String> {
        let sender = self.grants.broadcast()?;
        let content = MessageContent::from(content);
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
            content,
            at,
        };
        Ok(self
            .platform
            .clone()
            .create_broadcast(&sender.account, Some(&sender.plugin), req)
            .await?
            .id)
    }

    async fn publish(&mut self, topic: String, payload: Vec<u8>) -> Result<String> {
        let publisher = self.grants.publish(&topic)?;
        if payload.len() > MAX_CONTENT_BYTES {
            return Err(PlazaError::TooLarge(format!(
                "payload is {} bytes; the limit is {MAX_CONTENT_BYTES}",
                payload.len()
            )));
        }
        self.platform
            .clone()
            .publish_topic(&publisher.account, &publisher.plugin, &topic, payload)
            .await
    }
}
