//! Topics between plugins: durable, at-least-once delivery of published events to subscribers.
//!
//! A plugin publishes to a topic its manifest declares (`topics.publish:<topic>`, checked by the
//! WIT host impl). Publishing persists one [`TopicDelivery`] per subscriber — every other enabled
//! installation of the same account whose grants subscribe to the topic — and commits before the
//! plugin gets the event id back. The delivery loop ([`deliver`]) then calls each subscriber's
//! `on-event` with `event::topic` until it succeeds.
//!
//! Policy:
//! - **At least once.** A delivery is removed only after the subscriber's `on-event` returned
//!   `ok`; a crash in between delivers it again. Every subscriber sees the same, stable event id
//!   (the one `publish` returned) on every attempt, so it can de-duplicate; `attempt` counts from 1
//!   (and again from 1 after a replay). No ordering is promised between events.
//! - **Retries** back off exponentially: `backoff_base_ms × 2^(attempt-1)`, capped at
//!   `backoff_max_ms`.
//! - **Dead letters.** After `max_attempts` failed attempts (default 5) the delivery moves to the
//!   account's dead-letter list, where an operator can inspect it, replay it (re-queued with the
//!   attempt count reset) or discard it. The list keeps the newest `max_dead_per_account`.
//! - **Restart.** Pending deliveries are persisted, so they survive a crash. On start the retry
//!   time of each is re-evaluated with the configured backoff (never later than it was), so
//!   lowering the backoff takes effect for deliveries already waiting.
//! - A subscriber that is **disabled** keeps its deliveries waiting (rechecked every
//!   [`PARKED_RECHECK_MS`], attempts not counted); one that was **uninstalled**, or whose
//!   subscription grant was revoked, has its deliveries dropped (logged).
//! - Bounds: at most `max_pending_per_account` deliveries wait per account; a publish that would
//!   exceed it fails with `quota-exceeded`.

pub mod deliver;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::backend::{key, prefix};
use crate::storage::due::DueIndex;
use crate::storage::{Json, Pending, Store, Table, Tx};

/// A disabled subscriber's deliveries are looked at again after this long.
pub const PARKED_RECHECK_MS: u64 = 10_000;

/// Retry and bounds settings of topic delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicOptions {
    /// Failed attempts after which a delivery becomes a dead letter (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each further failure.
    pub backoff_base_ms: u64,
    /// Longest delay between two attempts.
    pub backoff_max_ms: u64,
    /// Deliveries that may wait per account before publishing is refused.
    pub max_pending_per_account: u64,
    /// Dead letters kept per account (the oldest are dropped beyond it).
    pub max_dead_per_account: u64,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions {
            max_attempts: 5,
            backoff_base_ms: 1000,
            backoff_max_ms: 3_600_000,
            max_pending_per_account: 100_000,
            max_dead_per_account: 10_000,
        }
    }
}

impl TopicOptions {
    /// The wait after the `attempts`-th failed attempt (`attempts` ≥ 1).
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let doublings = attempts.saturating_sub(1).min(32);
        self.backoff_base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max_ms)
            .max(1)
    }
}

/// One event on its way to one subscriber (pending) or given up on (a dead letter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicDelivery {
    /// This delivery's id (one per subscriber of an event).
    pub id: String,
    /// The published event's id: the same for every subscriber and every attempt.
    pub event_id: String,
    pub account: String,
    pub topic: String,
    /// The publishing plugin.
    pub publisher: String,
    /// The subscribing plugin this delivery is for.
    pub subscriber: String,
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    pub published_at: u64,
    /// Failed attempts so far (since the last replay).
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it became a dead letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<u64>,
    /// How often an operator replayed it.
    #[serde(default)]
    pub replays: u32,
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    pending: u64,
    dead: u64,
}

