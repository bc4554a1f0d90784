//! The plugin runtime: one engine, compiled components cached on disk, one `InstancePre` per plugin
//! version, and a fresh `Store` per call with memory, CPU and wall-time limits.
//!
//! A fresh store per call is the isolation boundary: no state survives from one follower's call to
//! the next, and a call that traps, panics, runs out of time or memory takes only itself down.

pub mod bindings;
mod cache;
mod engine;
pub mod log_host;
pub mod state;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

pub use self::bindings::{ApiVersion, supported_versions};
pub use self::cache::{CacheOutcome, sha256_hex};
pub use self::engine::{EPOCH_TICK, MAX_PLUGIN_MEMORY, PoolSize};
pub use self::state::CallState;
use crate::error::PlazaError;
use crate::plugin_api::{
    CallContext, Content, Event, HttpRequest, HttpResponse, InboundMessage, ReviewVerdict,
};

/// Bytes of log output one call may produce before further lines are dropped.
pub const LOG_BYTES_PER_CALL: usize = 64 << 10;
/// The largest outbound content (reply text, news, …) a plugin call may return.
pub const MAX_CONTENT_BYTES: usize = 64 << 10;
/// The largest HTTP response body a plugin route may return.
pub const MAX_HTTP_BODY: usize = 4 << 20;
/// The largest `on-query` answer (and question payload) between plugins.
pub const MAX_QUERY_ANSWER: usize = 256 << 10;

/// A call into a plugin's `handler` export, in host-owned types (each API version converts).
pub enum Invocation {
    Install(CallContext),
    Uninstall(CallContext),
    Message(CallContext, InboundMessage),
    Event(CallContext, Event),
    Http(CallContext, HttpRequest),
    Review(CallContext, Content),
    /// `on-query(name, payload)`, asked by another plugin (0.2 and later).
    Query(CallContext, String, Vec<u8>),
}

impl Invocation {
    pub fn name(&self) -> &'static str {
        match self {
            Invocation::Install(_) => "on-install",
            Invocation::Uninstall(_) => "on-uninstall",
            Invocation::Message(..) => "on-message",
            Invocation::Event(..) => "on-event",
            Invocation::Http(..) => "on-http",
            Invocation::Review(..) => "review-outbound",
            Invocation::Query(..) => "on-query",
        }
    }
}

/// What a plugin call returned (its own typed error is a [`CallFailure::Plugin`]).
#[derive(Debug)]
pub enum Outcome {
    Done,
    Reply(Option<Content>),
    Http(HttpResponse),
    Verdict(ReviewVerdict),
    /// An `on-query` answer.
    Answer(Vec<u8>),
}

/// Why a plugin call produced no outcome. Each is contained to the call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallFailure {
    #[error("deadline of {0} ms exceeded")]
    Timeout(u64),
    #[error("memory limit of {0} bytes exceeded")]
    OutOfMemory(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned an error: {0}")]
    Plugin(PlazaError),
    #[error("output too large: {0}")]
    TooLarge(String),
    #[error("could not start: {0}")]
    Unavailable(String),
}

impl CallFailure {
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::Timeout(_) => "timeout",
            CallFailure::OutOfMemory(_) => "out_of_memory",
            CallFailure::Trap(_) => "trap",
            CallFailure::Plugin(_) => "plugin_error",
            CallFailure::TooLarge(_) => "too_large",
            CallFailure::Unavailable(_) => "unavailable",
        }
    }
}

/// A component compiled and linked, ready to instantiate per call.
pub struct LoadedComponent {
    pub pre: Prepared,
    pub sha256: String,
    pub cache: CacheOutcome,
}

/// A linked component and where its `handler` exports are (see [`bindings::HandlerExports`]).
pub struct Prepared {
    pub pre: InstancePre<CallState>,
    pub handler: bindings::HandlerExports,
}

