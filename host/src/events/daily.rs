//! Daily aggregates: counts per calendar day in the account's timezone, per kind and sub-kind,
//! and the cache that keeps them cheap over millions of entries.
//!
//! ## The bucket cache
//! Entries are appended with the host's clock, so once a 15-minute UTC bucket is some minutes in
//! the past nothing more is written into it. The first query that needs a closed bucket counts it
//! by scanning its entries and stores the counts per (kind, sub-kind) in `event_buckets`; later
//! queries read those records (96 a day) instead of the entries. 15 minutes because every
//! timezone offset in use is a multiple of it, so local midnights fall on bucket boundaries (a
//! day boundary that does not — historical local mean time — is scanned instead). Only the still
//! open recent range and buckets never queried before are scanned.
//!
//! Appends never read or write a shared cache key (the inbound path must not contend). What keeps
//! the cache exact all the same:
//! - An entry appended into a bucket that ended at least [`LATE_AFTER`] before the host's now
//!   (normally never: entries are stamped at most seconds before they are written; but e.g. after
//!   the clock was set back) also writes a mark `account, bucket, entry id` — a key of its own, so
//!   even a burst of late entries contends on nothing. A marked bucket is counted again, and the
//!   query that re-caches it removes the marks it saw.
//! - A query caches a bucket only once it ended [`CACHE_AFTER`] (> `LATE_AFTER`) ago, and only if
//!   the bucket's record is still what the query saw before scanning (compare-and-set in one unit
//!   of work), so an entry committed meanwhile is either in its count or has left a mark.
//! - "Now" for lateness never goes below the latest time a query cached at (kept in memory and
//!   stored), so after the clock is set back, entries into cached buckets are still marked.
//! - Pruning bumps the account's cache epoch in every unit of work that deletes entries; a query
//!   during which the epoch changed caches nothing. After a pass, every record and mark of a
//!   bucket before the cutoff is deleted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use serde::Serialize;

use super::kinds::KindSelector;
use super::plugin::kind_string;
use super::query::local_date;
use super::query::{CHUNK, MAX_DAYS, after, parse_date_param, start_of_day};
use super::{DAY_MS, EventKind, EventLog, LoggedEvent, MAX_AT, time_key};
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::storage::backend::{key, prefix};
use crate::storage::{Bytes, Store, Table, Tx};

/// Width of a cached bucket (UTC-aligned).
pub const BUCKET_MS: u64 = 15 * 60_000;
/// An entry written this long after its bucket ended marks the bucket for recounting.
pub const LATE_AFTER: u64 = 5 * 60_000;
/// A bucket is cached only once it ended this long ago.
pub const CACHE_AFTER: u64 = 10 * 60_000;
/// Buckets cached per unit of work.
const FILL_CHUNK: usize = 256;
/// Cache records and marks deleted per unit of work when pruning.
const FORGET_BATCH: usize = 10_000;
/// Version byte of a cache record.
const RECORD_V1: u8 = 1;
const HIGH_WATER: &[u8] = b"high_water";
/// Days (UTC, up to today) whose closed buckets the background pass counts ahead of any query,
/// so that the first dashboard or plugin asking for the last month finds them cached.
pub const WARM_DAYS: u64 = 31;

/// Counts of one calendar day in the account's timezone, per kind, for the admin API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// First instant of the day, ms since the epoch.
    pub start: u64,
    pub total: u64,
    /// Per kind: `inbound_message`, `follower_event`, `delivery`, `plugin`, `http_outbound`
    /// (all present, zero or not).
    pub counts: BTreeMap<&'static str, u64>,
    /// Per kind, by message type, event name, delivery kind, plugin event kind or outbound host.
    pub detail: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// One row of a daily aggregate (WIT `events.day-count`): a non-zero count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` in the account's timezone.
    pub date: String,
    /// As in a logged event: a built-in kind's name, or a plugin event's full kind.
    pub kind: String,
    /// Message type, event name, delivery kind, outbound host, or the plugin event kind again.
    pub sub_kind: String,
    pub count: u64,
}

/// Diagnostics of one account's bucket cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Buckets whose counts are cached.
    pub buckets: u64,
    /// Marks of entries appended late into a bucket (each makes its bucket count again).
    pub marks: u64,
}

/// Counts keyed by an entry header's start: kind byte, sub-kind length, sub-kind.
type Counts = HashMap<Vec<u8>, u64>;

