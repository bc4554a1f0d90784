//! Per-installation key/value data for plugins: namespaced, bounded, durable.
//!
//! A plugin's keys live under `(account, plugin)`; the namespace is chosen by the host from the call
//! context, never by the plugin, so no plugin or account can reach another's data.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::backend::prefix;
use super::{Bytes, Json, Pending, Store, Table, Tx};
use crate::error::{PlazaError, Result};

/// Bounds on what one installation may store.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_keys: u64,
    pub max_total_bytes: u64,
    pub max_list: u32,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_keys: 100_000,
            max_total_bytes: 64 << 20,
            max_list: 1000,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct KvUsage {
    pub keys: u64,
    pub bytes: u64,
}

/// One page of a prefix listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPage {
    pub items: Vec<(String, Vec<u8>)>,
    pub next_cursor: Option<String>,
}

/// The namespace of one installation: all calls are relative to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvNamespace {
    pub account: String,
    pub plugin: String,
}

pub struct PluginKv {
    store: Arc<Store>,
    data: Table<Bytes>,
    /// Per installation: `ns prefix` → what it holds. Written in the same unit of work as every
    /// data change, so the quota check and the write cannot be separated.
    usage: Table<Json<KvUsage>>,
    limits: KvLimits,
}

impl PluginKv {
    pub fn new(store: Arc<Store>, limits: KvLimits) -> Result<Self> {
        Ok(PluginKv {
            data: store.table("kv")?,
            usage: store.table("kv_usage")?,
            store,
            limits,
        })
    }

    fn ns_prefix(ns: &KvNamespace) -> Vec<u8> {
        prefix(&[&ns.account, &ns.plugin])
    }

    fn full_key(&self, ns: &KvNamespace, key: &str) -> Result<Vec<u8>> {
        if key.is_empty() {
            return Err(PlazaError::invalid("storage key must not be empty"));
        }
        if key.len() > self.limits.max_key_bytes {
            return Err(PlazaError::TooLarge(format!(
                "storage key is {} bytes; the limit is {}",
                key.len(),
                self.limits.max_key_bytes
            )));
        }
        let mut k = Self::ns_prefix(ns);
        k.extend_from_slice(key.as_bytes());
        Ok(k)
    }

    fn check_value(&self, len: usize) -> Result<()> {
        if len > self.limits.max_value_bytes {
            return Err(PlazaError::TooLarge(format!(
                "storage value is {len} bytes; the limit is {}",
                self.limits.max_value_bytes
            )));
        }
        Ok(())
    }

    pub fn usage(&self, ns: &KvNamespace) -> Result<KvUsage> {
        Ok(self.usage.get(&Self::ns_prefix(ns))?.unwrap_or_default())
    }

