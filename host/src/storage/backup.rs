//! Online backup and restore (the seed's 数据备份).
//!
//! **Consistent while serving.** A backup copies every table into a scratch sled database while
//! the server keeps writing. The copy alone would be fuzzy (a unit of work committed mid-copy may
//! be half in it), so the store records every unit of work committed from the moment the copy
//! starts (see [`super::Store::write`]); when the copy is done, recording stops and the recorded
//! writes are applied to the scratch copy in commit order. The result is exactly the database as
//! it was when recording stopped: every write acknowledged before the backup began is in it, and
//! no unit of work is in it by half.
//!
//! **File format** (`.plzbak`, version 1), self-checking:
//! ```text
//! "PLAZABAK" u32-be(format version)
//! frames:  'T' name            a table begins
//!          'E' key value       an entry of the current table
//!          'F' path bytes      a file of the data directory (components, admin token)
//!          'M' manifest-json   Plaza version, API versions, time, entries per table, files
//! 'Z' sha256(everything before 'Z')
//! ```
//! Names, keys and values are u32-be length-prefixed, file contents u64-be. Every format version
//! keeps the magic, the version field and the `'Z' sha256` trailer, so that any Plaza can tell a
//! newer file (intact, higher version) from a damaged one. Restoring checks the checksum before
//! anything is written and the per-table counts after, and never writes into a non-empty data
//! directory unless told to (and then keeps the old one aside).

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, owner_only};
use crate::api::auth::TOKEN_FILE;
use crate::error::{PlazaError, Result};

const MAGIC: &[u8; 8] = b"PLAZABAK";
pub const FORMAT_VERSION: u32 = 1;
/// The extension of backup files.
pub const EXTENSION: &str = "plzbak";
/// Entries copied per scan while backing up.
const PAGE: usize = 4096;
/// Besides the database, a backup carries the admin token file (`TOKEN_FILE`) and this
/// directory of plugin artifacts.
const WASM_DIR: &str = "wasm";

/// What a backup holds, written into it and shown after backing up and restoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: u32,
    pub plaza_version: String,
    pub api_versions: Vec<String>,
    /// When the snapshot was taken (ms since the epoch).
    pub created_at: u64,
    /// Entries per table.
    pub tables: BTreeMap<String, u64>,
    /// Files, by path relative to the data directory, with their sizes.
    pub files: BTreeMap<String, u64>,
    /// SHA-256 (hex) of the whole file; filled in when the file is read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size of the whole file; filled in when the file is read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> PlazaError {
    let msg = format!("{what} {}", path.display());
    move |e| PlazaError::Unavailable(format!("{msg}: {e}"))
}

/// Stops the store's recording however the backup ends.
struct Recording<'a>(&'a Store);

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop_recording();
    }
}

/// Writes a consistent backup of `store` and the data directory's files to `out`. Blocking
/// (disk-bound): call it off the async workers.
pub fn write_backup(
    store: &Store,
    data_dir: &Path,
    out: &Path,
    now: u64,
) -> Result<BackupManifest> {
    write_backup_observed(store, data_dir, out, now, &mut |_| {})
}

/// [`write_backup`], calling `after_table` after each table is copied (tests use it to commit
/// units of work in the middle of the copy).
fn write_backup_observed(
    store: &Store,
    data_dir: &Path,
    out: &Path,
    now: u64,
    after_table: &mut dyn FnMut(&str),
) -> Result<BackupManifest> {
    let _slot = store.backup_slot()?;
    let scratch_dir = out.with_extension("scratch");
    let _ = std::fs::remove_dir_all(&scratch_dir);
    let result = snapshot_and_write(store, data_dir, out, &scratch_dir, now, after_table);
    let _ = std::fs::remove_dir_all(&scratch_dir);
    result
}

