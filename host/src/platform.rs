//! The platform: every host concern wired together over one data directory.
//!
//! State is explicit: the HTTP server, the scheduler and every plugin call get an `Arc<Platform>`;
//! there is no global mutable state.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::accounts::AccountStore;
use crate::accounts::followers::FollowerStore;
use crate::channels::InboundDedup;
use crate::channels::developer_server::{DeveloperServers, PushOptions};
use crate::error::{PlazaError, Result};
use crate::events::{EventLog, EventOptions};
use crate::links::FollowerLinks;
use crate::media::{MediaOptions, MediaStore};
use crate::menus::MenuStore;
use crate::messaging::broadcast::Broadcasts;
use crate::messaging::outbox::Outbox;
use crate::messaging::review::ReviewQueue;
use crate::plugins::PluginManager;
use crate::plugins::installations::InstallationStore;
use crate::plugins::registry::PluginRegistry;
use crate::runtime::{PoolSize, Runtime};
use crate::scheduling::{JobStore, MissedJobs};
use crate::storage::backup::{self, BackupManifest};
use crate::storage::owner_only;
use crate::storage::{Backend, Bytes, KvLimits, PluginKv, SledBackend, Store, Table};
use crate::templates::TemplateStore;
use crate::topics::{TopicOptions, TopicQueue};
use crate::wechat_api::WechatApi;

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
    /// How long an inbound message's de-duplication record is kept (retries after that are
    /// handled again).
    pub dedup_retention_ms: u64,
    /// Where backups are written (`plaza serve --backup-dir`); default `<data dir>/backups`.
    pub backup_dir: Option<PathBuf>,
    /// Where compiled plugin code is cached (`plaza serve --compiled-cache`); default
    /// `<data dir>/compiled`. Several data directories may share one: artifacts are named by the
    /// hash of their wasm and of the engine configuration, written atomically, and only this host
    /// writes them — the directory must not be writable by anyone else.
    pub compiled_cache_dir: Option<PathBuf>,
    /// The storage backend to use instead of opening sled in `<data dir>/db`. `None` (the
    /// default, and what `plaza serve` uses) opens sled. Set by tests that wrap the real backend
    /// (e.g. one that fails a chosen write, to prove a unit of work leaves all or nothing), and
    /// the seam where another backend would plug in.
    pub backend: Option<Arc<dyn Backend>>,
    /// Media quota default (see `media`).
    pub media: MediaOptions,
    /// Timeout and attempts of pushes to developer servers (WeChat's 5 s × 3 by default).
    pub developer_server: PushOptions,
    /// Who is told of security events as a message (`plaza serve --security-alerts-to`).
    pub security_alerts: Option<AlertTarget>,
}

/// A follower of an account (the operator's own WeChat, typically) who receives a
/// customer-service message for every security event: a sign-in from a new address, a lock-out,
/// a refusal by an IP allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTarget {
    pub account: String,
    pub openid: String,
}

impl std::str::FromStr for AlertTarget {
    type Err = String;

    /// `ACCOUNT/OPENID`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once('/') {
            Some((account, openid)) if !account.is_empty() && !openid.is_empty() => {
                Ok(AlertTarget {
                    account: account.to_string(),
                    openid: openid.to_string(),
                })
            }
            _ => Err(format!("{s:?} is not ACCOUNT/OPENID")),
        }
    }
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
            dedup_retention_ms: crate::channels::DEFAULT_DEDUP_RETENTION_MS,
            backup_dir: None,
            compiled_cache_dir: None,
            backend: None,
            media: MediaOptions::default(),
            developer_server: PushOptions::default(),
            security_alerts: None,
        }
    }
}

/// A stored record that no longer decodes, found at start and set aside so that everything else
/// keeps working. Operators see these in `GET /api/v1/system` and remove them with
/// `DELETE /api/v1/system/problems/{id}` (or fix the cause, e.g. uninstall the plugin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecordProblem {
    /// `<table>:<hex key>`, for the removal endpoint.
    pub id: String,
    pub table: String,
    /// The key, readable (NUL separators shown as `/`).
    pub key: String,
    pub error: String,
    pub remedy: String,
}

