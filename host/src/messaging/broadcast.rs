//! Broadcasts (群发): one message to many followers, as a durable job.
//!
//! Creating a broadcast checks the account's quota, runs the review chain once on the content,
//! claims the caller's idempotency key and persists the job and one record per recipient before it
//! is acknowledged. A worker then delivers in batches, each batch committed before the job's
//! progress moves on; after a crash the worker resumes with the recipients still pending.
//!
//! Exactly once per recipient: a recipient's outbox entry has a key derived from the broadcast id,
//! and its quota mark is a set member (not a counter), so re-running a batch that was cut short
//! rewrites the same keys instead of delivering or counting twice.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::content::MessageContent;
use super::outbox::{Delivery, OutboxEntry};
use super::quota;
use super::review::Review;
use crate::accounts::AccountKind;
use crate::accounts::followers::Follower;
use crate::accounts::segments::Segment;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::storage::backend::{Tree, key, prefix};

/// Recipients one broadcast may name explicitly.
pub const MAX_OPENIDS: usize = 10_000;
/// Recipients delivered per committed batch.
const BATCH: usize = 1000;
/// How often the worker looks for due or unfinished broadcasts when nothing wakes it.
const POLL: Duration = Duration::from_millis(200);

/// Who receives a broadcast. JSON: `"all"`, `{"tag":"vip"}`, `{"segment":"…"}`, `{"openids":[…]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    All,
    Tag(String),
    Segment(String),
    Openids(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastStatus {
    /// Waiting for its `at` time; recipients are chosen when it starts.
    Scheduled,
    Running,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastJob {
    pub id: String,
    pub account: String,
    /// The plugin that created it, or none for the admin API.
    pub source: Option<String>,
    pub idempotency_key: String,
    pub audience: Audience,
    pub content: MessageContent,
    pub created_at: u64,
    /// When it is due (ms); none = immediately.
    pub at: Option<u64>,
    pub status: BroadcastStatus,
    pub total: u64,
    pub delivered: u64,
    /// Recipients skipped because they already had their monthly broadcasts (service accounts).
    pub skipped_quota: u64,
    pub finished_at: Option<u64>,
    /// The last recipient handled, so a batch does not rescan the ones before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl BroadcastJob {
    /// Share of recipients handled, 0–100.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return if self.status == BroadcastStatus::Done {
                100.0
            } else {
                0.0
            };
        }
        ((self.delivered + self.skipped_quota) as f64 * 100.0 / self.total as f64).min(100.0)
    }
}

/// What a caller asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBroadcast {
    pub idempotency_key: String,
    pub audience: Audience,
    pub content: MessageContent,
    #[serde(default)]
    pub at: Option<u64>,
}

/// One page of a broadcast's recipients: `(openid, status)` in openid order.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientPage {
    pub items: Vec<(String, RecipientStatus)>,
    pub next_cursor: Option<String>,
}

/// Where one recipient of a broadcast stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    Pending,
    Delivered,
    /// Not sent: the follower had no broadcast left this month (service accounts).
    SkippedQuota,
}

impl RecipientStatus {
    fn from_byte(b: u8) -> Self {
        match b {
            DELIVERED => RecipientStatus::Delivered,
            SKIPPED_QUOTA => RecipientStatus::SkippedQuota,
            _ => RecipientStatus::Pending,
        }
    }
}

const PENDING: u8 = 0;
const DELIVERED: u8 = 1;
const SKIPPED_QUOTA: u8 = 2;

pub struct Broadcasts {
    jobs: Arc<dyn Tree>,
    keys: Arc<dyn Tree>,
    recipients: Arc<dyn Tree>,
    /// Service accounts: `account, openid, month, broadcast` set members.
    monthly: Arc<dyn Tree>,
    /// Subscription accounts: `account, day` → broadcast id.
    daily: Arc<dyn Tree>,
    /// Unfinished broadcasts: `broadcast id` → account.
    active: Arc<dyn Tree>,
    pub(crate) wake: tokio::sync::Notify,
    /// Recipients per second; `None` = as fast as the disk allows.
    rate: Option<u32>,
}

impl Broadcasts {
    pub fn new(tree: &dyn Fn(&str) -> Result<Arc<dyn Tree>>, rate: Option<u32>) -> Result<Self> {
        Ok(Broadcasts {
            jobs: tree("broadcasts")?,
            keys: tree("broadcast_keys")?,
            recipients: tree("broadcast_recipients")?,
            monthly: tree("broadcast_monthly")?,
            daily: tree("broadcast_daily")?,
            active: tree("broadcast_active")?,
            wake: tokio::sync::Notify::new(),
            rate,
        })
    }

