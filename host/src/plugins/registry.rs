//! Uploaded plugins: manifests and components, stored once and shared by every account.
//!
//! Components are kept by content hash in `<data>/wasm/`; each (name, version) is compiled once
//! (or loaded from the compiled cache) into one `InstancePre` that every installation uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use semver::Version;
use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use crate::error::{PlazaError, Result};
use crate::runtime::{CacheOutcome, Prepared, Runtime, sha256_hex};
use crate::storage::backend::key;
use crate::storage::{Json, Pending, Store, Table, owner_only};

/// A plugin version ready to run.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub manifest_toml: String,
    pub sha256: String,
    pub bundled: bool,
    pub pre: Arc<Prepared>,
}

/// What is persisted per (name, version).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPlugin {
    pub manifest_toml: String,
    pub sha256: String,
    pub uploaded_at: u64,
    pub bundled: bool,
}

/// Summary for listings.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub api: String,
    pub description: String,
    pub capabilities: Vec<String>,
    pub requires: super::manifest::Requires,
    pub limits: super::manifest::Limits,
    pub config_schema: Option<serde_json::Value>,
    pub config_default: serde_json::Value,
    pub sha256: String,
    pub bundled: bool,
}

impl From<&LoadedPlugin> for PluginInfo {
    fn from(p: &LoadedPlugin) -> Self {
        let m = &p.manifest;
        PluginInfo {
            name: m.name.clone(),
            version: m.version.to_string(),
            api: m.api.to_string(),
            description: m.description.clone(),
            capabilities: m.capabilities.iter().map(|c| c.to_string()).collect(),
            requires: m.requires.clone(),
            limits: m.limits,
            config_schema: m.config_schema.clone(),
            config_default: m.config_default.clone(),
            sha256: p.sha256.clone(),
            bundled: p.bundled,
        }
    }
}

/// Compile-cache effectiveness since start, shown by the admin API.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub compiled: AtomicU64,
    pub cache_hits: AtomicU64,
}

pub struct PluginRegistry {
    runtime: Runtime,
    wasm_dir: PathBuf,
    store: Arc<Store>,
    /// `(name, version)` → what was uploaded.
    table: Table<Json<StoredPlugin>>,
    loaded: RwLock<BTreeMap<(String, Version), Arc<LoadedPlugin>>>,
    pub stats: LoadStats,
}

