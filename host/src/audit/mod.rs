//! The audit log: every change made through the admin API, the CLI or the console — who (the
//! token, or the bootstrap admin), what (method, route template, path, account, answer status),
//! when, from where (peer address, and `via`: api, cli or console), and what changed (`before`
//! and `after`). Recorded by the `/api/v1` middleware `api::audit::record`; reads are not
//! recorded.
//!
//! Secrets never reach the log: every JSON value is passed through [`redact`] (keys named in
//! [`SECRET_KEYS`] become `"[redacted]"`, at any depth) and bounded by [`bound`] to
//! [`MAX_SIDE_BYTES`] per side; raw uploads (plugin components, media) are described by size and
//! content type only.
//!
//! Storage: table `audit`, key = the record id `{at:013}-{seq:020}` (time first, as the event
//! log's ids), so a listing is one ordered scan. Retention: records older than
//! [`RETENTION_DAYS`] and beyond the newest [`MAX_RECORDS`] are pruned, a small batch on every
//! write (no background task to schedule; a write removes at most [`PRUNE_BATCH`]).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PlazaError, Result};
use crate::events::DAY_MS;
use crate::platform::Ids;
use crate::storage::{Json, Store, Table};

/// JSON keys whose values are secrets, matched exactly (case-insensitively).
pub const SECRET_KEYS: &[&str] = &[
    "secret",
    "token",
    "encoding_aes_key",
    "password",
    "ingress_key",
    "key",
    "app_secret",
    "appsecret",
    "access_token",
    "client_secret",
    "link_key",
];
/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Largest `before` or `after` kept, in bytes of JSON text.
pub const MAX_SIDE_BYTES: usize = 16 * 1024;
/// Records older than this are pruned.
pub const RETENTION_DAYS: u64 = 180;
/// At most this many records are kept.
pub const MAX_RECORDS: usize = 100_000;
/// Records removed per write, at most (so that a write's cost stays small).
const PRUNE_BATCH: usize = 64;
/// Largest page of a listing.
pub const MAX_LIMIT: usize = 1000;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// `bootstrap` (the admin token given at start) or `token`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: String,
    /// Milliseconds since the epoch.
    pub at: u64,
    pub actor: Actor,
    /// `api`, `cli` or `console`.
    pub via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub method: String,
    /// The route template, relative to `/api/v1` (`/accounts/{account}/menu`).
    pub route: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Which records a listing returns; every field narrows it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    pub account: Option<String>,
    /// A token id, or `bootstrap`.
    pub actor: Option<String>,
    /// A route template (`/accounts/{account}/menu`) or a prefix of one ending in `*`.
    pub route: Option<String>,
    /// Start (inclusive), ms since the epoch.
    pub from: Option<u64>,
    /// End (exclusive), ms since the epoch.
    pub to: Option<u64>,
    /// The id of the last record of the previous page (listings are oldest first, like the event
    /// log's).
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

