//! Broadcasts (群发): one message to many followers, as a durable job.
//!
//! Creating a broadcast resolves its audience, checks the account's quotas and runs the review
//! chain once on the content; then **one unit of work** claims the caller's idempotency key,
//! takes the day's quota slot (subscription accounts), and stores the job with its recipients
//! (in chunks of sorted openids). Nothing is claimed by a refused broadcast, so a retry with the
//! same key can succeed once the cause is fixed.
//!
//! A worker then delivers in batches; each batch's outbox entries, delivery log entries,
//! per-recipient statuses, monthly quota marks and the job's progress commit together, so after a
//! crash the worker resumes exactly where the last committed batch ended: every recipient gets the
//! message once.
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
use crate::storage::backend::{key, prefix};
use crate::storage::{Bytes, Json, Pending, Store, Table, Tx};

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

/// Openids a [`BroadcastPreview`] lists.
pub const PREVIEW_SAMPLE: usize = 10;

/// What a broadcast would reach; see [`Platform::preview_broadcast`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BroadcastPreview {
    /// Subscribed followers the audience names.
    pub recipients: u64,
    /// Of those, the ones the quota lets the broadcast reach (all or none for a subscription
    /// account; for a service account those with a broadcast left this month).
    pub reachable: u64,
    /// The first few recipients, in openid order.
    pub sample: Vec<String>,
    pub quota: PreviewQuota,
}

/// The quota a broadcast draws on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewQuota {
    /// `per_day` (subscription accounts: broadcasts per day) or `per_follower_per_month`
    /// (service accounts: broadcasts each follower may receive per month).
    pub rule: String,
    /// The day (`YYYY-MM-DD`) or month (`YYYY-MM`) in the account's timezone.
    pub period: String,
    pub limit: u64,
    /// Broadcasts left today (per_day), or recipients with a broadcast left (per_follower_per_month).
    pub remaining: u64,
    /// When the period ends, ms since the epoch.
    pub resets_at: u64,
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
    /// The last recipient handled (in openid order), for operators following progress.
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

const DELIVERED: u8 = 1;
const SKIPPED_QUOTA: u8 = 2;

/// Most unfinished broadcasts one `/metrics` scrape reads (there are rarely more than a few).
pub const METRICS_BROADCASTS: usize = 1000;

/// What [`Broadcasts::unfinished_summary`] counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnfinishedSummary {
    pub running: u64,
    pub scheduled: u64,
    /// Recipients of running broadcasts, by where they stand.
    pub delivered: u64,
    pub skipped_quota: u64,
    pub pending: u64,
}

/// Recipients per stored chunk of a broadcast's recipient list.
const CHUNK: usize = 1000;

/// Where the worker stands in a running broadcast's recipient list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The chunk being worked through.
    pub chunk: u32,
    /// Recipients of that chunk already handled.
    pub offset: u32,
}

pub struct Broadcasts {
    /// `(account, id)` → job.
    jobs: Table<Json<BroadcastJob>>,
    /// `(account, source, idempotency key)` → broadcast id.
    keys: Table<Bytes>,
    /// `(id, chunk {:08})` → up to [`CHUNK`] recipients, sorted; chunks concatenate in order.
    chunks: Table<Json<Vec<String>>>,
    /// `(id, openid)` → status byte, for recipients already handled (absent = pending).
    statuses: Table<Bytes>,
    /// Where each running broadcast's worker stands: `id` → progress.
    progress: Table<Json<Progress>>,
    /// Service accounts: `account, openid, month, broadcast` set members.
    monthly: Table<Bytes>,
    /// Subscription accounts: `account, day` → broadcast id.
    daily: Table<Bytes>,
    /// Unfinished broadcasts: `broadcast id` → account.
    active: Table<Bytes>,
    pub(crate) wake: tokio::sync::Notify,
    /// Recipients per second; `None` = as fast as the disk allows.
    rate: Option<u32>,
}