    /// Replaces `key`'s value of `old` bytes (absent if `None`) with `new` (`None` removes),
    /// checking the installation's bounds and moving its usage in the same unit of work.
    fn apply(
        &self,
        tx: &mut Tx<'_>,
        ns: &KvNamespace,
        k: &[u8],
        key: &str,
        old: Option<usize>,
        new: Option<&[u8]>,
    ) -> Result<()> {
        let entry = |len: usize| (key.len() + len) as u64;
        let nsk = Self::ns_prefix(ns);
        let mut u = tx.get(&self.usage, &nsk)?.unwrap_or_default();
        let freed = old.map(entry).unwrap_or(0).min(u.bytes);
        let bytes_after = u.bytes - freed + new.map(|n| entry(n.len())).unwrap_or(0);
        let keys_after = u.keys - u64::from(old.is_some()).min(u.keys) + u64::from(new.is_some());
        if old.is_none() && new.is_some() && keys_after > self.limits.max_keys {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "installation holds {} keys; the limit is {}",
                    u.keys, self.limits.max_keys
                ),
                resets_at: None,
            });
        }
        if new.is_some() && bytes_after > self.limits.max_total_bytes {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "installation would hold {bytes_after} bytes; the limit is {}",
                    self.limits.max_total_bytes
                ),
                resets_at: None,
            });
        }
        match new {
            Some(v) => tx.put_bytes(&self.data, k, v)?,
            None => {
                tx.delete(&self.data, k)?;
            }
        }
        u.keys = keys_after;
        u.bytes = bytes_after;
        if u == KvUsage::default() {
            tx.delete(&self.usage, &nsk)?;
        } else {
            tx.put(&self.usage, &nsk, &u)?;
        }
        Ok(())
    }

    pub fn get(&self, ns: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>> {
        self.data.get(&self.full_key(ns, key)?)
    }

    pub fn set(&self, ns: &KvNamespace, key: &str, value: &[u8]) -> Result<Pending<()>> {
        let k = self.full_key(ns, key)?;
        self.check_value(value.len())?;
        self.store.write(|tx| {
            let old = tx.get(&self.data, &k)?.map(|v| v.len());
            self.apply(tx, ns, &k, key, old, Some(value))
        })
    }

    pub fn delete(&self, ns: &KvNamespace, key: &str) -> Result<Pending<bool>> {
        let k = self.full_key(ns, key)?;
        self.store.write(|tx| {
            let Some(old) = tx.get(&self.data, &k)? else {
                return Ok(false);
            };
            self.apply(tx, ns, &k, key, Some(old.len()), None)?;
            Ok(true)
        })
    }

    pub fn list_prefix(
        &self,
        ns: &KvNamespace,
        key_prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KvPage> {
        let limit = limit.clamp(1, self.limits.max_list) as usize;
        let page = self
            .data
            .page_in(&Self::ns_prefix(ns), key_prefix.as_bytes(), cursor, limit)?;
        Ok(KvPage {
            items: page.items,
            next_cursor: page.next_cursor,
        })
    }

    pub fn compare_and_swap(
        &self,
        ns: &KvNamespace,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<Pending<bool>> {
        let k = self.full_key(ns, key)?;
        if let Some(n) = new {
            self.check_value(n.len())?;
        }
        self.store.write(|tx| {
            let current = tx.get(&self.data, &k)?;
            if current.as_deref() != expected {
                return Ok(false);
            }
            if current.is_none() && new.is_none() {
                return Ok(true);
            }
            self.apply(tx, ns, &k, key, current.map(|c| c.len()), new)?;
            Ok(true)
        })
    }

    /// Adds `delta` to a counter stored as a decimal string (absent = 0).
    pub fn increment(&self, ns: &KvNamespace, key: &str, delta: i64) -> Result<Pending<i64>> {
        let k = self.full_key(ns, key)?;
        self.store.write(|tx| {
            let old = tx.get(&self.data, &k)?;
            let n = add_to_counter(key, old.as_deref(), delta)?;
            let text = n.to_string();
            self.apply(tx, ns, &k, key, old.map(|o| o.len()), Some(text.as_bytes()))?;
            Ok(n)
        })
    }

    /// Applies `writes` atomically and durably only if every one of `checks` holds: what
    /// redeeming from a limited stock needs without a compare-and-swap loop.
    ///
    /// Checks are evaluated first, against the state before any of the writes; then the writes
    /// apply in order (a later write to the same key sees the earlier one). Both happen in one
    /// unit of work, which the storage layer re-runs on a conflict, so two concurrent batches can
    /// never both pass a check that only one of them may pass. A failed check answers
    /// [`BatchOutcome::CheckFailed`] with its index and writes nothing. The installation's key
    /// and byte quotas are checked against the state after the whole batch, not after each write.
    ///
    /// Errors (nothing written): `invalid` for an empty or malformed key, a counter that is not an
    /// integer or would overflow; `too_large` for more than [`MAX_BATCH_CHECKS`] checks or
    /// [`MAX_BATCH_WRITES`] writes, an oversized key or value, or more than [`MAX_BATCH_BYTES`]
    /// of keys and values in all; `quota_exceeded` when the result would not fit the quota.
    pub fn batch(
        &self,
        ns: &KvNamespace,
        checks: &[KvCheck],
        writes: &[KvWrite],
    ) -> Result<Pending<BatchOutcome>> {
        let (checks, writes) = self.validate_batch(ns, checks, writes)?;
        self.store.write(|tx| {
            for (i, (k, check)) in checks.iter().enumerate() {
                let current = tx.get(&self.data, k)?;
                if !check.holds(current.as_deref()) {
                    let index = u32::try_from(i)
                        .map_err(|_| PlazaError::internal("batch check index overflows"))?;
                    return Ok(BatchOutcome::CheckFailed(index));
                }
            }
            let mut touched = Touched::new();
            for (k, write) in &writes {
                let current = match touched.get(k.as_slice()) {
                    Some(t) => t.after.clone(),
                    None => tx.get(&self.data, k)?,
                };
                let after = match write {
                    KvWrite::Set(_, v) => Some(v.clone()),
                    KvWrite::Delete(_) => None,
                    KvWrite::Increment(key, delta) => {
                        let n = add_to_counter(key, current.as_deref(), *delta)?;
                        Some(n.to_string().into_bytes())
                    }
                };
                match touched.get_mut(k.as_slice()) {
                    Some(t) => t.after = after,
                    None => {
                        let before = current.as_ref().map(Vec::len);
                        touched.insert(
                            k,
                            TouchedKey {
                                key: write.key(),
                                before,
                                after,
                            },
                        );
                    }
                }
            }
            self.apply_batch(tx, ns, &touched)?;
            Ok(BatchOutcome::Applied)
        })
    }

    /// Checks a batch's bounds and resolves its keys, before any storage is touched.
    fn validate_batch<'a>(
        &self,
        ns: &KvNamespace,
        checks: &'a [KvCheck],
        writes: &'a [KvWrite],
    ) -> Result<(Resolved<'a, KvCheck>, Resolved<'a, KvWrite>)> {
        if checks.len() > MAX_BATCH_CHECKS || writes.len() > MAX_BATCH_WRITES {
            return Err(PlazaError::TooLarge(format!(
                "a batch has {} checks and {} writes; the limits are {MAX_BATCH_CHECKS} and \
                 {MAX_BATCH_WRITES}",
                checks.len(),
                writes.len()
            )));
        }
        let mut total = 0usize;
        let checks = checks
            .iter()
            .map(|c| {
                let value = match c {
                    KvCheck::Equals(_, v) => v.len(),
                    _ => 0,
                };
                total += c.key().len() + value;
                Ok((self.full_key(ns, c.key())?, c))
            })
            .collect::<Result<Vec<_>>>()?;
        let writes = writes
            .iter()
            .map(|w| {
                if let KvWrite::Set(_, v) = w {
                    self.check_value(v.len())?;
                    total += v.len();
                }
                total += w.key().len();
                Ok((self.full_key(ns, w.key())?, w))
            })
            .collect::<Result<Vec<_>>>()?;
        // One value may be as large as the installation allows; a batch may carry a few.
        let bound = MAX_BATCH_BYTES.max(self.limits.max_value_bytes);
        if total > bound {
            return Err(PlazaError::TooLarge(format!(
                "a batch carries {total} bytes of keys and values; the limit is {bound}"
            )));
        }
        Ok((checks, writes))
    }

    /// Writes a batch's net effect and moves the installation's usage once, checking the quota
    /// against the state after the batch: a batch that deletes one key and adds another fits
    /// where the other order of single writes would not.
    fn apply_batch(&self, tx: &mut Tx<'_>, ns: &KvNamespace, touched: &Touched<'_>) -> Result<()> {
        let nsk = Self::ns_prefix(ns);
        let before = tx.get(&self.usage, &nsk)?.unwrap_or_default();
        let (mut keys, mut bytes) = (before.keys, before.bytes);
        for t in touched.values() {
            let entry = |len: usize| (t.key.len() + len) as u64;
            if let Some(old) = t.before {
                keys = keys.saturating_sub(1);
                bytes = bytes.saturating_sub(entry(old));
            }
            if let Some(new) = &t.after {
                keys += 1;
                bytes += entry(new.len());
            }
        }
        if keys > self.limits.max_keys && keys > before.keys {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "the batch would leave the installation holding {keys} keys; the limit is {}",
                    self.limits.max_keys
                ),
                resets_at: None,
            });
        }
        if bytes > self.limits.max_total_bytes && bytes > before.bytes {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "the batch would leave the installation holding {bytes} bytes; the limit is {}",
                    self.limits.max_total_bytes
                ),
                resets_at: None,
            });
        }
        for (k, t) in touched {
            match &t.after {
                Some(v) => tx.put_bytes(&self.data, k, v)?,
                // Deleting what did not exist is no write at all.
                None if t.before.is_some() => {
                    tx.delete(&self.data, k)?;
                }
                None => {}
            }
        }
        let after = KvUsage { keys, bytes };
        if after == before {
            return Ok(());
        }
        if after == KvUsage::default() {
            tx.delete(&self.usage, &nsk)?;
        } else {
            tx.put(&self.usage, &nsk, &after)?;
        }
        Ok(())
    }

    /// Removes everything an installation stored (on uninstall with purge), in units of work of
    /// [`PURGE_BATCH`] keys so that a large installation does not hold the store for long.
    pub async fn purge(&self, ns: &KvNamespace) -> Result<u64> {
        let base = Self::ns_prefix(ns);
        let mut removed = 0;
        loop {
            let keys = self.data.keys(&base, None, PURGE_BATCH)?;
            if keys.is_empty() {
                break;
            }
            removed += keys.len() as u64;
            self.store
                .write(|tx| {
                    for k in &keys {
                        tx.delete(&self.data, k)?;
                    }
                    Ok(())
                })?
                .durable()
                .await?;
        }
        self.store
            .write(|tx| tx.delete(&self.usage, &base).map(drop))?
            .durable()
            .await?;
        Ok(removed)
    }
}