    pub fn get(&self, account: &str, id: &str) -> Result<BroadcastJob> {
        match self.jobs.get(&key(&[account, id]))? {
            Some(b) => Ok(serde_json::from_slice(&b)?),
            None => Err(PlazaError::not_found(format!(
                "broadcast {id:?} of account {account:?}"
            ))),
        }
    }

    fn put(&self, job: &BroadcastJob) -> Result<()> {
        self.jobs
            .insert(&key(&[&job.account, &job.id]), &serde_json::to_vec(job)?)?;
        Ok(())
    }

    /// An account's broadcasts, newest first.
    pub fn list(&self, account: &str, limit: usize) -> Result<Vec<BroadcastJob>> {
        let mut all: Vec<BroadcastJob> = self
            .jobs
            .scan_prefix(&prefix(&[account]), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v))
            .collect::<std::result::Result<_, _>>()?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }

    /// One page of a broadcast's recipients with their status, in openid order, optionally only
    /// those with `status`.
    pub fn recipients(
        &self,
        account: &str,
        id: &str,
        status: Option<RecipientStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecipientPage> {
        self.get(account, id)?;
        let base = prefix(&[id]);
        let mut after = after.map(|a| [base.as_slice(), a.as_bytes()].concat());
        let mut out = Vec::new();
        loop {
            let rows = self.recipients.scan_prefix(&base, after.as_deref(), 1000)?;
            let Some((last, _)) = rows.last() else {
                return Ok(RecipientPage {
                    items: out,
                    next_cursor: None,
                });
            };
            after = Some(last.clone());
            for (k, v) in rows {
                let st = RecipientStatus::from_byte(v.first().copied().unwrap_or(PENDING));
                if status.is_none_or(|s| s == st) {
                    out.push((String::from_utf8_lossy(&k[base.len()..]).into_owned(), st));
                    if out.len() == limit {
                        let next_cursor = out.last().map(|(o, _)| o.clone());
                        return Ok(RecipientPage {
                            items: out,
                            next_cursor,
                        });
                    }
                }
            }
        }
    }

    fn recipient_key(id: &str, openid: &str) -> Vec<u8> {
        key(&[id, openid])
    }

    fn months_used(&self, account: &str, openid: &str, month: &str, except: &str) -> Result<usize> {
        Ok(self
            .monthly
            .scan_prefix(&prefix(&[account, openid, month]), None, usize::MAX)?
            .iter()
            .filter(|(k, _)| !k.ends_with(except.as_bytes()))
            .count())
    }
}

/// The outbox entry id of a broadcast delivery: derived from the broadcast id (so a re-run writes
/// the same key) and ordered by time like every other entry id.
fn outbox_id(broadcast_id: &str) -> String {
    format!("m{}b", broadcast_id.trim_start_matches('b'))
}

fn check_new(req: &NewBroadcast) -> Result<()> {
    if req.idempotency_key.is_empty() || req.idempotency_key.len() > 128 {
        return Err(PlazaError::invalid("idempotency_key must be 1-128 bytes"));
    }
    match &req.audience {
        Audience::Openids(ids) if ids.is_empty() || ids.len() > MAX_OPENIDS => {
            return Err(PlazaError::invalid(format!(
                "openids must name 1-{MAX_OPENIDS} followers"
            )));
        }
        Audience::Tag(t) | Audience::Segment(t) if t.trim().is_empty() => {
            return Err(PlazaError::invalid(
                "the audience's tag or segment must not be empty",
            ));
        }
        _ => {}
    }
    if let MessageContent::TransferCustomerService = req.content {
        return Err(PlazaError::invalid(
            "a broadcast cannot transfer to customer service",
        ));
    }
    Ok(())
}

