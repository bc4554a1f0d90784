//! `plaza backup`, `plaza restore` and `plaza system`: backups of a running server, restoring one
//! into a data directory, and the server's own state (versions, records set aside at start).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Remote, seg, warn};
use crate::error::{PlazaError, Result};
use crate::storage::{backup, owner_only};

/// `plaza backup --out FILE`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to save the backup (a `.plzbak` file; written next to it first, then moved).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub remote: Remote,
}

/// `plaza restore FILE --data-dir DIR [--force]`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file.
    pub file: PathBuf,
    /// The data directory to restore into; must be empty or absent unless `--force`.
    #[arg(long, env = "PLAZA_DATA_DIR", default_value = "plaza-data")]
    pub data_dir: PathBuf,
    /// Replace a non-empty data directory (its contents are moved aside, not deleted).
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Versions, loaded plugins, and stored records set aside at start (with their remedy).
    Show {
        #[command(flatten)]
        remote: Remote,
    },
    /// Removes a stored record that was set aside at start (by the id `system show` lists).
    DropRecord {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Backups kept by the server (scheduled ones and those taken through the API).
    Backups {
        #[command(flatten)]
        remote: Remote,
    },
}

impl SystemCmd {
    pub fn run(self) -> Result<Value> {
        match self {
            SystemCmd::Show { remote } => remote.client()?.get("/system"),
            SystemCmd::DropRecord { id, remote } => remote
                .client()?
                .delete(&format!("/system/problems/{}", seg(&id))),
            SystemCmd::Backups { remote } => remote.client()?.get("/system/backups"),
        }
    }
}

/// Asks the server for a backup, saves it while showing progress, then checks the saved file
/// end to end (checksum and manifest) before reporting success.
pub fn backup(args: BackupArgs) -> Result<Value> {
    let client = args.remote.client()?;
    let part = args.out.with_extension("plzbak.part");
    // A backup holds the admin token and every account's data: owner-only from the first byte,
    // like the copy the server keeps.
    let mut file = owner_only::file(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(&part)
    .map_err(|e| PlazaError::invalid(format!("cannot create {}: {e}", part.display())))?;
    let mut shown = 0u64;
    let received = client.download("/system/backups", &mut file, &mut |n| {
        // A line per 8 MiB keeps a long download visibly alive without flooding the terminal.
        if n >= shown + (8 << 20) {
            shown = n;
            warn(&format!("received {:.1} MiB", n as f64 / (1 << 20) as f64));
        }
    });
    let received = match received {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    file.sync_all()
        .map_err(|e| PlazaError::Unavailable(format!("cannot write {}: {e}", part.display())))?;
    drop(file);
    let manifest = match backup::inspect(&part) {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, &args.out).map_err(|e| {
        PlazaError::Unavailable(format!("cannot write {}: {e}", args.out.display()))
    })?;
    warn(&format!(
        "backup saved to {} ({received} bytes, checksum verified)",
        args.out.display()
    ));
    Ok(json!({ "file": args.out.display().to_string(), "manifest": manifest }))
}

/// Restores a backup into a data directory (offline: no server may be running on it).
pub fn restore(args: RestoreArgs) -> Result<Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let report = backup::restore(&args.file, &args.data_dir, args.force, now)?;
    if let Some(aside) = &report.replaced {
        warn(&format!(
            "the previous contents of {} were moved to {}",
            args.data_dir.display(),
            aside.display()
        ));
    }
    Ok(serde_json::to_value(&report)?)
}

/// Used by the client to write a download.
pub(super) fn write_chunk(out: &mut dyn Write, chunk: &[u8], path: &Path) -> Result<()> {
    out.write_all(chunk)
        .map_err(|e| PlazaError::Unavailable(format!("cannot write {}: {e}", path.display())))
}
