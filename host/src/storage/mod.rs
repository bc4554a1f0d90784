//! Storage: the backend trait the whole host writes through, typed tables, units of work that
//! commit atomically and durably, online backups, and the per-installation key/value store
//! plugins reach through the `storage` WIT import.
//!
//! Every write in the host is a unit of work run by [`Store::write`]: its writes commit
//! atomically across tables (one backend transaction), and its result comes back as a
//! [`Pending`] that yields the value only once the group commit has made it durable. So records
//! that change together commit together, and nothing is acknowledged before it is on disk.

pub mod backend;
pub mod backup;
pub mod due;
pub mod durability;
pub mod host;
pub mod owner_only;
pub mod plugin_kv;
pub mod table;

use std::sync::{Arc, Mutex, RwLock};

pub use backend::{Backend, SledBackend, Tree};
pub use durability::{GroupCommit, Pending};
pub use plugin_kv::{BatchOutcome, KvCheck, KvLimits, KvNamespace, KvWrite, PluginKv};
pub use table::{Bytes, Codec, Json, Page, Table, Tx};

use self::table::WriteOp;
use crate::error::{PlazaError, Result};

/// One stored entry, as [`Store::snapshot`] lists it: `(table, key, value)`.
pub type StoredEntry = (String, Vec<u8>, Vec<u8>);

/// The host's storage: named tables over one backend, units of work, group commit.
pub struct Store {
    backend: Arc<dyn Backend>,
    commit: Arc<GroupCommit>,
    /// While an online backup runs, every unit of work's writes are recorded here, in commit
    /// order (see `backup`).
    recording: RwLock<Option<Arc<Mutex<Vec<WriteOp>>>>>,
    /// Held for the whole of one backup, file writing included: a second backup is refused
    /// before it touches the first one's scratch space or output.
    backup_slot: Mutex<()>,
    /// Bumped after every unit of work that committed: lets a live view (the console's message
    /// stream) re-read what it shows only when something changed, without polling. A `watch`
    /// keeps only the latest value, so a slow reader never queues up notifications.
    commits: tokio::sync::watch::Sender<u64>,
}