impl StoredRecordProblem {
    fn new(table: &str, key: &[u8], error: &PlazaError, remedy: String) -> Self {
        StoredRecordProblem {
            id: format!("{table}:{}", hex::encode(key)),
            table: table.to_string(),
            key: String::from_utf8_lossy(key).replace('\0', "/"),
            error: error.to_string(),
            remedy,
        }
    }
}

pub struct Platform {
    pub data_dir: PathBuf,
    /// Where backups are written.
    pub backup_dir: PathBuf,
    pub clock: Arc<dyn Clock>,
    /// Shared with the event log, which stamps plugin and outbound-request entries.
    pub ids: Arc<Ids>,
    /// Every write goes through it (units of work, group commit, backups).
    pub store: Arc<Store>,
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
    /// Content-addressed blobs per account (images, audio, video, PDF).
    pub media: MediaStore,
    /// Each account's custom menus (default and conditional).
    pub menus: MenuStore,
    /// Conversations handed to human customer service (人工客服), and their state.
    pub service_desk: crate::service_desk::ServiceDesk,
    /// Follower link keys: signing and verifying follower web identity.
    pub links: FollowerLinks,
    /// Accounts bridged to real WeChat official accounts, and their channel settings.
    pub wechat: crate::channels::wechat::settings::WechatChannels,
    /// Bridged accounts' messages on their way to WeChat's server API.
    pub wechat_outbound: crate::channels::wechat::outbound::WechatOutbound,
    /// Bridged accounts' Plaza tag name → WeChat tag id map, written by sync and menu publish.
    pub wechat_tags: crate::channels::wechat::sync::WechatTagIds,
    /// Who receives security events as a message, if anyone.
    pub security_alerts: Option<AlertTarget>,
    /// See [`Platform::wechat_reply_deadline`].
    pub(crate) wechat_reply_deadline_ms: AtomicU64,
    /// The WeChat-compatible API's credentials, tokens and records (`/cgi-bin`).
    pub wechat_api: WechatApi,
    /// Each account's developer server (WeChat bot code attached through the push protocol).
    pub developer_servers: DeveloperServers,
    /// Counters and histograms of `/metrics` (this platform's own registry).
    pub metrics: crate::metrics::Metrics,
    /// Scoped API tokens, account protection and security events.
    pub tokens: crate::tokens::TokenStore,
    /// Every change made through the admin API (`api::audit`).
    pub audit: crate::audit::AuditLog,
    problems: Mutex<Vec<StoredRecordProblem>>,
    /// Where followers and browsers reach this host (signed links, media URLs); see
    /// [`Platform::public_url`].
    public_url: std::sync::RwLock<String>,
}

/// Creates the data directory readable by its owner only (it holds every account's data), and
/// tightens an existing one.
fn private_dir(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        PlazaError::Unavailable(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        owner_only::create_dir(dir).map_err(fail)?;
        let mode = std::fs::metadata(dir).map_err(fail)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                PlazaError::Unavailable(format!(
                    "data directory {} is readable by others (mode {:o}) and cannot be restricted: {e}",
                    dir.display(),
                    mode & 0o777
                ))
            })?;
        }
    }
    #[cfg(not(unix))]
    owner_only::create_dir(dir).map_err(fail)?;
    Ok(())
}

/// The public URL until `plaza serve` knows better (the address it bound, or `--public-url`).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

