//! Security events: a token used from an address it was never used from, an address locked out
//! after repeated invalid tokens, a token used from outside its IP allow-list. Kept in a small
//! table of the newest [`MAX_EVENTS`] (`GET /api/v1/security/events`); events of account-scoped
//! tokens also go to each account's event log (`api::authz`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::storage::{Json, Store, Table};

/// Security events kept; older ones are dropped as new ones arrive.
pub const MAX_EVENTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub id: String,
    pub at: u64,
    /// `new_address`, `lockout` or `ip_refused`.
    pub kind: String,
    /// The client address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The token concerned (`bootstrap` for the admin token); none for a lock-out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// Seconds a lock-out lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

pub struct SecurityLog {
    store: Arc<Store>,
    /// Time-ordered id → event.
    events: Table<Json<SecurityEvent>>,
}

impl SecurityLog {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(SecurityLog {
            events: store.table("security_events")?,
            store,
        })
    }

    /// Appends `event` (its `id` must sort by time), dropping the oldest beyond [`MAX_EVENTS`].
    /// Not awaited: the request that caused it goes on (or is refused) either way.
    pub fn record(&self, event: &SecurityEvent) -> Result<()> {
        let keys = self.events.keys(&[], None, usize::MAX)?;
        let excess = (keys.len() + 1).saturating_sub(MAX_EVENTS);
        self.store
            .write(|tx| {
                for k in keys.iter().take(excess) {
                    tx.delete(&self.events, k)?;
                }
                tx.put(&self.events, event.id.as_bytes(), event)
            })?
            .detach();
        Ok(())
    }

    /// The newest `limit` events, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<SecurityEvent>> {
        let mut all = self.events.values(&[])?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_events() {
        let (_tmp, _f, store) = crate::storage::testing::faulty_store();
        let log = SecurityLog::new(store).unwrap();
        for i in 0..MAX_EVENTS + 5 {
            log.record(&SecurityEvent {
                id: format!("{i:020}"),
                at: i as u64,
                kind: "lockout".into(),
                address: None,
                token: None,
                token_name: None,
                retry_after: None,
            })
            .unwrap();
        }
        let all = log.list(usize::MAX).unwrap();
        assert_eq!(all.len(), MAX_EVENTS);
        assert_eq!(all[0].at, (MAX_EVENTS + 4) as u64);
        assert_eq!(all.last().unwrap().at, 5);
        assert_eq!(log.list(2).unwrap().len(), 2);
    }
}
