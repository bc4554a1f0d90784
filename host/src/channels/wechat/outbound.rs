//! Durable outbound for bridged accounts: every message Plaza delivers to a follower of a
//! bridged account (customer-service sends, template messages, broadcasts, late passive
//! replies) is queued in `wechat_outbound` in the same unit of work that puts it in the local
//! outbox, so the two cannot disagree after a crash. A worker sends queued messages through
//! WeChat's server API, removes them on success, retries transient failures with backoff (the
//! schedule is in the record, so it survives restarts), and moves permanent failures to
//! `wechat_outbound_failed`, logged as a `wechat.outbound.failed` event and listed by
//! `GET /api/v1/accounts/{id}/wechat/outbound`.
//!
//! Passive replies are not queued: they travel in the HTTP answer to WeChat's push.
//!
//! Broadcasts go out through WeChat's mass API by openid list (`message/mass/send`), not as
//! customer-service messages (which WeChat only allows within 48 h of a follower's last
//! interaction): Plaza fans a broadcast out per follower and enforces the broadcast quotas itself
//! (see `messaging::broadcast`), so each recipient is one queued record; a pass sends the due
//! records of one broadcast together, up to [`MASS_BATCH`] openids per call. WeChat's mass API
//! wants at least two openids, so a broadcast record left alone in a pass goes out as a
//! customer-service message.
//!
//! Delivery is at least once: a crash between WeChat's answer and the removal of the record
//! sends that message again after restart.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::{TemplateSend, WechatClient};
use super::errors::WechatError;
use crate::error::{PlazaError, Result};
use crate::messaging::content::MessageContent;
use crate::messaging::outbox::{Delivery, OutboxEntry};
use crate::platform::Platform;
use crate::storage::backend::{child, prefix};
use crate::storage::{Json, Store, Table, Tx};

/// Due broadcast records by (account, outbox entry id): their keys and records.
type BroadcastGroups = std::collections::BTreeMap<(String, String), Vec<(Vec<u8>, QueuedSend)>>;

fn not_bridged(account: &str) -> WechatError {
    WechatError::Unsupported(format!(
        "account {account:?} is no longer bridged to WeChat"
    ))
}

/// Longest wait between passes when nothing wakes the worker (a wake can come just before the
/// unit of work that enqueued commits; the next pass then picks the message up).
pub const POLL: Duration = Duration::from_secs(2);
/// Queued messages one pass looks at.
const BATCH: usize = 200;
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: u64 = 1_000;
const MAX_BACKOFF_MS: u64 = 15 * 60 * 1000;
/// After this many transient failures a message is given up (about a day of retries).
pub const MAX_ATTEMPTS: u32 = 100;
/// Most openids in one `message/mass/send` (WeChat's limit).
pub const MASS_BATCH: usize = 10_000;
/// Most records the admin listing shows of each kind.
pub const LIST_LIMIT: usize = 500;

