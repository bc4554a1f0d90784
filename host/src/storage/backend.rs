//! The storage trait every host concern writes through, and its embedded sled implementation.
//!
//! The host keeps all of its state (accounts, installations, plugin data, outboxes, jobs) in named
//! ordered key/value trees. The surface is deliberately small so that a PostgreSQL backend (one
//! table keyed by `(tree, key)`) can serve several host processes later:
//! - reads: point gets and ordered scans on a [`Tree`];
//! - writes: only inside [`Backend::transaction`], which applies every write of one unit of work
//!   atomically across trees (PostgreSQL: `BEGIN … COMMIT`);
//! - [`Backend::flush`], the durability barrier the group commit uses.
//!
//! There are no point writes outside a transaction: records that change together (a job and its
//! due-index entry, a plugin's value and its usage counter, a broadcast's idempotency key and its
//! quota slot) cannot be left half-written by an error or a `kill -9` between them.
//!
//! ## How the sled backend makes a transaction atomic
//! sled's own transactions take a process-wide lock that every later read, write and flush then
//! contends on (measured: the inbound HTTP rate fell to a third), so Plaza commits on its own:
//! - **Optimistic concurrency.** The body runs against the live trees, recording what it read and
//!   buffering what it writes; nothing is written while it runs, so an error writes nothing.
//! - **Key locks.** A commit locks the stripes (of [`STRIPES`]) its keys hash to, in order, then
//!   reads again everything the body read — if anything changed, the body runs again — and
//!   applies its writes. Commits on different keys run side by side; commits on the same key run
//!   one after the other, in the order of their commit numbers.
//! - **Intents, for crash atomicity.** Before applying, a commit that writes more than one key
//!   writes its whole write set as an intent, under its commit number, into a ring of
//!   [`INTENT_SLOTS`] slots; the flusher records a watermark (every commit below it is applied)
//!   before each flush. sled recovers a *prefix* of its log (recovery stops at the first torn
//!   message), so after a crash every write that was recovered belongs to a commit whose intent
//!   was recovered too (the intent comes first in the log), unless the commit is below the
//!   recovered watermark, and then all its writes were recovered. Start-up re-applies, in commit
//!   order, every intent at or above the watermark: a commit cut short is finished, and one that
//!   was whole is applied again over nothing newer (a later commit on the same key would have its
//!   own intent there too, and is applied after it). A slot is reused only once the watermark
//!   that covers its previous commit is in the log.
//! - A commit that writes one key is atomic by itself and takes no intent, unless an intent at
//!   or above the watermark wrote a key of the same stripe (its replay could reach the key).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

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
    fn insert(&mut self, tree: &str, key: &[u8], value: Vec<u8>) -> Result<()>;
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

/// Lock stripes commits hash their keys to.
pub const STRIPES: usize = 1024;
/// sled's reserved default tree; Plaza never stores anything in it.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";
/// The tree of intent records: slot (u32 big-endian) → commit number (u64) and write set; and
/// under [`WATERMARK_KEY`] the watermark (u64).
const INTENT_TREE: &str = "__plaza_intents";
const WATERMARK_KEY: &[u8] = b"watermark";
/// Intent slots; a commit waits (briefly) if the flusher's watermark lags this many commits.
pub const INTENT_SLOTS: u64 = 1024;
/// The flusher moves the watermark once it lags this many commits (a write per flush would cost
/// more than the commits it covers; recovery replays at most this many more intents).
const WATERMARK_EVERY: u64 = 128;
/// Attempts of a body before a transaction gives up on contention.
const MAX_ATTEMPTS: usize = 64;
/// Failed attempts after which the body runs holding the locks of the keys it used last time, so
/// that a hot key cannot starve it.
const PESSIMISTIC_AFTER: usize = 2;

/// Buffered writes: `(tree, key)` → new value (`None` removes).
type WriteSet = BTreeMap<(String, Vec<u8>), Option<Vec<u8>>>;
/// A transaction's writes, by tree id (see `OpenTrees`).
type ById = HashMap<(u32, Vec<u8>), Option<Vec<u8>>>;
/// A transaction's reads, by tree id: what it saw.
type Seen = HashMap<(u32, Vec<u8>), Option<sled::IVec>>;

