//! Messaging: outbound content, the follower outbox of the local channel, and the `messaging` WIT
//! import (customer-service send, template, broadcast, topic publish).

pub mod broadcast;
pub mod content;
pub mod host;
pub mod outbox;
pub mod quota;
pub mod review;
pub mod send;

use self::content::MessageContent;
use self::outbox::{Delivery, OutboxEntry};
use crate::accounts::followers::PendingInteraction;
use crate::channels::wechat::client::TemplateSend;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::storage::{Pending, Tx};

/// The customer-service window: a follower can be messaged for 48 h after they last interacted.
pub const SERVICE_WINDOW_MS: u64 = 48 * 3600 * 1000;

impl Platform {
    /// A new outbox entry for one message, stamped now.
    pub fn outbox_entry(
        &self,
        delivery: Delivery,
        plugin: Option<&str>,
        content: MessageContent,
    ) -> OutboxEntry {
        OutboxEntry {
            id: self.ids.next("m"),
            at: self.clock.now_ms(),
            delivery,
            plugin: plugin.map(str::to_string),
            content,
        }
    }

    /// Puts one message in a follower's outbox and logs the delivery, in the caller's unit of
    /// work (so the message and its log entry are durable together). For an account bridged to
    /// WeChat, the message is also queued for WeChat's server API in the same unit of work.
    pub fn deliver_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
    ) -> Result<()> {
        self.deliver_template_in(tx, account, openid, entry, None)
    }

    /// [`Platform::deliver_in`], with what WeChat's template API needs for a template message.
    pub fn deliver_template_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
        template: Option<&TemplateSend>,
    ) -> Result<()> {
        self.outbox.append_in(tx, account, openid, entry)?;
        self.log_delivery_in(tx, account, openid, entry)?;
        // A transfer opens a customer-service conversation, a person's message answers it.
        self.service_desk
            .record_delivery_in(tx, account, openid, entry)?;
        self.enqueue_wechat_in(tx, account, openid, entry, template)
    }

    /// Delivers one message as a unit of work of its own (`template`: see
    /// [`Platform::deliver_template_in`]).
    pub fn deliver(
        &self,
        account: &str,
        openid: &str,
        delivery: Delivery,
        plugin: Option<&str>,
        content: MessageContent,
        template: Option<&TemplateSend>,
    ) -> Result<Pending<OutboxEntry>> {
        let entry = self.outbox_entry(delivery, plugin, content);
        self.store
            .write(|tx| self.deliver_template_in(tx, account, openid, &entry, template))
            .map(|p| p.map(|()| entry))
    }

    /// Checks that a follower can be sent a customer-service message now (counting an
    /// interaction being handled that is not yet recorded).
    pub fn check_service_window(
        &self,
        account: &str,
        openid: &str,
        pending: Option<&PendingInteraction>,
    ) -> Result<()> {
        let mut f = self.followers.get(account, openid)?;
        if let Some(p) = pending {
            p.apply(&mut f);
        }
        if !f.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {openid:?} has unsubscribed"
            )));
        }
        let now = self.clock.now_ms();
        if now.saturating_sub(f.last_interaction_at) > SERVICE_WINDOW_MS {
            return Err(PlazaError::OutsideWindow(format!(
                "follower {openid:?} last wrote or clicked at {} UTC, more than 48 h ago; customer-service messages are allowed only within 48 h of the follower's last interaction (a template message or the next broadcast can still reach them)",
                i64::try_from(f.last_interaction_at)
                    .ok()
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| f.last_interaction_at.to_string())
            )));
        }
        Ok(())
    }
}
