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
    requested: AtomicU64,
    flushed: watch::Receiver<u64>,
    doorbell: mpsc::SyncSender<()>,
}

impl GroupCommit {
    /// Starts the flusher thread. It stops when the `GroupCommit` is dropped.
    pub fn start(backend: Arc<dyn Backend>) -> Arc<Self> {
        let (flushed_tx, flushed) = watch::channel(0u64);
        let (doorbell, rings) = mpsc::sync_channel::<()>(1);
        let gc = Arc::new(GroupCommit {
            requested: AtomicU64::new(0),
            flushed,
            doorbell,
        });
        let weak = Arc::downgrade(&gc);
        std::thread::Builder::new()
            .name("plaza-group-commit".into())
            .spawn(move || {
                while rings.recv().is_ok() {
                    let Some(gc) = weak.upgrade() else { break };
                    // Everything ticketed so far was written before this load.
                    let target = gc.requested.load(Ordering::SeqCst);
                    drop(gc);
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
            })
            .map_err(|e| tracing::error!(error = %e, "cannot start the group-commit thread"))
            .ok();
        gc
    }

    /// Waits until every write this task made before the call is durable.
    pub async fn commit(&self) -> Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // A full doorbell means a flush is already queued and will see our ticket.
        let _ = self.doorbell.try_send(());
        let mut rx = self.flushed.clone();
        loop {
            if *rx.borrow_and_update() >= ticket {
                return Ok(());
            }
            // A flush that started before our ticket may complete first; ring again so one
            // starts after it.
            let _ = self.doorbell.try_send(());
            rx.changed()
                .await
                .map_err(|_| PlazaError::Unavailable("storage flusher stopped".into()))?;
        }
    }
}