/// Opened trees: ids index `list`; transactions key their reads and writes by id.
#[derive(Default)]
struct OpenTrees {
    list: Vec<(String, sled::Tree)>,
    ids: HashMap<String, u32>,
}

/// sled: one data directory, no server. The default backend.
pub struct SledBackend {
    db: sled::Db,
    trees: RwLock<OpenTrees>,
    intents: sled::Tree,
    stripes: Vec<Mutex<()>>,
    /// Per stripe, the highest commit number with an intent that wrote a key of the stripe, while
    /// it is at or above the logged watermark (else 0). A commit writing one key needs no intent
    /// when its stripe has none: no replay can then reach the key.
    pending_intent: Vec<AtomicU64>,
    /// The watermark last written to the log: every commit below it is applied.
    watermark: AtomicU64,
    /// The next commit number.
    next_commit: AtomicU64,
    /// Commit numbers handed out and not yet applied; the lowest bounds the watermark.
    in_flight: Mutex<BTreeSet<u64>>,
    /// Set once a commit failed half-applied (a disk error): further commits are refused until a
    /// restart finishes that commit from its intent.
    broken: AtomicBool,
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
        let intents = db.open_tree(INTENT_TREE)?;
        let backend = SledBackend {
            db,
            trees: RwLock::new(OpenTrees::default()),
            intents,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            pending_intent: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            watermark: AtomicU64::new(0),
            next_commit: AtomicU64::new(0),
            in_flight: Mutex::new(BTreeSet::new()),
            broken: AtomicBool::new(false),
        };
        let next = backend.finish_interrupted_commits()?;
        backend.next_commit.store(next, Ordering::SeqCst);
        backend.watermark.store(next, Ordering::SeqCst);
        Ok(backend)
    }

    /// Re-applies, in commit order, every intent at or above the watermark that a crash left
    /// behind (see the module docs), and moves the watermark past them. Returns the next commit
    /// number.
    fn finish_interrupted_commits(&self) -> Result<u64> {
        let watermark = match self.intents.get(WATERMARK_KEY)? {
            Some(w) => u64::from_be_bytes(w.as_ref().try_into().map_err(|_| {
                PlazaError::Unavailable("the commit watermark is unreadable".into())
            })?),
            None => 0,
        };
        let mut open = BTreeMap::new();
        // Commit numbers start at 1: 0 means "no intent" in `pending_intent`.
        let mut next = watermark.max(1);
        for item in self.intents.iter() {
            let (k, v) = item?;
            if k.as_ref() == WATERMARK_KEY {
                continue;
            }
            let (number, writes) = v
                .split_at_checked(8)
                .and_then(|(n, w)| {
                    Some((u64::from_be_bytes(n.try_into().ok()?), decode_writes(w)?))
                })
                .ok_or_else(|| {
                    PlazaError::Unavailable("an interrupted commit's intent is unreadable".into())
                })?;
            next = next.max(number + 1);
            if number >= watermark {
                open.insert(number, writes);
            }
        }
        if !open.is_empty() {
            for writes in open.values() {
                for ((tree, k), v) in writes {
                    let t = self.db.open_tree(tree)?;
                    match v {
                        Some(v) => t.insert(k.as_slice(), v.as_slice())?,
                        None => t.remove(k.as_slice())?,
                    };
                }
            }
            // Re-applied writes first, then the watermark past them.
            self.db.flush()?;
        }
        self.intents.insert(WATERMARK_KEY, &next.to_be_bytes())?;
        self.db.flush()?;
        Ok(next)
    }

    fn registry(&self) -> Result<std::sync::RwLockReadGuard<'_, OpenTrees>> {
        self.trees
            .read()
            .map_err(|_| PlazaError::internal("tree registry lock poisoned"))
    }

    /// The id and handle of an opened tree.
    fn open_tree(&self, name: &str) -> Result<(u32, sled::Tree)> {
        let trees = self.registry()?;
        let id = *trees
            .ids
            .get(name)
            .ok_or_else(|| PlazaError::internal(format!("tree {name:?} was not opened")))?;
        Ok((id, trees.list[id as usize].1.clone()))
    }

    #[cfg(test)]
    fn sled_tree(&self, name: &str) -> Result<sled::Tree> {
        Ok(self.open_tree(name)?.1)
    }

    fn apply(&self, trees: &OpenTrees, writes: &ById) -> Result<()> {
        for ((id, k), v) in writes {
            let t = &trees.list[*id as usize].1;
            match v {
                Some(v) => {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
                None => {
                    t.remove(k.as_slice())?;
                }
            }
        }
        Ok(())
    }

    fn in_flight(&self) -> Result<std::sync::MutexGuard<'_, BTreeSet<u64>>> {
        self.in_flight
            .lock()
            .map_err(|_| PlazaError::internal("commit bookkeeping lock poisoned"))
    }

    /// Locks stripes in ascending order (the one order every commit uses, so none deadlocks).
    fn lock_stripes(&self, stripes: &BTreeSet<usize>) -> Result<Held<'_>> {
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(
                self.stripes[*s]
                    .lock()
                    .map_err(|_| PlazaError::internal("key lock poisoned"))?,
            );
        }
        Ok(Held {
            stripes: stripes.clone(),
            _guards: guards,
        })
    }

    /// Validates the attempt's reads and applies its writes, holding the stripe locks of every
    /// key it touched (taken here, or before the body ran). `false` when a read changed (the body
    /// must run again).
    fn commit(&self, txn: &SledTxn<'_>, held: Option<Held<'_>>) -> Result<bool> {
        let written: BTreeSet<usize> = txn.writes.keys().map(|(t, k)| stripe_of(*t, k)).collect();
        let needed = txn.stripes();
        let _held = match held {
            Some(h) if needed.is_subset(&h.stripes) => h,
            other => {
                drop(other);
                self.lock_stripes(&needed)?
            }
        };
        let trees = self.registry()?;
        for ((id, k), seen) in &txn.reads {
            if trees.list[*id as usize].1.get(k)?.as_deref() != seen.as_deref() {
                return Ok(false);
            }
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(PlazaError::Unavailable(
                "a storage write failed part-way; restart plaza to finish it".into(),
            ));
        }
        // One write is atomic by itself; it needs an intent only when a replay of an earlier
        // intent could reach its key.
        let needs_intent = txn.writes.len() > 1
            || written
                .iter()
                .any(|s| self.pending_intent[*s].load(Ordering::SeqCst) != 0);
        if !needs_intent {
            return self
                .apply(&trees, &txn.writes)
                .map(|()| true)
                .inspect_err(|e| {
                    self.broken.store(true, Ordering::SeqCst);
                    tracing::error!(error = %e, "a commit failed; refusing writes until restart");
                });
        }
        // Numbered under the key locks, so commits on one key are numbered in the order they
        // apply, and registered in flight before the intent exists, so the watermark stays below.
        let number = {
            let mut f = self.in_flight()?;
            let n = self.next_commit.fetch_add(1, Ordering::SeqCst);
            f.insert(n);
            n
        };
        let result = self.write_intent_and_apply(&trees, txn, number, &written);
        self.in_flight()?.remove(&number);
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                self.broken.store(true, Ordering::SeqCst);
                tracing::error!(error = %e, "a commit failed part-way; refusing writes until restart");
                Err(e)
            }
        }
    }

    fn write_intent_and_apply(
        &self,
        trees: &OpenTrees,
        txn: &SledTxn<'_>,
        number: u64,
        written: &BTreeSet<usize>,
    ) -> Result<()> {
        // The slot's previous commit must be below a watermark that is already in the log.
        let mut waited = 0;
        while number >= self.watermark.load(Ordering::SeqCst) + INTENT_SLOTS {
            if waited > 10_000 {
                return Err(PlazaError::Unavailable(
                    "storage commits are not being flushed; try again".into(),
                ));
            }
            self.advance_watermark()?;
            std::thread::yield_now();
            waited += 1;
        }
        for s in written {
            self.pending_intent[*s].fetch_max(number, Ordering::SeqCst);
        }
        let mut intent = number.to_be_bytes().to_vec();
        intent.extend_from_slice(&encode_writes(
            txn.writes.iter().map(|((id, k), v)| {
                (
                    trees.list[*id as usize].0.as_str(),
                    k.as_slice(),
                    v.as_deref(),
                )
            }),
            txn.writes.len(),
        ));
        let slot = ((number % INTENT_SLOTS) as u32).to_be_bytes();
        self.intents.insert(slot, intent)?;
        self.apply(trees, &txn.writes)
    }

    /// Writes the watermark (every commit below the lowest in flight is applied) to the log if it
    /// moved, then clears the stripes whose intents it now covers.
    fn advance_watermark(&self) -> Result<()> {
        let w = {
            let f = self.in_flight()?;
            f.first()
                .copied()
                .unwrap_or_else(|| self.next_commit.load(Ordering::SeqCst))
        };
        if w <= self.watermark.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.intents.insert(WATERMARK_KEY, &w.to_be_bytes())?;
        self.watermark.fetch_max(w, Ordering::SeqCst);
        // Logged before cleared: a one-write commit that then skips its intent comes after the
        // watermark in the log.
        for p in &self.pending_intent {
            let v = p.load(Ordering::SeqCst);
            if v != 0 && v < w {
                let _ = p.compare_exchange(v, 0, Ordering::SeqCst, Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

fn stripe_of(tree: u32, key: &[u8]) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tree.hash(&mut h);
    key.hash(&mut h);
    (h.finish() as usize) % STRIPES
}

/// `u32 count, then per write: u32 tree len, tree, u32 key len, key, u8 present, [u32 len, value]`.
fn encode_writes<'a>(
    writes: impl Iterator<Item = (&'a str, &'a [u8], Option<&'a [u8]>)> + Clone,
    count: usize,
) -> Vec<u8> {
    let size: usize = writes
        .clone()
        .map(|(t, k, v)| 13 + t.len() + k.len() + v.map_or(0, |v| v.len()))
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    let put = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    };
    out.extend_from_slice(&(count as u32).to_be_bytes());
    for (t, k, v) in writes {
        put(&mut out, t.as_bytes());
        put(&mut out, k);
        match v {
            Some(v) => {
                out.push(1);
                put(&mut out, v);
            }
            None => out.push(0),
        }
    }
    out
}

fn decode_writes(mut b: &[u8]) -> Option<WriteSet> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(head)
    }
    fn len(b: &mut &[u8]) -> Option<usize> {
        Some(u32::from_be_bytes(take(b, 4)?.try_into().ok()?) as usize)
    }
    let count = len(&mut b)?;
    let mut out = WriteSet::new();
    for _ in 0..count {
        let n = len(&mut b)?;
        let tree = String::from_utf8(take(&mut b, n)?.to_vec()).ok()?;
        let n = len(&mut b)?;
        let key = take(&mut b, n)?.to_vec();
        let value = match take(&mut b, 1)?[0] {
            1 => {
                let n = len(&mut b)?;
                Some(take(&mut b, n)?.to_vec())
            }
            _ => None,
        };
        out.insert((tree, key), value);
    }
    Some(out)
}

