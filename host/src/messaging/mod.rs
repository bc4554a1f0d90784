//! Messaging: outbound content, the follower outbox of the local channel, and the `messaging` WIT
//! import (customer-service send, template, broadcast, topic publish).

pub mod broadcast;
pub mod content;
pub mod host;
pub mod outbox;
pub mod quota;
pub mod review;

use self::content::MessageContent;
use self::outbox::{Delivery, OutboxEntry};
use crate::error::{PlazaError, Result};
use crate::platform::Platform;

/// The customer-service window: a follower can be messaged for 48 h after they last interacted.
pub const SERVICE_WINDOW_MS: u64 = 48 * 3600 * 1000;

impl Platform {
    /// Puts one message in a follower's outbox. Not yet durable: the caller commits (once per
    /// request or batch, so concurrent deliveries share a flush).
    pub fn deliver(
        &self,
        account: &str,
        openid: &str,
        delivery: Delivery,
        plugin: Option<&str>,
        content: MessageContent,
    ) -> Result<OutboxEntry> {
        let entry = OutboxEntry {
            id: self.ids.next("m"),
            at: self.clock.now_ms(),
            delivery,
            plugin: plugin.map(str::to_string),
            content,
        };
        self.outbox.append(account, openid, &entry)?;
        self.log_delivery(account, openid, &entry)?;
        Ok(entry)
    }

    /// Checks that a follower can be sent a customer-service message now.
    pub fn check_service_window(&self, account: &str, openid: &str) -> Result<()> {
        let f = self.followers.get(account, openid)?;
        if !f.subscribed {
            return Err(PlazaError::invalid(format!(
                "follower {openid:?} has unsubscribed"
            )));
        }
        let now = self.clock.now_ms();
        if now.saturating_sub(f.last_interaction_at) > SERVICE_WINDOW_MS {
            return Err(PlazaError::OutsideWindow(format!(
                "follower {openid:?} last interacted at {} ms; customer-service messages are allowed for 48 h after that",
                f.last_interaction_at
            )));
        }
        Ok(())
    }
}