impl AuditFilter {
    fn matches(&self, r: &AuditRecord) -> bool {
        let actor_id = r.actor.id.as_deref().unwrap_or(r.actor.kind.as_str());
        self.account
            .as_ref()
            .is_none_or(|a| r.account.as_deref() == Some(a.as_str()))
            && self.actor.as_ref().is_none_or(|a| a == actor_id)
            && self
                .route
                .as_ref()
                .is_none_or(|t| match t.strip_suffix('*') {
                    Some(prefix) => r.route.starts_with(prefix),
                    None => &r.route == t,
                })
            && self.from.is_none_or(|f| r.at >= f)
            && self.to.is_none_or(|t| r.at < t)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Replaces the value of every key named in [`SECRET_KEYS`] by [`REDACTED`], at any depth
/// (objects inside arrays included).
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `value` redacted, and if its JSON text is longer than `max` bytes, replaced by
/// `{"truncated": true, "bytes": <full length>, "text": <the first bytes of the text>}`.
pub fn bound(mut value: Value, max: usize) -> Value {
    redact(&mut value);
    let text = value.to_string();
    if text.len() <= max {
        return value;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    serde_json::json!({"truncated": true, "bytes": text.len(), "text": &text[..cut]})
}

pub struct AuditLog {
    store: Arc<Store>,
    ids: Arc<Ids>,
    /// Record id → record.
    records: Table<Json<AuditRecord>>,
    /// How many records the table holds (counted at open, kept by [`AuditLog::append`]), for
    /// the [`MAX_RECORDS`] bound without a scan per write.
    count: Mutex<usize>,
}

impl AuditLog {
    pub fn new(store: Arc<Store>, ids: Arc<Ids>) -> Result<Self> {
        let records: Table<Json<AuditRecord>> = store.table("audit")?;
        let count = records.keys(&[], None, usize::MAX)?.len();
        Ok(AuditLog {
            records,
            store,
            ids,
            count: Mutex::new(count),
        })
    }

    /// A new record id for time `at`: sorts by time, then by issue order.
    pub fn next_id(&self, at: u64) -> String {
        format!("{at:013}-{}", self.ids.next(""))
    }

    /// Appends `record` (its id from [`AuditLog::next_id`]) and prunes a batch of records past
    /// retention, in one unit of work. Returns once the record is durable, so that a change the
    /// caller has been told about is never missing from the log after a crash.
    pub async fn append(&self, record: &AuditRecord) -> Result<()> {
        let cutoff = format!("{:013}", record.at.saturating_sub(RETENTION_DAYS * DAY_MS));
        let oldest = self.records.keys(&[], None, PRUNE_BATCH)?;
        let pending = {
            // One append at a time, so that the count stays exact.
            let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
            let over = (*count + 1).saturating_sub(MAX_RECORDS);
            let prune: Vec<&Vec<u8>> = oldest
                .iter()
                .enumerate()
                .filter(|(i, k)| *i < over || k.as_slice() < cutoff.as_bytes())
                .map(|(_, k)| k)
                .collect();
            let mut removed = 0;
            let pending = self.store.write(|tx| {
                removed = 0;
                for k in &prune {
                    if tx.delete(&self.records, k)? {
                        removed += 1;
                    }
                }
                tx.put(&self.records, record.id.as_bytes(), record)
            })?;
            *count = (*count + 1).saturating_sub(removed);
            pending
        };
        pending.durable().await
    }

    /// Records matching `filter`, oldest first, one page at a time.
    pub fn list(&self, filter: &AuditFilter) -> Result<AuditPage> {
        let limit = filter.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
        if let (Some(f), Some(t)) = (filter.from, filter.to)
            && f > t
        {
            return Err(PlazaError::Invalid(format!("from ({f}) is after to ({t})")));
        }
        // Ids start with the time, so `from` is where the scan starts.
        let mut after: Option<Vec<u8>> = match (&filter.cursor, filter.from) {
            (Some(c), _) => Some(c.as_bytes().to_vec()),
            (None, Some(f)) => Some(format!("{f:013}").into_bytes()),
            (None, None) => None,
        };
        let mut records = Vec::new();
        loop {
            let batch = self.records.scan(&[], after.as_deref(), 256)?;
            let Some((last, _)) = batch.last() else {
                return Ok(AuditPage {
                    records,
                    next_cursor: None,
                });
            };
            after = Some(last.clone());
            for (_, record) in batch {
                if filter.to.is_some_and(|t| record.at >= t) {
                    return Ok(AuditPage {
                        records,
                        next_cursor: None,
                    });
                }
                if !filter.matches(&record) {
                    continue;
                }
                if records.len() == limit {
                    let next_cursor = records.last().map(|r: &AuditRecord| r.id.clone());
                    return Ok(AuditPage {
                        records,
                        next_cursor,
                    });
                }
                records.push(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_in_arrays() {
        let mut v = json!({
            "app_id": "wx1",
            "secret": "s3cret",
            "nested": {"token": "t", "encoding_aes_key": "k", "keep": 1, "Password": "p"},
            "list": [{"ingress_key": "i", "name": "n"}, [{"key": "x"}], "plain"],
            "keys": ["not", "a", "secret"],
        });
        redact(&mut v);
        assert_eq!(
            v,
            json!({
                "app_id": "wx1",
                "secret": REDACTED,
                "nested": {"token": REDACTED, "encoding_aes_key": REDACTED, "keep": 1, "Password": REDACTED},
                "list": [{"ingress_key": REDACTED, "name": "n"}, [{"key": REDACTED}], "plain"],
                "keys": ["not", "a", "secret"],
            })
        );
    }

    #[test]
    fn large_sides_are_truncated_with_a_marker_and_still_redacted() {
        let small = bound(json!({"a": 1, "token": "t"}), MAX_SIDE_BYTES);
        assert_eq!(small, json!({"a": 1, "token": REDACTED}));
        let big = bound(
            json!({"secret": "zzzz-secret", "text": "é".repeat(20_000)}),
            MAX_SIDE_BYTES,
        );
        assert_eq!(big["truncated"], true);
        assert!(big["bytes"].as_u64().unwrap() > MAX_SIDE_BYTES as u64);
        let text = big["text"].as_str().unwrap();
        assert!(text.len() <= MAX_SIDE_BYTES);
        assert!(!big.to_string().contains("zzzz-secret"));
    }

    fn record(log: &AuditLog, at: u64, account: Option<&str>, actor: &str) -> AuditRecord {
        AuditRecord {
            id: log.next_id(at),
            at,
            actor: Actor {
                kind: "token".into(),
                id: Some(actor.into()),
                name: None,
                role: "admin".into(),
            },
            via: "api".into(),
            peer: None,
            method: "PUT".into(),
            route: "/accounts/{account}/menu".into(),
            path: "/accounts/a/menu".into(),
            account: account.map(str::to_string),
            status: 200,
            before: None,
            after: None,
        }
    }

    #[tokio::test]
    async fn listings_are_in_time_order_filtered_paged_and_old_records_pruned() {
        let (_tmp, _f, store) = crate::storage::testing::faulty_store();
        let log = AuditLog::new(store, Arc::new(Ids::new(0))).unwrap();
        let day0 = 1_700_000_000_000;
        log.append(&record(&log, day0, Some("a"), "t1"))
            .await
            .unwrap();
        for i in 1..=5 {
            let acc = if i % 2 == 0 { "a" } else { "b" };
            log.append(&record(&log, day0 + i, Some(acc), "t2"))
                .await
                .unwrap();
        }
        let all = log.list(&AuditFilter::default()).unwrap();
        let ats: Vec<u64> = all.records.iter().map(|r| r.at - day0).collect();
        assert_eq!(ats, vec![0, 1, 2, 3, 4, 5]);
        let only_a = log
            .list(&AuditFilter {
                account: Some("a".into()),
                ..Default::default()
            })
            .unwrap();
        let ats: Vec<u64> = only_a.records.iter().map(|r| r.at - day0).collect();
        assert_eq!(ats, vec![0, 2, 4]);
        let first = log
            .list(&AuditFilter {
                actor: Some("t2".into()),
                limit: Some(2),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(first.records.len(), 2);
        let next = log
            .list(&AuditFilter {
                actor: Some("t2".into()),
                limit: Some(2),
                cursor: first.next_cursor.clone(),
                ..Default::default()
            })
            .unwrap();
        let ats: Vec<u64> = next.records.iter().map(|r| r.at - day0).collect();
        assert_eq!(ats, vec![3, 4]);
        let window = log
            .list(&AuditFilter {
                from: Some(day0 + 1),
                to: Some(day0 + 3),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(window.records.len(), 2);
        // A record written past the retention of the first ones prunes them.
        let later = day0 + RETENTION_DAYS * DAY_MS + 3;
        log.append(&record(&log, later, None, "t3")).await.unwrap();
        let ats: Vec<u64> = log
            .list(&AuditFilter::default())
            .unwrap()
            .records
            .iter()
            .map(|r| r.at - day0)
            .collect();
        assert_eq!(ats, vec![3, 4, 5, later - day0]);
    }
}