impl PluginRegistry {
    pub fn new(runtime: Runtime, wasm_dir: PathBuf, store: Arc<Store>) -> Result<Self> {
        std::fs::create_dir_all(&wasm_dir).map_err(|e| {
            PlazaError::Unavailable(format!("cannot create {}: {e}", wasm_dir.display()))
        })?;
        Ok(PluginRegistry {
            runtime,
            wasm_dir,
            table: store.table("plugins")?,
            store,
            loaded: RwLock::new(BTreeMap::new()),
            stats: LoadStats::default(),
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn load_component(
        &self,
        manifest: Manifest,
        manifest_toml: String,
        wasm: &[u8],
        bundled: bool,
    ) -> Result<Arc<LoadedPlugin>> {
        let loaded = self.runtime.load(wasm)?;
        // The manifest's range must cover what the component really imports, so that what an
        // operator reads in `plugin.toml` is what runs.
        let built_for = loaded.pre.api().semver();
        if !manifest.api.matches(&built_for) {
            return Err(PlazaError::invalid(format!(
                "plugin {} {}: plugin.toml says api {:?}, but the component was built against \
                 plaza:platform@{built_for}; set api = \"^{}.{}\"",
                manifest.name,
                manifest.version,
                manifest.api.to_string(),
                built_for.major,
                built_for.minor
            )));
        }
        match loaded.cache {
            CacheOutcome::Hit => self.stats.cache_hits.fetch_add(1, Ordering::Relaxed),
            CacheOutcome::Compiled => self.stats.compiled.fetch_add(1, Ordering::Relaxed),
        };
        Ok(Arc::new(LoadedPlugin {
            manifest,
            manifest_toml,
            sha256: loaded.sha256,
            bundled,
            pre: Arc::new(loaded.pre),
        }))
    }

    pub fn table(&self) -> &Table<Json<StoredPlugin>> {
        &self.table
    }

    /// Where components are kept, by content hash.
    pub fn wasm_dir(&self) -> &std::path::Path {
        &self.wasm_dir
    }

    fn wasm_path(&self, sha: &str) -> PathBuf {
        self.wasm_dir.join(format!("{sha}.wasm"))
    }

    /// Validates and stores a plugin version. Re-uploading identical bytes is a no-op; different
    /// bytes under an existing (name, version) are a conflict (versions are immutable).
    pub fn register(
        &self,
        manifest_toml: &str,
        wasm: &[u8],
        bundled: bool,
        now: u64,
    ) -> Result<Pending<Arc<LoadedPlugin>>> {
        let manifest = Manifest::parse(manifest_toml)?;
        let sha = sha256_hex(wasm);
        let k = key(&[&manifest.name, &manifest.version.to_string()]);
        if let Some(existing) = self.get(&manifest.name, &manifest.version) {
            if existing.sha256 == sha && existing.manifest_toml == manifest_toml {
                return Ok(self.store.after_flush(existing));
            }
            // First-party plugins ship inside the binary: a new build replaces its own.
            if !(bundled && existing.bundled) {
                return Err(PlazaError::Conflict(format!(
                    "plugin {} {} is already registered with different contents; publish a new version",
                    manifest.name, manifest.version
                )));
            }
        }
        let plugin = self.load_component(manifest, manifest_toml.to_string(), wasm, bundled)?;
        write_durably(&self.wasm_path(&sha), wasm)?;
        let stored = StoredPlugin {
            manifest_toml: manifest_toml.to_string(),
            sha256: sha,
            uploaded_at: now,
            bundled,
        };
        let written = self.store.write(|tx| tx.put(&self.table, &k, &stored))?;
        let id = (
            plugin.manifest.name.clone(),
            plugin.manifest.version.clone(),
        );
        self.loaded
            .write()
            .map_err(poisoned)?
            .insert(id, plugin.clone());
        Ok(written.map(|()| plugin))
    }

    /// Loads every stored plugin (from the compiled cache when possible). A record that no
    /// longer decodes, or a plugin that no longer loads, is logged, skipped and returned, so
    /// that one bad record or artifact cannot keep the host from starting.
    pub fn load_all(&self) -> Result<Vec<(Vec<u8>, PlazaError)>> {
        let mut problems = Vec::new();
        for (k, v) in self.table.raw(b"", None, usize::MAX)? {
            let stored: StoredPlugin = match serde_json::from_slice(&v) {
                Ok(s) => s,
                Err(e) => {
                    problems.push((k, PlazaError::from(e)));
                    continue;
                }
            };
            let result = Manifest::parse(&stored.manifest_toml).and_then(|m| {
                let wasm = std::fs::read(self.wasm_path(&stored.sha256)).map_err(|e| {
                    PlazaError::Unavailable(format!("component {}: {e}", stored.sha256))
                })?;
                self.load_component(m, stored.manifest_toml.clone(), &wasm, stored.bundled)
            });
            match result {
                Ok(p) => {
                    let id = (p.manifest.name.clone(), p.manifest.version.clone());
                    self.loaded.write().map_err(poisoned)?.insert(id, p);
                }
                Err(e) => {
                    tracing::error!(sha256 = %stored.sha256, error = %e, "stored plugin does not load; skipped");
                    problems.push((k, e));
                }
            }
        }
        Ok(problems)
    }

    pub fn get(&self, name: &str, version: &Version) -> Option<Arc<LoadedPlugin>> {
        self.loaded
            .read()
            .ok()?
            .get(&(name.to_string(), version.clone()))
            .cloned()
    }

    /// The newest version of a plugin.
    pub fn latest(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        let loaded = self.loaded.read().ok()?;
        loaded
            .iter()
            .rev()
            .find(|((n, _), _)| n == name)
            .map(|(_, p)| p.clone())
    }

    pub fn list(&self) -> Vec<Arc<LoadedPlugin>> {
        self.loaded
            .read()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn versions(&self, name: &str) -> Vec<Arc<LoadedPlugin>> {
        self.list()
            .into_iter()
            .filter(|p| p.manifest.name == name)
            .collect()
    }
}

pub(crate) fn poisoned<T>(_: T) -> PlazaError {
    PlazaError::internal("a lock was poisoned by an earlier panic")
}

/// Writes a file so that it is complete or absent after a crash: temp file, fsync, rename.
///
/// The file is owner-only (0600 on Unix) from the moment it exists: the data directory holds
/// secrets (the admin token) and nothing in it is for other users, and permissions set after
/// writing would leave a window in which the contents are readable.
pub(crate) fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |e: std::io::Error| {
        PlazaError::Unavailable(format!("cannot write {}: {e}", path.display()))
    };
    if path.exists() {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // A temp file left by a crashed process with our pid is stale; it is replaced, never reused,
    // so that the mode below always applies (it only does on creation).
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut f = owner_only::file(std::fs::OpenOptions::new().write(true).create_new(true))
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}
