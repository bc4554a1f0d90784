//! Storage layout (host calls):
//! * `peer:<id>` — a [`Peer`];
//! * `month:<peer>:<YYYY-MM>` — the peer's articles of that month (a [`Month`] blob: a report
//!   reads one key per peer and month instead of one per article);
//! * `sync:last` — the last provider sync ([`SyncStatus`]);
//! * `report:<YYYY-MM-DD>` — the weekly report of the week starting that Monday ([`Stored`]).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use plaza_sdk::Error;
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use serde::{Deserialize, Serialize};

use crate::analysis::{Range, Report};
use crate::keywords::Segmenter;
use crate::metrics::{self, Article, DATE_FORMAT, MetricRow};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Month {
    pub articles: Vec<Article>,
}

pub fn peer_key(id: &str) -> String {
    format!("peer:{id}")
}

fn month_key(peer: &str, year: i32, month: u32) -> String {
    format!("month:{peer}:{year:04}-{month:02}")
}

pub fn get_peer(id: &str) -> Result<Option<Peer>, Error> {
    storage::get_json(&peer_key(id))
}

pub fn peers() -> Result<Vec<Peer>, Error> {
    storage::scan_prefix_json::<Peer>("peer:")
        .map(|r| r.map(|(_, p)| p))
        .collect()
}

/// Deletes a peer and all its stored articles.
pub fn delete_peer(id: &str) -> Result<bool, Error> {
    let keys: Vec<String> = storage::scan_prefix(&format!("month:{id}:"))
        .map(|e| e.map(|e| e.key))
        .collect::<Result<_, _>>()?;
    for k in keys {
        storage::delete(&k)?;
    }
    storage::delete(&peer_key(id))
}

/// What an upload did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stored {
    /// Rows stored (new or replacing).
    pub stored: usize,
    /// Rows that replaced an article stored before (same url, or same date and title).
    pub replaced: usize,
}

/// Most peer-months one upload may touch: all of them are written in one atomic batch.
pub const MAX_MONTHS_PER_UPLOAD: usize = 64;

/// Stores validated rows all-or-nothing: every affected month blob is rewritten in one
/// [`storage::batch`] whose checks are the blobs as read (a concurrent upload makes it retry).
pub fn store_rows(rows: Vec<MetricRow>, segmenter: &Segmenter) -> Result<Stored, Error> {
    let mut groups: BTreeMap<String, Vec<Article>> = BTreeMap::new();
    for r in rows {
        let article = Article {
            date: r.date.format(DATE_FORMAT).to_string(),
            keywords: segmenter.keywords(&r.title),
            title: r.title,
            reads: r.reads,
            likes: r.likes,
            shares: r.shares,
            url: r.url,
        };
        groups
            .entry(month_key(&r.peer, r.date.year(), r.date.month()))
            .or_default()
            .push(article);
    }
    if groups.len() > MAX_MONTHS_PER_UPLOAD {
        return Err(Error::too_large(format!(
            "this upload spans {} peer-months; at most {MAX_MONTHS_PER_UPLOAD} are stored at once: split it (e.g. by peer or by year)",
            groups.len()
        )));
    }
    for _ in 0..storage::UPDATE_ATTEMPTS {
        let mut checks = Vec::new();
        let mut writes = Vec::new();
        let mut done = Stored::default();
        for (key, incoming) in &groups {
            let current = storage::get(key)?;
            let mut month: Month = match &current {
                Some(bytes) => serde_json::from_slice(bytes).map_err(|e| {
                    Error::internal(format!("stored {key:?} is not the expected JSON: {e}"))
                })?,
                None => Month::default(),
            };
            done.stored += incoming.len();
            done.replaced += metrics::merge(&mut month.articles, incoming.clone());
            let encoded = serde_json::to_vec(&month)
                .map_err(|e| Error::internal(format!("cannot encode {key:?}: {e}")))?;
            checks.push(match current {
                Some(bytes) => Check::equals(key.clone(), bytes),
                None => Check::absent(key.clone()),
            });
            writes.push(Write::set(key.clone(), encoded));
        }
        match storage::batch(&checks, &writes)? {
            BatchOutcome::Applied => return Ok(done),
            BatchOutcome::CheckFailed(_) => continue,
        }
    }
    Err(Error::conflict(
        "the peer's metrics kept changing during this upload; try again",
    ))
}

/// A peer's stored articles in the months that overlap `range` (unfiltered by day).
pub fn articles(peer: &str, range: Range) -> Result<Vec<Article>, Error> {
    let mut out = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(range.from.year(), range.from.month(), 1)
        .ok_or_else(|| Error::internal("bad month"))?;
    while month <= range.to {
        if let Some(m) = storage::get_json::<Month>(&month_key(peer, month.year(), month.month()))?
        {
            out.extend(m.articles);
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| Error::internal("bad month"))?;
    }
    Ok(out)
}

/// The outcome of one provider sync, per peer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    /// When it ran (ms since the epoch).
    pub at: u64,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// Set when the sync could not start (no provider configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub peers: Vec<PeerSync>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerSync {
    pub peer: String,
    pub ok: bool,
    pub stored: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Row errors of the provider's answer (nothing of it was stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<metrics::RowError>,
}

pub const SYNC_KEY: &str = "sync:last";

/// A weekly report as stored and listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredReport {
    /// The Monday of the reported week (its id).
    pub week: String,
    pub created_at: u64,
    pub text: String,
    pub report: serde_json::Value,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub openid: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn report_key(week: &str) -> String {
    format!("report:{week}")
}

pub fn save_report(r: &StoredReport) -> Result<(), Error> {
    storage::set_json(&report_key(&r.week), r)
}

pub fn get_report(week: &str) -> Result<Option<StoredReport>, Error> {
    storage::get_json(&report_key(week))
}

/// Stored weekly reports, newest first.
pub fn reports() -> Result<Vec<StoredReport>, Error> {
    let mut all: Vec<StoredReport> = storage::scan_prefix_json::<StoredReport>("report:")
        .map(|r| r.map(|(_, v)| v))
        .collect::<Result<_, _>>()?;
    all.reverse();
    Ok(all)
}

/// The report as JSON for storage.
pub fn report_json(r: &Report) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}
