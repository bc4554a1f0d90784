//! The platform: every host concern wired together over one data directory.
//!
//! State is explicit: the HTTP server, the scheduler and every plugin call get an `Arc<Platform>`;
//! there is no global mutable state.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::accounts::AccountStore;
use crate::accounts::followers::FollowerStore;
use crate::channels::InboundDedup;
use crate::error::{PlazaError, Result};
use crate::events::{EventLog, EventOptions};
use crate::messaging::broadcast::Broadcasts;
use crate::messaging::outbox::Outbox;
use crate::messaging::review::ReviewQueue;
use crate::plugins::PluginManager;
use crate::plugins::installations::InstallationStore;
use crate::plugins::registry::PluginRegistry;
use crate::runtime::{PoolSize, Runtime};
use crate::scheduling::{JobStore, MissedJobs};
use crate::storage::{Backend, GroupCommit, KvLimits, PluginKv, SledBackend};
use crate::templates::TemplateStore;
use crate::topics::{TopicOptions, TopicQueue};

/// Where time comes from. Injected so that tests and the scheduler can be driven deterministically.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

pub struct SystemClock;

/// A clock that moves only when told to: tests advance time instead of sleeping.
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now_ms: u64) -> Self {
        ManualClock(AtomicU64::new(now_ms))
    }
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Unique, time-ordered ids (message ids, job ids, …). Seeded from the clock at start, so ids
/// keep increasing across restarts; zero-padded so that byte order is numeric order.
pub struct Ids {
    next: AtomicU64,
}

impl Ids {
    pub fn new(now_ms: u64) -> Self {
        Ids {
            next: AtomicU64::new(now_ms.saturating_mul(1000)),
        }
    }

    pub fn next(&self, prefix: &str) -> String {
        format!("{prefix}{:020}", self.next.fetch_add(1, Ordering::Relaxed))
    }
}

pub struct PlatformOptions {
    pub data_dir: PathBuf,
    pub pool: PoolSize,
    pub kv_limits: KvLimits,
    pub clock: Arc<dyn Clock>,
    /// Broadcast recipients delivered per second; `None` = as fast as storage allows.
    pub broadcast_rate: Option<u32>,
    pub missed_jobs: MissedJobs,
    /// Topic delivery retries, backoff and bounds.
    pub topics: TopicOptions,
    /// Event log retention default.
    pub events: EventOptions,
}

impl PlatformOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        PlatformOptions {
            data_dir: data_dir.into(),
            pool: PoolSize::default(),
            kv_limits: KvLimits::default(),
            clock: Arc::new(SystemClock),
            broadcast_rate: None,
            missed_jobs: MissedJobs::default(),
            topics: TopicOptions::default(),
            events: EventOptions::default(),
        }
    }
}

pub struct Platform {
    pub data_dir: PathBuf,
    pub clock: Arc<dyn Clock>,
    pub ids: Ids,
    pub commit: Arc<GroupCommit>,
    pub accounts: AccountStore,
    pub followers: FollowerStore,
    pub templates: TemplateStore,
    pub kv: PluginKv,
    pub outbox: Outbox,
    pub broadcasts: Broadcasts,
    pub reviews: ReviewQueue,
    pub plugins: PluginManager,
    pub jobs: JobStore,
    pub inbound: InboundDedup,
    pub(crate) scheduler_wake: tokio::sync::Notify,
    pub missed_jobs: MissedJobs,
    pub topics: TopicQueue,
    pub events: EventLog,
}

impl Platform {
    /// Opens (or creates) the data directory and loads every registered plugin and installation.
    pub fn open(opts: PlatformOptions) -> Result<Arc<Platform>> {
        let dir = &opts.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| {
            PlazaError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(&dir.join("db"))?);
        let tree = |name: &str| backend.tree(name);
        let runtime = Runtime::new(&dir.join("compiled"), opts.pool).map_err(|e| {
            PlazaError::Unavailable(format!("cannot start the wasm runtime: {e:#}"))
        })?;
        let registry = PluginRegistry::new(runtime, dir.join("wasm"), tree("plugins")?)?;
        let plugins = PluginManager::new(
            registry,
            InstallationStore::new(tree("installations")?, tree("plugin_errors")?),
        );
        let now = opts.clock.now_ms();
        let platform = Platform {
            data_dir: dir.clone(),
            ids: Ids::new(now),
            commit: GroupCommit::start(backend.clone()),
            accounts: AccountStore::new(tree("accounts")?),
            followers: FollowerStore::new(tree("followers")?, tree("follower_tags")?),
            templates: TemplateStore::new(tree("templates")?),
            kv: PluginKv::new(tree("kv")?, tree("kv_usage")?, opts.kv_limits),
            outbox: Outbox::new(tree("outbox")?),
            broadcasts: Broadcasts::new(&tree, opts.broadcast_rate)?,
            reviews: ReviewQueue::new(tree("review_blocked")?),
            plugins,
            jobs: JobStore::new(tree("jobs")?, tree("jobs_due")?),
            inbound: InboundDedup::new(tree("inbound_dedup")?),
            scheduler_wake: tokio::sync::Notify::new(),
            missed_jobs: opts.missed_jobs,
            topics: TopicQueue::open(
                tree("topic_pending")?,
                tree("topic_due")?,
                tree("topic_dead")?,
                opts.topics,
            )?,
            events: EventLog::new(tree("events")?, tree("event_settings")?, opts.events),
            clock: opts.clock,
        };
        platform.plugins.registry.load_all()?;
        for account in platform.accounts.list()? {
            platform.plugins.refresh(&account)?;
        }
        Ok(Arc::new(platform))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
