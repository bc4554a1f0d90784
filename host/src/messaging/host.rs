//! WIT host impl of `messaging`: the sender comes from the call's messaging grant; then account
//! rules, review, outbox — durable before the plugin hears back.

use crate::error::{PlazaError, Result};
use crate::runtime::MAX_CONTENT_BYTES;
use crate::runtime::bindings::v0_2_0::{messaging, wit};
use crate::runtime::state::CallState;

use crate::channels::wechat::client::TemplateSend;

use super::broadcast::{Audience, NewBroadcast};
use super::content::MessageContent;
use super::outbox::Delivery;

fn check_content(c: &MessageContent) -> Result<()> {
    if let MessageContent::MiniProgram {
        appid, page_path, ..
    } = c
    {
        check_mini_program_page(appid, page_path)?;
    }
    let n = c.size();
    if n > MAX_CONTENT_BYTES {
        return Err(PlazaError::TooLarge(format!(
            "content is {n} bytes; the limit is {MAX_CONTENT_BYTES}"
        )));
    }
    Ok(())
}

/// A mini-program page a template message opens: an appid as WeChat issues them (`wx` and 16
/// hex digits) and a page path without control characters.
pub fn check_mini_program_page(appid: &str, page_path: &str) -> Result<()> {
    let appid_ok = appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !appid_ok {
        return Err(PlazaError::invalid(format!(
            "mini-program appid {appid:?} is not one WeChat issues (wx followed by 16 hex digits)"
        )));
    }
    if page_path.is_empty() || page_path.len() > 1024 || page_path.chars().any(char::is_control) {
        return Err(PlazaError::invalid(
            "mini-program page path must be 1-1024 bytes without control characters",
        ));
    }
    Ok(())
}

impl messaging::Host for CallState {
    async fn send(&mut self, to: String, content: wit::Content) -> Result<String> {
        let sender = self.grants.send()?;
        let content = MessageContent::from(content);
        check_content(&content)?;
        self.platform
            .check_service_window(&sender.account, &to, self.interaction.as_ref())?;
        let entry = self
            .platform
            .clone()
            .deliver_reviewed(
                &sender.account,
                &to,
                Delivery::CustomerService,
                Some(&sender.plugin),
                content,
                None,
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
        crate::templates::check_template_rights(self.account())?;
        let follower = self.platform.followers.get(&sender.account, &to)?;
        if !follower.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {to:?} has unsubscribed"
            )));
        }
        let values: Vec<(String, String)> = fields.into_iter().map(|f| (f.name, f.value)).collect();
        let mut text = self
            .platform
            .templates
            .render(&sender.account, &template_id, &values)?;
        // What a bridged account sends through WeChat's template API (the outbox keeps the text).
        let mut wechat = TemplateSend {
            template_id: template_id.clone(),
            data: values,
            url: None,
            miniprogram: None,
        };
        match target {
            Some(messaging::TemplateTarget::Url(url)) => {
                text.push_str(&format!("\n{url}"));
                wechat.url = Some(url);
            }
            Some(messaging::TemplateTarget::MiniProgram(page)) => {
                check_mini_program_page(&page.appid, &page.page_path)?;
                wechat.miniprogram = Some((page.appid.clone(), page.page_path.clone()));
                text.push_str(&format!(
                    "\nminiprogram://{}/{}",
                    page.appid,
                    page.page_path.trim_start_matches('/')
                ));
            }
            None => {}
        }
        let content = MessageContent::Text { content: text };
        let entry = self
            .platform
            .clone()
            .deliver_reviewed(
                &sender.account,
                &to,
                Delivery::Template,
                Some(&sender.plugin),
                content,
                Some(&wechat),
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