fn snapshot_and_write(
    store: &Store,
    data_dir: &Path,
    out: &Path,
    scratch_dir: &Path,
    now: u64,
    after_table: &mut dyn FnMut(&str),
) -> Result<BackupManifest> {
    let scratch = sled::Config::new()
        .path(scratch_dir)
        .temporary(true)
        .open()
        .map_err(|e| PlazaError::Unavailable(format!("cannot open scratch space: {e}")))?;
    {
        store.start_recording()?;
        let recording = Recording(store);
        // The fuzzy copy: concurrent units of work keep committing.
        for name in store.backend().tree_names()? {
            let tree = store.backend().tree(&name)?;
            let copy = scratch.open_tree(&name)?;
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = tree.scan_prefix(b"", after.as_deref(), PAGE)?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (k, v) in page {
                    copy.insert(k, v)?;
                }
            }
            after_table(&name);
        }
        // Everything committed since the copy began, in commit order, on top of it.
        let recorded = store.stop_recording()?;
        drop(recording);
        for (tree, k, v) in recorded {
            let copy = scratch.open_tree(&tree)?;
            match v {
                Some(v) => copy.insert(k, v)?,
                None => copy.remove(k)?,
            };
        }
    }

    let tmp = out.with_extension("part");
    let file = create_private(&tmp)?;
    let mut w = Checked::new(BufWriter::new(file));
    let fail = io("cannot write backup", &tmp);
    w.put(MAGIC).map_err(&fail)?;
    w.put(&FORMAT_VERSION.to_be_bytes()).map_err(&fail)?;
    let mut manifest = BackupManifest {
        format: FORMAT_VERSION,
        plaza_version: env!("CARGO_PKG_VERSION").to_string(),
        api_versions: crate::runtime::supported_versions()
            .iter()
            .map(|v| v.to_string())
            .collect(),
        created_at: now,
        tables: BTreeMap::new(),
        files: BTreeMap::new(),
        sha256: None,
        bytes: None,
    };
    let mut names: Vec<Vec<u8>> = scratch
        .tree_names()
        .into_iter()
        .map(|n| n.to_vec())
        .filter(|n| n.as_slice() != b"__sled__default")
        .collect();
    names.sort();
    for name in names {
        let tree = scratch.open_tree(&name)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        w.put(b"T").map_err(&fail)?;
        w.put_bytes(name.as_bytes()).map_err(&fail)?;
        let mut n = 0u64;
        for item in tree.iter() {
            let (k, v) = item?;
            w.put(b"E").map_err(&fail)?;
            w.put_bytes(&k).map_err(&fail)?;
            w.put_bytes(&v).map_err(&fail)?;
            n += 1;
        }
        manifest.tables.insert(name, n);
    }
    for rel in data_files(data_dir)? {
        let path = data_dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(io("cannot read", &path))?;
        w.put(b"F").map_err(&fail)?;
        w.put_bytes(rel.as_bytes()).map_err(&fail)?;
        w.put(&(bytes.len() as u64).to_be_bytes()).map_err(&fail)?;
        w.put(&bytes).map_err(&fail)?;
        manifest.files.insert(rel, bytes.len() as u64);
    }
    w.put(b"M").map_err(&fail)?;
    w.put_bytes(&serde_json::to_vec(&manifest)?)
        .map_err(&fail)?;
    let digest = w.digest();
    let mut inner = w.into_inner();
    inner.write_all(b"Z").map_err(&fail)?;
    inner.write_all(&digest).map_err(&fail)?;
    let file = inner
        .into_inner()
        .map_err(|e| PlazaError::Unavailable(format!("cannot write backup: {e}")))?;
    file.sync_all().map_err(&fail)?;
    std::fs::rename(&tmp, out).map_err(io("cannot move backup to", out))?;
    let total = std::fs::metadata(out)
        .map_err(io("cannot read", out))?
        .len();
    manifest.sha256 = Some(file_sha256(out)?);
    manifest.bytes = Some(total);
    Ok(manifest)
}

/// The files of the data directory a backup carries: the plugin components and the admin token.
fn data_files(data_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if data_dir.join(TOKEN_FILE).is_file() {
        out.push(TOKEN_FILE.to_string());
    }
    let wasm = data_dir.join(WASM_DIR);
    if wasm.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&wasm)
            .map_err(io("cannot list", &wasm))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| format!("{WASM_DIR}/{n}")));
    }
    Ok(out)
}

