//! The local channel's outbox: every message delivered to a follower, in order, pollable.

use serde::{Deserialize, Serialize};

use super::content::MessageContent;
use crate::error::Result;
use crate::storage::backend::{child, prefix};
use crate::storage::{Json, Store, Table, Tx};

/// How a message reached the follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Passive reply to an inbound message or event.
    Reply,
    /// Customer-service message (`messaging.send`).
    CustomerService,
    Template,
    Broadcast,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub at: u64,
    pub delivery: Delivery,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(flatten)]
    pub content: MessageContent,
}

/// `(account, openid) ++ entry id` → entry. Entry ids are time-ordered and unique (see `Ids`),
/// so a follower's outbox reads in delivery order.
pub struct Outbox {
    table: Table<Json<OutboxEntry>>,
}

impl Outbox {
    pub fn new(store: &Store) -> Result<Self> {
        Ok(Outbox {
            table: store.table("outbox")?,
        })
    }

    /// Puts the entry in the follower's outbox as part of a unit of work.
    pub fn append_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
    ) -> Result<()> {
        tx.put(
            &self.table,
            &child(&[account, openid], entry.id.as_bytes()),
            entry,
        )
    }

    /// Messages after the entry id `after` (all when `None`), oldest first.
    pub fn list(
        &self,
        account: &str,
        openid: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        Ok(self
            .table
            .page(&prefix(&[account, openid]), after, limit)?
            .values())
    }
}