impl Platform {
    /// The URL followers and browsers reach this host at, without a trailing slash: absolute
    /// links to plugin routes and media are built on it.
    pub fn public_url(&self) -> String {
        match self.public_url.read() {
            Ok(u) => u.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Sets how long plugins get to answer a WeChat push (`plaza serve --wechat-reply-deadline-ms`).
    pub fn set_wechat_reply_deadline(&self, deadline: std::time::Duration) {
        self.wechat_reply_deadline_ms.store(
            deadline.as_millis().min(u64::MAX as u128) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Sets [`Platform::public_url`] (`plaza serve` does once it has bound its address).
    pub fn set_public_url(&self, url: &str) {
        let url = url.trim_end_matches('/').to_string();
        match self.public_url.write() {
            Ok(mut u) => *u = url,
            Err(poisoned) => *poisoned.into_inner() = url,
        }
    }

    /// Opens (or creates) the data directory and loads every registered plugin and installation.
    pub fn open(opts: PlatformOptions) -> Result<Arc<Platform>> {
        let dir = &opts.data_dir;
        private_dir(dir)?;
        let backend: Arc<dyn Backend> = match &opts.backend {
            Some(backend) => backend.clone(),
            None => Arc::new(SledBackend::open(&dir.join("db"))?),
        };
        let store = Store::new(backend);
        let compiled = opts
            .compiled_cache_dir
            .clone()
            .unwrap_or_else(|| dir.join("compiled"));
        let runtime = Runtime::new(&compiled, opts.pool).map_err(|e| {
            PlazaError::Unavailable(format!("cannot start the wasm runtime: {e:#}"))
        })?;
        let registry = PluginRegistry::new(runtime, dir.join("wasm"), store.clone())?;
        let plugins = PluginManager::new(registry, InstallationStore::new(store.clone())?);
        let now = opts.clock.now_ms();
        let ids = Arc::new(Ids::new(now));
        let audit = crate::audit::AuditLog::new(store.clone(), ids.clone())?;
        let platform = Platform {
            data_dir: dir.clone(),
            backup_dir: opts
                .backup_dir
                .clone()
                .unwrap_or_else(|| dir.join("backups")),
            events: EventLog::new(store.clone(), opts.events, opts.clock.clone(), ids.clone())?,
            ids,
            accounts: AccountStore::new(store.clone())?,
            followers: FollowerStore::new(store.clone())?,
            templates: TemplateStore::new(store.clone())?,
            kv: PluginKv::new(store.clone(), opts.kv_limits)?,
            outbox: Outbox::new(&store)?,
            broadcasts: Broadcasts::new(&store, opts.broadcast_rate)?,
            reviews: ReviewQueue::new(&store)?,
            plugins,
            jobs: JobStore::new(store.clone())?,
            inbound: InboundDedup::new(&store, opts.dedup_retention_ms)?,
            scheduler_wake: tokio::sync::Notify::new(),
            missed_jobs: opts.missed_jobs,
            topics: TopicQueue::open(store.clone(), opts.topics)?,
            media: MediaStore::new(store.clone(), opts.media)?,
            menus: MenuStore::new(store.clone())?,
            service_desk: crate::service_desk::ServiceDesk::new(&store)?,
            links: FollowerLinks::new(store.clone())?,
            wechat: crate::channels::wechat::settings::WechatChannels::new(store.clone())?,
            wechat_outbound: crate::channels::wechat::outbound::WechatOutbound::new(&store)?,
            wechat_tags: crate::channels::wechat::sync::WechatTagIds::new(store.clone())?,
            wechat_reply_deadline_ms: AtomicU64::new(
                crate::channels::wechat::DEFAULT_REPLY_DEADLINE.as_millis() as u64,
            ),
            wechat_api: WechatApi::new(store.clone())?,
            developer_servers: DeveloperServers::new(store.clone(), opts.developer_server)?,
            security_alerts: opts.security_alerts.clone(),
            metrics: crate::metrics::Metrics::new()?,
            tokens: crate::tokens::TokenStore::new(store.clone(), opts.clock.clone())?,
            audit,
            clock: opts.clock,
            store,
            problems: Mutex::new(Vec::new()),
            public_url: std::sync::RwLock::new(DEFAULT_PUBLIC_URL.to_string()),
        };
        platform.load()?;
        Ok(Arc::new(platform))
    }

    /// Loads plugins, accounts and their installations, setting aside (and reporting) any stored
    /// record that no longer decodes: one bad record must not keep every account down.
    fn load(&self) -> Result<()> {
        let mut problems = Vec::new();
        let plugins_table = self.plugins.registry.table().name().to_string();
        for (k, e) in self.plugins.registry.load_all()? {
            problems.push(StoredRecordProblem::new(
                &plugins_table,
                &k,
                &e,
                "upload the plugin version again, or remove this record".into(),
            ));
        }
        let migrated = self.accounts.hash_legacy_ingress_keys()?.detach();
        if !migrated.is_empty() {
            // The clear-text keys sat on disk (and perhaps in old backups): hashing them now
            // does not un-leak them, so say which accounts should get new ones.
            tracing::warn!(
                accounts = %migrated.join(", "),
                "ingress keys stored in clear were hashed; they may have leaked while on disk in \
                 clear: rotate each with `plaza account rotate-key <account>`"
            );
        }
        let (accounts, bad_accounts) = self.accounts.list_lenient()?;
        for (k, e) in bad_accounts {
            tracing::error!(key = %String::from_utf8_lossy(&k), error = %e, "stored account does not decode; skipped");
            problems.push(StoredRecordProblem::new(
                "accounts",
                &k,
                &e,
                "remove this record (the account's other data stays)".into(),
            ));
        }
        let inst_table = self.plugins.installations.table().name().to_string();
        for account in accounts {
            for (k, e) in self.plugins.refresh(&account)? {
                let plugin = k
                    .rsplit(|b| *b == 0)
                    .next()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                problems.push(StoredRecordProblem::new(
                    &inst_table,
                    &k,
                    &e,
                    format!("plaza uninstall {} {plugin}", account.id),
                ));
            }
        }
        for p in &problems {
            tracing::error!(table = %p.table, key = %p.key, error = %p.error, remedy = %p.remedy,
                "a stored record was set aside at start");
        }
        *self
            .problems
            .lock()
            .map_err(|_| PlazaError::internal("problems lock poisoned"))? = problems;
        Ok(())
    }

    /// Stored records set aside at start because they no longer decode.
    pub fn problems(&self) -> Vec<StoredRecordProblem> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Drops a problem from the list once its record is gone.
    pub(crate) fn forget_problem(&self, table: &str, key: &[u8]) {
        let id = format!("{table}:{}", hex::encode(key));
        if let Ok(mut p) = self.problems.lock() {
            p.retain(|p| p.id != id);
        }
    }

    /// Removes a record set aside at start (an operator's decision; the data is gone).
    pub async fn remove_problem_record(&self, id: &str) -> Result<StoredRecordProblem> {
        let problem = self
            .problems()
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| PlazaError::not_found(format!("stored-record problem {id:?}")))?;
        let key = problem
            .id
            .split_once(':')
            .and_then(|(_, k)| hex::decode(k).ok())
            .ok_or_else(|| PlazaError::internal("malformed problem id"))?;
        let table: Table<Bytes> = self.store.table(&problem.table)?;
        self.store
            .write(|tx| tx.delete(&table, &key).map(drop))?
            .durable()
            .await?;
        self.forget_problem(&problem.table, &key);
        if problem.table == "accounts" {
            self.accounts.forget(&String::from_utf8_lossy(&key));
        }
        Ok(problem)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Takes a consistent backup while everything keeps running, into the backup directory.
    /// Returns the file and what it holds. One backup runs at a time (a second is a conflict).
    pub async fn backup(self: &Arc<Self>) -> Result<(PathBuf, BackupManifest)> {
        private_dir(&self.backup_dir)?;
        let now = self.clock.now_ms();
        let out = self.backup_dir.join(backup::file_name(now));
        let platform = self.clone();
        let path = out.clone();
        let manifest = tokio::task::spawn_blocking(move || {
            backup::write_backup(&platform.store, &platform.data_dir, &path, now)
        })
        .await
        .map_err(|e| PlazaError::internal(format!("backup task failed: {e}")))??;
        tracing::info!(file = %out.display(), bytes = manifest.bytes.unwrap_or(0), "backup written");
        Ok((out, manifest))
    }

    /// One scheduled backup: takes it, then removes all but the newest `keep` in the backup
    /// directory. Returns the names removed.
    pub async fn backup_and_prune(self: &Arc<Self>, keep: usize) -> Result<Vec<String>> {
        self.backup().await?;
        let dir = self.backup_dir.clone();
        tokio::task::spawn_blocking(move || backup::prune(&dir, keep))
            .await
            .map_err(|e| PlazaError::internal(format!("backup retention task failed: {e}")))?
    }

    /// Takes a backup every `every` and keeps the newest `keep`. Runs until the process ends.
    pub async fn run_backups(self: Arc<Self>, every: std::time::Duration, keep: usize) {
        loop {
            tokio::time::sleep(every).await;
            match self.backup_and_prune(keep).await {
                Ok(removed) if !removed.is_empty() => {
                    tracing::info!(removed = removed.len(), keep, "old backups removed")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
            }
        }
    }
}