fn create_private(path: &Path) -> Result<std::fs::File> {
    owner_only::file(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(path)
    .map_err(io("cannot create", path))
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A writer that hashes what passes through it.
struct Checked<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Checked<W> {
    fn new(inner: W) -> Self {
        Checked {
            inner,
            hash: Sha256::new(),
        }
    }
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hash.update(b);
        self.inner.write_all(b)
    }
    fn put_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(b.len())
            .map_err(|_| std::io::Error::other("record larger than 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(b)
    }
    fn digest(&self) -> [u8; 32] {
        self.hash.clone().finalize().into()
    }
    fn into_inner(self) -> W {
        self.inner
    }
}

/// A backup file that was refused, with the reason an operator can act on.
fn corrupt(path: &Path, why: impl std::fmt::Display) -> PlazaError {
    PlazaError::invalid(format!(
        "backup {} is corrupt or truncated ({why}); nothing was restored",
        path.display()
    ))
}

/// Checks a backup file's integrity (magic, version, checksum over every byte) without writing
/// anything, and returns its manifest.
pub fn inspect(path: &Path) -> Result<BackupManifest> {
    let len = std::fs::metadata(path)
        .map_err(|e| PlazaError::invalid(format!("cannot read backup {}: {e}", path.display())))?
        .len();
    if len < (MAGIC.len() + 4 + 33) as u64 {
        return Err(corrupt(path, format!("only {len} bytes")));
    }
    let mut f =
        BufReader::new(std::fs::File::open(path).map_err(|e| {
            PlazaError::invalid(format!("cannot read backup {}: {e}", path.display()))
        })?);
    let body = len - 33;
    let mut h = Sha256::new();
    let mut head = [0u8; 12];
    f.read_exact(&mut head).map_err(|e| corrupt(path, e))?;
    if &head[..8] != MAGIC {
        // One flipped bit of the magic looks like this too.
        return Err(PlazaError::invalid(format!(
            "backup {} is corrupt or not a Plaza backup (it does not begin with PLAZABAK); nothing was restored",
            path.display()
        )));
    }
    let version = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    h.update(head);
    let mut left = body - head.len() as u64;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n]).map_err(|e| corrupt(path, e))?;
        h.update(&buf[..n]);
        left -= n as u64;
    }
    let mut trailer = [0u8; 33];
    f.read_exact(&mut trailer).map_err(|e| corrupt(path, e))?;
    if trailer[0] != b'Z' || trailer[1..] != h.finalize()[..] {
        return Err(corrupt(path, "checksum mismatch"));
    }
    // Only an intact file's version is believed: a damaged version field is a damaged file, not
    // a newer one (every format keeps this header and trailer, so any Plaza can tell).
    if version > FORMAT_VERSION {
        return Err(PlazaError::invalid(format!(
            "backup {} has format {version}; this Plaza reads format {FORMAT_VERSION} (restore it with a newer Plaza)",
            path.display()
        )));
    }
    // Integrity holds; read the manifest (the last frame before the trailer).
    let mut manifest = None;
    read_frames(path, &mut |frame| {
        if let Frame::Manifest(m) = frame {
            manifest = Some(m);
        }
        Ok(())
    })?;
    let mut manifest = manifest.ok_or_else(|| corrupt(path, "no manifest"))?;
    manifest.sha256 = Some(file_sha256(path)?);
    manifest.bytes = Some(len);
    Ok(manifest)
}

enum Frame {
    Table(String),
    Entry(Vec<u8>, Vec<u8>),
    File(String, Vec<u8>),
    Manifest(BackupManifest),
}

