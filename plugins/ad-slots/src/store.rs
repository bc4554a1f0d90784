//! Storage layout and the operations on it that touch the host (see README "Storage").

use std::collections::{BTreeSet, HashMap};

use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Error, Result, followers, log};

use crate::model::{Ad, Config};
use crate::select::{CHUNK, Counters, Entry, segment_id, sort};

/// Milliseconds since the epoch from the instance's wall clock (WASI).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `n` random bytes from the host (WASI random).
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// The key that signs tracking tokens: this installation's own, created on first use.
pub fn tracking_key() -> Result<plaza_sdk::signing::Key> {
    plaza_sdk::signing::Key::installation("tracking-key")
}

/// A counter's value (absent = 0).
pub fn counter(key: &str) -> Result<i64> {
    Ok(storage::get_string(key)?
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0))
}

/// Reads the counters a decision needs, one key per candidate.
pub struct StoreCounters;

impl Counters for StoreCounters {
    fn in_segment(&mut self, segment: &str, openid: &str) -> Result<bool> {
        Ok(storage::get(&format!("seg:{segment}:m:{openid}"))?.is_some())
    }
    fn spent(&mut self, ad: &str) -> Result<i64> {
        Ok(-counter(&format!("neg:{ad}"))?)
    }
    fn spent_on(&mut self, ad: &str, day: &str) -> Result<i64> {
        Ok(-counter(&format!("dneg:{ad}:{day}"))?)
    }
    fn seen_on(&mut self, ad: &str, openid: &str, day: &str) -> Result<u32> {
        Ok(counter(&format!("freq:{day}:{ad}:{openid}"))?.max(0) as u32)
    }
}

/// Index metadata: how many chunks `index:{n}` there are.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct IndexMeta {
    pub chunks: usize,
    pub ads: usize,
    pub built_at: u64,
}

/// Rebuilds the compact inventory index from every stored ad (and their click-through
/// counters): on every ad change and by the hourly refresh job (CTR moves the CPC ranks).
pub fn rebuild_index(config: &Config, now: u64) -> Result<IndexMeta> {
    let mut stats: HashMap<String, (u64, u64)> = HashMap::new();
    for entry in storage::scan_prefix("adstat:") {
        let entry = entry?;
        let n: u64 = String::from_utf8_lossy(&entry.value)
            .trim()
            .parse()
            .unwrap_or(0);
        if let Some((id, metric)) = entry.key["adstat:".len()..].rsplit_once(':') {
            let s = stats.entry(id.to_string()).or_default();
            match metric {
                "imp" => s.0 = n,
                "clk" => s.1 = n,
                _ => {}
            }
        }
    }
    let mut entries = Vec::new();
    for item in storage::scan_prefix_json::<Ad>("ad:") {
        let (_, ad) = item?;
        if !ad.active {
            continue;
        }
        let (imp, clk) = stats.get(&ad.id).copied().unwrap_or((0, 0));
        let e = Entry::from_ad(&ad, clk, imp, config);
        if e.live(now) {
            entries.push(e);
        }
    }
    sort(&mut entries);
    let old: IndexMeta = storage::get_json("index:meta")?.unwrap_or_default();
    let chunks: Vec<&[Entry]> = entries.chunks(CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        storage::set_json(&format!("index:{i}"), chunk)?;
    }
    let meta = IndexMeta {
        chunks: chunks.len(),
        ads: entries.len(),
        built_at: now,
    };
    storage::set_json("index:meta", &meta)?;
    for i in meta.chunks..old.chunks {
        storage::delete(&format!("index:{i}"))?;
    }
    Ok(meta)
}

/// Stores the current members of a segment expression under `seg:{id}:m:{openid}` (and drops
/// those who left). The host has no "does follower X match S" call; materialising on ad save and
/// hourly keeps the decision to one key read. An invalid expression fails with the host's
/// `invalid` error, naming the problem.
pub fn materialise_segment(expression: &str) -> Result<usize> {
    let id = segment_id(expression);
    let mut members = BTreeSet::new();
    for follower in followers::list_all(Some(expression)) {
        members.insert(follower?.openid);
    }
    let prefix = format!("seg:{id}:m:");
    let mut stale = Vec::new();
    for entry in storage::scan_prefix(&prefix) {
        let entry = entry?;
        let openid = &entry.key[prefix.len()..];
        if !members.remove(openid) {
            stale.push(Write::delete(entry.key.clone()));
        }
    }
    let count_new = members.len();
    let mut writes: Vec<Write> = members
        .into_iter()
        .map(|o| Write::set(format!("{prefix}{o}"), "1"))
        .collect();
    writes.extend(stale);
    writes.push(Write::set(format!("seg:{id}:expr"), expression));
    for chunk in writes.chunks(500) {
        storage::batch(&[], chunk)?;
    }
    Ok(count_new)
}

/// Re-materialises every segment used by a stored ad.
pub fn refresh_segments() -> Result<()> {
    let mut expressions = BTreeSet::new();
    for item in storage::scan_prefix_json::<Ad>("ad:") {
        let (_, ad) = item?;
        if let Some(s) = ad.targeting.segment {
            expressions.insert(s);
        }
    }
    for e in expressions {
        if let Err(err) = materialise_segment(&e) {
            log::warn(format!("segment {e:?} not refreshed: {}", err.display()));
        }
    }
    Ok(())
}

/// Deletes de-duplication markers of days older than `keep_days` before `today` (they can no
/// longer be used: tokens expire within `token_ttl_hours` ≤ 7 days).
pub fn prune_markers(days_to_keep: &BTreeSet<String>) -> Result<usize> {
    let mut gone = Vec::new();
    for entry in storage::scan_prefix("seen:") {
        let entry = entry?;
        let day = entry.key["seen:".len()..].split(':').next().unwrap_or("");
        if !days_to_keep.contains(day) {
            gone.push(Write::delete(entry.key.clone()));
        }
    }
    let n = gone.len();
    for chunk in gone.chunks(500) {
        storage::batch(&[], chunk)?;
    }
    Ok(n)
}

/// Applies `writes` only if every check holds: `Ok(None)` when applied, `Ok(Some(i))` naming
/// the first failed check.
pub fn apply(checks: &[Check], writes: &[Write]) -> Result<Option<u32>> {
    match storage::batch(checks, writes)? {
        BatchOutcome::Applied => Ok(None),
        BatchOutcome::CheckFailed(i) => Ok(Some(i)),
    }
}