thread_local! {
    /// Set while a unit of work's body runs on this thread: a nested `write` would wait on the
    /// transaction lock its own thread holds.
    static IN_UNIT_OF_WORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a unit of work's body is running on this thread.
pub(crate) fn in_unit_of_work() -> bool {
    IN_UNIT_OF_WORK.with(|c| c.get())
}

impl Store {
    pub fn new(backend: Arc<dyn Backend>) -> Arc<Store> {
        let commit = GroupCommit::start(backend.clone());
        Arc::new(Store {
            backend,
            commit,
            recording: RwLock::new(None),
            backup_slot: Mutex::new(()),
            commits: tokio::sync::watch::Sender::new(0),
        })
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// A typed view of the named tree (created if new).
    pub fn table<C: Codec>(&self, name: &str) -> Result<Table<C>> {
        Ok(Table::new(self.backend.tree(name)?))
    }

    /// Runs `body` as one unit of work: all of its writes commit atomically, or none does when it
    /// returns an error. The body may run more than once (after a conflict), so it must only
    /// read and write through its [`Tx`]. The result is available once durable.
    pub fn write<T>(&self, mut body: impl FnMut(&mut Tx<'_>) -> Result<T>) -> Result<Pending<T>> {
        if in_unit_of_work() {
            return Err(table::misuse("a unit of work was started inside another"));
        }
        let recording = self
            .recording
            .read()
            .map_err(|_| PlazaError::internal("backup recording lock poisoned"))?;
        let mut out = None;
        match recording.as_ref() {
            None => self.run(&mut body, &mut out, None)?,
            Some(log) => {
                // Holding the log across the transaction keeps the recorded order the commit
                // order.
                let mut log = log
                    .lock()
                    .map_err(|_| PlazaError::internal("backup recording lock poisoned"))?;
                let mut ops = Vec::new();
                self.run(&mut body, &mut out, Some(&mut ops))?;
                log.extend(ops);
            }
        }
        let value = out.ok_or_else(|| PlazaError::internal("unit of work produced no result"))?;
        // Committed (visible to readers), though not yet durable.
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
        Ok(Pending::new(value, self.commit.clone()))
    }

    /// A receiver that sees a change after every committed unit of work (see `commits`). Wait
    /// with `changed()`, then read what you show: everything committed before the wake-up is
    /// visible.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    fn run<T>(
        &self,
        body: &mut impl FnMut(&mut Tx<'_>) -> Result<T>,
        out: &mut Option<T>,
        mut record: Option<&mut Vec<WriteOp>>,
    ) -> Result<()> {
        IN_UNIT_OF_WORK.with(|c| c.set(true));
        let result = self.backend.transaction(&mut |txn| {
            if let Some(r) = record.as_deref_mut() {
                // A retried attempt starts its record afresh.
                r.clear();
            }
            let mut tx = Tx::new(txn, record.as_deref_mut());
            *out = Some(body(&mut tx)?);
            Ok(())
        });
        IN_UNIT_OF_WORK.with(|c| c.set(false));
        result
    }

    /// A value to hand out once everything committed so far is durable (an answer that depends
    /// on earlier writes, e.g. an idempotent repeat of one that may not have been flushed yet).
    pub fn after_flush<T>(&self, value: T) -> Pending<T> {
        Pending::new(value, self.commit.clone())
    }

    /// Waits until every write committed so far is durable (shutdown, tests).
    pub async fn sync(&self) -> Result<()> {
        self.commit.commit().await
    }

    /// Every entry of every table as `(table, key, value)`, tables by name and entries in key
    /// order. For "nothing changed" checks (a refused call must leave storage as it was): it reads
    /// the live tables one after another, so it is a consistent picture only while nothing writes.
    pub fn snapshot(&self) -> Result<Vec<StoredEntry>> {
        let mut names = self.backend.tree_names()?;
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let tree = self.backend.tree(&name)?;
            for (k, v) in tree.scan_prefix(b"", None, usize::MAX)? {
                out.push((name.clone(), k, v));
            }
        }
        Ok(out)
    }

    /// Starts recording every unit of work's writes, after the ones in flight have finished.
    /// Claims the right to run a backup until the guard drops; a conflict while another runs.
    pub(crate) fn backup_slot(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        match self.backup_slot.try_lock() {
            Ok(slot) => Ok(slot),
            // A backup that panicked left nothing that needs repair: its scratch space is
            // removed by the next one.
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(PlazaError::Conflict(
                "a backup is already running; try again when it has finished".into(),
            )),
        }
    }

    pub(crate) fn start_recording(&self) -> Result<()> {
        let mut r = self
            .recording
            .write()
            .map_err(|_| PlazaError::internal("backup recording lock poisoned"))?;
        if r.is_some() {
            return Err(PlazaError::Conflict(
                "a backup is already running; try again when it has finished".into(),
            ));
        }
        *r = Some(Arc::new(Mutex::new(Vec::new())));
        Ok(())
    }

    /// Stops recording and returns what was recorded, in commit order. Every unit of work
    /// committed before this returns is in it or was visible before recording started.
    pub(crate) fn stop_recording(&self) -> Result<Vec<WriteOp>> {
        let taken = self
            .recording
            .write()
            .map_err(|_| PlazaError::internal("backup recording lock poisoned"))?
            .take();
        match taken {
            Some(log) => {
                Ok(std::mem::take(&mut *log.lock().map_err(|_| {
                    PlazaError::internal("backup recording lock poisoned")
                })?))
            }
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A backend wrapper that fails on demand, for proving that a unit of work is atomic.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::backend::{Backend, Tree, Txn, TxnBody};
    use super::*;

    /// Delegates to a real backend; the `fail_at`-th write (1-based, counted across every
    /// transaction) fails with a storage error, as a full disk or an I/O error would.
    pub struct FaultyBackend {
        inner: Arc<dyn Backend>,
        writes: AtomicUsize,
        fail_at: AtomicUsize,
    }

    impl FaultyBackend {
        pub fn new(inner: Arc<dyn Backend>) -> Arc<Self> {
            Arc::new(FaultyBackend {
                inner,
                writes: AtomicUsize::new(0),
                fail_at: AtomicUsize::new(usize::MAX),
            })
        }

        /// The next unit of work fails at its `n`-th write.
        pub fn fail_next_at(&self, n: usize) {
            self.writes.store(0, Ordering::SeqCst);
            self.fail_at.store(n, Ordering::SeqCst);
        }

        pub fn disarm(&self) {
            self.fail_at.store(usize::MAX, Ordering::SeqCst);
        }
    }

    struct FaultyTxn<'a> {
        inner: &'a mut dyn Txn,
        owner: &'a FaultyBackend,
    }

    impl FaultyTxn<'_> {
        fn count(&self) -> Result<()> {
            let n = self.owner.writes.fetch_add(1, Ordering::SeqCst) + 1;
            if n == self.owner.fail_at.load(Ordering::SeqCst) {
                return Err(PlazaError::Unavailable(format!(
                    "injected fault at write {n}"
                )));
            }
            Ok(())
        }
    }

    impl Txn for FaultyTxn<'_> {
        fn get(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(tree, key)
        }
        fn insert(&mut self, tree: &str, key: &[u8], value: Vec<u8>) -> Result<()> {
            self.count()?;
            self.inner.insert(tree, key, value)
        }
        fn remove(&mut self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.count()?;
            self.inner.remove(tree, key)
        }
    }

    impl Backend for FaultyBackend {
        fn tree(&self, name: &str) -> Result<Arc<dyn Tree>> {
            self.inner.tree(name)
        }
        fn tree_names(&self) -> Result<Vec<String>> {
            self.inner.tree_names()
        }
        fn transaction(&self, body: &mut TxnBody<'_>) -> Result<()> {
            self.inner.transaction(&mut |txn| {
                let mut faulty = FaultyTxn {
                    inner: txn,
                    owner: self,
                };
                body(&mut faulty)
            })
        }
        fn flush(&self) -> Result<()> {
            self.inner.flush()
        }
    }

    /// Opens the sled database at `path`, waiting while a handle this process dropped still holds
    /// its file lock: sled lets go once its background threads have stopped, a moment after the
    /// drop, so reopening at once fails now and then with "could not acquire lock".
    pub fn open_when_released(path: &std::path::Path) -> SledBackend {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match SledBackend::open(path) {
                Ok(b) => return b,
                Err(e) if std::time::Instant::now() < deadline && e.message().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// A store over a fresh sled directory behind a [`FaultyBackend`].
    pub fn faulty_store() -> (tempfile::TempDir, Arc<FaultyBackend>, Arc<Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let sled: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).expect("open sled"));
        let faulty = FaultyBackend::new(sled);
        let store = Store::new(faulty.clone());
        (dir, faulty, store)
    }

    /// Runs a pending write to completion from synchronous test code.
    pub fn done<T>(p: Result<Pending<T>>) -> Result<T> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("test runtime")
            .block_on(p?.durable())
    }

    /// Awaits a pending write (async tests).
    pub async fn ok<T>(p: Result<Pending<T>>) -> Result<T> {
        p?.durable().await
    }

    /// Every entry of every tree, for "nothing changed" assertions.
    pub fn dump(store: &Store) -> Vec<StoredEntry> {
        store.snapshot().expect("snapshot of every table")
    }

    /// Asserts that `op` fails with the storage error when the 2nd write of its unit of work
    /// fails, and that it then changed nothing.
    pub fn assert_fails_whole<T: std::fmt::Debug>(
        store: &Store,
        faulty: &FaultyBackend,
        what: &str,
        op: impl FnOnce() -> Result<Pending<T>>,
    ) {
        let before = dump(store);
        faulty.fail_next_at(2);
        let result = done(op());
        faulty.disarm();
        let err = result.expect_err(what);
        assert!(matches!(err, PlazaError::Unavailable(_)), "{what}: {err}");
        assert_eq!(
            dump(store),
            before,
            "{what}: a failed unit of work wrote nothing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[tokio::test]
    async fn a_unit_of_work_commits_all_or_nothing() {
        let (_d, faulty, store) = faulty_store();
        let a: Table<Json<u32>> = store.table("a").unwrap();
        let b: Table<Json<u32>> = store.table("b").unwrap();
        store
            .write(|tx| {
                tx.put(&a, b"k", &1)?;
                tx.put(&b, b"k", &1)
            })
            .unwrap()
            .durable()
            .await
            .unwrap();
        let before = dump(&store);
        // A failure between the two writes leaves neither.
        faulty.fail_next_at(2);
        let err = store
            .write(|tx| {
                tx.put(&a, b"k", &2)?;
                tx.put(&b, b"k", &2)
            })
            .err()
            .expect("the injected fault surfaces");
        assert!(matches!(err, PlazaError::Unavailable(_)), "{err}");
        assert_eq!(dump(&store), before);
        faulty.disarm();
        store
            .write(|tx| {
                tx.put(&a, b"k", &3)?;
                tx.put(&b, b"k", &3)
            })
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert_eq!(
            (a.get(b"k").unwrap(), b.get(b"k").unwrap()),
            (Some(3), Some(3))
        );
    }

    #[tokio::test]
    async fn a_nested_unit_of_work_is_refused_not_deadlocked() {
        let (_d, _faulty, store) = faulty_store();
        let a: Table<Json<u32>> = store.table("a").unwrap();
        let inner = store
            .write(|tx| {
                tx.put(&a, b"k", &1)?;
                Ok(store.write(|tx| tx.put(&a, b"j", &2)).err())
            })
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert!(matches!(inner, Some(PlazaError::Internal(_))), "{inner:?}");
        assert_eq!(a.get(b"j").unwrap(), None);
    }
}