/// Most checks in one [`PluginKv::batch`].
pub const MAX_BATCH_CHECKS: usize = 64;
/// Most writes in one [`PluginKv::batch`].
pub const MAX_BATCH_WRITES: usize = 64;
/// Most bytes of keys and values one batch carries (or one value's bound, if larger): a batch is
/// one unit of work, held in memory and committed at once.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// A condition of a [`PluginKv::batch`], on one key of the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvCheck {
    /// The key has no value.
    Absent(String),
    /// The key holds exactly this value.
    Equals(String, Vec<u8>),
    /// The key holds a counter (decimal text, as [`PluginKv::increment`] stores it; absent counts
    /// as 0) of at least this value. A value that is not a counter fails the check.
    CounterAtLeast(String, i64),
}

impl KvCheck {
    pub fn key(&self) -> &str {
        match self {
            KvCheck::Absent(k) | KvCheck::Equals(k, _) | KvCheck::CounterAtLeast(k, _) => k,
        }
    }

    fn holds(&self, current: Option<&[u8]>) -> bool {
        match self {
            KvCheck::Absent(_) => current.is_none(),
            KvCheck::Equals(_, v) => current == Some(v.as_slice()),
            KvCheck::CounterAtLeast(_, n) => match current {
                None => 0 >= *n,
                Some(bytes) => parse_counter(bytes).is_some_and(|c| c >= *n),
            },
        }
    }
}