impl Prepared {
    /// The `plaza:platform` version the component was built against.
    pub fn api(&self) -> ApiVersion {
        self.handler.api
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: cache::CompiledCache,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    pub fn new(cache_dir: &Path, pool: PoolSize) -> wasmtime::Result<Self> {
        let engine = engine::build_engine(pool)?;
        let mut linker = Linker::<CallState>::new(&engine);
        // WASI is linked so that ordinary Rust guests (std, panics, clocks, random) work, but the
        // context each call gets grants nothing: no files, no environment, no sockets.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Outbound HTTP (`wasi:http/outgoing-handler` and its types); every request goes through
        // `crate::http_outbound`'s checks (`CallState::outbound`).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::add_to_linker(&mut linker)?;
        let cache = cache::CompiledCache::new(cache_dir, &engine)?;
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            _ticker: ticker,
        })
    }

    /// Compiles (or loads from the cache) and links a component. Fails on anything that is not a
    /// component this host can serve: corrupt bytes, a core module, imports we do not provide.
    pub fn load(&self, wasm: &[u8]) -> Result<LoadedComponent, PlazaError> {
        let sha256 = sha256_hex(wasm);
        let (component, cache) = self
            .cache
            .load(&self.engine, wasm, &sha256)
            .map_err(|e| PlazaError::invalid(format!("not a valid WebAssembly component: {e}")))?;
        self.check_api_version(&component)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            PlazaError::invalid(format!("component cannot be linked by this host: {e}"))
        })?;
        let handler = bindings::HandlerExports::find(&component)?;
        Ok(LoadedComponent {
            pre: Prepared { pre, handler },
            sha256,
            cache,
        })
    }

    /// Refuses a component that imports a `plaza:platform` version this host does not serve, with
    /// a message naming both versions (instead of a bare link error).
    fn check_api_version(&self, component: &Component) -> Result<(), PlazaError> {
        let ty = component.component_type();
        for (name, _) in ty.imports(&self.engine) {
            let Some(rest) = name.strip_prefix(bindings::API_PACKAGE) else {
                continue;
            };
            let Some((_, version)) = rest.rsplit_once('@') else {
                continue;
            };
            let Ok(version) = semver::Version::parse(version) else {
                continue;
            };
            if !bindings::supported_versions().contains(&version) {
                return Err(PlazaError::invalid(format!(
                    "component was built against {}@{version}; this host serves {}",
                    bindings::API_PACKAGE,
                    supported_versions_text()
                )));
            }
        }
        Ok(())
    }

    /// A store for one call (or one warm instance) under the installation's limits.
    fn new_store(&self, state: CallState) -> Store<CallState> {
        let timeout_ms = state.timeout_ms;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        arm_deadline(&mut store, timeout_ms);
        store
    }

    /// Runs one export in a fresh store under the installation's limits.
    pub async fn invoke(
        &self,
        prepared: &Prepared,
        state: CallState,
        invocation: Invocation,
    ) -> Result<Outcome, CallFailure> {
        let timeout_ms = state.timeout_ms;
        let mut store = self.new_store(state);
        // Wall time including host calls and WASI waits, which epochs alone do not bound.
        let call = async {
            let instance = prepared.pre.instantiate_async(&mut store).await?;
            bindings::call(&instance, &prepared.handler, &mut store, invocation).await
        };
        let result = tokio::time::timeout(Duration::from_millis(timeout_ms), call).await;
        finish(&store, timeout_ms, result)
    }

    /// Instantiates a plugin and keeps the instance for repeated calls.
    ///
    /// Follower traffic always gets a fresh instance (the isolation boundary); a warm instance
    /// is for callers that own the whole sequence of calls (benchmarks, the author's runner)
    /// and is the building block for opt-in per-installation instance reuse.
    pub async fn warm(
        &self,
        prepared: &Arc<Prepared>,
        state: CallState,
    ) -> Result<WarmInstance, CallFailure> {
        let timeout_ms = state.timeout_ms;
        let mut store = self.new_store(state);
        let result = tokio::time::timeout(
            Duration::from_millis(timeout_ms),
            prepared.pre.instantiate_async(&mut store),
        )
        .await;
        match result {
            Ok(Ok(instance)) => Ok(WarmInstance {
                store,
                instance,
                prepared: prepared.clone(),
                timeout_ms,
            }),
            Ok(Err(e)) => Err(classify(&store, timeout_ms, e)),
            Err(_) => Err(CallFailure::Timeout(timeout_ms)),
        }
    }
}

/// A live plugin instance that serves several calls (see [`Runtime::warm`]).
pub struct WarmInstance {
    store: Store<CallState>,
    instance: wasmtime::component::Instance,
    prepared: Arc<Prepared>,
    timeout_ms: u64,
}

impl WarmInstance {
    pub async fn invoke(&mut self, invocation: Invocation) -> Result<Outcome, CallFailure> {
        arm_deadline(&mut self.store, self.timeout_ms);
        let call = bindings::call(
            &self.instance,
            &self.prepared.handler,
            &mut self.store,
            invocation,
        );
        let result = tokio::time::timeout(Duration::from_millis(self.timeout_ms), call).await;
        finish(&self.store, self.timeout_ms, result)
    }
}

