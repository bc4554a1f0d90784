//! Typed tables over the byte trees, and the transaction every write goes through.
//!
//! A [`Table`] is one named tree with a value codec: JSON for records ([`Json`]), raw bytes for
//! values the host lays out itself ([`Bytes`]). Keys stay byte strings built with [`key`] and
//! [`prefix`], so each concern keeps its own ordering; what the table adds is decoding, paging
//! with a cursor, and the rule that **writes only happen inside a [`Tx`]** — a unit of work that
//! commits atomically across every table it touches (see [`super::Store::write`]).
//!
//! [`key`]: super::backend::key
//! [`prefix`]: super::backend::prefix

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::backend::{Tree, Txn};
use crate::error::{PlazaError, Result};

/// How a table's values are stored.
pub trait Codec: Send + Sync + 'static {
    type Value;
    fn encode(value: &Self::Value) -> Result<Vec<u8>>;
    fn decode(bytes: &[u8]) -> Result<Self::Value>;
}

/// Values are serde records stored as JSON.
pub struct Json<T>(PhantomData<fn() -> T>);

impl<T: Serialize + DeserializeOwned + 'static> Codec for Json<T> {
    type Value = T;
    fn encode(value: &T) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(value)?)
    }
    fn decode(bytes: &[u8]) -> Result<T> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Values are bytes the host lays out itself (plugin data, status bytes, empty index markers).
pub struct Bytes;

impl Codec for Bytes {
    type Value = Vec<u8>;
    fn encode(value: &Vec<u8>) -> Result<Vec<u8>> {
        Ok(value.clone())
    }
    fn decode(bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

/// Records set aside because they no longer decode: `(key, why)`.
pub type Undecodable = Vec<(Vec<u8>, PlazaError)>;

/// One page of a listing: `(key suffix after the listing's prefix, value)` in key order, and the
/// cursor that continues after it (the last suffix), if more entries exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<V> {
    pub items: Vec<(String, V)>,
    pub next_cursor: Option<String>,
}

impl<V> Page<V> {
    pub fn values(self) -> Vec<V> {
        self.items.into_iter().map(|(_, v)| v).collect()
    }
}

/// A named tree whose values are encoded with `C`. Reads only: writes go through [`Tx`].
pub struct Table<C: Codec> {
    tree: Arc<dyn Tree>,
    _codec: PhantomData<C>,
}

impl<C: Codec> Clone for Table<C> {
    fn clone(&self) -> Self {
        Table {
            tree: self.tree.clone(),
            _codec: PhantomData,
        }
    }
}

impl<C: Codec> Table<C> {
    pub(crate) fn new(tree: Arc<dyn Tree>) -> Self {
        Table {
            tree,
            _codec: PhantomData,
        }
    }

    pub fn name(&self) -> &str {
        self.tree.name()
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<C::Value>> {
        outside_unit_of_work()?;
        self.tree.get(key)?.map(|v| C::decode(&v)).transpose()
    }

    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        outside_unit_of_work()?;
        Ok(self.tree.get(key)?.is_some())
    }