fn add(counts: &mut Counts, key: &[u8], n: u64) {
    match counts.get_mut(key) {
        Some(c) => *c += n,
        None => {
            counts.insert(key.to_vec(), n);
        }
    }
}

/// The header key of an entry value (see [`Counts`]).
fn header_key(v: &[u8]) -> Option<&[u8]> {
    let n = *v.get(1)? as usize;
    v.get(..2 + n)
}

/// `{13 digits}` at the start of `digits`.
fn parse_at(digits: Option<&[u8]>) -> Option<u64> {
    let d = digits?;
    if d.len() != 13 {
        return None;
    }
    d.iter().try_fold(0u64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

fn encode_record(counts: &Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + counts.keys().map(|k| k.len() + 8).sum::<usize>());
    out.push(RECORD_V1);
    for (k, n) in counts {
        out.extend_from_slice(k);
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// The `(header key, count)` pairs of a cache record; `None` if it does not decode (it is then
/// counted again and replaced).
fn decode_record(r: &[u8]) -> Option<Vec<(&[u8], u64)>> {
    let (&version, mut rest) = r.split_first()?;
    if version != RECORD_V1 {
        return None;
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        let n = *rest.get(1)? as usize;
        let (k, tail) = rest.split_at_checked(2 + n)?;
        let (c, tail) = tail.split_at_checked(8)?;
        out.push((k, u64::from_le_bytes(c.try_into().ok()?)));
        rest = tail;
    }
    Some(out)
}

fn bucket_of(at: u64) -> u64 {
    at - at % BUCKET_MS
}

fn ceil_bucket(at: u64) -> u64 {
    bucket_of(at.saturating_add(BUCKET_MS - 1))
}

fn bucket_key(account: &str, start: u64) -> Vec<u8> {
    let mut k = prefix(&[account]);
    k.extend_from_slice(format!("{:013}", start.min(MAX_AT)).as_bytes());
    k
}

fn epoch_key(account: &str) -> Vec<u8> {
    key(&["epoch", account])
}

/// The cache's tables and the high-water mark of "now" (see the module docs).
pub(crate) struct BucketCache {
    /// `account \0 {bucket start:013}` → counts record.
    buckets: Table<Bytes>,
    /// `account \0 {bucket start:013} \0 {entry id}` → empty: an entry appended late.
    marks: Table<Bytes>,
    /// `epoch \0 account` → u64 (big-endian), bumped by pruning; `high_water` → u64.
    state: Table<Bytes>,
    high_water: AtomicU64,
}

fn read_u64(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|v| v.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl BucketCache {
    pub(crate) fn open(store: &Store) -> Result<Self> {
        let state: Table<Bytes> = store.table("event_cache_state")?;
        let high_water = read_u64(state.get(HIGH_WATER)?);
        Ok(BucketCache {
            buckets: store.table("event_buckets")?,
            marks: store.table("event_bucket_marks")?,
            state,
            high_water: AtomicU64::new(high_water),
        })
    }

    /// In an append's unit of work: marks the entry's bucket when the entry comes late. Reads
    /// no shared key: only an atomic load and, when late, one write of a key of its own.
    pub(crate) fn mark_if_late_in(
        &self,
        tx: &mut Tx<'_>,
        account: &str,
        ev: &LoggedEvent,
        now: u64,
    ) -> Result<()> {
        let now = now.max(self.high_water.load(Ordering::Acquire));
        let b = bucket_of(ev.at.min(MAX_AT));
        if b + BUCKET_MS + LATE_AFTER <= now {
            let mut k = bucket_key(account, b);
            k.push(0);
            k.extend_from_slice(ev.id.as_bytes());
            tx.put_bytes(&self.marks, &k, b"")?;
        }
        Ok(())
    }

    /// In a pruning unit of work: a query that scanned before it caches nothing.
    pub(crate) fn invalidate_in(&self, tx: &mut Tx<'_>, account: &str) -> Result<()> {
        let k = epoch_key(account);
        let epoch = read_u64(tx.get(&self.state, &k)?);
        tx.put_bytes(&self.state, &k, &(epoch + 1).to_be_bytes())
    }

    /// After a pruning pass: deletes the records and marks of every bucket starting before
    /// `cutoff` (they counted entries that are gone). Not awaited durable, like the pruning.
    pub(crate) fn forget_before(&self, store: &Store, account: &str, cutoff: u64) -> Result<()> {
        let (start, end) = (prefix(&[account]), bucket_key(account, ceil_bucket(cutoff)));
        for table in [&self.buckets, &self.marks] {
            loop {
                let batch: Vec<Vec<u8>> = table
                    .range(&start, &end, FORGET_BATCH)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                if batch.is_empty() {
                    break;
                }
                store
                    .write(|tx| {
                        for k in &batch {
                            tx.delete(table, k)?;
                        }
                        Ok(())
                    })?
                    .detach();
            }
        }
        Ok(())
    }

    pub(crate) fn stats(&self, account: &str) -> Result<CacheStats> {
        let p = prefix(&[account]);
        Ok(CacheStats {
            buckets: self.buckets.keys(&p, None, usize::MAX)?.len() as u64,
            marks: self.marks.keys(&p, None, usize::MAX)?.len() as u64,
        })
    }
}

/// The days of a request and where each starts.
struct Days {
    dates: Vec<NaiveDate>,
    /// `dates.len() + 1` instants: each day's start, then the end of the last day.
    starts: Vec<u64>,
}

impl Days {
    fn new(tz: chrono_tz::Tz, from: NaiveDate, to: NaiveDate) -> Result<Days> {
        let span = (to - from).num_days() + 1;
        if span < 1 {
            return Err(PlazaError::invalid(format!(
                "`from` ({from}) is after `to` ({to})"
            )));
        }
        if span > MAX_DAYS {
            return Err(PlazaError::invalid(format!(
                "{span} days requested; at most {MAX_DAYS} per request"
            )));
        }
        let dates: Vec<NaiveDate> = from.iter_days().take(span as usize).collect();
        let mut starts: Vec<u64> = dates.iter().map(|d| start_of_day(tz, *d)).collect();
        starts.push(to.succ_opt().map(|d| start_of_day(tz, d)).unwrap_or(MAX_AT));
        Ok(Days { dates, starts })
    }

    fn len(&self) -> usize {
        self.dates.len()
    }

    /// The day `at` falls on, at or after `hint`.
    fn day_from(&self, hint: usize, at: u64) -> usize {
        let mut d = hint;
        while d + 1 < self.len() && at >= self.starts[d + 1] {
            d += 1;
        }
        d
    }
}

/// A closed bucket being counted by a scan, to be cached.
struct Fill {
    start: u64,
    /// Its record as read before the scan (compare-and-set).
    seen: Option<Vec<u8>>,
    /// The marks read before the scan; removed with the new record.
    marks: Vec<Vec<u8>>,
    counts: Counts,
}

impl EventLog {
    /// Counts per day `from..=to` (calendar days in `tz`, the account's timezone; at most
    /// [`MAX_DAYS`]) per kind and sub-kind, only non-zero counts, restricted to `kinds` (empty =
    /// all): WIT `events.daily`. Rows are by date, then kind, then sub-kind. Blocking (storage
    /// reads); served from the bucket cache except for the last [`CACHE_AFTER`] and buckets no
    /// query needed before (the first query over a long range pays one scan of it).
    pub fn daily_counts(
        &self,
        account: &str,
        tz: chrono_tz::Tz,
        from: NaiveDate,
        to: NaiveDate,
        kinds: &[KindSelector],
    ) -> Result<Vec<DayCount>> {
        let days = Days::new(tz, from, to)?;
        let per_day = self.tally(account, &days, true)?;
        Ok(rows(&days, &per_day, kinds))
    }

    /// WIT `events.daily` over the plugin's own account (the host impl checks `events.read`):
    /// `from` and `to` as `YYYY-MM-DD`, `tz` the account's timezone, `kinds` selectors as
    /// plugins give them. See [`EventLog::daily_counts`]; errors are `invalid` (dates, range
    /// over [`MAX_DAYS`], selectors).
    pub fn daily_for_plugin(
        &self,
        account: &str,
        tz: chrono_tz::Tz,
        from: &str,
        to: &str,
        kinds: &[String],
    ) -> Result<Vec<DayCount>> {
        let (from, to) = (parse_date_param("from", from)?, parse_date_param("to", to)?);
        self.daily_counts(account, tz, from, to, &KindSelector::parse_list(kinds)?)
    }

    /// [`EventLog::daily_counts`] by a plain scan of every entry in the range, bypassing the
    /// cache: the reference the cached answer is checked against (tests, benchmarks).
    pub fn daily_counts_by_scan(
        &self,
        account: &str,
        tz: chrono_tz::Tz,
        from: NaiveDate,
        to: NaiveDate,
        kinds: &[KindSelector],
    ) -> Result<Vec<DayCount>> {
        let days = Days::new(tz, from, to)?;
        let per_day = self.tally(account, &days, false)?;
        Ok(rows(&days, &per_day, kinds))
    }

    /// Counts per kind (and sub-kind) for each day `from..=to` in `tz`, every day present, for
    /// the admin API; `kinds` as in [`EventLog::daily_counts`].
    pub fn daily(
        &self,
        account: &str,
        tz: chrono_tz::Tz,
        from: NaiveDate,
        to: NaiveDate,
        kinds: &[KindSelector],
    ) -> Result<Vec<DayCounts>> {
        let days = Days::new(tz, from, to)?;
        let per_day = self.tally(account, &days, true)?;
        Ok(days
            .dates
            .iter()
            .zip(&per_day)
            .enumerate()
            .map(|(i, (date, counts))| {
                let mut day = DayCounts {
                    date: date.format("%Y-%m-%d").to_string(),
                    start: days.starts[i],
                    total: 0,
                    counts: EventKind::ALL.iter().map(|k| (k.name(), 0)).collect(),
                    detail: EventKind::ALL
                        .iter()
                        .map(|k| (k.name(), BTreeMap::new()))
                        .collect(),
                };
                for (k, n) in counts {
                    let Some((kind, sub)) = split_key(k) else {
                        continue;
                    };
                    if !KindSelector::any(kinds, kind, sub) {
                        continue;
                    }
                    day.total += n;
                    *day.counts.entry(kind.name()).or_default() += n;
                    *day.detail
                        .entry(kind.name())
                        .or_default()
                        .entry(String::from_utf8_lossy(sub).into_owned())
                        .or_default() += n;
                }
                day
            })
            .collect())
    }

    /// Counts and caches the closed buckets of the last [`WARM_DAYS`] (within retention) that no
    /// query has cached yet: after the first pass only the hour since the previous pass is
    /// scanned. Run by the background pass (`Platform::warm_event_caches`).
    pub fn warm_cache(&self, account: &str) -> Result<()> {
        let utc = chrono_tz::UTC;
        let now = self.clock.now_ms();
        let back = WARM_DAYS.min(u64::from(self.retention(account)?.days));
        let to = local_date(utc, now);
        let from = local_date(utc, now.saturating_sub(back * DAY_MS));
        self.tally(account, &Days::new(utc, from, to)?, true)
            .map(drop)
    }

    /// How many buckets of the account are cached, and how many late marks wait.
    pub fn cache_stats(&self, account: &str) -> Result<CacheStats> {
        self.cache.stats(account)
    }

    /// Counts per day by header key: cached buckets where possible, the rest scanned (and the
    /// closed buckets among it cached).
    fn tally(&self, account: &str, days: &Days, use_cache: bool) -> Result<Vec<Counts>> {
        let mut per_day: Vec<Counts> = vec![Counts::new(); days.len()];
        let (lo, hi) = (days.starts[0], days.starts[days.len()]);
        if !use_cache {
            self.scan(account, lo, hi, days, &mut per_day, &mut [])?;
            return Ok(per_day);
        }
        let now = self.clock.now_ms();
        let closed_end = bucket_of(now.saturating_sub(CACHE_AFTER));
        // Read before anything is counted: pruning after this point makes the fills void.
        let epoch = self.cache.state.get(&epoch_key(account))?;
        // Everything before `pos` is counted.
        let mut pos = lo;
        let mut fills: Vec<Fill> = Vec::new();
        for day in 0..days.len() {
            let (ds, de) = (days.starts[day], days.starts[day + 1]);
            let (first, end) = (ceil_bucket(ds), bucket_of(de).min(closed_end));
            if first >= end {
                continue;
            }
            let (k0, k1) = (bucket_key(account, first), bucket_key(account, end));
            let base = k0.len() - 13;
            let mut records: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            for (k, v) in self.cache.buckets.range(&k0, &k1, usize::MAX)? {
                if let Some(b) = parse_at(k.get(base..)) {
                    records.insert(b, v);
                }
            }
            let mut marks: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
            for k in self
                .cache
                .marks
                .range(&k0, &k1, usize::MAX)?
                .into_iter()
                .map(|(k, _)| k)
            {
                if let Some(b) = parse_at(k.get(base..base + 13)) {
                    marks.entry(b).or_default().push(k);
                }
            }
            let mut b = first;
            while b < end {
                let record = records.remove(&b);
                let marks = marks.remove(&b).unwrap_or_default();
                let cached = record
                    .as_deref()
                    .filter(|_| marks.is_empty())
                    .and_then(decode_record);
                match cached {
                    Some(pairs) => {
                        if pos < b {
                            self.scan(account, pos, b, days, &mut per_day, &mut fills)?;
                            self.store_fills(account, &epoch, &mut fills, now)?;
                        }
                        for (k, n) in pairs {
                            add(&mut per_day[day], k, n);
                        }
                        pos = b + BUCKET_MS;
                    }
                    None => {
                        fills.push(Fill {
                            start: b,
                            seen: record,
                            marks,
                            counts: Counts::new(),
                        });
                        // Bounded memory on a cold cache: count and store as we go.
                        if fills.len() >= FILL_CHUNK {
                            self.scan(account, pos, b + BUCKET_MS, days, &mut per_day, &mut fills)?;
                            self.store_fills(account, &epoch, &mut fills, now)?;
                            pos = b + BUCKET_MS;
                        }
                    }
                }
                b += BUCKET_MS;
            }
        }
        if pos < hi {
            self.scan(account, pos, hi, days, &mut per_day, &mut fills)?;
        }
        self.store_fills(account, &epoch, &mut fills, now)?;
        Ok(per_day)
    }

    /// Adds every entry with `from <= at < to` to its day, and to its bucket's fill if it has
    /// one (`fills` in time order, all within the range).
    fn scan(
        &self,
        account: &str,
        from: u64,
        to: u64,
        days: &Days,
        per_day: &mut [Counts],
        fills: &mut [Fill],
    ) -> Result<()> {
        let base = prefix(&[account]).len();
        let mut start = time_key(account, from);
        let end = time_key(account, to);
        let mut day = days.day_from(0, from);
        let mut fill = 0;
        while start < end {
            let batch = self.tree.range(&start, &end, CHUNK)?;
            let Some((last, _)) = batch.last() else { break };
            let next_start = after(last.clone());
            for (k, v) in &batch {
                let (Some(at), Some(hk)) = (parse_at(k.get(base..base + 13)), header_key(v)) else {
                    continue;
                };
                day = days.day_from(day, at);
                add(&mut per_day[day], hk, 1);
                while fill < fills.len() && fills[fill].start + BUCKET_MS <= at {
                    fill += 1;
                }
                if let Some(f) = fills.get_mut(fill).filter(|f| f.start <= at) {
                    add(&mut f.counts, hk, 1);
                }
            }
            start = next_start;
        }
        Ok(())
    }

    /// Caches the counted fills (compare-and-set against what was seen before counting, nothing
    /// if pruning ran meanwhile) and empties `fills`. A cache write is not awaited durable: a
    /// record lost in a crash is counted again, and one recovered comes after the entries it
    /// counted in the log (sled recovers a prefix).
    fn store_fills(
        &self,
        account: &str,
        epoch: &Option<Vec<u8>>,
        fills: &mut Vec<Fill>,
        now: u64,
    ) -> Result<()> {
        if fills.is_empty() {
            return Ok(());
        }
        // Raised before any record exists, so every later append into a cached bucket is late.
        self.cache.high_water.fetch_max(now, Ordering::AcqRel);
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = fills
            .iter()
            .map(|f| (bucket_key(account, f.start), encode_record(&f.counts)))
            .collect();
        let cache = &self.cache;
        for (chunk, enc) in fills.chunks(FILL_CHUNK).zip(encoded.chunks(FILL_CHUNK)) {
            self.store
                .write(|tx| {
                    if tx.get(&cache.state, &epoch_key(account))? != *epoch {
                        return Ok(());
                    }
                    for (f, (k, record)) in chunk.iter().zip(enc) {
                        if tx.get(&cache.buckets, k)? != f.seen {
                            continue;
                        }
                        tx.put_bytes(&cache.buckets, k, record)?;
                        for m in &f.marks {
                            tx.delete(&cache.marks, m)?;
                        }
                    }
                    if read_u64(tx.get(&cache.state, HIGH_WATER)?) < now {
                        tx.put_bytes(&cache.state, HIGH_WATER, &now.to_be_bytes())?;
                    }
                    Ok(())
                })?
                .detach();
        }
        fills.clear();
        Ok(())
    }
}

impl Platform {
    /// Warms every account's daily-aggregate cache ([`EventLog::warm_cache`]); an account that
    /// fails is logged and skipped.
    pub fn warm_event_caches(&self) -> Result<()> {
        for account in self.accounts.list()? {
            if let Err(e) = self.events.warm_cache(&account.id) {
                tracing::warn!(account = %account.id, error = %e, "warming the event cache failed");
            }
        }
        Ok(())
    }
}

/// A header key's kind and sub-kind; `None` for a kind this version does not know.
fn split_key(k: &[u8]) -> Option<(EventKind, &[u8])> {
    Some((EventKind::from_code(*k.first()?)?, k.get(2..)?))
}

fn rows(days: &Days, per_day: &[Counts], kinds: &[KindSelector]) -> Vec<DayCount> {
    let mut out = Vec::new();
    for (date, counts) in days.dates.iter().zip(per_day) {
        let date = date.format("%Y-%m-%d").to_string();
        let mut day: Vec<DayCount> = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(k, n)| {
                let (kind, sub) = split_key(k)?;
                KindSelector::any(kinds, kind, sub).then(|| {
                    let sub = String::from_utf8_lossy(sub).into_owned();
                    DayCount {
                        date: date.clone(),
                        kind: kind_string(kind, &sub).to_string(),
                        sub_kind: sub,
                        count: *n,
                    }
                })
            })
            .collect();
        day.sort();
        out.extend(day);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ev, log_at};
    use super::*;
    use crate::events::query::parse_timezone;

    /// 2024-05-01T00:00:00Z.
    const B: u64 = 1_714_521_600_000;
    const MIN: u64 = 60_000;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn total(rows: &[DayCount]) -> u64 {
        rows.iter().map(|r| r.count).sum()
    }

    #[test]
    fn records_round_trip_and_bad_ones_are_counted_again() {
        let mut c = Counts::new();
        add(&mut c, &[4, 3, b'a', b'.', b'b'], 7);
        add(&mut c, b"\x01\x04text", 1);
        add(&mut c, b"\x01\x04text", 2);
        let r = encode_record(&c);
        let back: Counts = decode_record(&r)
            .unwrap()
            .into_iter()
            .map(|(k, n)| (k.to_vec(), n))
            .collect();
        assert_eq!(back, c);
        assert_eq!(back[&b"\x01\x04text"[..]], 3);
        assert_eq!(
            decode_record(&[RECORD_V1]).unwrap(),
            vec![],
            "an empty bucket"
        );
        assert!(decode_record(&[2]).is_none(), "an unknown version");
        assert!(decode_record(&r[..r.len() - 1]).is_none(), "truncated");
        assert!(decode_record(&[]).is_none());
    }

    /// Writes an entry every `every` ms from `from` for `n` entries, the clock following.
    fn fill_log(
        log: &EventLog,
        clock: &crate::platform::ManualClock,
        from: u64,
        every: u64,
        n: u64,
    ) {
        for i in 0..n {
            let at = from + i * every;
            clock.set(at);
            let (kind, sub) = match i % 4 {
                0 => (EventKind::InboundMessage, "text"),
                1 => (EventKind::Plugin, "ads.click"),
                2 => (EventKind::HttpOutbound, "api.example.com"),
                _ => (EventKind::Delivery, "reply"),
            };
            log.append("a", &ev(at, i, kind, "o", sub)).unwrap();
        }
    }

    #[test]
    fn closed_buckets_are_served_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (log, clock) = log_at(dir.path(), B);
        fill_log(&log, &clock, B, 7 * MIN, 24 * 60 / 7 + 1);
        clock.set(B + 2 * DAY_MS);
        let utc = parse_timezone("UTC").unwrap();
        let day =
            |log: &EventLog| log.daily_counts("a", utc, d("2024-05-01"), d("2024-05-01"), &[]);
        let first = day(&log).unwrap();
        assert_eq!(total(&first), 24 * 60 / 7 + 1);
        assert_eq!(
            log.cache_stats("a").unwrap(),
            CacheStats {
                buckets: 96,
                marks: 0
            }
        );
        // An entry removed behind the cache's back (no pruning pass, which would invalidate):
        // the cached answer still counts it, a scan does not — so the answer came from the cache.
        let first_key = log.tree.keys(&prefix(&["a"]), None, 1).unwrap().remove(0);
        log.store
            .write(|tx| tx.delete(&log.tree, &first_key))
            .unwrap()
            .detach();
        assert_eq!(day(&log).unwrap(), first);
        let scanned = log
            .daily_counts_by_scan("a", utc, d("2024-05-01"), d("2024-05-01"), &[])
            .unwrap();
        assert_eq!(total(&scanned), total(&first) - 1);
    }

    #[test]
    fn fills_are_compare_and_set_and_void_after_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _clock) = log_at(dir.path(), B + 2 * DAY_MS);
        let now = B + 2 * DAY_MS;
        let fill = |n: u64, seen: Option<Vec<u8>>| {
            let mut counts = Counts::new();
            add(&mut counts, b"\x01\x04text", n);
            vec![Fill {
                start: B,
                seen,
                marks: Vec::new(),
                counts,
            }]
        };
        let record = |log: &EventLog| log.cache.buckets.get(&bucket_key("a", B)).unwrap();
        // A pruning unit of work between reading the epoch and storing: nothing is stored.
        let epoch = log.cache.state.get(&epoch_key("a")).unwrap();
        log.store
            .write(|tx| log.cache.invalidate_in(tx, "a"))
            .unwrap()
            .detach();
        log.store_fills("a", &epoch, &mut fill(1, None), now)
            .unwrap();
        assert_eq!(record(&log), None);
        // With the epoch unchanged it is.
        let epoch = log.cache.state.get(&epoch_key("a")).unwrap();
        log.store_fills("a", &epoch, &mut fill(1, None), now)
            .unwrap();
        let stored = record(&log).unwrap();
        // A fill that saw no record does not overwrite one stored meanwhile.
        log.store_fills("a", &epoch, &mut fill(2, None), now)
            .unwrap();
        assert_eq!(record(&log), Some(stored.clone()));
        // One that saw the current record replaces it.
        log.store_fills("a", &epoch, &mut fill(3, Some(stored)), now)
            .unwrap();
        let pairs = decode_record(&record(&log).unwrap())
            .unwrap()
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>();
        assert_eq!(pairs, vec![3]);
        // The time it cached at is kept: a restart still marks appends into cached buckets.
        assert_eq!(log.cache.high_water.load(Ordering::Acquire), now);
        assert_eq!(read_u64(log.cache.state.get(HIGH_WATER).unwrap()), now);
    }

    #[test]
    fn day_boundaries_off_the_quarter_hour_are_scanned() {
        // Africa/Monrovia was UTC−0:44:30 until 1972: its midnights fall inside buckets.
        let monrovia = parse_timezone("Africa/Monrovia").unwrap();
        let t0 = 44_668_800_000; // 1971-06-02T00:00:00Z
        let dir = tempfile::tempdir().unwrap();
        let (log, clock) = log_at(dir.path(), t0);
        let n = 3 * 24 * 60 / 7;
        fill_log(&log, &clock, t0, 7 * MIN, n);
        clock.set(t0 + 10 * DAY_MS);
        let (from, to) = (d("1971-06-02"), d("1971-06-04"));
        let cached = log.daily_counts("a", monrovia, from, to, &[]).unwrap();
        // Known answer: each entry's local date.
        let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
        for i in 0..n {
            let date = local_date(monrovia, t0 + i * 7 * MIN);
            if (from..=to).contains(&date) {
                *per_day.entry(date.to_string()).or_default() += 1;
            }
        }
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for r in &cached {
            *got.entry(r.date.clone()).or_default() += r.count;
        }
        assert_eq!(got, per_day);
        // Local June 2 is [00:44:30Z, 00:44:30Z next day): the entries at minutes 49 to 1484.
        assert_eq!(got["1971-06-02"], 206, "{got:?}");
        // Each local day [00:44:30, 00:44:30 next day) holds 95 whole quarter-hours; the ones
        // across local midnight are scanned, never cached.
        assert_eq!(log.cache_stats("a").unwrap().buckets, 3 * 95);
        assert_eq!(
            log.daily_counts("a", monrovia, from, to, &[]).unwrap(),
            cached
        );
        assert_eq!(
            log.daily_counts_by_scan("a", monrovia, from, to, &[])
                .unwrap(),
            cached
        );
    }
}