impl Platform {
    /// Creates (or, for a known idempotency key, returns) a broadcast. Durable before it returns.
    pub async fn create_broadcast(
        self: &Arc<Self>,
        account_id: &str,
        source: Option<&str>,
        req: NewBroadcast,
    ) -> Result<BroadcastJob> {
        check_new(&req)?;
        let account = self.accounts.get(account_id)?;
        let b = &self.broadcasts;
        let key_k = key(&[&account.id, source.unwrap_or("-"), &req.idempotency_key]);
        if let Some(id) = b.keys.get(&key_k)? {
            return b.get(&account.id, &String::from_utf8_lossy(&id));
        }
        let now = self.clock.now_ms();
        let due = req.at.unwrap_or(now).max(now);
        // Refuse an audience that cannot be resolved now rather than when it is due.
        match &req.audience {
            Audience::Segment(expr) => {
                Segment::parse(expr, &account.timezone)?;
            }
            Audience::Tag(tag) => {
                self.followers.require_tag(&account.id, tag)?;
            }
            Audience::All | Audience::Openids(_) => {}
        }
        // Reviewed once for every recipient, before anything is promised.
        let content = match self
            .review_outbound(
                &account.id,
                Delivery::Broadcast,
                source,
                "broadcast",
                req.content.clone(),
            )
            .await?
        {
            Review::Allow(c) => c,
            Review::Blocked(blocked) => {
                return Err(PlazaError::PermissionDenied(format!(
                    "broadcast blocked by {}: {} (review id {})",
                    blocked.reviewer, blocked.reason, blocked.id
                )));
            }
        };
        let id = self.ids.next("b");
        if !b.keys.compare_and_swap(&key_k, None, Some(id.as_bytes()))? {
            let existing = b.keys.get(&key_k)?.unwrap_or_default();
            return b.get(&account.id, &String::from_utf8_lossy(&existing));
        }
        if account.kind == AccountKind::Subscription {
            let (day, resets_at) = quota::day(due, &account.timezone)?;
            if !b
                .daily
                .compare_and_swap(&key(&[&account.id, &day]), None, Some(id.as_bytes()))?
            {
                b.keys.remove(&key_k)?;
                return Err(PlazaError::QuotaExceeded {
                    message: format!(
                        "subscription account {} already broadcast on {day} ({} per day)",
                        account.id,
                        quota::SUBSCRIPTION_BROADCASTS_PER_DAY
                    ),
                    resets_at: Some(resets_at),
                });
            }
        }
        let mut job = BroadcastJob {
            id: id.clone(),
            account: account.id.clone(),
            source: source.map(str::to_string),
            idempotency_key: req.idempotency_key,
            audience: req.audience,
            content,
            created_at: now,
            at: req.at,
            status: BroadcastStatus::Scheduled,
            total: 0,
            delivered: 0,
            skipped_quota: 0,
            finished_at: None,
            cursor: None,
        };
        if due <= now {
            let recipients = self.resolve_audience(&account.id, &job.audience)?;
            if let Err(e) = self.check_monthly_quota(&job, &recipients, now) {
                b.keys.remove(&key_k)?;
                return Err(e);
            }
            self.start_broadcast(&mut job, &recipients)?;
        } else {
            b.put(&job)?;
        }
        b.active.insert(id.as_bytes(), account.id.as_bytes())?;
        self.commit.commit().await?;
        b.wake.notify_one();
        Ok(job)
    }

    /// The subscribed followers the audience names, in openid order.
    fn resolve_audience(&self, account: &str, audience: &Audience) -> Result<Vec<String>> {
        let now = self.clock.now_ms();
        match audience {
            Audience::Openids(ids) => {
                let mut ids = ids.clone();
                ids.sort();
                ids.dedup();
                Ok(ids
                    .into_iter()
                    .filter(|id| {
                        self.followers
                            .get(account, id)
                            .map(|f| f.subscribed)
                            .unwrap_or(false)
                    })
                    .collect())
            }
            Audience::All => self.subscribed_followers(account, |_| true),
            Audience::Tag(tag) => self.subscribed_followers(account, |f| f.tags.contains(tag)),
            Audience::Segment(expr) => {
                let timezone = self.accounts.get(account)?.timezone;
                let segment = Segment::parse(expr, &timezone)?;
                self.subscribed_followers(account, |f| segment.matches(f, now))
            }
        }
    }

    /// Refuses a service-account broadcast none of whose recipients has a broadcast left this month.
    fn check_monthly_quota(&self, job: &BroadcastJob, openids: &[String], now: u64) -> Result<()> {
        let account = self.accounts.get(&job.account)?;
        if account.kind != AccountKind::Service || openids.is_empty() {
            return Ok(());
        }
        let (month, resets_at) = quota::month(now, &account.timezone)?;
        for openid in openids {
            if self
                .broadcasts
                .months_used(&account.id, openid, &month, &job.id)?
                < quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH
            {
                return Ok(());
            }
        }
        Err(PlazaError::QuotaExceeded {
            message: format!(
                "every recipient already received {} broadcasts in {month}",
                quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH
            ),
            resets_at: Some(resets_at),
        })
    }

    /// Chooses the recipients and records each as pending; the job becomes running.
    fn start_broadcast(&self, job: &mut BroadcastJob, openids: &[String]) -> Result<()> {
        let b = &self.broadcasts;
        for openid in openids {
            b.recipients
                .insert(&Broadcasts::recipient_key(&job.id, openid), &[PENDING])?;
        }
        job.total = openids.len() as u64;
        job.status = BroadcastStatus::Running;
        b.put(job)
    }

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