/// Time inside wasm, checked at every epoch tick: past the deadline (one extra tick so a call never
/// gets less than its budget) the call traps; before it, the call yields to the async executor.
/// The yield is what keeps a plugin spinning on the CPU from holding its worker thread, and the
/// tasks queued on that thread (tokio's LIFO slot cannot be stolen by other workers), until its
/// deadline: other accounts' requests would otherwise wait for it.
fn arm_deadline(store: &mut Store<CallState>, timeout_ms: u64) {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms) + EPOCH_TICK;
    // Outbound requests of this call end by its deadline, and a warm instance's next call gets a
    // fresh request allowance.
    store
        .data_mut()
        .outbound
        .start_call(tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
}

fn finish(
    store: &Store<CallState>,
    timeout_ms: u64,
    result: Result<bindings::CallResult, tokio::time::error::Elapsed>,
) -> Result<Outcome, CallFailure> {
    match result {
        Err(_) => Err(CallFailure::Timeout(timeout_ms)),
        Ok(Ok(Ok(outcome))) => check_size(outcome),
        Ok(Ok(Err(plugin_error))) => Err(CallFailure::Plugin(plugin_error)),
        Ok(Err(e)) => Err(classify(store, timeout_ms, e)),
    }
}

/// Whether instantiation failed because the pooling allocator had no free slot (too many calls in
/// flight): a temporary condition of the host, not a fault of the plugin. Recognised by wasmtime's
/// error type, which survives any context wasmtime adds on the way up.
fn is_pool_exhausted(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
}

/// Turns a trap into the failure an operator can act on: out of memory, deadline, or a trap with
/// the plugin's panic message when it printed one.
fn classify(store: &Store<CallState>, timeout_ms: u64, e: wasmtime::Error) -> CallFailure {
    let state = store.data();
    if state.limiter.denied {
        return CallFailure::OutOfMemory(state.limiter.limit);
    }
    if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
        return CallFailure::Timeout(timeout_ms);
    }
    let full = format!("{e:#}");
    if is_pool_exhausted(&e) {
        return CallFailure::Unavailable(full);
    }
    tracing::debug!(error = %full, "plugin trapped");
    // The trap's reason, without the wasm backtrace (that goes to the debug log).
    let reason = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => full.lines().next().unwrap_or_default().to_string(),
    };
    // Rust guests print their panic message to stderr before aborting.
    let stderr = state.stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    match stderr.find("panicked at") {
        Some(at) => {
            let panic: String = stderr[at..]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let panic: String = panic.chars().take(500).collect();
            CallFailure::Trap(format!("{reason}; {panic}"))
        }
        None => CallFailure::Trap(reason),
    }
}

/// The API versions this host serves, for messages: `0.2.0, 0.1.0`.
pub fn supported_versions_text() -> String {
    supported_versions()
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_size(outcome: Outcome) -> Result<Outcome, CallFailure> {
    let too_big = |what: &str, n: usize, max: usize| {
        Err(CallFailure::TooLarge(format!(
            "{what} is {n} bytes; the limit is {max}"
        )))
    };
    match &outcome {
        Outcome::Reply(Some(c)) | Outcome::Verdict(ReviewVerdict::Mask(c)) => {
            let n = c.size();
            if n > MAX_CONTENT_BYTES {
                return too_big("reply", n, MAX_CONTENT_BYTES);
            }
        }
        Outcome::Http(r) if r.body.len() > MAX_HTTP_BODY => {
            return too_big("response body", r.body.len(), MAX_HTTP_BODY);
        }
        Outcome::Answer(a) if a.len() > MAX_QUERY_ANSWER => {
            return too_big("query answer", a.len(), MAX_QUERY_ANSWER);
        }
        _ => {}
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one memory: each instance takes one of the pool's memory slots.
    const ONE_MEMORY: &[u8] = b"\0asm\x01\0\0\0\x05\x03\x01\x00\x01";

    #[tokio::test]
    async fn pool_exhaustion_is_recognised_by_its_error_type() {
        let engine = engine::build_engine(PoolSize {
            concurrent_instances: 1,
        })
        .unwrap();
        let module = wasmtime::Module::new(&engine, ONE_MEMORY).unwrap();
        let mut live = Vec::new();
        let err = loop {
            let mut store = Store::new(&engine, ());
            match wasmtime::Instance::new_async(&mut store, &module, &[]).await {
                Ok(_) => live.push(store),
                Err(e) => break e,
            }
            assert!(live.len() < 64, "the pool never ran out");
        };
        assert!(is_pool_exhausted(&err), "{err:#}");
        // Any other failure is not mistaken for it, whatever its message says.
        let lookalike = wasmtime::Error::msg("concurrent limit of something reached");
        assert!(!is_pool_exhausted(&lookalike));
    }
}