impl Backend for SledBackend {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>> {
        let mut trees = self
            .trees
            .write()
            .map_err(|_| PlazaError::internal("tree registry lock poisoned"))?;
        let tree = match trees.ids.get(name) {
            Some(&id) => trees.list[id as usize].1.clone(),
            None => {
                let t = self.db.open_tree(name)?;
                let id = trees.list.len() as u32;
                trees.list.push((name.to_string(), t.clone()));
                trees.ids.insert(name.to_string(), id);
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
            .filter(|n| n.as_ref() != SLED_DEFAULT_TREE && n.as_ref() != INTENT_TREE.as_bytes())
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn transaction(&self, body: &mut TxnBody<'_>) -> Result<()> {
        let mut last: Option<BTreeSet<usize>> = None;
        for attempt in 0..MAX_ATTEMPTS {
            let held = match &last {
                Some(stripes) if attempt >= PESSIMISTIC_AFTER => Some(self.lock_stripes(stripes)?),
                _ => None,
            };
            let mut txn = SledTxn {
                backend: self,
                reads: Seen::new(),
                writes: ById::new(),
            };
            body(&mut txn)?;
            if txn.writes.is_empty() || self.commit(&txn, held)? {
                return Ok(());
            }
            last = Some(txn.stripes());
        }
        Err(PlazaError::Unavailable(
            "storage is too busy with conflicting writes; try again".into(),
        ))
    }

    fn flush(&self) -> Result<()> {
        // The watermark first: the flush then makes the commits and the watermark durable.
        if self.next_commit.load(Ordering::SeqCst)
            >= self.watermark.load(Ordering::SeqCst) + WATERMARK_EVERY
        {
            self.advance_watermark()?;
        }
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

/// One attempt of a transaction: reads go to the live trees (and are remembered for validation)
/// unless the attempt already wrote the key; writes are buffered until commit.
struct SledTxn<'a> {
    backend: &'a SledBackend,
    reads: Seen,
    writes: ById,
}

impl SledTxn<'_> {
    /// The stripes of every key read or written.
    fn stripes(&self) -> BTreeSet<usize> {
        self.reads
            .keys()
            .chain(self.writes.keys())
            .map(|(t, k)| stripe_of(*t, k))
            .collect()
    }
}

/// Stripe locks held by one transaction attempt.
struct Held<'a> {
    stripes: BTreeSet<usize>,
    _guards: Vec<std::sync::MutexGuard<'a, ()>>,
}

impl Txn for SledTxn<'_> {
    fn get(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (id, t) = self.backend.open_tree(tree)?;
        let k = (id, key.to_vec());
        if let Some(v) = self.writes.get(&k) {
            return Ok(v.clone());
        }
        if let Some(v) = self.reads.get(&k) {
            return Ok(v.as_deref().map(<[u8]>::to_vec));
        }
        let v = t.get(key)?;
        let out = v.as_deref().map(<[u8]>::to_vec);
        self.reads.insert(k, v);
        Ok(out)
    }