/// Where deliveries wait and where dead letters are kept.
///
/// Tables: `pending` (account, id) → delivery; the due index at each pending delivery's next
/// attempt (rebuilt on open); `dead` (account, id) → delivery. A delivery's record and its index
/// entry change in one unit of work. Counts per account are kept in memory (rebuilt on open) to
/// bound the queue.
pub struct TopicQueue {
    store: Arc<Store>,
    pending: Table<Json<TopicDelivery>>,
    due: DueIndex,
    dead: Table<Json<TopicDelivery>>,
    pub options: TopicOptions,
    /// Held while a unit of work that changes counts runs, then updated after it committed.
    counts: Mutex<HashMap<String, Counts>>,
    wake: tokio::sync::Notify,
}

fn record_key(d: &TopicDelivery) -> Vec<u8> {
    key(&[&d.account, &d.id])
}

/// Delivery ids are `d` followed by digits; anything else names no delivery.
fn check_id(id: &str) -> Result<()> {
    if id.len() > 1 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(PlazaError::not_found(format!("dead letter {id:?}")))
    }
}

fn dead_not_found(account: &str, id: &str) -> PlazaError {
    PlazaError::not_found(format!("dead letter {id:?} of account {account:?}"))
}

/// Index entries removed or written per unit of work while the queue opens.
const OPEN_BATCH: usize = 4096;

