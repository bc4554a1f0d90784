//! Group commit: acknowledged writes are durable, without one disk flush per write.
//!
//! sled only flushes its log every 500 ms, so a write acknowledged right after `insert` can be lost
//! by a `kill -9`. Flushing per write caps the host near 9k writes/s on this kind of disk. Instead,
//! every writer takes a ticket and waits until a flush that *started after its write* completes; one
//! background thread runs flushes back to back, so concurrent writers share one flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::watch;

use super::backend::Backend;
use crate::error::{PlazaError, Result};

pub struct GroupCommit {
    /// Tickets handed out; a ticket is covered once `flushed >= ticket`.
    requested: Arc<AtomicU64>,
    flushed: watch::Receiver<u64>,
    /// Dropped (set to `None`) to stop the flusher.
    doorbell: Option<mpsc::SyncSender<()>>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher thread. It stops (after a last flush) when the `GroupCommit` is
    /// dropped, and the drop waits for it, so the backend is closed when the drop returns.
    pub fn start(backend: Arc<dyn Backend>) -> Arc<Self> {
        let (flushed_tx, flushed) = watch::channel(0u64);
        let (doorbell, rings) = mpsc::sync_channel::<()>(1);
        let requested = Arc::new(AtomicU64::new(0));
        let tickets = requested.clone();
        let flusher = std::thread::Builder::new()
            .name("plaza-group-commit".into())
            .spawn(move || {
                while rings.recv().is_ok() {
                    // Everything ticketed so far was written before this load.
                    let target = tickets.load(Ordering::SeqCst);
                    loop {
                        match backend.flush() {
                            Ok(()) => break,
                            Err(e) => {
                                tracing::error!(error = %e, "flush failed; retrying");
                                std::thread::sleep(std::time::Duration::from_millis(50));
                            }
                        }
                    }
                    flushed_tx.send_replace(target);
                }
                if let Err(e) = backend.flush() {
                    tracing::error!(error = %e, "last flush failed");
                }
            })
            .map_err(|e| tracing::error!(error = %e, "cannot start the group-commit thread"))
            .ok();
        Arc::new(GroupCommit {
            requested,
            flushed,
            doorbell: Some(doorbell),
            flusher,
        })
    }

    fn ring(&self) {
        if let Some(d) = &self.doorbell {
            let _ = d.try_send(());
        }
    }

    /// Asks for a flush soon without waiting for it (a dropped [`Pending`]).
    pub fn nudge(&self) {
        self.requested.fetch_add(1, Ordering::SeqCst);
        self.ring();
    }

    /// Waits until every write this task made before the call is durable.
    pub async fn commit(&self) -> Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // A full doorbell means a flush is already queued and will see our ticket.
        self.ring();
        let mut rx = self.flushed.clone();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            // A flush that started before our ticket may complete first; ring again so one
            // starts after it.
            self.ring();
            rx.changed()
                .await
                .map_err(|_| PlazaError::Unavailable("storage flusher stopped".into()))?;
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.doorbell = None;
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// The result of a committed unit of work that is not yet on stable storage.
///
/// A caller may only acknowledge a write (answer an HTTP request, return to a plugin, move a
/// queue on) once it is durable, so the value is reachable only through [`Pending::durable`],
/// which waits for the group commit. The compiler flags an unused `Pending` (`#[must_use]`), and
/// one dropped unawaited still asks for a flush, so the durable commit cannot be forgotten.
#[must_use = "a write may be acknowledged only once durable: call `.durable().await`"]
pub struct Pending<T> {
    value: T,
    flush: FlushOnDrop,
}

/// Asks for a flush when dropped while still armed.
struct FlushOnDrop(Option<Arc<GroupCommit>>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        if let Some(commit) = self.0.take() {
            commit.nudge();
        }
    }
}

impl<T> Pending<T> {
    pub(crate) fn new(value: T, commit: Arc<GroupCommit>) -> Self {
        Pending {
            value,
            flush: FlushOnDrop(Some(commit)),
        }
    }

    /// Waits until the write is on stable storage and returns its result.
    pub async fn durable(self) -> Result<T> {
        let Pending { value, mut flush } = self;
        if let Some(commit) = flush.0.take() {
            commit.commit().await?;
        }
        Ok(value)
    }

    /// Transforms the result without changing when it becomes available.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Pending<U> {
        let Pending { value, flush } = self;
        Pending {
            value: f(value),
            flush,
        }
    }

    /// Several committed units of work, durable together: one flush covers them all, since
    /// every one of them was committed before the wait begins.
    pub fn all(pending: Vec<Pending<T>>) -> Pending<Vec<T>> {
        let mut flush = FlushOnDrop(None);
        let mut values = Vec::with_capacity(pending.len());
        for p in pending {
            let Pending {
                value,
                flush: mut f,
            } = p;
            values.push(value);
            if flush.0.is_none() {
                flush.0 = f.0.take();
            } else {
                // Covered by the one kept; no extra flush needed.
                f.0 = None;
            }
        }
        Pending {
            value: values,
            flush,
        }
    }

    /// The value of a unit of work that `later` (committed after it) makes durable too: waiting
    /// for `later` is enough, so this one asks for no flush of its own.
    pub fn covered_by<U>(self, later: &Pending<U>) -> T {
        let _ = later;
        let Pending { value, mut flush } = self;
        flush.0 = None;
        value
    }

    /// For writes nobody waits on (the record of a failed plugin call, a log entry): the value
    /// now, on stable storage with the next flush.
    pub fn detach(self) -> T {
        let Pending { value, flush } = self;
        drop(flush);
        value
    }
}
