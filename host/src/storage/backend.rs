//! The storage trait every host concern writes through, and its embedded sled implementation.
//!
//! The host keeps all of its state (accounts, installations, plugin data, outboxes, jobs) in named
//! ordered key/value trees. The surface is deliberately small so that a PostgreSQL backend (one
//! table keyed by `(tree, key)`) can serve several host processes later:
//! - reads: point gets and ordered scans on a [`Tree`];
//! - writes: only inside [`Backend::transaction`], which applies every write of one unit of work
//!   atomically across trees (sled: a multi-tree transaction; PostgreSQL: `BEGIN … COMMIT`);
//! - [`Backend::flush`], the durability barrier the group commit uses.
//!
//! There are no point writes outside a transaction: records that change together (a job and its
//! due-index entry, a plugin's value and its usage counter, a broadcast's idempotency key and its
//! quota slot) cannot be left half-written by an error or a `kill -9` between them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::error::{PlazaError, Result};

/// An ordered byte-keyed tree, read side.
pub trait Tree: Send + Sync {
    fn name(&self) -> &str;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Entries whose key starts with `prefix` and sorts strictly after `after`, in key order.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Entries with `start <= key < end`, in key order.
    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// The reads and writes of one transaction, addressed by tree name. Reads see the committed state
/// plus the transaction's own writes.
pub trait Txn {
    fn get(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn insert(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<()>;
    /// Returns the removed value.
    fn remove(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
}

/// The body of a transaction. It may run more than once (after a conflict), so it must have no
/// effects outside the transaction; an `Err` aborts it and nothing is written.
pub type TxnBody<'a> = dyn FnMut(&mut dyn Txn) -> Result<()> + 'a;

/// A store of named trees with atomic multi-tree transactions and a durability barrier.
pub trait Backend: Send + Sync {
    /// Opens (or creates) a tree. Trees a transaction names must have been opened first.
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>>;
    /// Names of every tree that holds data or was opened, sorted.
    fn tree_names(&self) -> Result<Vec<String>>;
    /// Runs `body` as one atomic transaction (see [`TxnBody`]).
    fn transaction(&self, body: &mut TxnBody<'_>) -> Result<()>;
    /// Blocks until every committed transaction is on stable storage.
    fn flush(&self) -> Result<()>;
}

/// sled: one data directory, no server. The default backend.
pub struct SledBackend {
    db: sled::Db,
    /// Every opened tree; a sled transaction spans all of them, so a body may touch any.
    trees: RwLock<OpenTrees>,
}

#[derive(Default)]
struct OpenTrees {
    list: Vec<sled::Tree>,
    index: HashMap<String, usize>,
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
        Ok(SledBackend {
            db,
            trees: RwLock::new(OpenTrees::default()),
        })
    }

    fn trees(&self) -> Result<std::sync::RwLockReadGuard<'_, OpenTrees>> {
        self.trees
            .read()
            .map_err(|_| PlazaError::internal("tree registry lock poisoned"))
    }
}

/// sled's reserved default tree; Plaza never stores anything in it.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

impl Backend for SledBackend {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>> {
        let mut trees = self
            .trees
            .write()
            .map_err(|_| PlazaError::internal("tree registry lock poisoned"))?;
        let tree = match trees.index.get(name) {
            Some(&i) => trees.list[i].clone(),
            None => {
                let t = self.db.open_tree(name)?;
                let at = trees.list.len();
                trees.index.insert(name.to_string(), at);
                trees.list.push(t.clone());
                t
            }
        };
        Ok(Arc::new(SledTree {
            name: name.to_string(),
            tree,
        }))
    }

    fn tree_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .db
            .tree_names()
            .into_iter()
            .filter(|n| n.as_ref() != SLED_DEFAULT_TREE)
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn transaction(&self, body: &mut TxnBody<'_>) -> Result<()> {
        use sled::Transactional;
        use sled::transaction::{ConflictableTransactionError, TransactionError};

        let trees = self.trees()?;
        let body = std::cell::RefCell::new(body);
        let result = trees.list.as_slice().transaction(|views| {
            let mut txn = SledTxn {
                views,
                index: &trees.index,
                interrupted: None,
            };
            let outcome = (body.borrow_mut())(&mut txn);
            match (outcome, txn.interrupted.take()) {
                // A conflict or storage failure inside a step wins over the body's reading of it.
                (_, Some(interrupted)) => Err(interrupted),
                (Ok(()), None) => Ok(()),
                (Err(e), None) => Err(ConflictableTransactionError::Abort(e)),
            }
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

struct SledTree {
    name: String,
    tree: sled::Tree,
}

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
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
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
                    .tree
                    .range::<&[u8], _>((Bound::Excluded(after), Bound::Unbounded))
                    .take_while(|r| {
                        r.as_ref()
                            .map(|(k, _)| k.starts_with(prefix))
                            .unwrap_or(true)
                    });
                collect(iter, limit)
            }
            _ => collect(self.tree.scan_prefix(prefix), limit),
        }
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        collect(self.tree.range(start..end), limit)
    }
}

/// The sled view of one transaction attempt.
struct SledTxn<'a> {
    views: &'a [sled::transaction::TransactionalTree],
    index: &'a HashMap<String, usize>,
    /// Set when a step hit a conflict (sled retries the body) or a storage error.
    interrupted: Option<sled::transaction::ConflictableTransactionError<PlazaError>>,
}

impl SledTxn<'_> {
    fn view(&self, tree: &str) -> Result<&sled::transaction::TransactionalTree> {
        self.index
            .get(tree)
            .and_then(|&i| self.views.get(i))
            .ok_or_else(|| PlazaError::internal(format!("tree {tree:?} was not opened")))
    }