/// A write of a [`PluginKv::batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvWrite {
    Set(String, Vec<u8>),
    /// Removes the key (nothing happens if it is absent).
    Delete(String),
    /// Adds to a counter (absent = 0); the whole batch fails if it is not one or would overflow.
    Increment(String, i64),
}

impl KvWrite {
    pub fn key(&self) -> &str {
        match self {
            KvWrite::Set(k, _) | KvWrite::Delete(k) | KvWrite::Increment(k, _) => k,
        }
    }
}

/// What a [`PluginKv::batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every check held; every write is applied (durable once the `Pending` resolves).
    Applied,
    /// The check at this index (0-based) did not hold; nothing was written.
    CheckFailed(u32),
}

/// A batch's checks or writes, each with its full storage key.
type Resolved<'a, T> = Vec<(Vec<u8>, &'a T)>;

/// What a batch does to one key: the key as the plugin named it, the length of its value before
/// the batch, its value after the batch's writes so far.
struct TouchedKey<'a> {
    key: &'a str,
    before: Option<usize>,
    after: Option<Vec<u8>>,
}

/// The keys a batch writes, by full storage key.
type Touched<'a> = BTreeMap<&'a [u8], TouchedKey<'a>>;

/// A counter's value: decimal text of an `i64`.
fn parse_counter(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// `current` (a counter, absent = 0) plus `delta`; `invalid` if it is not a counter or overflows.
fn add_to_counter(key: &str, current: Option<&[u8]>, delta: i64) -> Result<i64> {
    let current = match current {
        None => 0,
        Some(bytes) => parse_counter(bytes)
            .ok_or_else(|| PlazaError::invalid(format!("value of {key:?} is not an integer")))?,
    };
    current
        .checked_add(delta)
        .ok_or_else(|| PlazaError::invalid(format!("incrementing {key:?} overflows")))
}

/// Keys deleted per unit of work by [`PluginKv::purge`].
const PURGE_BATCH: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{FaultyBackend, assert_fails_whole, done, faulty_store};

    fn kv(limits: KvLimits) -> (tempfile::TempDir, Arc<FaultyBackend>, PluginKv) {
        let (dir, faulty, store) = faulty_store();
        let kv = PluginKv::new(store, limits).unwrap();
        (dir, faulty, kv)
    }

    fn ns(a: &str, p: &str) -> KvNamespace {
        KvNamespace {
            account: a.into(),
            plugin: p.into(),
        }
    }

    #[test]
    fn namespaces_do_not_overlap() {
        let (_d, _f, kv) = kv(KvLimits::default());
        done(kv.set(&ns("a", "p"), "k", b"1")).unwrap();
        assert_eq!(kv.get(&ns("a", "q"), "k").unwrap(), None);
        assert_eq!(kv.get(&ns("b", "p"), "k").unwrap(), None);
        // A plugin named like a prefix of another does not see its keys through a prefix listing.
        done(kv.set(&ns("a", "pp"), "x", b"2")).unwrap();
        assert_eq!(
            kv.list_prefix(&ns("a", "p"), "", None, 10)
                .unwrap()
                .items
                .len(),
            1
        );
    }

    #[test]
    fn listing_pages_with_cursor() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        for i in 0..5 {
            done(kv.set(&n, &format!("item/{i}"), b"v")).unwrap();
        }
        done(kv.set(&n, "other", b"v")).unwrap();
        let p1 = kv.list_prefix(&n, "item/", None, 2).unwrap();
        assert_eq!(p1.items.len(), 2);
        let p2 = kv
            .list_prefix(&n, "item/", p1.next_cursor.as_deref(), 2)
            .unwrap();
        let p3 = kv
            .list_prefix(&n, "item/", p2.next_cursor.as_deref(), 2)
            .unwrap();
        assert_eq!(p3.items.len(), 1);
        assert_eq!(p3.next_cursor, None);
        assert_eq!(p3.items[0].0, "item/4");
    }

    #[test]
    fn bounds_are_typed_errors_and_usage_is_tracked() {
        let limits = KvLimits {
            max_value_bytes: 10,
            max_keys: 2,
            max_total_bytes: 100,
            ..Default::default()
        };
        let (_d, _f, kv) = kv(limits);
        let n = ns("a", "p");
        assert!(matches!(
            done(kv.set(&n, "k", &[0; 11])),
            Err(PlazaError::TooLarge(_))
        ));
        done(kv.set(&n, "k1", b"12345")).unwrap();
        done(kv.set(&n, "k2", b"12345")).unwrap();
        assert!(matches!(
            done(kv.set(&n, "k3", b"1")),
            Err(PlazaError::QuotaExceeded { .. })
        ));
        // Overwriting an existing key is not a new key.
        done(kv.set(&n, "k2", b"1")).unwrap();
        assert_eq!(
            kv.usage(&n).unwrap(),
            KvUsage {
                keys: 2,
                bytes: 2 + 5 + 2 + 1
            }
        );
        assert!(done(kv.delete(&n, "k1")).unwrap());
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 3 });
        assert!(!done(kv.delete(&n, "k1")).unwrap());
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 3 });
    }

    #[test]
    fn cas_and_increment() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        assert!(done(kv.compare_and_swap(&n, "c", None, Some(b"x"))).unwrap());
        assert!(!done(kv.compare_and_swap(&n, "c", None, Some(b"y"))).unwrap());
        assert_eq!(done(kv.increment(&n, "n", 5)).unwrap(), 5);
        assert_eq!(done(kv.increment(&n, "n", -7)).unwrap(), -2);
        assert!(matches!(
            done(kv.increment(&n, "c", 1)),
            Err(PlazaError::Invalid(_))
        ));
        assert_eq!(kv.get(&n, "c").unwrap(), Some(b"x".to_vec()));
        assert!(done(kv.compare_and_swap(&n, "c", Some(b"x"), None)).unwrap());
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 3 });
    }

    #[test]
    fn a_fault_between_the_value_and_its_usage_leaves_neither() {
        let (_d, faulty, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        done(kv.set(&n, "k", b"old")).unwrap();
        done(kv.set(&n, "c", b"41")).unwrap();
        // The value is the first write of each operation, the usage record the second.
        let s = &kv.store;
        assert_fails_whole(s, &faulty, "set", || kv.set(&n, "k", b"new value"));
        assert_fails_whole(s, &faulty, "delete", || kv.delete(&n, "k"));
        assert_fails_whole(s, &faulty, "cas", || {
            kv.compare_and_swap(&n, "k", Some(b"old"), Some(b"cas"))
        });
        assert_fails_whole(s, &faulty, "set new", || kv.set(&n, "other", b"v"));
        // A counter that grows by a digit, and one that does not exist yet.
        assert_fails_whole(s, &faulty, "increment", || kv.increment(&n, "c", 59));
        assert_fails_whole(s, &faulty, "increment new", || kv.increment(&n, "fresh", 1));
        assert_eq!(kv.get(&n, "k").unwrap(), Some(b"old".to_vec()));
        assert_eq!(kv.get(&n, "c").unwrap(), Some(b"41".to_vec()));
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 2, bytes: 7 });
        // Disarmed, the same increment lands with its usage.
        assert_eq!(done(kv.increment(&n, "c", 59)).unwrap(), 100);
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 2, bytes: 8 });
    }

    #[test]
    fn concurrent_writers_never_pass_a_small_quota() {
        let limits = KvLimits {
            max_keys: 10,
            ..Default::default()
        };
        let (_d, _f, kv) = kv(limits);
        let kv = Arc::new(kv);
        let n = ns("a", "p");
        // 8 writers × 20 distinct keys race for 10 slots.
        let accepted: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|w| {
                    let (kv, n) = (kv.clone(), n.clone());
                    s.spawn(move || {
                        (0..20)
                            .filter(|i| done(kv.set(&n, &format!("w{w}-{i}"), b"v")).is_ok())
                            .count() as u64
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(accepted, 10);
        assert_eq!(kv.usage(&n).unwrap().keys, 10);
        assert_eq!(kv.list_prefix(&n, "", None, 100).unwrap().items.len(), 10);
    }

    fn set(k: &str, v: &[u8]) -> KvWrite {
        KvWrite::Set(k.into(), v.to_vec())
    }

    #[test]
    fn a_batch_applies_every_write_only_when_every_check_holds() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        done(kv.set(&n, "stock", b"2")).unwrap();
        done(kv.set(&n, "flag", b"on")).unwrap();
        let checks = [
            KvCheck::CounterAtLeast("stock".into(), 1),
            KvCheck::Absent("redeemed:o1".into()),
            KvCheck::Equals("flag".into(), b"on".to_vec()),
            KvCheck::CounterAtLeast("absent-counter".into(), 0),
        ];
        let writes = [
            KvWrite::Increment("stock".into(), -1),
            set("redeemed:o1", b"yes"),
            KvWrite::Delete("flag".into()),
            KvWrite::Increment("fresh".into(), 7),
        ];
        assert_eq!(
            done(kv.batch(&n, &checks, &writes)).unwrap(),
            BatchOutcome::Applied
        );
        assert_eq!(kv.get(&n, "stock").unwrap(), Some(b"1".to_vec()));
        assert_eq!(kv.get(&n, "redeemed:o1").unwrap(), Some(b"yes".to_vec()));
        assert_eq!(kv.get(&n, "flag").unwrap(), None);
        assert_eq!(kv.get(&n, "fresh").unwrap(), Some(b"7".to_vec()));
        // Usage moved with the writes: stock(5+1) redeemed:o1(11+3) fresh(5+1).
        assert_eq!(
            kv.usage(&n).unwrap(),
            KvUsage {
                keys: 3,
                bytes: 6 + 14 + 6
            }
        );
        // The same batch again: the key is no longer absent (check 1), nothing changes.
        let before = crate::storage::testing::dump(&kv.store);
        assert_eq!(
            done(kv.batch(&n, &checks, &writes)).unwrap(),
            BatchOutcome::CheckFailed(1)
        );
        assert_eq!(crate::storage::testing::dump(&kv.store), before);
    }

    #[test]
    fn each_kind_of_check_fails_with_its_index() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        done(kv.set(&n, "c", b"5")).unwrap();
        done(kv.set(&n, "text", b"hello")).unwrap();
        let w = [set("written", b"1")];
        let failing = [
            KvCheck::Absent("c".into()),
            KvCheck::Equals("c".into(), b"6".to_vec()),
            KvCheck::Equals("missing".into(), b"".to_vec()),
            KvCheck::CounterAtLeast("c".into(), 6),
            KvCheck::CounterAtLeast("missing".into(), 1),
            // Not a counter: the check does not hold (no error).
            KvCheck::CounterAtLeast("text".into(), i64::MIN),
        ];
        for check in failing {
            let checks = [KvCheck::Absent("missing".into()), check.clone()];
            assert_eq!(
                done(kv.batch(&n, &checks, &w)).unwrap(),
                BatchOutcome::CheckFailed(1),
                "{check:?}"
            );
        }
        assert_eq!(kv.get(&n, "written").unwrap(), None);
        // And the holding forms of each.
        let holding = [
            KvCheck::Absent("missing".into()),
            KvCheck::Equals("c".into(), b"5".to_vec()),
            KvCheck::CounterAtLeast("c".into(), 5),
            KvCheck::CounterAtLeast("missing".into(), -3),
        ];
        assert_eq!(
            done(kv.batch(&n, &holding, &w)).unwrap(),
            BatchOutcome::Applied
        );
    }

    #[test]
    fn checks_see_the_state_before_the_batch_and_writes_apply_in_order() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        let writes = [
            set("k", b"40"),
            KvWrite::Increment("k".into(), 2),
            set("gone", b"x"),
            KvWrite::Delete("gone".into()),
        ];
        // "k" is set by the batch itself, but checks read the state before it.
        assert_eq!(
            done(kv.batch(&n, &[KvCheck::Absent("k".into())], &writes)).unwrap(),
            BatchOutcome::Applied
        );
        assert_eq!(kv.get(&n, "k").unwrap(), Some(b"42".to_vec()));
        assert_eq!(kv.get(&n, "gone").unwrap(), None);
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 3 });
        // An empty batch is applied and changes nothing.
        assert_eq!(done(kv.batch(&n, &[], &[])).unwrap(), BatchOutcome::Applied);
    }

    #[test]
    fn a_bad_write_fails_the_whole_batch() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        done(kv.set(&n, "max", i64::MAX.to_string().as_bytes())).unwrap();
        done(kv.set(&n, "text", b"hello")).unwrap();
        let before = crate::storage::testing::dump(&kv.store);
        let overflow = [set("first", b"1"), KvWrite::Increment("max".into(), 1)];
        let err = done(kv.batch(&n, &[], &overflow)).unwrap_err();
        assert!(matches!(err, PlazaError::Invalid(_)), "{err}");
        assert!(err.message().contains("overflows"), "{err}");
        let not_counter = [set("first", b"1"), KvWrite::Increment("text".into(), 1)];
        let err = done(kv.batch(&n, &[], &not_counter)).unwrap_err();
        assert!(matches!(err, PlazaError::Invalid(_)), "{err}");
        assert_eq!(crate::storage::testing::dump(&kv.store), before);
    }

    #[test]
    fn batch_bounds_are_typed_errors() {
        let limits = KvLimits {
            max_value_bytes: 10,
            ..Default::default()
        };
        let (_d, _f, kv) = kv(limits);
        let n = ns("a", "p");
        let many_checks: Vec<_> = (0..=MAX_BATCH_CHECKS)
            .map(|i| KvCheck::Absent(format!("k{i}")))
            .collect();
        let many_writes: Vec<_> = (0..=MAX_BATCH_WRITES)
            .map(|i| set(&format!("k{i}"), b"v"))
            .collect();
        let err = |r: Result<Pending<BatchOutcome>>| done(r).unwrap_err();
        assert!(matches!(
            err(kv.batch(&n, &many_checks, &[])),
            PlazaError::TooLarge(_)
        ));
        assert!(matches!(
            err(kv.batch(&n, &[], &many_writes)),
            PlazaError::TooLarge(_)
        ));
        // At the limits exactly, it is accepted.
        assert_eq!(
            done(kv.batch(
                &n,
                &many_checks[..MAX_BATCH_CHECKS],
                &many_writes[..MAX_BATCH_WRITES]
            ))
            .unwrap(),
            BatchOutcome::Applied
        );
        assert!(matches!(
            err(kv.batch(&n, &[], &[set("big", &[0; 11])])),
            PlazaError::TooLarge(_)
        ));
        assert!(matches!(
            err(kv.batch(&n, &[KvCheck::Absent(String::new())], &[])),
            PlazaError::Invalid(_)
        ));
        assert!(matches!(
            err(kv.batch(&n, &[], &[KvWrite::Delete("x".repeat(1025))])),
            PlazaError::TooLarge(_)
        ));
    }

    #[test]
    fn a_batch_carrying_too_many_bytes_in_all_is_refused() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        let value = vec![0u8; 1 << 20];
        let writes: Vec<_> = (0..5).map(|i| set(&format!("k{i}"), &value)).collect();
        let err = done(kv.batch(&n, &[], &writes)).unwrap_err();
        assert!(matches!(err, PlazaError::TooLarge(_)), "{err}");
        assert_eq!(kv.usage(&n).unwrap(), KvUsage::default());
        done(kv.batch(&n, &[], &writes[..3])).unwrap();
    }

    #[test]
    fn a_batch_is_held_to_the_quota_as_a_whole() {
        let limits = KvLimits {
            max_keys: 2,
            max_total_bytes: 20,
            ..Default::default()
        };
        let (_d, _f, kv) = kv(limits);
        let n = ns("a", "p");
        done(kv.set(&n, "a", b"1")).unwrap();
        done(kv.set(&n, "b", b"1")).unwrap();
        // A third key is refused, even with the batch's other writes.
        let err = done(kv.batch(&n, &[], &[set("c", b"1"), set("a", b"2")])).unwrap_err();
        assert!(matches!(err, PlazaError::QuotaExceeded { .. }), "{err}");
        // Adding one key while deleting another fits, whichever comes first.
        let swap = [set("c", b"1"), KvWrite::Delete("a".into())];
        assert_eq!(
            done(kv.batch(&n, &[], &swap)).unwrap(),
            BatchOutcome::Applied
        );
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 2, bytes: 4 });
        // Bytes: 2 + 19 would exceed 20.
        let err = done(kv.batch(&n, &[], &[set("b", &[0; 18])])).unwrap_err();
        assert!(matches!(err, PlazaError::QuotaExceeded { .. }), "{err}");
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 2, bytes: 4 });
    }

    #[test]
    fn a_fault_at_the_second_write_of_a_batch_changes_nothing() {
        let (_d, faulty, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        done(kv.set(&n, "stock", b"3")).unwrap();
        assert_fails_whole(&kv.store, &faulty, "batch", || {
            kv.batch(
                &n,
                &[KvCheck::CounterAtLeast("stock".into(), 1)],
                &[
                    KvWrite::Increment("stock".into(), -1),
                    set("redeemed:o1", b"1"),
                    KvWrite::Increment("points".into(), -100),
                ],
            )
        });
        assert_eq!(kv.get(&n, "stock").unwrap(), Some(b"3".to_vec()));
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 6 });
    }

    #[test]
    fn concurrent_batches_never_both_pass_a_check_only_one_may_pass() {
        let (_d, _f, kv) = kv(KvLimits::default());
        let kv = Arc::new(kv);
        let n = ns("a", "p");
        done(kv.set(&n, "stock", b"3")).unwrap();
        let barrier = std::sync::Barrier::new(8);
        let applied = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|i| {
                    let (kv, n, barrier) = (kv.clone(), n.clone(), &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        done(kv.batch(
                            &n,
                            &[KvCheck::CounterAtLeast("stock".into(), 1)],
                            &[
                                KvWrite::Increment("stock".into(), -1),
                                set(&format!("got:{i}"), b"1"),
                            ],
                        ))
                        .unwrap()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .filter(|o| *o == BatchOutcome::Applied)
                .count()
        });
        assert_eq!(applied, 3);
        assert_eq!(kv.get(&n, "stock").unwrap(), Some(b"0".to_vec()));
        assert_eq!(
            kv.list_prefix(&n, "got:", None, 100).unwrap().items.len(),
            3
        );
    }
}
