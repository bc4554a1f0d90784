//! The local channel's outbox: every message delivered to a follower, in order, pollable.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::content::MessageContent;
use crate::error::Result;
use crate::storage::backend::{Tree, prefix};

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

pub struct Outbox {
    tree: Arc<dyn Tree>,
}

impl Outbox {
    pub fn new(tree: Arc<dyn Tree>) -> Self {
        Outbox { tree }
    }

    /// Appends under the entry's id, which is time-ordered and unique (see `Ids`).
    pub fn append(&self, account: &str, openid: &str, entry: &OutboxEntry) -> Result<()> {
        let mut k = prefix(&[account, openid]);
        k.extend_from_slice(entry.id.as_bytes());
        self.tree.insert(&k, &serde_json::to_vec(entry)?)?;
        Ok(())
    }

    /// Messages after the entry id `after` (all when `None`), oldest first.
    pub fn list(
        &self,
        account: &str,
        openid: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let base = prefix(&[account, openid]);
        let after = after.map(|a| [base.as_slice(), a.as_bytes()].concat());
        self.tree
            .scan_prefix(&base, after.as_deref(), limit)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }
}