    /// Entries whose key starts with `prefix` and sorts after `after`, in key order, decoded.
    pub fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, C::Value)>> {
        outside_unit_of_work()?;
        self.tree
            .scan_prefix(prefix, after, limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, C::decode(&v)?)))
            .collect()
    }

    /// Keys only (values are not decoded), for index tables and bulk deletes.
    pub fn keys(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Vec<u8>>> {
        outside_unit_of_work()?;
        Ok(self
            .tree
            .scan_prefix(prefix, after, limit)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Entries with `start <= key < end`, in key order, decoded.
    pub fn range(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, C::Value)>> {
        outside_unit_of_work()?;
        self.tree
            .range(start, end, limit)?
            .into_iter()
            .map(|(k, v)| Ok((k, C::decode(&v)?)))
            .collect()
    }

    /// Every value under `prefix`, in key order. For sets the host bounds (an account's
    /// installations, templates, tags); listings that can grow use [`Table::page`].
    pub fn values(&self, prefix: &[u8]) -> Result<Vec<C::Value>> {
        outside_unit_of_work()?;
        self.tree
            .scan_prefix(prefix, None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| C::decode(&v))
            .collect()
    }

    /// Like [`Table::values`], but a record that does not decode is set aside instead of failing
    /// the whole listing: returns the decodable values and `(key, error)` for the others. Used
    /// where one bad record must not take down everything else (start-up).
    pub fn values_lenient(&self, prefix: &[u8]) -> Result<(Vec<C::Value>, Undecodable)> {
        outside_unit_of_work()?;
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (k, v) in self.tree.scan_prefix(prefix, None, usize::MAX)? {
            match C::decode(&v) {
                Ok(value) => good.push(value),
                Err(e) => bad.push((k, e)),
            }
        }
        Ok((good, bad))
    }

    /// One page under `prefix`. The cursor is the key suffix (after `prefix`) of the last entry of
    /// the previous page; `next_cursor` is set only when another entry follows.
    pub fn page(
        &self,
        prefix: &[u8],
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<C::Value>> {
        self.page_in(prefix, b"", cursor, limit)
    }

    /// Like [`Table::page`] over the keys under `base` that continue with `within` (a listing
    /// filtered by a prefix of its own); suffixes and the cursor are relative to `base`.
    pub fn page_in(
        &self,
        base: &[u8],
        within: &[u8],
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<C::Value>> {
        outside_unit_of_work()?;
        let prefix = base;
        let scan = [base, within].concat();
        let after = cursor.map(|c| [base, c.as_bytes()].concat());
        // One extra entry tells whether another page exists.
        let mut rows = self
            .tree
            .scan_prefix(&scan, after.as_deref(), limit.saturating_add(1))?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = rows
            .into_iter()
            .map(|(k, v)| {
                let suffix = String::from_utf8_lossy(&k[prefix.len().min(k.len())..]).into_owned();
                Ok((suffix, C::decode(&v)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if more {
            items.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The raw entries of the whole table, undecoded, for checks that must not trust the codec
    /// (start-up scans for records that no longer decode).
    pub fn raw(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        outside_unit_of_work()?;
        self.tree.scan_prefix(prefix, after, limit)
    }
}

/// One write that a transaction made: the tree, the key, and the new value (`None` = removed).
pub(crate) type WriteOp = (String, Vec<u8>, Option<Vec<u8>>);

/// A unit of work in progress: reads see the committed state plus this unit's own writes; the
/// writes become visible (and durable, once [`super::Pending::durable`] returns) all together or
/// not at all. A body may run more than once, so it must not have effects outside the `Tx`.
pub struct Tx<'a> {
    txn: &'a mut dyn Txn,
    /// Writes recorded for an online backup in progress (see `storage::backup`).
    record: Option<&'a mut Vec<WriteOp>>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(txn: &'a mut dyn Txn, record: Option<&'a mut Vec<WriteOp>>) -> Self {
        Tx { txn, record }
    }

    pub fn get<C: Codec>(&mut self, table: &Table<C>, key: &[u8]) -> Result<Option<C::Value>> {
        self.txn
            .get(table.name(), key)?
            .map(|v| C::decode(&v))
            .transpose()
    }

    pub fn contains<C: Codec>(&mut self, table: &Table<C>, key: &[u8]) -> Result<bool> {
        Ok(self.txn.get(table.name(), key)?.is_some())
    }

    pub fn put<C: Codec>(&mut self, table: &Table<C>, key: &[u8], value: &C::Value) -> Result<()> {
        let bytes = C::encode(value)?;
        self.put_raw(table.name(), key, bytes)
    }

    /// Writes raw bytes to a [`Bytes`] table without copying them into a `Vec` first.
    pub fn put_bytes(&mut self, table: &Table<Bytes>, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_raw(table.name(), key, value.to_vec())
    }

    /// Removes `key`; true if it existed.
    pub fn delete<C: Codec>(&mut self, table: &Table<C>, key: &[u8]) -> Result<bool> {
        let existed = self.txn.remove(table.name(), key)?.is_some();
        if let Some(r) = self.record.as_deref_mut() {
            r.push((table.name().to_string(), key.to_vec(), None));
        }
        Ok(existed)
    }

    /// Removes `key` and returns what it held.
    pub fn take<C: Codec>(&mut self, table: &Table<C>, key: &[u8]) -> Result<Option<C::Value>> {
        let old = self.txn.remove(table.name(), key)?;
        if let Some(r) = self.record.as_deref_mut() {
            r.push((table.name().to_string(), key.to_vec(), None));
        }
        old.map(|v| C::decode(&v)).transpose()
    }

    /// Inserts `value` only if `key` is absent; false (and nothing written) if it exists.
    pub fn insert_new<C: Codec>(
        &mut self,
        table: &Table<C>,
        key: &[u8],
        value: &C::Value,
    ) -> Result<bool> {
        if self.contains(table, key)? {
            return Ok(false);
        }
        self.put(table, key, value)?;
        Ok(true)
    }

    /// Read-modify-write of one record: `f` gets the current value (if any) and returns the new
    /// one (`None` removes), or an error that aborts the whole unit of work.
    pub fn update<C: Codec>(
        &mut self,
        table: &Table<C>,
        key: &[u8],
        f: impl FnOnce(Option<C::Value>) -> Result<Option<C::Value>>,
    ) -> Result<Option<C::Value>> {
        let old = self.get(table, key)?;
        let new = f(old)?;
        match &new {
            Some(v) => self.put(table, key, v)?,
            None => {
                self.delete(table, key)?;
            }
        }
        Ok(new)
    }

    pub(crate) fn put_raw(&mut self, tree: &str, key: &[u8], bytes: Vec<u8>) -> Result<()> {
        if let Some(r) = self.record.as_deref_mut() {
            r.push((tree.to_string(), key.to_vec(), Some(bytes.clone())));
        }
        self.txn.insert(tree, key, bytes)
    }
}

/// Refuses a unit of work whose body asked for something it may not do (a programming error
/// surfaced as a typed error rather than a panic or a deadlock on a request path).
pub(crate) fn misuse(what: &str) -> PlazaError {
    PlazaError::internal(format!("storage misuse: {what}"))
}

/// Table reads inside a unit of work must go through its [`Tx`]: they would not see the unit's
/// own writes, and sled's reads wait on the lock the running transaction holds (a deadlock).
fn outside_unit_of_work() -> Result<()> {
    if super::in_unit_of_work() {
        return Err(misuse(
            "a table was read directly inside a unit of work; read through the Tx, or before it",
        ));
    }
    Ok(())
}
