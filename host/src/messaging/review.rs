//! The outbound review chain (moderation): every outbound message — passive reply,
//! customer-service send, template, broadcast — passes the `review-outbound` export of each enabled
//! installation granted `review.outbound`, in priority order. A reviewer may allow it, rewrite it
//! (mask) for the reviewers after it and the follower, or block it with a reason.
//!
//! Blocked messages are not delivered; they are kept in the account's review queue so operators see
//! what was stopped and why. A reviewer that fails (trap, timeout, error) blocks too: moderation
//! fails closed, and the failure is in the queue and the installation's error log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::content::MessageContent;
use super::outbox::Delivery;
use crate::error::Result;
use crate::platform::Platform;
use crate::plugin_api::ReviewVerdict;
use crate::plugins::grants::Capability;
use crate::runtime::{Invocation, Outcome};
use crate::storage::backend::{child, prefix};
use crate::storage::{Json, Store, Table};

/// What the chain decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Review {
    /// Deliver this content (possibly masked by a reviewer).
    Allow(MessageContent),
    Blocked(BlockedMessage),
}

/// A message a reviewer stopped, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedMessage {
    pub id: String,
    pub at: u64,
    pub delivery: Delivery,
    /// The plugin that produced the message, if a plugin did.
    pub source: Option<String>,
    /// Recipient for one-to-one messages; the broadcast id for broadcasts.
    pub target: String,
    /// The reviewer that blocked it.
    pub reviewer: String,
    pub reason: String,
    pub content: MessageContent,
}

/// `account ++ review id` → the blocked message.
pub struct ReviewQueue {
    table: Table<Json<BlockedMessage>>,
}

impl ReviewQueue {
    pub fn new(store: &Store) -> Result<Self> {
        Ok(ReviewQueue {
            table: store.table("review_blocked")?,
        })
    }

    /// Blocked messages of an account, oldest first, after the id `after`.
    pub fn list(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlockedMessage>> {
        Ok(self.table.page(&prefix(&[account]), after, limit)?.values())
    }
}

impl Platform {
    /// Runs the review chain of `account` over one outbound message.
    pub async fn review_outbound(
        self: &Arc<Self>,
        account: &str,
        delivery: Delivery,
        source: Option<&str>,
        target: &str,
        content: MessageContent,
    ) -> Result<Review> {
        let reviewers: Vec<_> = self
            .plugins
            .active(account)
            .iter()
            .filter(|a| a.installation.grants.allows(&Capability::ReviewOutbound))
            // A reviewer's own messages are not reviewed by itself (no recursion).
            .filter(|a| Some(a.installation.plugin.as_str()) != source)
            .cloned()
            .collect();
        let mut content = content;
        // Reviewers see the recipient of a one-to-one message as `ctx.follower` (a moderation
        // plugin that holds a message for review needs to know whom to deliver it to later); a
        // broadcast has no single recipient.
        let recipient = (delivery != Delivery::Broadcast).then(|| target.to_string());
        for reviewer in reviewers {
            let asked = content.clone();
            let verdict = self
                .call_plugin(&reviewer, recipient.clone(), false, |ctx| {
                    Invocation::Review(ctx, asked)
                })
                .await;
            let reason = match verdict {
                Ok(Outcome::Verdict(ReviewVerdict::Allow)) => continue,
                Ok(Outcome::Verdict(ReviewVerdict::Mask(masked))) => {
                    content = masked;
                    continue;
                }
                Ok(Outcome::Verdict(ReviewVerdict::Block(reason))) => reason,
                Ok(other) => format!("reviewer answered with {other:?}"),
                Err(failure) => format!("reviewer failed: {failure}"),
            };
            let blocked = BlockedMessage {
                id: self.ids.next("r"),
                at: self.clock.now_ms(),
                delivery,
                source: source.map(str::to_string),
                target: target.to_string(),
                reviewer: reviewer.installation.plugin.clone(),
                reason,
                content,
            };
            self.store
                .write(|tx| {
                    tx.put(
                        &self.reviews.table,
                        &child(&[account], blocked.id.as_bytes()),
                        &blocked,
                    )
                })?
                .durable()
                .await?;
            tracing::info!(account, reviewer = %blocked.reviewer, reason = %blocked.reason, "outbound message blocked");
            return Ok(Review::Blocked(blocked));
        }
        Ok(Review::Allow(content))
    }
}

impl Platform {
    /// Reviews one message to one follower and, unless a reviewer blocked it, delivers it (durable
    /// before it returns). A blocked message is a permission-denied error that
    /// names the reviewer, the reason and the review-queue id.
    pub async fn deliver_reviewed(
        self: &Arc<Self>,
        account: &str,
        openid: &str,
        delivery: Delivery,
        source: Option<&str>,
        content: MessageContent,
        template: Option<&crate::channels::wechat::client::TemplateSend>,
    ) -> Result<super::outbox::OutboxEntry> {
        match self
            .review_outbound(account, delivery, source, openid, content)
            .await?
        {
            Review::Allow(content) => {
                self.deliver(account, openid, delivery, source, content, template)?
                    .durable()
                    .await
            }
            Review::Blocked(b) => Err(crate::error::PlazaError::PermissionDenied(format!(
                "message blocked by {}: {} (review id {})",
                b.reviewer, b.reason, b.id
            ))),
        }
    }
}