    /// Runs until the process ends: starts due broadcasts and delivers unfinished ones.
    pub async fn run_broadcasts(self: Arc<Self>) {
        loop {
            match self.broadcast_pass().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "broadcast pass failed"),
            }
            let _ = tokio::time::timeout(POLL, self.broadcasts.wake.notified()).await;
        }
    }

    /// One pass over unfinished broadcasts: at most one batch each. True if work remains.
    pub async fn broadcast_pass(self: &Arc<Self>) -> Result<bool> {
        let b = &self.broadcasts;
        let now = self.clock.now_ms();
        let mut more = false;
        for (id, account) in b.active.scan_prefix(b"", None, usize::MAX)? {
            let (id, account) = (
                String::from_utf8_lossy(&id).into_owned(),
                String::from_utf8_lossy(&account).into_owned(),
            );
            let mut job = b.get(&account, &id)?;
            if job.status == BroadcastStatus::Scheduled {
                if job.at.unwrap_or(0) > now {
                    continue;
                }
                // Scheduled broadcasts choose their recipients when they start; the monthly
                // quota then skips recipients who have none left.
                let recipients = self.resolve_audience(&account, &job.audience)?;
                self.start_broadcast(&mut job, &recipients)?;
            }
            let started = std::time::Instant::now();
            let handled = self.deliver_batch(&mut job, now)?;
            self.commit.commit().await?;
            if handled == 0 {
                job.status = BroadcastStatus::Done;
                job.finished_at = Some(self.clock.now_ms());
                b.put(&job)?;
                b.active.remove(id.as_bytes())?;
                self.commit.commit().await?;
                tracing::info!(account, broadcast = %id, delivered = job.delivered, skipped = job.skipped_quota, "broadcast done");
            } else {
                more = true;
                if let Some(rate) = b.rate.filter(|r| *r > 0) {
                    let budget = Duration::from_secs_f64(handled as f64 / rate as f64);
                    if let Some(rest) = budget.checked_sub(started.elapsed()) {
                        tokio::time::sleep(rest).await;
                    }
                }
            }
        }
        Ok(more)
    }

    /// Delivers up to one batch of pending recipients; returns how many were handled.
    fn deliver_batch(&self, job: &mut BroadcastJob, now: u64) -> Result<usize> {
        let b = &self.broadcasts;
        let account = self.accounts.get(&job.account)?;
        let month = match account.kind {
            AccountKind::Service => Some(quota::month(now, &account.timezone)?.0),
            AccountKind::Subscription => None,
        };
        let base = prefix(&[&job.id]);
        let mut handled = 0;
        let mut after: Option<Vec<u8>> = job
            .cursor
            .as_ref()
            .map(|c| [base.as_slice(), c.as_bytes()].concat());
        while handled < BATCH {
            let rows = b.recipients.scan_prefix(&base, after.as_deref(), BATCH)?;
            if rows.is_empty() {
                break;
            }
            after = rows.last().map(|(k, _)| k.clone());
            for (k, v) in rows {
                if v.first() != Some(&PENDING) {
                    continue;
                }
                let openid = String::from_utf8_lossy(&k[base.len()..]).into_owned();
                let status = match &month {
                    Some(m)
                        if b.months_used(&account.id, &openid, m, &job.id)?
                            >= quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH =>
                    {
                        SKIPPED_QUOTA
                    }
                    _ => {
                        let entry = OutboxEntry {
                            id: outbox_id(&job.id),
                            at: now,
                            delivery: Delivery::Broadcast,
                            plugin: job.source.clone(),
                            content: job.content.clone(),
                        };
                        self.outbox.append(&account.id, &openid, &entry)?;
                        // On a resumed batch a recipient cut short may be logged twice; the
                        // outbox entry itself is rewritten, never duplicated.
                        self.log_delivery(&account.id, &openid, &entry)?;
                        if let Some(m) = &month {
                            b.monthly
                                .insert(&key(&[&account.id, &openid, m, &job.id]), b"")?;
                        }
                        DELIVERED
                    }
                };
                b.recipients.insert(&k, &[status])?;
                job.cursor = Some(openid);
                match status {
                    DELIVERED => job.delivered += 1,
                    _ => job.skipped_quota += 1,
                }
                handled += 1;
                if handled == BATCH {
                    break;
                }
            }
        }
        if handled > 0 {
            b.put(job)?;
        }
        Ok(handled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_json_shapes() {
        let all: Audience = serde_json::from_str(r#""all""#).unwrap();
        assert_eq!(all, Audience::All);
        let tag: Audience = serde_json::from_str(r#"{"tag":"vip"}"#).unwrap();
        assert_eq!(tag, Audience::Tag("vip".into()));
        let ids: Audience = serde_json::from_str(r#"{"openids":["a","b"]}"#).unwrap();
        assert_eq!(ids, Audience::Openids(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn outbox_ids_of_broadcasts_sort_with_other_entries() {
        let earlier = "m00001795623658412000";
        let bid = "b00001795623658412001";
        let later = "m00001795623658412002";
        let id = outbox_id(bid);
        assert!(earlier < id.as_str() && id.as_str() < later, "{id}");
    }
}