fn chunk_key(id: &str, chunk: u32) -> Vec<u8> {
    key(&[id, &format!("{chunk:08}")])
}

impl Broadcasts {
    pub fn new(store: &Store, rate: Option<u32>) -> Result<Self> {
        Ok(Broadcasts {
            jobs: store.table("broadcasts")?,
            keys: store.table("broadcast_keys")?,
            chunks: store.table("broadcast_chunks")?,
            statuses: store.table("broadcast_recipients")?,
            progress: store.table("broadcast_progress")?,
            monthly: store.table("broadcast_monthly")?,
            daily: store.table("broadcast_daily")?,
            active: store.table("broadcast_active")?,
            wake: tokio::sync::Notify::new(),
            rate,
        })
    }

    pub fn get(&self, account: &str, id: &str) -> Result<BroadcastJob> {
        self.jobs.get(&key(&[account, id]))?.ok_or_else(|| {
            PlazaError::not_found(format!("broadcast {id:?} of account {account:?}"))
        })
    }

    /// Unfinished broadcasts and their recipients, for `/metrics`: reads the unfinished set
    /// (at most [`METRICS_BROADCASTS`] of them) and each one's job record, whose counters the
    /// worker keeps up to date, so a scrape never walks recipient lists.
    pub fn unfinished_summary(&self) -> Result<UnfinishedSummary> {
        let mut summary = UnfinishedSummary::default();
        for (id, account) in self.active.scan(b"", None, METRICS_BROADCASTS)? {
            let (id, account) = (
                String::from_utf8_lossy(&id),
                String::from_utf8_lossy(&account),
            );
            // Finished (and removed from the set) since the scan: nothing to count.
            let Some(job) = self.jobs.get(&key(&[&account, &id]))? else {
                continue;
            };
            match job.status {
                BroadcastStatus::Scheduled => summary.scheduled += 1,
                BroadcastStatus::Running => {
                    summary.running += 1;
                    summary.delivered += job.delivered;
                    summary.skipped_quota += job.skipped_quota;
                    summary.pending += job
                        .total
                        .saturating_sub(job.delivered.saturating_add(job.skipped_quota));
                }
                BroadcastStatus::Done => {}
            }
        }
        Ok(summary)
    }

    /// An account's broadcasts, newest first.
    pub fn list(&self, account: &str, limit: usize) -> Result<Vec<BroadcastJob>> {
        let mut all = self.jobs.values(&prefix(&[account]))?;
        all.reverse();
        all.truncate(limit);
        Ok(all)
    }

