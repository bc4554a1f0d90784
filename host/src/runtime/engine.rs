//! The one wasmtime engine: pooling allocator, copy-on-write memory images, epoch interruption.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The most memory any plugin may ask for in its manifest.
pub const MAX_PLUGIN_MEMORY: usize = 1 << 30;

/// Bytes of a memory slot kept resident between calls (see `build_engine`).
const KEEP_RESIDENT: usize = 2 << 20;

/// Pool sizes: how many plugin calls may be in flight at once across the host.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    pub concurrent_instances: u32,
}

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize {
            concurrent_instances: 1000,
        }
    }
}

pub fn build_engine(pool_size: PoolSize) -> wasmtime::Result<Engine> {
    let n = pool_size.concurrent_instances;
    let mut pool = PoolingAllocationConfig::new();
    // A Rust wasip2 component holds a few core instances and tables; size the pool so that the
    // number of concurrent component instances, not a sub-resource, is the binding limit.
    pool.total_component_instances(n)
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memory_size(MAX_PLUGIN_MEMORY)
        .max_component_instance_size(1 << 20)
        .max_core_instances_per_component(16)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        // Resetting a slot after a call: with PAGEMAP_SCAN (Linux >= 6.7) only the pages the
        // call dirtied are restored by memset, up to the keep-resident size, so the next call in
        // the slot neither page-faults nor forces TLB shootdowns on the other cores; without it,
        // the kept-resident prefix is memset and the rest is decommitted in batches.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        // The fiber stack an async call runs on: keep the part calls touch mapped, for the same
        // reason (no page faults, no cross-core TLB shootdowns per call).
        .async_stack_keep_resident(256 << 10)
        .decommit_batch_size(32);

    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .max_wasm_stack(1 << 20)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&cfg)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("plaza-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the epoch ticker: plugin deadlines will rely on wall-clock timeouts only");
        }
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
