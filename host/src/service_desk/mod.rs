//! The customer-service seat (人工客服): conversations that a plugin handed to human customer
//! service wait in the account's queue until an operator answers them.
//!
//! A conversation opens when a `transfer-to-service` reply is delivered to a follower (a plugin
//! decided a person should answer — on WeChat this is the `transfer_customer_service` passive
//! reply) and is answered by the next customer-service message that no plugin sent: an operator
//! writing from the console or the admin API, or an integration through `/cgi-bin` — those are the
//! people behind the account. Both are recorded by [`Platform::deliver_template_in`]'s unit of work,
//! the one that writes the message itself, so the queue never disagrees with what was delivered
//! and no caller can forget to update it. An operator closes a conversation when it is done; a new
//! transfer opens it again.
//!
//! Who answered is in the audit log (the API records every change with its caller); the queue
//! keeps what an operator needs to pick the next conversation: since when the follower has been
//! waiting, what they wrote, which plugin handed them over.
//!
//! Storage: table `service_conversations`, `(account, openid)` → [`Conversation`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::messaging::outbox::{Delivery, OutboxEntry};
use crate::platform::Platform;
use crate::plugin_api::InboundBody;
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Store, Table, Tx};

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Handed over; no person has answered since.
    Waiting,
    /// A person answered; the conversation stays open until closed.
    Answered,
    /// Closed by an operator.
    Closed,
}

/// One follower's conversation with the account's customer service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub openid: String,
    pub status: ConversationStatus,
    /// When the (last) transfer was delivered, ms since the epoch.
    pub transferred_at: u64,
    /// The plugin (or developer server) that handed the follower over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_by: Option<String>,
    /// What the follower wrote when they were handed over: the text (at most
    /// [`MAX_MESSAGE_CHARS`] characters) or `[image]`, `[location]` … for other types; none for
    /// an event. Plaza keeps no archive of inbound messages, so this is the operator's context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When a person last answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<u64>,
    /// Messages people sent in this conversation.
    #[serde(default)]
    pub replies: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
}

/// Which conversations a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// Waiting and answered (not closed): the operator's queue.
    #[default]
    Open,
    Waiting,
    Answered,
    Closed,
    All,
}

impl StatusFilter {
    fn admits(self, status: ConversationStatus) -> bool {
        match self {
            StatusFilter::Open => status != ConversationStatus::Closed,
            StatusFilter::Waiting => status == ConversationStatus::Waiting,
            StatusFilter::Answered => status == ConversationStatus::Answered,
            StatusFilter::Closed => status == ConversationStatus::Closed,
            StatusFilter::All => true,
        }
    }
}

/// Characters of the handed-over message a conversation keeps.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Conversations a listing returns at most (oldest waiting first).
pub const MAX_LISTED: usize = 500;

/// Each account's customer-service conversations.
pub struct ServiceDesk {
    table: Table<Json<Conversation>>,
}

impl ServiceDesk {
    pub fn new(store: &Store) -> Result<Self> {
        Ok(ServiceDesk {
            table: store.table("service_conversations")?,
        })
    }

