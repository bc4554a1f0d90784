//! What a `Store` carries during one plugin call.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::accounts::followers::PendingInteraction;
use crate::http_outbound::{OutboundCall, OutboundLimits};
use crate::platform::{Clock, Platform};
use crate::plugins::ActiveInstallation;
use crate::plugins::grants::CallGrants;

/// A plugin's wall clock (`wasi:clocks/wall-clock`, what `SystemTime::now()` reads in a plugin)
/// is the platform's clock: a plugin sees the same "now" as the host that stamps its events and
/// fires its jobs, and a test that moves the injected clock moves the plugins' too (a campaign's
/// end, a weekly report, an expiry) instead of waiting for the real one.
struct PlatformWallClock(Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for PlatformWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_millis(1)
    }

    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.now_ms())
    }
}

/// How much of the plugin's stderr (panic messages) is kept for the error log.
const STDERR_CAPTURE: usize = 4096;

/// Per-call host state: who is calling (installation, follower), what it may do (grants inside the
/// installation), and the sandbox's own bookkeeping (WASI context, resources, memory limiter).
pub struct CallState {
    pub platform: Arc<Platform>,
    /// What this call may do; the only way host functions reach their account and plugin.
    pub grants: Arc<CallGrants>,
    pub(in crate::runtime) install: Arc<ActiveInstallation>,
    /// The follower this call is about, when known.
    pub follower: Option<String>,
    /// That follower's interaction being handled, not yet recorded (see [`PendingInteraction`]).
    pub interaction: Option<PendingInteraction>,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) log_budget: usize,
    /// When the call started and how long it may take (the manifest's limit, or what is left of
    /// the asking call's when this call answers a `plugins.query`).
    pub(crate) started: std::time::Instant,
    pub(crate) timeout_ms: u64,
    /// The plugins asking, outermost first, when this call answers a `plugins.query` (depth
    /// and cycle checks); empty otherwise.
    pub(crate) query_chain: Vec<String>,
    /// Plugin events emitted so far in this call (`events.emit` is bounded per call).
    pub(crate) emitted: u32,
    pub(crate) stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    /// Outbound HTTP of this call: every `wasi:http` request goes through its checks.
    pub outbound: OutboundCall,
}

impl CallState {
    pub fn new(
        platform: Arc<Platform>,
        install: Arc<ActiveInstallation>,
        follower: Option<String>,
    ) -> Self {
        let memory = install.plugin.manifest.limits.memory_bytes();
        let timeout_ms = install.plugin.manifest.limits.timeout_ms;
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // Nothing granted: no preopened directories, no environment, no arguments, no sockets.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(PlatformWallClock(platform.clock.clone()))
            .build();
        let grants = install.grants.clone();
        let timeout = std::time::Duration::from_millis(install.plugin.manifest.limits.timeout_ms);
        let outbound = OutboundCall::new(
            platform.clone(),
            grants.clone(),
            OutboundLimits::default(),
            tokio::time::Instant::now() + timeout,
        );
        CallState {
            platform,
            grants,
            install,
            follower,
            interaction: None,
            limiter: MemoryLimiter {
                limit: memory,
                denied: false,
            },
            log_budget: super::LOG_BYTES_PER_CALL,
            started: std::time::Instant::now(),
            timeout_ms,
            query_chain: Vec::new(),
            emitted: 0,
            stderr,
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            outbound,
        }
    }

    /// The account this call serves, for the ungated `accounts.current`.
    pub fn account(&self) -> &crate::accounts::Account {
        &self.install.account
    }

    /// The installation's configuration JSON, for the ungated `config.get`.
    pub fn config_json(&self) -> &str {
        &self.install.config_json
    }

    /// Milliseconds this call has left before its deadline.
    pub fn remaining_ms(&self) -> u64 {
        self.timeout_ms
            .saturating_sub(self.started.elapsed().as_millis() as u64)
    }

    /// Which plugin is calling, for log lines.
    pub fn plugin_name(&self) -> &str {
        &self.install.plugin.manifest.name
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Caps linear memory at the manifest's limit and remembers that it did, so a trap caused by the
/// cap is reported as out-of-memory rather than as a generic trap.
pub struct MemoryLimiter {
    pub limit: usize,
    pub denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = true;
            return Err(wasmtime::format_err!(
                "plugin memory limit of {} bytes reached (asked for {desired})",
                self.limit
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
