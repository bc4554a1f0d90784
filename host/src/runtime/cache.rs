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
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path)?;
        Ok((component, CacheOutcome::Compiled))
    }
}