    fn chunk(&self, id: &str, chunk: u32) -> Result<Option<Vec<String>>> {
        self.chunks.get(&chunk_key(id, chunk))
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
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(chunk) = self.chunk(id, n)? {
            n += 1;
            if after.is_some_and(|a| chunk.last().is_none_or(|last| last.as_str() <= a)) {
                continue;
            }
            for openid in chunk {
                if after.is_some_and(|a| openid.as_str() <= a) {
                    continue;
                }
                let st = match self
                    .statuses
                    .get(&key(&[id, &openid]))?
                    .and_then(|v| v.first().copied())
                {
                    Some(DELIVERED) => RecipientStatus::Delivered,
                    Some(SKIPPED_QUOTA) => RecipientStatus::SkippedQuota,
                    _ => RecipientStatus::Pending,
                };
                if status.is_none_or(|s| s == st) {
                    out.push((openid, st));
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
        Ok(RecipientPage {
            items: out,
            next_cursor: None,
        })
    }

    fn months_used(&self, account: &str, openid: &str, month: &str, except: &str) -> Result<usize> {
        Ok(self
            .monthly
            .keys(&prefix(&[account, openid, month]), None, usize::MAX)?
            .iter()
            .filter(|k| !k.ends_with(except.as_bytes()))
            .count())
    }

    /// Stores a starting broadcast's recipients and progress, in the caller's unit of work.
    fn start_in(&self, tx: &mut Tx<'_>, job: &mut BroadcastJob, openids: &[String]) -> Result<()> {
        for (i, chunk) in openids.chunks(CHUNK).enumerate() {
            tx.put(&self.chunks, &chunk_key(&job.id, i as u32), &chunk.to_vec())?;
        }
        tx.put(&self.progress, job.id.as_bytes(), &Progress::default())?;
        job.total = openids.len() as u64;
        job.status = BroadcastStatus::Running;
        tx.put(&self.jobs, &key(&[&job.account, &job.id]), job)
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
        let id = self.ids.next("b");
        let mut job = BroadcastJob {
            id: id.clone(),
            account: account.id.clone(),
            source: source.map(str::to_string),
            idempotency_key: req.idempotency_key,
            audience: req.audience,
            content: req.content,
            created_at: now,
            at: req.at,
            status: BroadcastStatus::Scheduled,
            total: 0,
            delivered: 0,
            skipped_quota: 0,
            finished_at: None,
            cursor: None,
        };
        let recipients = if due <= now {
            let recipients = self.resolve_audience(&account.id, &job.audience)?;
            self.check_monthly_quota(&job, &recipients, now)?;
            Some(recipients)
        } else {
            None
        };
        // Reviewed once for every recipient, before anything is promised.
        job.content = match self
            .review_outbound(
                &account.id,
                Delivery::Broadcast,
                source,
                "broadcast",
                job.content.clone(),
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
        let daily_slot = match account.kind {
            AccountKind::Subscription => Some(quota::day(due, &account.timezone)?),
            AccountKind::Service => None,
        };
        let created = self
            .store
            .write(|tx| {
                // A concurrent request with the same key may have won.
                if let Some(existing) = tx.get(&b.keys, &key_k)? {
                    return Ok(Err(String::from_utf8_lossy(&existing).into_owned()));
                }
                if let Some((day, resets_at)) = &daily_slot {
                    let slot = key(&[&account.id, day]);
                    if !tx.insert_new(&b.daily, &slot, &id.as_bytes().to_vec())? {
                        return Err(PlazaError::QuotaExceeded {
                            message: format!(
                                "subscription account {} already broadcast on {day} ({} per day)",
                                account.id,
                                quota::SUBSCRIPTION_BROADCASTS_PER_DAY
                            ),
                            resets_at: Some(*resets_at),
                        });
                    }
                }
                let mut job = job.clone();
                match &recipients {
                    Some(r) => b.start_in(tx, &mut job, r)?,
                    None => tx.put(&b.jobs, &key(&[&account.id, &id]), &job)?,
                }
                tx.put_bytes(&b.keys, &key_k, id.as_bytes())?;
                tx.put_bytes(&b.active, id.as_bytes(), account.id.as_bytes())?;
                Ok(Ok(job))
            })?
            .durable()
            .await?;
        match created {
            Ok(job) => {
                b.wake.notify_one();
                Ok(job)
            }
            Err(existing) => b.get(&account.id, &existing),
        }
    }

    /// What a broadcast to `audience` at `at` (none = now) would do, without creating it: how
    /// many followers it names, how many the account's quota lets it reach, and the quota
    /// itself — what the console's composer shows before an operator sends.
    pub fn preview_broadcast(
        &self,
        account_id: &str,
        audience: &Audience,
        at: Option<u64>,
    ) -> Result<BroadcastPreview> {
        let account = self.accounts.get(account_id)?;
        if let Audience::Tag(tag) = audience {
            self.followers.require_tag(&account.id, tag)?;
        }
        let now = self.clock.now_ms();
        let due = at.unwrap_or(now).max(now);
        let recipients = self.resolve_audience(&account.id, audience)?;
        let (quota, reachable) = match account.kind {
            AccountKind::Subscription => {
                let (day, resets_at) = quota::day(due, &account.timezone)?;
                let used = self.broadcasts.daily.contains(&key(&[&account.id, &day]))?;
                let reachable = if used { 0 } else { recipients.len() };
                (
                    PreviewQuota {
                        rule: "per_day".into(),
                        period: day,
                        limit: u64::from(quota::SUBSCRIPTION_BROADCASTS_PER_DAY),
                        remaining: u64::from(!used),
                        resets_at,
                    },
                    reachable,
                )
            }
            AccountKind::Service => {
                let (month, resets_at) = quota::month(due, &account.timezone)?;
                let limit = quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH;
                let mut reachable = 0;
                for openid in &recipients {
                    if self
                        .broadcasts
                        .months_used(&account.id, openid, &month, "")?
                        < limit
                    {
                        reachable += 1;
                    }
                }
                (
                    PreviewQuota {
                        rule: "per_follower_per_month".into(),
                        period: month,
                        limit: limit as u64,
                        remaining: reachable as u64,
                        resets_at,
                    },
                    reachable,
                )
            }
        };
        Ok(BroadcastPreview {
            recipients: recipients.len() as u64,
            reachable: reachable as u64,
            sample: recipients.into_iter().take(PREVIEW_SAMPLE).collect(),
            quota,
        })
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

    /// Openids of the account's subscribed followers matching `pred`.
    pub fn subscribed_followers(
        &self,
        account: &str,
        pred: impl Fn(&Follower) -> bool,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.followers.for_each(account, &mut |f| {
            if f.subscribed && pred(f) {
                out.push(f.openid.clone());
            }
            Ok(())
        })?;
        Ok(out)
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
        for (id, account) in b.active.scan(b"", None, usize::MAX)? {
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
                job = self
                    .store
                    .write(|tx| {
                        let mut started = job.clone();
                        b.start_in(tx, &mut started, &recipients)?;
                        Ok(started)
                    })?
                    .durable()
                    .await?;
            }
            let started = std::time::Instant::now();
            let handled = self.deliver_batch(&mut job, now)?.durable().await?;
            if handled == 0 {
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

    /// Delivers up to one batch of pending recipients in one unit of work, or finishes the job
    /// when none is left. Returns how many recipients were handled.
    fn deliver_batch(&self, job: &mut BroadcastJob, now: u64) -> Result<Pending<usize>> {
        let b = &self.broadcasts;
        let account = self.accounts.get(&job.account)?;
        let month = match account.kind {
            AccountKind::Service => Some(quota::month(now, &account.timezone)?.0),
            AccountKind::Subscription => None,
        };
        let start = b.progress.get(job.id.as_bytes())?.unwrap_or_default();
        // Who is next, and whether each has a broadcast left this month (reads, outside the
        // unit of work).
        let mut batch: Vec<(String, u8)> = Vec::new();
        let mut at = start;
        while batch.len() < BATCH {
            let Some(chunk) = b.chunk(&job.id, at.chunk)? else {
                break;
            };
            let rest = chunk.len().saturating_sub(at.offset as usize);
            let take = rest.min(BATCH - batch.len());
            for openid in chunk.into_iter().skip(at.offset as usize).take(take) {
                let status = match &month {
                    Some(m)
                        if b.months_used(&account.id, &openid, m, &job.id)?
                            >= quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH =>
                    {
                        SKIPPED_QUOTA
                    }
                    _ => DELIVERED,
                };
                batch.push((openid, status));
            }
            at.offset += take as u32;
            if at.offset as usize >= CHUNK || take == rest {
                at = Progress {
                    chunk: at.chunk + 1,
                    offset: 0,
                };
            }
        }
        let entry = OutboxEntry {
            id: outbox_id(&job.id),
            at: now,
            delivery: Delivery::Broadcast,
            plugin: job.source.clone(),
            content: job.content.clone(),
        };
        let mut updated = job.clone();
        for (openid, status) in &batch {
            updated.cursor = Some(openid.clone());
            match *status {
                DELIVERED => updated.delivered += 1,
                _ => updated.skipped_quota += 1,
            }
        }
        if batch.is_empty() {
            updated.status = BroadcastStatus::Done;
            updated.finished_at = Some(self.clock.now_ms());
        }
        let pending = self.store.write(|tx| {
            for (openid, status) in &batch {
                if *status == DELIVERED {
                    self.deliver_in(tx, &account.id, openid, &entry)?;
                    if let Some(m) = &month {
                        tx.put_bytes(&b.monthly, &key(&[&account.id, openid, m, &job.id]), b"")?;
                    }
                }
                tx.put_bytes(&b.statuses, &key(&[&job.id, openid]), &[*status])?;
            }
            tx.put(&b.jobs, &key(&[&account.id, &job.id]), &updated)?;
            if batch.is_empty() {
                tx.delete(&b.progress, job.id.as_bytes())?;
                tx.delete(&b.active, job.id.as_bytes())?;
            } else {
                tx.put(&b.progress, job.id.as_bytes(), &at)?;
            }
            Ok(batch.len())
        })?;
        *job = updated;
        Ok(pending)
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

    /// A broadcast claims its idempotency key, its daily slot and its job in one unit of work:
    /// through a `Platform` over a backend that fails a chosen write, a broadcast that fails or
    /// is refused leaves nothing, and a retry with the same key succeeds.
    mod atomicity {
        use super::*;
        use crate::accounts::NewAccount;
        use crate::accounts::followers::Touch;
        use crate::platform::{ManualClock, PlatformOptions};
        use crate::storage::testing::{FaultyBackend, dump};
        use crate::storage::{Backend, SledBackend};

        /// 2026-03-10T00:00:00Z.
        const NOW: u64 = 1_773_100_800_000;
        const DAY: u64 = 24 * 3_600_000;

        struct Fixture {
            _dir: tempfile::TempDir,
            faulty: Arc<FaultyBackend>,
            clock: Arc<ManualClock>,
            p: Arc<Platform>,
        }

        /// Account `a` of `kind` with subscribed followers `f0`, `f1`, … over a faulty backend.
        async fn fixture(kind: AccountKind, followers: usize) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let sled: Arc<dyn Backend> =
                Arc::new(SledBackend::open(&dir.path().join("db")).unwrap());
            let faulty = FaultyBackend::new(sled);
            let clock = Arc::new(ManualClock::new(NOW));
            let mut opts = PlatformOptions::new(dir.path().join("data"));
            opts.clock = clock.clone();
            opts.backend = Some(faulty.clone());
            let p = Platform::open(opts).unwrap();
            let account = NewAccount {
                id: "a".into(),
                name: None,
                kind,
                verified: true,
                timezone: Some("Asia/Shanghai".into()),
            };
            p.accounts
                .create(account, NOW)
                .unwrap()
                .durable()
                .await
                .unwrap();
            for i in 0..followers {
                p.followers
                    .touch("a", &format!("f{i}"), Touch::Subscribe { scene: None }, NOW)
                    .unwrap()
                    .durable()
                    .await
                    .unwrap();
            }
            Fixture {
                _dir: dir,
                faulty,
                clock,
                p,
            }
        }

        fn request(key: &str, audience: Audience) -> NewBroadcast {
            NewBroadcast {
                idempotency_key: key.into(),
                audience,
                content: MessageContent::Text {
                    content: format!("news {key}"),
                },
                at: None,
            }
        }

        impl Fixture {
            async fn create(&self, key: &str, audience: Audience) -> Result<BroadcastJob> {
                self.p
                    .create_broadcast("a", None, request(key, audience))
                    .await
            }

            /// Refused (as `matches` says) and nothing of it stored.
            async fn refused(
                &self,
                key: &str,
                audience: Audience,
                matches: impl Fn(&PlazaError) -> bool,
            ) {
                let before = dump(&self.p.store);
                let err = self
                    .create(key, audience)
                    .await
                    .expect_err("the broadcast is refused");
                assert!(matches(&err), "{key}: {err}");
                assert_eq!(
                    dump(&self.p.store),
                    before,
                    "{key}: a refusal stores nothing"
                );
            }

            /// Runs the worker until every broadcast is done (the pass that finds nothing left
            /// to deliver marks a broadcast done and answers false).
            async fn deliver_all(&self) {
                while self.p.broadcast_pass().await.unwrap() {}
            }
        }

        fn quota_exceeded(e: &PlazaError) -> bool {
            matches!(e, PlazaError::QuotaExceeded { .. })
        }

        #[tokio::test]
        async fn a_fault_between_key_slot_and_job_leaves_none_and_the_same_key_retries() {
            let f = fixture(AccountKind::Subscription, 3).await;
            let before = dump(&f.p.store);
            // Writes: the daily slot, the recipients, the progress, the job, the key, the
            // active marker. A fault at any of them (the 2nd is the case the issue names)
            // leaves none of them.
            for n in 1..=6 {
                f.faulty.fail_next_at(n);
                let result = f.create("launch", Audience::All).await;
                f.faulty.disarm();
                let err = result.expect_err("the injected fault surfaces");
                assert!(
                    matches!(err, PlazaError::Unavailable(_)),
                    "write {n}: {err}"
                );
                assert_eq!(
                    dump(&f.p.store),
                    before,
                    "fault at write {n}: nothing stored"
                );
            }
            assert!(f.p.broadcasts.list("a", 10).unwrap().is_empty());

            let job = f.create("launch", Audience::All).await.unwrap();
            assert_eq!((job.status, job.total), (BroadcastStatus::Running, 3));
            // The retry owns the key and the day's slot now.
            assert_eq!(f.create("launch", Audience::All).await.unwrap().id, job.id);
            f.refused("another", Audience::All, quota_exceeded).await;
            f.deliver_all().await;
            let done = f.p.broadcasts.get("a", &job.id).unwrap();
            assert_eq!((done.status, done.delivered), (BroadcastStatus::Done, 3));
        }

        #[tokio::test]
        async fn a_broadcast_refused_for_its_audience_succeeds_with_the_same_key_once_fixed() {
            let f = fixture(AccountKind::Service, 3).await;

            // A tag that does not exist yet.
            let vip = || Audience::Tag("vip".into());
            f.refused("to-vips", vip(), |e| matches!(e, PlazaError::NotFound(_)))
                .await;
            f.p.followers
                .create_tag("a", "vip", NOW)
                .unwrap()
                .durable()
                .await
                .unwrap();
            f.p.followers
                .tag_many("a", &["f0".into(), "f1".into()], "vip")
                .unwrap()
                .durable()
                .await
                .unwrap();
            let job = f.create("to-vips", vip()).await.unwrap();
            assert_eq!(job.total, 2);

            // A recipient who had this month's broadcasts.
            let f2 = || Audience::Openids(vec!["f2".into()]);
            for i in 0..quota::SERVICE_BROADCASTS_PER_FOLLOWER_PER_MONTH {
                f.create(&format!("m{i}"), f2()).await.unwrap();
                f.deliver_all().await;
            }
            f.refused("monthly", f2(), quota_exceeded).await;
            // April in Shanghai: the quota is new.
            f.clock.set(NOW + 30 * DAY);
            let job = f.create("monthly", f2()).await.unwrap();
            assert_eq!(job.total, 1);
            f.deliver_all().await;
            let done = f.p.broadcasts.get("a", &job.id).unwrap();
            assert_eq!((done.delivered, done.skipped_quota), (1, 0), "{done:?}");
        }

        #[tokio::test]
        async fn a_broadcast_refused_for_the_days_slot_succeeds_with_the_same_key_the_next_day() {
            let f = fixture(AccountKind::Subscription, 2).await;
            f.create("morning", Audience::All).await.unwrap();
            f.refused("evening", Audience::All, quota_exceeded).await;
            f.clock.set(NOW + DAY);
            let job = f.create("evening", Audience::All).await.unwrap();
            assert_eq!(job.total, 2);
        }
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