    fn step<T>(
        &mut self,
        r: std::result::Result<T, sled::transaction::UnabortableTransactionError>,
    ) -> Result<T> {
        use sled::transaction::{ConflictableTransactionError, UnabortableTransactionError};
        r.map_err(|e| {
            let message = format!("storage transaction interrupted: {e}");
            self.interrupted = Some(match e {
                UnabortableTransactionError::Conflict => ConflictableTransactionError::Conflict,
                UnabortableTransactionError::Storage(s) => ConflictableTransactionError::Storage(s),
            });
            PlazaError::Unavailable(message)
        })
    }
}

impl Txn for SledTxn<'_> {
    fn get(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let r = self.view(tree)?.get(key);
        Ok(self.step(r)?.map(|v| v.to_vec()))
    }

    fn insert(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let r = self.view(tree)?.insert(key, value);
        self.step(r)?;
        Ok(())
    }

    fn remove(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let r = self.view(tree)?.remove(key);
        Ok(self.step(r)?.map(|v| v.to_vec()))
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

/// `prefix` followed by raw bytes (an id, a user-chosen key) — the record key of a child.
pub fn child(parts: &[&str], last: &[u8]) -> Vec<u8> {
    let mut out = prefix(parts);
    out.extend_from_slice(last);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> (tempfile::TempDir, SledBackend) {
        let dir = tempfile::tempdir().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        (dir, b)
    }

    fn put(b: &SledBackend, tree: &str, k: &[u8], v: &[u8]) {
        b.transaction(&mut |t| t.insert(tree, k, v)).unwrap();
    }

    #[test]
    fn scan_prefix_pages_without_leaking_neighbours() {
        let (_d, b) = backend();
        let t = b.tree("t").unwrap();
        for k in ["a\0x", "a\0y", "a\0z", "ab\0q", "b\0x"] {
            put(&b, "t", k.as_bytes(), b"v");
        }
        let first = t.scan_prefix(b"a\0", None, 2).unwrap();
        assert_eq!(first.len(), 2);
        let rest = t.scan_prefix(b"a\0", Some(&first[1].0), 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, b"a\0z".to_vec());
    }

    #[test]
    fn a_transaction_spans_trees_and_an_error_writes_nothing() {
        let (_d, b) = backend();
        let (one, two) = (b.tree("one").unwrap(), b.tree("two").unwrap());
        b.transaction(&mut |t| {
            t.insert("one", b"k", b"1")?;
            t.insert("two", b"k", b"2")?;
            // Reads see the transaction's own writes.
            assert_eq!(t.get("one", b"k")?, Some(b"1".to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(one.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(two.get(b"k").unwrap(), Some(b"2".to_vec()));

        let err = b
            .transaction(&mut |t| {
                t.insert("one", b"k", b"changed")?;
                t.remove("two", b"k")?;
                Err(PlazaError::invalid("refused after two writes"))
            })
            .unwrap_err();
        assert_eq!(err, PlazaError::invalid("refused after two writes"));
        assert_eq!(one.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(two.get(b"k").unwrap(), Some(b"2".to_vec()));
    }

    #[test]
    fn a_tree_that_was_not_opened_is_a_typed_error() {
        let (_d, b) = backend();
        let err = b
            .transaction(&mut |t| t.insert("nowhere", b"k", b"v"))
            .unwrap_err();
        assert!(matches!(err, PlazaError::Internal(_)), "{err}");
        assert_eq!(b.tree_names().unwrap(), Vec::<String>::new());
    }
}
