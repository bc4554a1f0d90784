//! Per-installation key/value data for plugins: namespaced, bounded, durable.
//!
//! A plugin's keys live under `(account, plugin)`; the namespace is chosen by the host from the call
//! context, never by the plugin, so no plugin or account can reach another's data.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::backend::{Tree, prefix};
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
    data: Arc<dyn Tree>,
    usage: Arc<dyn Tree>,
    limits: KvLimits,
}

impl PluginKv {
    pub fn new(data: Arc<dyn Tree>, usage: Arc<dyn Tree>, limits: KvLimits) -> Self {
        PluginKv {
            data,
            usage,
            limits,
        }
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

    pub fn usage(&self, ns: &KvNamespace) -> Result<KvUsage> {
        Ok(match self.usage.get(&Self::ns_prefix(ns))? {
            Some(bytes) => serde_json::from_slice(&bytes)?,
            None => KvUsage::default(),
        })
    }

    fn add_usage(&self, ns: &KvNamespace, keys: i64, bytes: i64) -> Result<()> {
        self.usage.update(&Self::ns_prefix(ns), &mut |old| {
            let mut u: KvUsage = old
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            u.keys = u.keys.saturating_add_signed(keys);
            u.bytes = u.bytes.saturating_add_signed(bytes);
            serde_json::to_vec(&u).ok()
        })?;
        Ok(())
    }

    /// Checks that replacing `old_len` bytes (absent if `None`) with `new_len` stays within bounds.
    fn check_room(
        &self,
        ns: &KvNamespace,
        key: &str,
        old_len: Option<usize>,
        new_len: usize,
    ) -> Result<()> {
        if new_len > self.limits.max_value_bytes {
            return Err(PlazaError::TooLarge(format!(
                "storage value is {new_len} bytes; the limit is {}",
                self.limits.max_value_bytes
            )));
        }
        let u = self.usage(ns)?;
        let entry = |len: usize| (key.len() + len) as u64;
        let bytes_after = u.bytes + entry(new_len) - old_len.map(entry).unwrap_or(0).min(u.bytes);
        if old_len.is_none() && u.keys >= self.limits.max_keys {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "installation holds {} keys; the limit is {}",
                    u.keys, self.limits.max_keys
                ),
                resets_at: None,
            });
        }
        if bytes_after > self.limits.max_total_bytes {
            return Err(PlazaError::QuotaExceeded {
                message: format!(
                    "installation would hold {bytes_after} bytes; the limit is {}",
                    self.limits.max_total_bytes
                ),
                resets_at: None,
            });
        }
        Ok(())
    }

    fn account_change(
        &self,
        ns: &KvNamespace,
        key: &str,
        old: Option<usize>,
        new: Option<usize>,
    ) -> Result<()> {
        let size = |len: Option<usize>| len.map(|l| (key.len() + l) as i64).unwrap_or(0);
        let keys = i64::from(new.is_some()) - i64::from(old.is_some());
        let bytes = size(new) - size(old);
        if keys != 0 || bytes != 0 {
            self.add_usage(ns, keys, bytes)?;
        }
        Ok(())
    }

    pub fn get(&self, ns: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>> {
        self.data.get(&self.full_key(ns, key)?)
    }

    pub fn set(&self, ns: &KvNamespace, key: &str, value: &[u8]) -> Result<()> {
        let k = self.full_key(ns, key)?;
        let old_len = self.data.get(&k)?.map(|v| v.len());
        self.check_room(ns, key, old_len, value.len())?;
        let old = self.data.insert(&k, value)?;
        self.account_change(ns, key, old.map(|v| v.len()), Some(value.len()))
    }

    pub fn delete(&self, ns: &KvNamespace, key: &str) -> Result<bool> {
        let old = self.data.remove(&self.full_key(ns, key)?)?;
        let existed = old.is_some();
        self.account_change(ns, key, old.map(|v| v.len()), None)?;
        Ok(existed)
    }

    pub fn list_prefix(
        &self,
        ns: &KvNamespace,
        key_prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KvPage> {
        let limit = limit.clamp(1, self.limits.max_list) as usize;
        let base = Self::ns_prefix(ns);
        let mut scan = base.clone();
        scan.extend_from_slice(key_prefix.as_bytes());
        let after = cursor.map(|c| [base.as_slice(), c.as_bytes()].concat());
        // One extra entry tells whether another page exists.
        let mut rows = self.data.scan_prefix(&scan, after.as_deref(), limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k[base.len()..]).into_owned(), v))
            .collect::<Vec<_>>();
        let next_cursor = if more {
            items.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(KvPage { items, next_cursor })
    }

    pub fn compare_and_swap(
        &self,
        ns: &KvNamespace,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        let k = self.full_key(ns, key)?;
        if let Some(new) = new {
            self.check_room(ns, key, expected.map(|e| e.len()), new.len())?;
        }
        let swapped = self.data.compare_and_swap(&k, expected, new)?;
        if swapped {
            self.account_change(ns, key, expected.map(|e| e.len()), new.map(|n| n.len()))?;
        }
        Ok(swapped)
    }

    /// Adds `delta` to a counter stored as a decimal string (absent = 0).
    pub fn increment(&self, ns: &KvNamespace, key: &str, delta: i64) -> Result<i64> {
        let k = self.full_key(ns, key)?;
        let mut failure = None;
        let mut old_len = None;
        let new = self.data.update(&k, &mut |old| {
            old_len = old.map(|o| o.len());
            let current = match old {
                None => 0,
                Some(bytes) => match std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) => n,
                    None => {
                        failure = Some(PlazaError::invalid(format!(
                            "value of {key:?} is not an integer"
                        )));
                        return old.map(|o| o.to_vec());
                    }
                },
            };
            match current.checked_add(delta) {
                Some(n) => Some(n.to_string().into_bytes()),
                None => {
                    failure = Some(PlazaError::invalid(format!(
                        "incrementing {key:?} overflows"
                    )));
                    old.map(|o| o.to_vec())
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let new = new.unwrap_or_default();
        self.account_change(ns, key, old_len, Some(new.len()))?;
        String::from_utf8_lossy(&new)
            .parse()
            .map_err(|_| PlazaError::internal("counter did not round-trip"))
    }

    /// Removes everything an installation stored (on uninstall with purge).
    pub fn purge(&self, ns: &KvNamespace) -> Result<u64> {
        let base = Self::ns_prefix(ns);
        let mut removed = 0;
        loop {
            let rows = self.data.scan_prefix(&base, None, 1000)?;
            if rows.is_empty() {
                break;
            }
            for (k, _) in rows {
                self.data.remove(&k)?;
                removed += 1;
            }
        }
        self.usage.remove(&base)?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::backend::{Backend, SledBackend};

    fn kv(limits: KvLimits) -> (tempfile::TempDir, PluginKv) {
        let dir = tempfile::tempdir().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        let kv = PluginKv::new(b.tree("kv").unwrap(), b.tree("kv_usage").unwrap(), limits);
        (dir, kv)
    }

    fn ns(a: &str, p: &str) -> KvNamespace {
        KvNamespace {
            account: a.into(),
            plugin: p.into(),
        }
    }

    #[test]
    fn namespaces_do_not_overlap() {
        let (_d, kv) = kv(KvLimits::default());
        kv.set(&ns("a", "p"), "k", b"1").unwrap();
        assert_eq!(kv.get(&ns("a", "q"), "k").unwrap(), None);
        assert_eq!(kv.get(&ns("b", "p"), "k").unwrap(), None);
        // A plugin named like a prefix of another does not see its keys through a prefix listing.
        kv.set(&ns("a", "pp"), "x", b"2").unwrap();
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
        let (_d, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        for i in 0..5 {
            kv.set(&n, &format!("item/{i}"), b"v").unwrap();
        }
        kv.set(&n, "other", b"v").unwrap();
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
        let (_d, kv) = kv(limits);
        let n = ns("a", "p");
        assert!(matches!(
            kv.set(&n, "k", &[0; 11]),
            Err(PlazaError::TooLarge(_))
        ));
        kv.set(&n, "k1", b"12345").unwrap();
        kv.set(&n, "k2", b"12345").unwrap();
        assert!(matches!(
            kv.set(&n, "k3", b"1"),
            Err(PlazaError::QuotaExceeded { .. })
        ));
        // Overwriting an existing key is not a new key.
        kv.set(&n, "k2", b"1").unwrap();
        assert_eq!(
            kv.usage(&n).unwrap(),
            KvUsage {
                keys: 2,
                bytes: 2 + 5 + 2 + 1
            }
        );
        assert!(kv.delete(&n, "k1").unwrap());
        assert_eq!(kv.usage(&n).unwrap(), KvUsage { keys: 1, bytes: 3 });
    }

    #[test]
    fn cas_and_increment() {
        let (_d, kv) = kv(KvLimits::default());
        let n = ns("a", "p");
        assert!(kv.compare_and_swap(&n, "c", None, Some(b"x")).unwrap());
        assert!(!kv.compare_and_swap(&n, "c", None, Some(b"y")).unwrap());
        assert_eq!(kv.increment(&n, "n", 5).unwrap(), 5);
        assert_eq!(kv.increment(&n, "n", -7).unwrap(), -2);
        assert!(matches!(
            kv.increment(&n, "c", 1),
            Err(PlazaError::Invalid(_))
        ));
        assert_eq!(kv.get(&n, "c").unwrap(), Some(b"x".to_vec()));
    }
}