/// A message waiting to be sent to WeChat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedSend {
    pub openid: String,
    pub entry: OutboxEntry,
    /// For template deliveries: what WeChat's template API needs (the outbox entry only has the
    /// rendered text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateSend>,
    #[serde(default)]
    pub attempts: u32,
    /// Not before (ms since the epoch).
    #[serde(default)]
    pub next_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A message WeChat refused for good (or that failed [`MAX_ATTEMPTS`] times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedSend {
    pub openid: String,
    pub entry: OutboxEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateSend>,
    pub attempts: u32,
    pub failed_at: u64,
    /// WeChat's errcode, when WeChat answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    /// Plaza's error code (`outside_window`, `quota_exceeded`, …) and message.
    pub code: String,
    pub error: String,
}

/// What `GET /api/v1/accounts/{id}/wechat/outbound` shows.
#[derive(Debug, Clone, Serialize)]
pub struct OutboundView {
    pub pending: Vec<QueuedSend>,
    pub failed: Vec<FailedSend>,
}

/// The queue, the dead letters, the worker's wake-up and the API client.
pub struct WechatOutbound {
    queue: Table<Json<QueuedSend>>,
    failed: Table<Json<FailedSend>>,
    pub(crate) wake: tokio::sync::Notify,
    pub client: WechatClient,
    /// Stored media already uploaded to WeChat.
    pub media: super::media::WechatMedia,
}

impl WechatOutbound {
    pub fn new(store: &Store) -> Result<Self> {
        Ok(WechatOutbound {
            queue: store.table("wechat_outbound")?,
            failed: store.table("wechat_outbound_failed")?,
            wake: tokio::sync::Notify::new(),
            client: WechatClient::new(),
            media: super::media::WechatMedia::new(store)?,
        })
    }

    /// Queues one message in the caller's unit of work. Wakes the worker (before the unit of
    /// work commits, so a pass may miss it; the worker polls every [`POLL`] as well).
    pub fn enqueue_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
        template: Option<&TemplateSend>,
    ) -> Result<()> {
        let queued = QueuedSend {
            openid: openid.to_string(),
            entry: entry.clone(),
            template: template.cloned(),
            attempts: 0,
            next_at: 0,
            last_error: None,
        };
        tx.put(&self.queue, &queue_key(account, &entry.id, openid), &queued)?;
        self.wake.notify_one();
        Ok(())
    }

    /// An account's pending and failed messages, oldest first.
    pub fn view(&self, account: &str) -> Result<OutboundView> {
        Ok(OutboundView {
            pending: self
                .queue
                .page(&prefix(&[account]), None, LIST_LIMIT)?
                .values(),
            failed: self
                .failed
                .page(&prefix(&[account]), None, LIST_LIMIT)?
                .values(),
        })
    }
}

/// Where `/metrics` stops counting the queue: a deeper queue reads as this many (an alert
/// threshold belongs far below it), so a scrape costs a bounded key scan.
pub const METRICS_COUNT_CAP: u64 = 10_000;

impl WechatOutbound {
    /// Messages waiting for WeChat, counted up to [`METRICS_COUNT_CAP`] (keys only, in pages).
    pub fn pending_count(&self) -> Result<u64> {
        let mut n = 0u64;
        let mut after: Option<Vec<u8>> = None;
        while n < METRICS_COUNT_CAP {
            let page = self.queue.keys(b"", after.as_deref(), BATCH)?;
            n += page.len() as u64;
            match page.into_iter().last() {
                Some(last) if n < METRICS_COUNT_CAP => after = Some(last),
                _ => break,
            }
        }
        Ok(n.min(METRICS_COUNT_CAP))
    }
}

fn backoff_ms(attempts: u32) -> u64 {
    FIRST_BACKOFF_MS
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_MS)
}

/// `account \0 entry id \0 openid`: entry ids are time-ordered, so an account's queue reads
/// in delivery order; the openid is part of the key because a broadcast's messages share one
/// entry id (see `messaging::broadcast`).
fn queue_key(account: &str, entry: &str, openid: &str) -> Vec<u8> {
    child(&[account, entry], openid.as_bytes())
}

/// The account a queue key belongs to.
fn key_account(k: &[u8]) -> Option<String> {
    let at = k.iter().position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&k[..at]).into_owned())
}