impl TopicQueue {
    /// Opens the queue: counts what is stored and rebuilds the due index, re-evaluating each
    /// pending delivery's next attempt with the current backoff (never later than stored).
    pub fn open(store: Arc<Store>, options: TopicOptions) -> Result<Self> {
        let pending: Table<Json<TopicDelivery>> = store.table("topic_pending")?;
        let due = DueIndex::new(store.table("topic_due")?);
        let dead: Table<Json<TopicDelivery>> = store.table("topic_dead")?;
        let mut counts: HashMap<String, Counts> = HashMap::new();
        loop {
            let stale = due.table().keys(b"", None, OPEN_BATCH)?;
            if stale.is_empty() {
                break;
            }
            store
                .write(|tx| {
                    for k in &stale {
                        tx.delete(due.table(), k)?;
                    }
                    Ok(())
                })?
                .detach();
        }
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = pending.scan(b"", after.as_deref(), OPEN_BATCH)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            store
                .write(|tx| {
                    for (k, d) in &page {
                        let mut d = d.clone();
                        if let Some(last) = d.last_attempt_at.filter(|_| d.attempts > 0) {
                            let again = last.saturating_add(options.backoff_ms(d.attempts));
                            if again < d.next_attempt_at {
                                d.next_attempt_at = again;
                                tx.put(&pending, k, &d)?;
                            }
                        }
                        due.schedule(tx, d.next_attempt_at, k)?;
                    }
                    Ok(())
                })?
                .detach();
            for (_, d) in &page {
                counts.entry(d.account.clone()).or_default().pending += 1;
            }
        }
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = dead.keys(b"", after.as_deref(), OPEN_BATCH)?;
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            for k in &page {
                let account = k.split(|b| *b == 0).next().unwrap_or_default();
                let account = String::from_utf8_lossy(account).into_owned();
                counts.entry(account).or_default().dead += 1;
            }
        }
        Ok(TopicQueue {
            store,
            pending,
            due,
            dead,
            options,
            counts: Mutex::new(counts),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn counts(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Counts>>> {
        self.counts
            .lock()
            .map_err(|_| PlazaError::internal("topic counts lock poisoned"))
    }

    /// Deliveries waiting for the account.
    pub fn pending_count(&self, account: &str) -> u64 {
        self.counts()
            .ok()
            .and_then(|c| c.get(account).map(|c| c.pending))
            .unwrap_or(0)
    }

    /// Pending deliveries and dead letters of every account (from the in-memory counts: one
    /// entry per account, no storage read).
    pub fn totals(&self) -> (u64, u64) {
        self.counts()
            .map(|c| {
                c.values()
                    .fold((0, 0), |(p, d), c| (p + c.pending, d + c.dead))
            })
            .unwrap_or((0, 0))
    }

    /// Dead letters kept for the account.
    pub fn dead_count(&self, account: &str) -> u64 {
        self.counts()
            .ok()
            .and_then(|c| c.get(account).map(|c| c.dead))
            .unwrap_or(0)
    }

    /// Nudges the delivery loop (something became due now).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    fn quota_exceeded(&self, account: &str, pending: u64) -> PlazaError {
        PlazaError::QuotaExceeded {
            message: format!(
                "account {account:?} has {pending} topic deliveries waiting; the limit is {}",
                self.options.max_pending_per_account
            ),
            resets_at: None,
        }
    }

    fn put_pending(&self, tx: &mut Tx<'_>, d: &TopicDelivery) -> Result<()> {
        tx.put(&self.pending, &record_key(d), d)?;
        self.due.schedule(tx, d.next_attempt_at, &record_key(d))
    }

    fn drop_pending(&self, tx: &mut Tx<'_>, d: &TopicDelivery) -> Result<bool> {
        self.due.unschedule(tx, d.next_attempt_at, &record_key(d))?;
        tx.delete(&self.pending, &record_key(d))
    }

    /// Persists new deliveries of one account, within its bound.
    pub fn enqueue(&self, account: &str, deliveries: &[TopicDelivery]) -> Result<Pending<()>> {
        let mut counts = self.counts()?;
        let c = counts.entry(account.to_string()).or_default();
        let n = deliveries.len() as u64;
        if c.pending.saturating_add(n) > self.options.max_pending_per_account {
            return Err(self.quota_exceeded(account, c.pending));
        }
        let written = self.store.write(|tx| {
            for d in deliveries {
                self.put_pending(tx, d)?;
            }
            Ok(())
        })?;
        c.pending += n;
        Ok(written)
    }

    /// Deliveries due at or before `now`, earliest first.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<TopicDelivery>> {
        self.due.due_records(&self.store, now, limit, |at, record| {
            Ok(self
                .pending
                .get(record)?
                .filter(|d| d.next_attempt_at == at))
        })
    }

    /// The delivery succeeded (or is dropped): it is no longer pending.
    pub fn complete(&self, d: &TopicDelivery) -> Result<Pending<()>> {
        let mut counts = self.counts()?;
        let mut existed = false;
        let written = self.store.write(|tx| {
            existed = self.drop_pending(tx, d)?;
            Ok(())
        })?;
        if existed {
            let c = counts.entry(d.account.clone()).or_default();
            c.pending = c.pending.saturating_sub(1);
        }
        Ok(written)
    }

    /// Moves a pending delivery to a new due time, with its updated bookkeeping.
    pub fn reschedule(&self, old: &TopicDelivery, updated: &TopicDelivery) -> Result<Pending<()>> {
        self.store.write(|tx| {
            self.due
                .unschedule(tx, old.next_attempt_at, &record_key(old))?;
            self.put_pending(tx, updated)
        })
    }

    /// Gives up on a delivery: it leaves the queue and joins the account's dead letters (the
    /// oldest beyond the account's bound are dropped in the same unit of work).
    pub fn bury(&self, old: &TopicDelivery, dead: &TopicDelivery) -> Result<Pending<()>> {
        let mut counts = self.counts()?;
        let c = counts.entry(dead.account.clone()).or_default();
        let over = (c.dead + 1).saturating_sub(self.options.max_dead_per_account);
        let oldest = if over > 0 {
            self.dead
                .keys(&prefix(&[&dead.account]), None, over as usize)?
        } else {
            Vec::new()
        };
        let (mut existed, mut dropped) = (false, 0u64);
        let written = self.store.write(|tx| {
            existed = self.drop_pending(tx, old)?;
            tx.put(&self.dead, &record_key(dead), dead)?;
            dropped = 0;
            for k in &oldest {
                if tx.delete(&self.dead, k)? {
                    dropped += 1;
                }
            }
            Ok(())
        })?;
        if existed {
            c.pending = c.pending.saturating_sub(1);
        }
        c.dead = (c.dead + 1).saturating_sub(dropped);
        Ok(written)
    }

    /// The account's waiting deliveries, oldest first, with a cursor for the next page.
    pub fn list_pending(
        &self,
        account: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<TopicDelivery>, Option<String>)> {
        let page = self.pending.page(&prefix(&[account]), cursor, limit)?;
        let next = page.next_cursor.clone();
        Ok((page.values(), next))
    }

    /// The account's dead letters, oldest first, with a cursor for the next page.
    pub fn list_dead(
        &self,
        account: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<TopicDelivery>, Option<String>)> {
        let page = self.dead.page(&prefix(&[account]), cursor, limit)?;
        let next = page.next_cursor.clone();
        Ok((page.values(), next))
    }

    pub fn get_dead(&self, account: &str, id: &str) -> Result<TopicDelivery> {
        check_id(id)?;
        self.dead
            .get(&key(&[account, id]))?
            .ok_or_else(|| dead_not_found(account, id))
    }

    /// Takes a dead letter off the list for good. Of two concurrent takers, one gets it and the
    /// other `not-found`.
    pub fn take_dead(&self, account: &str, id: &str) -> Result<Pending<TopicDelivery>> {
        check_id(id)?;
        let mut counts = self.counts()?;
        let written = self.store.write(|tx| {
            tx.take(&self.dead, &key(&[account, id]))?
                .ok_or_else(|| dead_not_found(account, id))
        })?;
        let c = counts.entry(account.to_string()).or_default();
        c.dead = c.dead.saturating_sub(1);
        Ok(written)
    }

    /// Moves a dead letter back to the queue in one unit of work: due `now`, attempts reset.
    pub fn replay(&self, account: &str, id: &str, now: u64) -> Result<Pending<TopicDelivery>> {
        check_id(id)?;
        let mut counts = self.counts()?;
        let c = counts.entry(account.to_string()).or_default();
        if c.pending.saturating_add(1) > self.options.max_pending_per_account {
            return Err(self.quota_exceeded(account, c.pending));
        }
        let written = self.store.write(|tx| {
            let d = tx
                .take(&self.dead, &key(&[account, id]))?
                .ok_or_else(|| dead_not_found(account, id))?;
            let again = TopicDelivery {
                attempts: 0,
                next_attempt_at: now,
                dead_at: None,
                replays: d.replays.saturating_add(1),
                ..d
            };
            self.put_pending(tx, &again)?;
            Ok(again)
        })?;
        c.dead = c.dead.saturating_sub(1);
        c.pending += 1;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Backend;
    use crate::storage::testing::done;

    fn queue(dir: &std::path::Path, options: TopicOptions) -> TopicQueue {
        let b: Arc<dyn Backend> = Arc::new(crate::storage::testing::open_when_released(dir));
        TopicQueue::open(Store::new(b), options).unwrap()
    }

    fn delivery(account: &str, id: &str, at: u64) -> TopicDelivery {
        TopicDelivery {
            id: id.into(),
            event_id: format!("t-{id}"),
            account: account.into(),
            topic: "shop.order.paid".into(),
            publisher: "shop".into(),
            subscriber: "crm".into(),
            payload: b"{\"order\":1}".to_vec(),
            published_at: at,
            attempts: 0,
            next_attempt_at: at,
            last_attempt_at: None,
            last_error: None,
            dead_at: None,
            replays: 0,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = TopicOptions {
            backoff_base_ms: 100,
            backoff_max_ms: 1000,
            ..Default::default()
        };
        assert_eq!(
            (1..=6).map(|a| o.backoff_ms(a)).collect::<Vec<_>>(),
            vec![100, 200, 400, 800, 1000, 1000]
        );
        assert_eq!(o.backoff_ms(u32::MAX), 1000);
    }

    #[test]
    fn due_complete_reschedule_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(dir.path(), TopicOptions::default());
        let (a, b) = (delivery("x", "d1", 100), delivery("x", "d2", 200));
        done(q.enqueue("x", &[a.clone(), b.clone()])).unwrap();
        assert_eq!(q.pending_count("x"), 2);
        assert_eq!(q.due(150, 10).unwrap(), vec![a.clone()]);
        let later = TopicDelivery {
            attempts: 1,
            next_attempt_at: 500,
            last_attempt_at: Some(150),
            ..a.clone()
        };
        done(q.reschedule(&a, &later)).unwrap();
        assert_eq!(q.due(300, 10).unwrap(), vec![b.clone()]);
        assert_eq!(q.due(500, 10).unwrap(), vec![b.clone(), later.clone()]);
        done(q.complete(&b)).unwrap();
        assert_eq!(q.pending_count("x"), 1);
        assert_eq!(q.list_pending("x", None, 10).unwrap().0, vec![later]);
        assert!(q.list_pending("y", None, 10).unwrap().0.is_empty());
    }

    #[test]
    fn pending_is_bounded_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(
            dir.path(),
            TopicOptions {
                max_pending_per_account: 2,
                ..Default::default()
            },
        );
        done(q.enqueue("x", &[delivery("x", "d1", 1), delivery("x", "d2", 1)])).unwrap();
        let err = done(q.enqueue("x", &[delivery("x", "d3", 1)])).unwrap_err();
        assert!(matches!(err, PlazaError::QuotaExceeded { .. }), "{err}");
        done(q.enqueue("y", &[delivery("y", "d3", 1)])).unwrap();
    }

    #[test]
    fn bury_take_and_requeue_reset_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(
            dir.path(),
            TopicOptions {
                max_dead_per_account: 2,
                ..Default::default()
            },
        );
        let mut all = Vec::new();
        for i in 1..=3 {
            let d = delivery("x", &format!("d{i}"), i);
            done(q.enqueue("x", std::slice::from_ref(&d))).unwrap();
            let dead = TopicDelivery {
                attempts: 5,
                dead_at: Some(99),
                last_error: Some("boom".into()),
                ..d.clone()
            };
            done(q.bury(&d, &dead)).unwrap();
            all.push(dead);
        }
        // Only the newest two are kept.
        assert_eq!(q.dead_count("x"), 2);
        assert_eq!(q.pending_count("x"), 0);
        let (page, next) = q.list_dead("x", None, 1).unwrap();
        assert_eq!(page, vec![all[1].clone()]);
        let (rest, next2) = q.list_dead("x", next.as_deref(), 1).unwrap();
        assert_eq!((rest, next2), (vec![all[2].clone()], None));

        let again = done(q.replay("x", "d2", 1000)).unwrap();
        assert!(matches!(
            done(q.take_dead("x", "d2")),
            Err(PlazaError::NotFound(_))
        ));
        assert_eq!((again.attempts, again.replays), (0, 1));
        assert_eq!(q.due(1000, 10).unwrap(), vec![again]);
        assert_eq!((q.dead_count("x"), q.pending_count("x")), (1, 1));
        assert!(matches!(
            q.get_dead("x", "../d3"),
            Err(PlazaError::NotFound(_))
        ));
    }

    #[test]
    fn reopening_keeps_deliveries_and_applies_a_shorter_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let d = delivery("x", "d1", 100);
        let waiting = TopicDelivery {
            attempts: 1,
            last_attempt_at: Some(100),
            next_attempt_at: 600_100,
            ..d.clone()
        };
        {
            let q = queue(
                dir.path(),
                TopicOptions {
                    backoff_base_ms: 600_000,
                    ..Default::default()
                },
            );
            done(q.enqueue("x", std::slice::from_ref(&d))).unwrap();
            done(q.reschedule(&d, &waiting)).unwrap();
            assert!(q.due(1000, 10).unwrap().is_empty());
        }
        let q = queue(
            dir.path(),
            TopicOptions {
                backoff_base_ms: 50,
                ..Default::default()
            },
        );
        assert_eq!(q.pending_count("x"), 1);
        let due = q.due(150, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].next_attempt_at, 150);
        assert_eq!(due[0].attempts, 1);
    }
}
