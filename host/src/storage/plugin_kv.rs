//! Per-installation key/value data for plugins: namespaced, bounded, durable.
//!
//! A plugin's keys live under `(account, plugin)`; the namespace is chosen by the host from the call
//! context, never by the plugin, so no plugin or account can reach another's data.

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
            let current = match &old {
                None => 0,
                Some(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| {
                        PlazaError::invalid(format!("value of {key:?} is not an integer"))
                    })?,
            };
            let n = current
                .checked_add(delta)
                .ok_or_else(|| PlazaError::invalid(format!("incrementing {key:?} overflows")))?;
            let text = n.to_string();
            self.apply(tx, ns, &k, key, old.map(|o| o.len()), Some(text.as_bytes()))?;
            Ok(n)
        })
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
}
