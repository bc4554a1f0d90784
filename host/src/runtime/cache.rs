//! Compiled-component cache on disk.
//!
//! Compiling a component with cranelift takes hundreds of milliseconds; loading a serialized one is
//! an `mmap`. Artifacts are keyed by the sha256 of the wasm *and* the engine's compatibility hash,
//! so a different wasmtime or engine configuration misses instead of loading incompatible code.
//! The host only ever deserializes files it wrote itself into its own data directory.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from on this load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

pub struct CompiledCache {
    dir: PathBuf,
    engine_hash: String,
}

/// Feeds `Hash` output into sha256 so the key is stable across processes (unlike `DefaultHasher`
/// with random keys).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompiledCache {
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut h = ShaHasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
        let engine_hash = hex::encode(&h.0.finalize()[..8]);
        Ok(CompiledCache {
            dir: dir.to_path_buf(),
            engine_hash,
        })
    }

    fn path_for(&self, wasm_sha: &str) -> PathBuf {
        self.dir
            .join(format!("{wasm_sha}-{}.cwasm", self.engine_hash))
    }

    /// Loads the compiled form of `wasm`, compiling and storing it on a miss.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_sha: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.path_for(wasm_sha);
        if path.exists() {
            // SAFETY: the file is in the host's own cache directory, named by the hash of the wasm
            // it was compiled from and of this engine's configuration, and was written by
            // `Component::serialize` below (atomically, via rename). Plugins cannot write there.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artifact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        let bytes = component.serialize()?;
        store_artifact(&path, &bytes)?;
        Ok((component, CacheOutcome::Compiled))
    }
}

/// Writes `bytes` to `path` atomically: to a file of its own, then renamed over `path`, so a
/// reader sees the old artifact or the new one, never half of one.
fn store_artifact(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per process *and* write: threads of one process (and other processes sharing the
    // directory) may compile the same component at once, and each must rename its own file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{write}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers sharing a cache directory (`--compiled-cache`), and threads of one server, may
    /// compile the same component at the same moment: every one of them gets its component and
    /// one artifact is left.
    #[test]
    fn concurrent_compilations_of_one_component_all_succeed() {
        let wasm = std::fs::read(format!("{}/probe.wasm", crate::bundled::WASM_DIR))
            .expect("the probe component is built by build.rs");
        let sha = sha256_hex(&wasm);
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let cache = CompiledCache::new(dir.path(), &engine).expect("cache");
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            let loads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        cache.load(&engine, &wasm, &sha).map(|(_, outcome)| outcome)
                    })
                })
                .collect();
            for load in loads {
                let outcome = load.join().expect("no panic");
                assert!(outcome.is_ok(), "{outcome:?}");
            }
        });
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("cache dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].ends_with(".cwasm"), "{left:?}");
        assert_eq!(
            cache.load(&engine, &wasm, &sha).expect("load").1,
            CacheOutcome::Hit
        );
    }

    /// The step where those compilations meet: many writers of one artifact at once, each
    /// succeeding, the artifact whole at the end.
    #[test]
    fn simultaneous_writes_of_one_artifact_each_succeed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.cwasm");
        let bytes = vec![7u8; 64 * 1024];
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..100 {
                        store_artifact(&path, &bytes).expect("stored");
                    }
                });
            }
        });
        assert_eq!(std::fs::read(&path).expect("artifact"), bytes);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
