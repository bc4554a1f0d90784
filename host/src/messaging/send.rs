//! The two one-follower sends every caller shares — plugins (`messaging` WIT import) and the
//! WeChat-compatible `/cgi-bin` API — so that the account rules, the 48 h window, the review chain
//! and the outbox are the same whoever sends.

use crate::channels::wechat::client::TemplateSend;
use std::sync::Arc;

use super::content::MessageContent;
use super::outbox::{Delivery, OutboxEntry};
use crate::accounts::Account;
use crate::accounts::followers::PendingInteraction;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::runtime::MAX_CONTENT_BYTES;

/// Where a template message leads when the follower opens it.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateTarget {
    Url(String),
    MiniProgram { appid: String, page_path: String },
}

/// Bounds every outbound content shares: a mini-program card's page, and the encoded size.
pub fn check_content(c: &MessageContent) -> Result<()> {
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

/// A mini-program page a message opens: an appid as WeChat issues them (`wx` and 16 hex digits)
/// and a page path without control characters.
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

impl Platform {
    /// A customer-service message to one follower: content bounds, the 48 h window (counting an
    /// interaction being handled, `pending`), review, outbox — durable before it returns.
    pub async fn send_customer_service(
        self: &Arc<Self>,
        account: &str,
        openid: &str,
        source: Option<&str>,
        content: MessageContent,
        pending: Option<&PendingInteraction>,
    ) -> Result<OutboxEntry> {
        check_content(&content)?;
        self.check_service_window(account, openid, pending)?;
        self.deliver_reviewed(
            account,
            openid,
            Delivery::CustomerService,
            source,
            content,
            None,
        )
        .await
    }

    /// A template message to one follower: the account's right to send them
    /// ([`crate::templates::check_template_rights`]), a subscribed follower, the template's
    /// fields, the target, review, outbox — durable before it returns.
    pub async fn send_template_message(
        self: &Arc<Self>,
        account: &Account,
        openid: &str,
        source: Option<&str>,
        template_id: &str,
        values: &[(String, String)],
        target: Option<TemplateTarget>,
    ) -> Result<OutboxEntry> {
        crate::templates::check_template_rights(account)?;
        let follower = self.followers.get(&account.id, openid)?;
        if !follower.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {openid:?} has unsubscribed"
            )));
        }
        let mut text = self.templates.render(&account.id, template_id, values)?;
        // What a bridged account sends through WeChat's template API (the outbox keeps the text).
        let mut wechat = TemplateSend {
            template_id: template_id.to_string(),
            data: values.to_vec(),
            url: None,
            miniprogram: None,
        };
        match target {
            Some(TemplateTarget::Url(url)) => {
                text.push_str(&format!("\n{url}"));
                wechat.url = Some(url);
            }
            Some(TemplateTarget::MiniProgram { appid, page_path }) => {
                check_mini_program_page(&appid, &page_path)?;
                wechat.miniprogram = Some((appid.clone(), page_path.clone()));
                text.push_str(&format!(
                    "\nminiprogram://{}/{}",
                    appid,
                    page_path.trim_start_matches('/')
                ));
            }
            None => {}
        }
        let content = MessageContent::Text { content: text };
        self.deliver_reviewed(
            &account.id,
            openid,
            Delivery::Template,
            source,
            content,
            Some(&wechat),
        )
        .await
    }
}