    fn insert(&mut self, tree: &str, key: &[u8], value: Vec<u8>) -> Result<()> {
        let (id, _) = self.backend.open_tree(tree)?;
        self.writes.insert((id, key.to_vec()), Some(value));
        Ok(())
    }

    fn remove(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(tree, key)?;
        let (id, _) = self.backend.open_tree(tree)?;
        self.writes.insert((id, key.to_vec()), None);
        Ok(old)
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
        b.tree(tree).unwrap();
        b.transaction(&mut |t| t.insert(tree, k, v.to_vec()))
            .unwrap();
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
            t.insert("one", b"k", b"1".to_vec())?;
            t.insert("two", b"k", b"2".to_vec())?;
            // Reads see the transaction's own writes.
            assert_eq!(t.get("one", b"k")?, Some(b"1".to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(one.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(two.get(b"k").unwrap(), Some(b"2".to_vec()));

        let err = b
            .transaction(&mut |t| {
                t.insert("one", b"k", b"changed".to_vec())?;
                t.remove("two", b"k")?;
                Err(PlazaError::invalid("refused after two writes"))
            })
            .unwrap_err();
        assert_eq!(err, PlazaError::invalid("refused after two writes"));
        assert_eq!(one.get(b"k").unwrap(), Some(b"1".to_vec()));
        assert_eq!(two.get(b"k").unwrap(), Some(b"2".to_vec()));
    }

    /// Writes an intent the way a commit does, for crash scenarios.
    fn intent(b: &SledBackend, number: u64, writes: &[(&str, &[u8], &[u8])]) {
        let mut value = number.to_be_bytes().to_vec();
        value.extend_from_slice(&encode_writes(
            writes.iter().map(|(t, k, v)| (*t, *k, Some(*v))),
            writes.len(),
        ));
        let slot = ((number % INTENT_SLOTS) as u32).to_be_bytes();
        b.intents.insert(slot, value).unwrap();
    }

    #[test]
    fn commits_cut_short_by_a_crash_are_finished_at_start_in_commit_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = crate::storage::testing::open_when_released(dir.path());
            b.tree("one").unwrap();
            b.tree("two").unwrap();
            b.transaction(&mut |t| {
                t.insert("one", b"k", b"old".to_vec())?;
                t.insert("two", b"k", b"old".to_vec())
            })
            .unwrap();
            b.flush().unwrap();
            // What a crash leaves: the watermark at 10, an older intent below it (complete, must
            // not be replayed), and two commits on the same keys above it, of the second only its
            // first write applied.
            b.intents
                .insert(WATERMARK_KEY, &10u64.to_be_bytes())
                .unwrap();
            intent(&b, 3, &[("one", b"k", b"stale"), ("two", b"k", b"stale")]);
            intent(&b, 10, &[("one", b"k", b"first"), ("two", b"k", b"first")]);
            intent(
                &b,
                11,
                &[("one", b"k", b"second"), ("two", b"k", b"second")],
            );
            b.sled_tree("one").unwrap().insert(b"k", b"second").unwrap();
            b.db.flush().unwrap();
        }
        let b = crate::storage::testing::open_when_released(dir.path());
        assert_eq!(
            b.tree("one").unwrap().get(b"k").unwrap(),
            Some(b"second".to_vec())
        );
        assert_eq!(
            b.tree("two").unwrap().get(b"k").unwrap(),
            Some(b"second".to_vec())
        );
        assert_eq!(b.tree_names().unwrap(), ["one", "two"]);
        // Numbering continues after the highest commit seen, and the watermark moved past it.
        assert_eq!(b.next_commit.load(Ordering::SeqCst), 12);
        assert_eq!(b.watermark.load(Ordering::SeqCst), 12);
        drop(b);
        // Starting again replays nothing over newer writes.
        let b = crate::storage::testing::open_when_released(dir.path());
        b.tree("one").unwrap();
        b.transaction(&mut |t| t.insert("one", b"k", b"third".to_vec()))
            .unwrap();
        b.flush().unwrap();
        drop(b);
        let b = crate::storage::testing::open_when_released(dir.path());
        assert_eq!(
            b.tree("one").unwrap().get(b"k").unwrap(),
            Some(b"third".to_vec())
        );
    }

    #[test]
    fn a_one_write_commit_takes_an_intent_only_while_a_replay_could_reach_its_key() {
        let (_d, b) = backend();
        b.tree("t").unwrap();
        let numbered = || b.next_commit.load(Ordering::SeqCst);
        let start = numbered();
        b.transaction(&mut |t| {
            t.insert("t", b"a", b"1".to_vec())?;
            t.insert("t", b"b", b"1".to_vec())
        })
        .unwrap();
        assert_eq!(numbered(), start + 1, "two writes take an intent");
        // The intent above would replay over `a`: this write needs its own, to come after it.
        b.transaction(&mut |t| t.insert("t", b"a", b"2".to_vec()))
            .unwrap();
        assert_eq!(numbered(), start + 2);
        // Once the watermark covers them, a one-write commit is atomic on its own.
        b.advance_watermark().unwrap();
        b.transaction(&mut |t| t.insert("t", b"a", b"3".to_vec()))
            .unwrap();
        assert_eq!(numbered(), start + 2);
    }

    #[test]
    fn intent_slots_are_reused_behind_the_watermark() {
        let (_d, b) = backend();
        b.tree("t").unwrap();
        for i in 0..(INTENT_SLOTS + 10) {
            b.transaction(&mut |t| {
                t.insert("t", &i.to_be_bytes(), b"v".to_vec())?;
                t.insert("t", b"count", i.to_be_bytes().to_vec())
            })
            .unwrap();
        }
        // Slots plus the watermark, however many commits ran.
        assert_eq!(b.intents.len() as u64, INTENT_SLOTS + 1);
    }

    #[test]
    fn concurrent_read_modify_writes_do_not_lose_updates() {
        let (_d, b) = backend();
        b.tree("n").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..250 {
                        b.transaction(&mut |t| {
                            let n = t
                                .get("n", b"count")?
                                .map(|v| u64::from_be_bytes(v.try_into().unwrap_or_default()))
                                .unwrap_or(0);
                            t.insert("n", b"count", (n + 1).to_be_bytes().to_vec())
                        })
                        .unwrap();
                    }
                });
            }
        });
        let v = b.tree("n").unwrap().get(b"count").unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(v.try_into().unwrap()), 1000);
    }

    #[test]
    fn a_tree_that_was_not_opened_is_a_typed_error() {
        let (_d, b) = backend();
        let err = b
            .transaction(&mut |t| t.insert("nowhere", b"k", b"v".to_vec()))
            .unwrap_err();
        assert!(matches!(err, PlazaError::Internal(_)), "{err}");
        assert_eq!(b.tree_names().unwrap(), Vec::<String>::new());
    }
}