    /// Records what delivering `entry` to `openid` means for the queue, in the delivery's unit of
    /// work: a transfer opens (or reopens) the conversation; a customer-service message no
    /// plugin sent answers an open one. Anything else leaves the queue alone.
    pub fn record_delivery_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
    ) -> Result<()> {
        let k = key(&[account, openid]);
        match (&entry.delivery, &entry.content) {
            (_, MessageContent::TransferCustomerService) => {
                tx.put(
                    &self.table,
                    &k,
                    &Conversation {
                        openid: openid.to_string(),
                        status: ConversationStatus::Waiting,
                        transferred_at: entry.at,
                        transferred_by: entry.plugin.clone(),
                        message: None,
                        answered_at: None,
                        replies: 0,
                        closed_at: None,
                    },
                )?;
            }
            (Delivery::CustomerService, _) if entry.plugin.is_none() => {
                tx.update(&self.table, &k, |current| {
                    Ok(current.map(|mut c| {
                        if c.status != ConversationStatus::Closed {
                            c.status = ConversationStatus::Answered;
                            c.answered_at = Some(entry.at);
                            c.replies = c.replies.saturating_add(1);
                        }
                        c
                    }))
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Notes what the follower wrote when a plugin handed them over (the message whose reply
    /// was the transfer), in the unit of work that delivers the transfer.
    pub fn note_handover_message_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        body: &InboundBody,
    ) -> Result<()> {
        let message = match body {
            InboundBody::Text(text) => text.chars().take(MAX_MESSAGE_CHARS).collect(),
            other => format!("[{}]", other.type_name()),
        };
        tx.update(&self.table, &key(&[account, openid]), |current| {
            Ok(current.map(|mut c| {
                c.message = Some(message);
                c
            }))
        })?;
        Ok(())
    }

    /// The account's conversations that `filter` admits: waiting ones first (longest waiting
    /// first), then the others by their last change, newest first; at most [`MAX_LISTED`].
    pub fn list(&self, account: &str, filter: StatusFilter) -> Result<Vec<Conversation>> {
        let mut found: Vec<Conversation> = self
            .table
            .values(&prefix(&[account]))?
            .into_iter()
            .filter(|c| filter.admits(c.status))
            .collect();
        found.sort_by_key(|c| match c.status {
            ConversationStatus::Waiting => (0, c.transferred_at),
            _ => (
                1,
                u64::MAX - c.closed_at.or(c.answered_at).unwrap_or(c.transferred_at),
            ),
        });
        found.truncate(MAX_LISTED);
        Ok(found)
    }

    /// One follower's conversation, `NotFound` if none was ever opened.
    pub fn get(&self, account: &str, openid: &str) -> Result<Conversation> {
        self.table
            .get(&key(&[account, openid]))?
            .ok_or_else(|| no_conversation(openid))
    }
}

fn no_conversation(openid: &str) -> PlazaError {
    PlazaError::NotFound(format!(
        "follower {openid:?} has no customer-service conversation"
    ))
}

impl Platform {
    /// An operator's answer to a follower: a customer-service message (the 48 h window, review
    /// and the outbox apply as to every such message), which also marks the follower's
    /// conversation answered in the same unit of work. Works for any follower inside the window,
    /// whether or not a plugin handed them over.
    pub async fn answer_follower(
        self: &Arc<Self>,
        account: &str,
        openid: &str,
        content: MessageContent,
    ) -> Result<OutboxEntry> {
        self.accounts.get(account)?;
        self.send_customer_service(account, openid, None, content, None)
            .await
    }

    /// Closes a follower's conversation (`NotFound` if there is none); closing a closed one
    /// changes nothing.
    pub async fn close_conversation(
        self: &Arc<Self>,
        account: &str,
        openid: &str,
    ) -> Result<Conversation> {
        self.accounts.get(account)?;
        let now = self.clock.now_ms();
        let k = key(&[account, openid]);
        let table = &self.service_desk.table;
        let closed = self.store.write(|tx| {
            let updated = tx.update(table, &k, |current| {
                let mut c = current.ok_or_else(|| no_conversation(openid))?;
                if c.status != ConversationStatus::Closed {
                    c.status = ConversationStatus::Closed;
                    c.closed_at = Some(now);
                }
                Ok(Some(c))
            })?;
            updated.ok_or_else(|| no_conversation(openid))
        })?;
        closed.durable().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        delivery: Delivery,
        plugin: Option<&str>,
        content: MessageContent,
        at: u64,
    ) -> OutboxEntry {
        OutboxEntry {
            id: format!("m{at}"),
            at,
            delivery,
            plugin: plugin.map(str::to_string),
            content,
        }
    }

    fn text(t: &str) -> MessageContent {
        MessageContent::Text {
            content: t.to_string(),
        }
    }

    #[test]
    fn a_transfer_opens_and_a_person_answers() {
        let (_dir, _faulty, store) = crate::storage::testing::faulty_store();
        let desk = ServiceDesk::new(&store).unwrap();
        let deliver = |e: OutboxEntry, openid: &str| {
            crate::storage::testing::done(
                store.write(|tx| desk.record_delivery_in(tx, "acme", openid, &e)),
            )
            .unwrap();
        };
        // A plugin's own customer-service message does not answer; nor does a reply.
        deliver(
            entry(
                Delivery::Reply,
                Some("bot"),
                MessageContent::TransferCustomerService,
                10,
            ),
            "o1",
        );
        deliver(
            entry(Delivery::CustomerService, Some("bot"), text("hi"), 11),
            "o1",
        );
        deliver(entry(Delivery::Reply, Some("bot"), text("hi"), 12), "o1");
        let c = desk.get("acme", "o1").unwrap();
        assert_eq!(c.status, ConversationStatus::Waiting);
        assert_eq!(c.transferred_by.as_deref(), Some("bot"));
        // A person's message does.
        deliver(
            entry(Delivery::CustomerService, None, text("how can I help?"), 20),
            "o1",
        );
        let c = desk.get("acme", "o1").unwrap();
        assert_eq!(
            (c.status, c.answered_at, c.replies),
            (ConversationStatus::Answered, Some(20), 1)
        );
        // No conversation is opened by a person writing first.
        deliver(
            entry(Delivery::CustomerService, None, text("hello"), 21),
            "o2",
        );
        assert!(matches!(
            desk.get("acme", "o2"),
            Err(PlazaError::NotFound(_))
        ));
        // Waiting first, oldest first; then the others.
        deliver(
            entry(
                Delivery::Reply,
                Some("bot"),
                MessageContent::TransferCustomerService,
                30,
            ),
            "o3",
        );
        deliver(
            entry(
                Delivery::Reply,
                Some("bot"),
                MessageContent::TransferCustomerService,
                25,
            ),
            "o4",
        );
        let order: Vec<_> = desk
            .list("acme", StatusFilter::Open)
            .unwrap()
            .into_iter()
            .map(|c| c.openid)
            .collect();
        assert_eq!(order, ["o4", "o3", "o1"]);
        let waiting = desk.list("acme", StatusFilter::Waiting).unwrap();
        assert_eq!(waiting.len(), 2);
        assert!(desk.list("other", StatusFilter::All).unwrap().is_empty());
    }
}
