//! The storage trait every host concern writes through, and its embedded sled implementation.
//!
//! The host keeps all of its state (accounts, installations, plugin data, outboxes, jobs) in named
//! ordered key/value trees. Keeping that surface small — point reads and writes, ordered scans,
//! compare-and-swap and an atomic update — is what lets a PostgreSQL backend (one table keyed by
//! `(tree, key)`) serve several host processes later without touching the concerns above it.

use std::sync::Arc;

use crate::error::{PlazaError, Result};

/// A read-modify-write step: the current value (if any) in, the new value (`None` removes) out.
pub type UpdateFn<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// An ordered byte-keyed tree.
pub trait Tree: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Returns the previous value.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Returns the removed value.
    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Entries whose key starts with `prefix` and sorts strictly after `after`, in key order.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Entries with `start <= key < end`, in key order.
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Sets `key` to `new` only if its current value equals `expected` (`None` = absent).
    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool>;
    /// Atomically replaces the value with `f(current)` (`None` removes) and returns the new value.
    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>>;
}

/// A store of named trees with a durability barrier.
pub trait Backend: Send + Sync {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>>;
    /// Blocks until every write made before the call is on stable storage.
    fn flush(&self) -> Result<()>;
}

/// sled: one data directory, no server. The default backend.
pub struct SledBackend {
    db: sled::Db,
}

impl SledBackend {
    pub fn open(dir: &std::path::Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            // Durability comes from our own group commit (see `durability`); sled's periodic
            // flush stays on as a second line.
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| {
                PlazaError::Unavailable(format!(
                    "cannot open data directory {}: {e}",
                    dir.display()
                ))
            })?;
        Ok(SledBackend { db })
    }
}

impl Backend for SledBackend {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>> {
        Ok(Arc::new(SledTree(self.db.open_tree(name)?)))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

struct SledTree(sled::Tree);

fn collect(
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for item in iter.take(limit) {
        let (k, v) = item?;
        out.push((k.to_vec(), v.to_vec()));
    }
    Ok(out)
}

impl Tree for SledTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.insert(key, value)?.map(|v| v.to_vec()))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.remove(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match after {
            Some(after) if after >= prefix => {
                use std::ops::Bound;
                let iter = self
                    .0
                    .range::<&[u8], _>((Bound::Excluded(after), Bound::Unbounded))
                    .take_while(|r| {
                        r.as_ref()
                            .map(|(k, _)| k.starts_with(prefix))
                            .unwrap_or(true)
                    });
                collect(iter, limit)
            }
            _ => collect(self.0.scan_prefix(prefix), limit),
        }
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        collect(self.0.range(start..end), limit)
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        Ok(self.0.compare_and_swap(key, expected, new)?.is_ok())
    }

    fn update(&self, key: &[u8], f: &mut UpdateFn<'_>) -> Result<Option<Vec<u8>>> {
        Ok(self.0.update_and_fetch(key, f)?.map(|v| v.to_vec()))
    }
}

/// Joins key parts with a 0 byte so that a prefix scan over `(a, b)` never matches `(a, bc)`.
/// Parts are identifiers validated to contain no 0 byte.
pub fn key(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

/// Like [`key`] but with a trailing separator, for scanning every key under the parts.
pub fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut out = key(parts);
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Arc<dyn Tree>) {
        let dir = tempfile::tempdir().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        let t = b.tree("t").unwrap();
        (dir, t)
    }

    #[test]
    fn scan_prefix_pages_without_leaking_neighbours() {
        let (_d, t) = tree();
        for k in ["a\0x", "a\0y", "a\0z", "ab\0q", "b\0x"] {
            t.insert(k.as_bytes(), b"v").unwrap();
        }
        let first = t.scan_prefix(b"a\0", None, 2).unwrap();
        assert_eq!(first.len(), 2);
        let rest = t.scan_prefix(b"a\0", Some(&first[1].0), 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, b"a\0z".to_vec());
    }

    #[test]
    fn compare_and_swap_and_update() {
        let (_d, t) = tree();
        assert!(t.compare_and_swap(b"k", None, Some(b"1")).unwrap());
        assert!(!t.compare_and_swap(b"k", None, Some(b"2")).unwrap());
        assert!(t.compare_and_swap(b"k", Some(b"1"), None).unwrap());
        assert_eq!(t.get(b"k").unwrap(), None);
        let v = t
            .update(b"n", &mut |old| Some([old.unwrap_or(b""), b"x"].concat()))
            .unwrap();
        assert_eq!(v, Some(b"x".to_vec()));
    }
}