/// Reads every frame of a file whose checksum was already verified.
fn read_frames(path: &Path, on: &mut dyn FnMut(Frame) -> Result<()>) -> Result<()> {
    let mut f = BufReader::new(std::fs::File::open(path).map_err(|e| corrupt(path, e))?);
    let mut head = [0u8; 12];
    f.read_exact(&mut head).map_err(|e| corrupt(path, e))?;
    let bytes = |f: &mut BufReader<std::fs::File>| -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        f.read_exact(&mut len).map_err(|e| corrupt(path, e))?;
        let mut v = vec![0u8; u32::from_be_bytes(len) as usize];
        f.read_exact(&mut v).map_err(|e| corrupt(path, e))?;
        Ok(v)
    };
    loop {
        let mut tag = [0u8; 1];
        f.read_exact(&mut tag).map_err(|e| corrupt(path, e))?;
        match tag[0] {
            b'T' => on(Frame::Table(
                String::from_utf8_lossy(&bytes(&mut f)?).into_owned(),
            ))?,
            b'E' => {
                let k = bytes(&mut f)?;
                let v = bytes(&mut f)?;
                on(Frame::Entry(k, v))?;
            }
            b'F' => {
                let p = String::from_utf8_lossy(&bytes(&mut f)?).into_owned();
                let mut len = [0u8; 8];
                f.read_exact(&mut len).map_err(|e| corrupt(path, e))?;
                let mut v = Vec::new();
                (&mut f)
                    .take(u64::from_be_bytes(len))
                    .read_to_end(&mut v)
                    .map_err(|e| corrupt(path, e))?;
                on(Frame::File(p, v))?;
            }
            b'M' => {
                let m: BackupManifest = serde_json::from_slice(&bytes(&mut f)?)
                    .map_err(|e| corrupt(path, format!("manifest: {e}")))?;
                on(Frame::Manifest(m))?;
            }
            b'Z' => return Ok(()),
            other => return Err(corrupt(path, format!("unknown frame {other:#x}"))),
        }
    }
}

/// Whether `dir` holds anything.
fn non_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub manifest: BackupManifest,
    pub data_dir: PathBuf,
    /// Where the data directory's previous contents were moved (`--force`).
    pub replaced: Option<PathBuf>,
}

/// Restores a backup into `data_dir`: checks the file first, refuses a non-empty directory unless
/// `force` (then moves it aside to `<dir>.replaced-<time>`), writes into a sibling directory and
/// moves it into place only when everything is written and the counts match the manifest.
pub fn restore(file: &Path, data_dir: &Path, force: bool, now: u64) -> Result<RestoreReport> {
    let manifest = inspect(file)?;
    if non_empty(data_dir) && !force {
        return Err(PlazaError::invalid(format!(
            "data directory {} is not empty; pass --force to replace it (its current contents are moved aside, not deleted)",
            data_dir.display()
        )));
    }
    if data_dir.join("db").exists() {
        // sled locks its database: a running server on this directory makes this fail.
        let probe = sled::Config::new().path(data_dir.join("db")).open();
        if let Err(e) = probe {
            return Err(PlazaError::Conflict(format!(
                "the database in {} is in use or unreadable ({e}); stop the server first",
                data_dir.display()
            )));
        }
    }
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plaza-data".into());
    let parent = data_dir.parent().unwrap_or(Path::new("."));
    let staging = parent.join(format!(".{name}.restoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = restore_into(file, &staging, &manifest);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let replaced = if data_dir.exists() {
        let aside = parent.join(format!("{name}.replaced-{now}"));
        std::fs::rename(data_dir, &aside).map_err(io("cannot move aside", data_dir))?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staging, data_dir).map_err(io("cannot move into place", data_dir))?;
    Ok(RestoreReport {
        manifest,
        data_dir: data_dir.to_path_buf(),
        replaced,
    })
}

fn restore_into(file: &Path, dir: &Path, manifest: &BackupManifest) -> Result<()> {
    owner_only::create_dir(dir).map_err(io("cannot create", dir))?;
    let db = sled::Config::new()
        .path(dir.join("db"))
        .open()
        .map_err(|e| PlazaError::Unavailable(format!("cannot create the database: {e}")))?;
    let mut current: Option<(String, sled::Tree)> = None;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    read_frames(file, &mut |frame| {
        match frame {
            Frame::Table(name) => {
                counts.insert(name.clone(), 0);
                current = Some((name.clone(), db.open_tree(&name)?));
            }
            Frame::Entry(k, v) => {
                let (name, tree) = current
                    .as_ref()
                    .ok_or_else(|| corrupt(file, "entry outside a table"))?;
                tree.insert(k, v)?;
                *counts.entry(name.clone()).or_default() += 1;
            }
            Frame::File(rel, bytes) => {
                let rel_path = Path::new(&rel);
                if rel_path.is_absolute()
                    || rel_path
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(corrupt(
                        file,
                        format!("file path {rel:?} leaves the data directory"),
                    ));
                }
                let path = dir.join(rel_path);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(io("cannot create", p))?;
                }
                let mut f = create_private(&path)?;
                f.write_all(&bytes).map_err(io("cannot write", &path))?;
                f.sync_all().map_err(io("cannot write", &path))?;
                files.insert(rel, bytes.len() as u64);
            }
            Frame::Manifest(_) => {}
        }
        Ok(())
    })?;
    db.flush()?;
    if counts != manifest.tables || files != manifest.files {
        return Err(corrupt(file, "its contents do not match its manifest"));
    }
    Ok(())
}