impl Platform {
    /// Queues `entry` for WeChat when `account` is bridged (in the caller's unit of work).
    /// Passive replies are not queued: they are the answer to WeChat's push.
    pub(crate) fn enqueue_wechat_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        openid: &str,
        entry: &OutboxEntry,
        template: Option<&TemplateSend>,
    ) -> Result<()> {
        if entry.delivery == Delivery::Reply || self.wechat.get_in(tx, account)?.is_none() {
            return Ok(());
        }
        self.wechat_outbound
            .enqueue_in(tx, account, openid, entry, template)
    }

    /// Sends a reply that could not travel as a passive one (too late, or a kind a passive reply
    /// cannot carry) as a customer-service message, through the durable queue. The reply is
    /// already in the follower's outbox as a `reply` entry; this queues a send of its content.
    pub async fn wechat_send_late_reply(
        &self,
        account: &str,
        openid: &str,
        content: MessageContent,
    ) -> Result<()> {
        let entry = self.outbox_entry(Delivery::Reply, None, content);
        self.store
            .write(|tx| {
                if self.wechat.get_in(tx, account)?.is_none() {
                    return Ok(());
                }
                self.wechat_outbound
                    .enqueue_in(tx, account, openid, &entry, None)
            })?
            .durable()
            .await
    }

    /// Runs until the process ends: sends queued messages of bridged accounts to WeChat.
    pub async fn run_wechat_outbound(self: Arc<Self>) {
        loop {
            let wait = match self.wechat_outbound_pass().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, "WeChat outbound pass failed");
                    POLL
                }
            };
            if wait.is_zero() {
                continue;
            }
            let _ =
                tokio::time::timeout(wait.min(POLL), self.wechat_outbound.wake.notified()).await;
        }
    }

    /// One pass: sends every due queued message (at most a batch), in order per follower — a
    /// follower's later messages wait while an earlier one is backing off. Returns how long
    /// until the next one is due (zero when more are due now).
    pub async fn wechat_outbound_pass(&self) -> Result<Duration> {
        let q = &self.wechat_outbound;
        let rows = q.queue.scan(b"", None, BATCH)?;
        let full = rows.len() == BATCH;
        let mut held: std::collections::HashSet<(String, String)> = Default::default();
        let mut next_due: Option<u64> = None;
        // Due broadcast records by (account, outbox entry), sent together after the others.
        let mut broadcasts: BroadcastGroups = Default::default();
        for (key, queued) in rows {
            let Some(account) = key_account(&key) else {
                continue;
            };
            let follower = (account.clone(), queued.openid.clone());
            if held.contains(&follower) {
                continue;
            }
            let now = self.clock.now_ms();
            if queued.next_at > now {
                held.insert(follower);
                next_due = Some(next_due.map_or(queued.next_at, |d| d.min(queued.next_at)));
                continue;
            }
            if queued.entry.delivery == Delivery::Broadcast {
                broadcasts
                    .entry((account, queued.entry.id.clone()))
                    .or_default()
                    .push((key, queued));
                continue;
            }
            let result = match self.wechat.get(&account)? {
                Some(settings) => self.send_queued(&account, &settings, &queued).await,
                None => Err(not_bridged(&account)),
            };
            if let Some(at) = self.settle(&account, &key, queued, result)? {
                held.insert(follower);
                next_due = Some(next_due.map_or(at, |d| d.min(at)));
            }
        }
        for ((account, _), records) in broadcasts {
            let settings = self.wechat.get(&account)?;
            for batch in records.chunks(MASS_BATCH) {
                if batch.len() < 2 {
                    for (key, queued) in batch {
                        let result = match &settings {
                            Some(s) => self.send_queued(&account, s, queued).await,
                            None => Err(not_bridged(&account)),
                        };
                        if let Some(at) = self.settle(&account, key, queued.clone(), result)? {
                            next_due = Some(next_due.map_or(at, |d| d.min(at)));
                        }
                    }
                    continue;
                }
                let openids: Vec<String> = batch.iter().map(|(_, q)| q.openid.clone()).collect();
                let result = match &settings {
                    Some(s) => match self
                        .wechat_content(&account, s, &batch[0].1.entry.content)
                        .await
                    {
                        Ok(content) => self
                            .wechat_outbound
                            .client
                            .mass_send_to_openids(&account, s, &openids, &content)
                            .await
                            .map(drop),
                        Err(e) => Err(e),
                    },
                    None => Err(not_bridged(&account)),
                };
                for (key, queued) in batch {
                    if let Some(at) = self.settle(&account, key, queued.clone(), result.clone())? {
                        next_due = Some(next_due.map_or(at, |d| d.min(at)));
                    }
                }
            }
        }
        if full {
            return Ok(Duration::ZERO);
        }
        let now = self.clock.now_ms();
        Ok(next_due.map_or(POLL, |d| Duration::from_millis(d.saturating_sub(now))))
    }

    /// Records what sending one queued message came to: removed when sent, rescheduled after a
    /// transient failure (returns when it is due again), dead-lettered otherwise.
    fn settle(
        &self,
        account: &str,
        key: &[u8],
        queued: QueuedSend,
        result: std::result::Result<(), WechatError>,
    ) -> Result<Option<u64>> {
        let q = &self.wechat_outbound;
        match result {
            Ok(()) => {
                self.store
                    .write(|tx| tx.delete(&q.queue, key).map(drop))?
                    .detach();
                Ok(None)
            }
            Err(e) if e.is_transient() && queued.attempts + 1 < MAX_ATTEMPTS => {
                let attempts = queued.attempts + 1;
                let next_at = self.clock.now_ms() + backoff_ms(attempts);
                tracing::warn!(account, openid = %queued.openid, entry = %queued.entry.id, attempts, error = %e, "sending to WeChat failed; will retry");
                let retry = QueuedSend {
                    attempts,
                    next_at,
                    last_error: Some(e.to_string()),
                    ..queued
                };
                self.store
                    .write(|tx| tx.put(&q.queue, key, &retry))?
                    .detach();
                Ok(Some(next_at))
            }
            Err(e) => self
                .wechat_dead_letter(account, key, queued, e)
                .map(|()| None),
        }
    }

    async fn send_queued(
        &self,
        account: &str,
        settings: &super::settings::WechatSettings,
        queued: &QueuedSend,
    ) -> std::result::Result<(), WechatError> {
        let client = &self.wechat_outbound.client;
        match (&queued.entry.delivery, &queued.template) {
            (Delivery::Template, Some(t)) => client
                .send_template(account, settings, &queued.openid, t)
                .await
                .map(drop),
            // Customer-service messages, a broadcast record alone in its pass, late replies, and
            // template deliveries without WeChat template data (their rendered text).
            _ => {
                let content = self
                    .wechat_content(account, settings, &queued.entry.content)
                    .await?;
                client
                    .send_custom(account, settings, &queued.openid, &content)
                    .await
            }
        }
    }

    /// Moves a message WeChat refused for good to the failed list and logs it, together.
    fn wechat_dead_letter(
        &self,
        account: &str,
        key: &[u8],
        queued: QueuedSend,
        e: WechatError,
    ) -> Result<()> {
        let errcode = e.code();
        let err = PlazaError::from(e);
        tracing::warn!(account, openid = %queued.openid, entry = %queued.entry.id, error = %err, "WeChat refused a message; moved to the failed list");
        let failed = FailedSend {
            openid: queued.openid,
            entry: queued.entry,
            template: queued.template,
            attempts: queued.attempts + 1,
            failed_at: self.clock.now_ms(),
            errcode,
            code: err.code().to_string(),
            error: err.message(),
        };
        let q = &self.wechat_outbound;
        self.store
            .write(|tx| {
                tx.delete(&q.queue, key)?;
                tx.put(&q.failed, key, &failed)
            })?
            .detach();
        let mut properties = vec![
            ("entry".to_string(), failed.entry.id.clone()),
            ("code".to_string(), failed.code.clone()),
            ("error".to_string(), failed.error.clone()),
        ];
        if let Some(c) = errcode {
            properties.push(("errcode".to_string(), c.to_string()));
        }
        if let Err(e) = self.events.emit(
            account,
            "wechat",
            failed.failed_at,
            "wechat.outbound.failed",
            Some(&failed.openid),
            properties,
        ) {
            tracing::warn!(account, error = %e, "could not log a failed WeChat send");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1), 1_000);
        assert_eq!(backoff_ms(2), 2_000);
        assert_eq!(backoff_ms(5), 16_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
    }

    #[test]
    fn the_pending_count_counts_every_account_in_pages() {
        let (_dir, _faulty, store) = crate::storage::testing::faulty_store();
        let outbound = WechatOutbound::new(&store).unwrap();
        assert_eq!(outbound.pending_count().unwrap(), 0);
        let entry = |id: &str| OutboxEntry {
            id: id.into(),
            at: 0,
            delivery: Delivery::CustomerService,
            plugin: None,
            content: MessageContent::Text {
                content: "hi".into(),
            },
        };
        // More than one page (`BATCH`), over two accounts.
        let n = BATCH + 7;
        crate::storage::testing::done(store.write(|tx| {
            for i in 0..n {
                let account = if i % 2 == 0 { "a" } else { "b" };
                outbound.enqueue_in(tx, account, &format!("o{i}"), &entry("m1"), None)?;
            }
            Ok(())
        }))
        .unwrap();
        assert_eq!(outbound.pending_count().unwrap(), n as u64);
    }

    #[test]
    fn keys_lead_with_the_account() {
        let k = queue_key("acct", "m123", "o1");
        assert_eq!(key_account(&k), Some("acct".into()));
        assert!(k.starts_with(&prefix(&["acct"])));
        assert_ne!(k, queue_key("acct", "m123", "o2"));
    }
}
