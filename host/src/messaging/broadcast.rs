//! Broadcasts (群发) to many followers, idempotent by the caller's key.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::content::MessageContent;
use super::outbox::Delivery;
use crate::accounts::followers::Follower;
use crate::error::Result;
use crate::platform::Platform;
use crate::storage::backend::{Tree, key};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BroadcastRecord {
    pub id: String,
    pub recipients: u64,
    pub delivered: u64,
    pub done: bool,
}

pub struct Broadcasts {
    tree: Arc<dyn Tree>,
}

impl Broadcasts {
    pub fn new(tree: Arc<dyn Tree>) -> Self {
        Broadcasts { tree }
    }
}

impl Platform {
    /// Openids of the account's subscribed followers matching `pred`.
    pub fn subscribed_followers(
        &self,
        account: &str,
        pred: impl Fn(&Follower) -> bool,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = self.followers.list(account, cursor.as_deref(), 1000)?;
            out.extend(
                page.into_iter()
                    .filter(|f| f.subscribed && pred(f))
                    .map(|f| f.openid),
            );
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Delivers `content` to each recipient once per `(account, plugin, key)`: a retried call with
    /// the same key returns the first call's id and delivers nothing.
    pub fn broadcast_once(
        &self,
        account: &str,
        plugin: &str,
        idempotency_key: &str,
        recipients: &[String],
        content: MessageContent,
    ) -> Result<String> {
        let k = key(&[account, plugin, idempotency_key]);
        let rec = BroadcastRecord {
            id: self.ids.next("b"),
            recipients: recipients.len() as u64,
            delivered: 0,
            done: false,
        };
        if !self
            .broadcasts
            .tree
            .compare_and_swap(&k, None, Some(&serde_json::to_vec(&rec)?))?
        {
            let existing: BroadcastRecord = match self.broadcasts.tree.get(&k)? {
                Some(b) => serde_json::from_slice(&b)?,
                None => rec.clone(),
            };
            return Ok(existing.id);
        }
        for openid in recipients {
            self.deliver(
                account,
                openid,
                Delivery::Broadcast,
                Some(plugin),
                content.clone(),
            )?;
        }
        let done = BroadcastRecord {
            delivered: recipients.len() as u64,
            done: true,
            ..rec.clone()
        };
        self.broadcasts
            .tree
            .insert(&k, &serde_json::to_vec(&done)?)?;
        Ok(rec.id)
    }
}