/// Backup file names: `plaza-backup-<UTC time>.plzbak`, so they sort by time.
pub fn file_name(now_ms: u64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    format!(
        "plaza-backup-{}.{EXTENSION}",
        t.format("%Y%m%dT%H%M%S%.3fZ")
    )
}

/// A backup kept in the backup directory.
#[derive(Debug, Clone, Serialize)]
pub struct StoredBackup {
    pub name: String,
    pub bytes: u64,
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<StoredBackup>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out: Vec<StoredBackup> = std::fs::read_dir(dir)
        .map_err(io("cannot list", dir))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("plaza-backup-") && name.ends_with(&format!(".{EXTENSION}"))
        })
        .map(|e| StoredBackup {
            name: e.file_name().to_string_lossy().into_owned(),
            bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Deletes all but the newest `keep` backups in `dir`. Returns the names deleted.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<String>> {
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for b in all.into_iter().take(excess) {
        let path = dir.join(&b.name);
        std::fs::remove_file(&path).map_err(io("cannot delete", &path))?;
        removed.push(b.name);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{done, dump, faulty_store, open_when_released};
    use crate::storage::{Json, Table};

    #[test]
    fn a_backup_restores_what_was_committed_and_checks_itself() {
        let (dir, _f, store) = faulty_store();
        let a: Table<Json<u32>> = store.table("a").unwrap();
        let b: Table<Json<u32>> = store.table("b").unwrap();
        for i in 0..100u32 {
            done(store.write(|tx| {
                tx.put(&a, &i.to_be_bytes(), &i)?;
                tx.put(&b, &i.to_be_bytes(), &(i * 2))
            }))
            .unwrap();
        }
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("wasm")).unwrap();
        std::fs::write(data.join("wasm/abc.wasm"), b"\0asm component").unwrap();
        std::fs::write(data.join("admin-token"), b"plz_secret").unwrap();
        let out = dir.path().join(file_name(1));
        let m = write_backup(&store, &data, &out, 1).unwrap();
        assert_eq!(m.tables.get("a"), Some(&100));
        assert_eq!(m.files.len(), 2);
        assert_eq!(inspect(&out).unwrap().tables, m.tables);

        let target = dir.path().join("restored");
        let report = restore(&out, &target, false, 2).unwrap();
        assert_eq!(report.replaced, None);
        assert_eq!(
            std::fs::read(target.join("wasm/abc.wasm")).unwrap(),
            b"\0asm component"
        );
        let backend: std::sync::Arc<dyn crate::storage::Backend> =
            std::sync::Arc::new(open_when_released(&target.join("db")));
        let restored = Store::new(backend);
        assert_eq!(dump(&restored), dump(&store));

        // Not into a non-empty directory without force; with force, the old one is kept aside.
        let err = restore(&out, &target, false, 3).unwrap_err();
        assert!(err.message().contains("--force"), "{err}");
        drop(restored);
        let report = restore(&out, &target, true, 4).unwrap();
        assert!(
            report
                .replaced
                .as_ref()
                .is_some_and(|p| p.join("db").exists())
        );
    }

    /// A store holding one record (table `a`), and where its backup goes.
    fn one_record() -> (tempfile::TempDir, std::sync::Arc<Store>, PathBuf) {
        let (dir, _f, store) = faulty_store();
        let a: Table<Json<String>> = store.table("a").unwrap();
        done(store.write(|tx| tx.put(&a, b"k", &"value".to_string()))).unwrap();
        let out = dir.path().join("b.plzbak");
        (dir, store, out)
    }

    #[test]
    fn a_second_backup_while_one_runs_is_refused_and_touches_nothing() {
        let (dir, store, out) = one_record();
        // The running backup's scratch space and partial output, under the same name.
        let scratch = out.with_extension("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::write(scratch.join("in-use"), b"x").unwrap();
        std::fs::write(out.with_extension("part"), b"partial").unwrap();
        let running = store.backup_slot().unwrap();
        let err = write_backup(&store, dir.path(), &out, 1).unwrap_err();
        assert_eq!(err.code(), "conflict", "{err}");
        assert!(scratch.join("in-use").exists());
        assert_eq!(
            std::fs::read(out.with_extension("part")).unwrap(),
            b"partial"
        );
        assert!(!out.exists());
        drop(running);
        std::fs::remove_file(out.with_extension("part")).unwrap();
        write_backup(&store, dir.path(), &out, 1).unwrap();
        assert_eq!(inspect(&out).unwrap().tables.get("a"), Some(&1));
    }

    #[test]
    fn a_flipped_byte_or_a_truncated_file_is_refused_before_anything_is_written() {
        let (dir, store, out) = one_record();
        write_backup(&store, dir.path(), &out, 1).unwrap();
        let good = std::fs::read(&out).unwrap();
        for (i, bad) in [
            {
                let mut v = good.clone();
                let mid = v.len() / 2;
                v[mid] ^= 0x01;
                v
            },
            good[..good.len() - 10].to_vec(),
            good[..20].to_vec(),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("bad{i}.plzbak"));
            std::fs::write(&path, bad).unwrap();
            let target = dir.path().join(format!("t{i}"));
            let err = restore(&path, &target, false, 1).unwrap_err();
            assert!(err.message().contains("corrupt or truncated"), "{i}: {err}");
            assert!(!target.exists(), "{i}: nothing may be written");
        }
    }

    #[test]
    fn a_newer_format_is_told_apart_from_a_damaged_version_field() {
        let (dir, store, out) = one_record();
        write_backup(&store, dir.path(), &out, 1).unwrap();
        let good = std::fs::read(&out).unwrap();
        let body = good.len() - 33;

        // A flipped bit in the version field: damaged, not "newer".
        let mut flipped = good.clone();
        flipped[8] ^= 0x80;
        let path = dir.path().join("flipped.plzbak");
        std::fs::write(&path, &flipped).unwrap();
        let err = inspect(&path).unwrap_err();
        assert!(err.message().contains("corrupt or truncated"), "{err}");

        // An intact file of a later format: a newer Plaza is needed.
        let mut newer = good[..body].to_vec();
        newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
        let digest = Sha256::digest(&newer);
        newer.push(b'Z');
        newer.extend_from_slice(&digest);
        let path = dir.path().join("newer.plzbak");
        std::fs::write(&path, &newer).unwrap();
        let err = inspect(&path).unwrap_err();
        assert!(err.message().contains("newer Plaza"), "{err}");
        assert!(!err.message().contains("corrupt"), "{err}");

        // A flipped magic byte is called what it may well be.
        let mut magic = good.clone();
        magic[0] ^= 0x01;
        let path = dir.path().join("magic.plzbak");
        std::fs::write(&path, &magic).unwrap();
        let err = restore(&path, &dir.path().join("t"), false, 1).unwrap_err();
        assert!(err.message().contains("corrupt"), "{err}");
        assert!(!dir.path().join("t").exists());
    }

    #[test]
    fn retention_keeps_the_newest_backups_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("backups");
        // Nothing there yet: nothing listed, nothing to delete.
        assert!(list(&kept).unwrap().is_empty());
        assert!(prune(&kept, 2).unwrap().is_empty());

        std::fs::create_dir_all(&kept).unwrap();
        const DAY: u64 = 86_400_000;
        let t0 = 1_773_100_800_000u64;
        // Taken on days 0..5, written out of order; names sort by time even where the
        // millisecond count gains a digit of seconds.
        let times = [
            t0 + 3 * DAY,
            t0 + 999,
            t0 + 4 * DAY,
            t0 + 1000,
            t0 + 2 * DAY,
        ];
        for t in times {
            std::fs::write(kept.join(file_name(t)), t.to_string()).unwrap();
        }
        // Files that are not kept backups: an unfinished download, someone's notes, a backup
        // saved under another name.
        let others = [
            format!("{}.part", file_name(t0 + 5 * DAY)),
            "notes.txt".to_string(),
            "manual.plzbak".to_string(),
        ];
        for name in &others {
            std::fs::write(kept.join(name), b"x").unwrap();
        }
        let mut by_time = times;
        by_time.sort();
        let names: Vec<String> = by_time.iter().map(|t| file_name(*t)).collect();
        let listed: Vec<String> = list(&kept).unwrap().into_iter().map(|b| b.name).collect();
        assert_eq!(listed, names, "oldest first, only backups");

        let removed = prune(&kept, 2).unwrap();
        assert_eq!(removed, names[..3]);
        let listed: Vec<String> = list(&kept).unwrap().into_iter().map(|b| b.name).collect();
        assert_eq!(listed, names[3..]);
        for name in &names[3..] {
            assert!(kept.join(name).is_file());
        }
        for name in &others {
            assert!(kept.join(name).is_file(), "{name} was deleted");
        }
        // Within the limit, nothing more goes.
        assert!(prune(&kept, 2).unwrap().is_empty());
        assert!(prune(&kept, 7).unwrap().is_empty());
        assert_eq!(list(&kept).unwrap().len(), 2);
    }

    #[test]
    fn units_of_work_committed_during_the_copy_are_in_the_backup_whole() {
        let (dir, _f, store) = faulty_store();
        let a: Table<Json<u64>> = store.table("a").unwrap();
        let b: Table<Json<u64>> = store.table("b").unwrap();
        // Every unit of work writes the same number to both tables.
        let pair = |i: u64| {
            store
                .write(|tx| {
                    tx.put(&a, b"k", &i)?;
                    tx.put(&b, b"k", &i)
                })
                .unwrap()
                .detach()
        };
        pair(1);
        let out = dir.path().join("during.plzbak");
        // Table "a" is copied first; a unit of work then changes both, so the copy of "a" is
        // stale and that of "b" is not: only the recorded writes make the backup whole.
        write_backup_observed(&store, dir.path(), &out, 1, &mut |table| {
            if table == "a" {
                pair(2);
            }
        })
        .unwrap();
        let target = dir.path().join("r");
        restore(&out, &target, false, 1).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let db = loop {
            match sled::open(target.join("db")) {
                Ok(db) => break db,
                Err(e) if std::time::Instant::now() < deadline => {
                    assert!(e.to_string().contains("lock"), "{e}");
                    std::thread::yield_now()
                }
                Err(e) => panic!("{e}"),
            }
        };
        let read = |t: &str| -> u64 {
            let v = db.open_tree(t).unwrap().get(b"k").unwrap().unwrap();
            serde_json::from_slice(&v).unwrap()
        };
        assert_eq!((read("a"), read("b")), (2, 2));
    }
}
