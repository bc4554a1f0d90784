//! Installations: a plugin version switched on for one account, with its config, grants, priority,
//! and the log of its recent failures.

use std::sync::Arc;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::grants::InstallationGrant;
use crate::error::{PlazaError, Result};
use crate::storage::backend::{child, key, prefix};
use crate::storage::table::Undecodable;
use crate::storage::{Json, Pending, Store, Table};

/// (account, plugin, version, config, grants, enabled, priority).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Installation {
    pub account: String,
    pub plugin: String,
    pub version: Version,
    pub config: serde_json::Value,
    pub grants: InstallationGrant,
    pub enabled: bool,
    /// Higher runs first; ties run in plugin-name order.
    pub priority: i32,
    pub installed_at: u64,
    pub updated_at: u64,
}

/// One failed call, kept for operators (newest last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginErrorRecord {
    pub at: u64,
    pub version: String,
    pub call: String,
    pub kind: String,
    pub message: String,
}

/// How many failures are kept per installation.
pub const ERRORS_KEPT: usize = 50;

/// `(account, plugin)` → installation; `(account, plugin) ++ seq` → recent failures.
pub struct InstallationStore {
    store: Arc<Store>,
    table: Table<Json<Installation>>,
    errors: Table<Json<PluginErrorRecord>>,
}

fn not_installed(account: &str, plugin: &str) -> PlazaError {
    PlazaError::not_found(format!(
        "plugin {plugin:?} is not installed on account {account:?}"
    ))
}

impl InstallationStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(InstallationStore {
            table: store.table("installations")?,
            errors: store.table("plugin_errors")?,
            store,
        })
    }

    pub fn table(&self) -> &Table<Json<Installation>> {
        &self.table
    }

    /// The installation. A record that exists but no longer decodes was set aside at start: that
    /// is the operator's to resolve (a conflict naming the remedy), not a server fault.
    pub fn get(&self, account: &str, plugin: &str) -> Result<Installation> {
        match self.table.get(&key(&[account, plugin])) {
            Ok(found) => found.ok_or_else(|| not_installed(account, plugin)),
            Err(e) if self.exists(account, plugin)? => Err(PlazaError::Conflict(format!(
                "the installation of plugin {plugin:?} on account {account:?} no longer decodes \
                 ({e}) and was set aside at start (see GET /api/v1/system); remove it with \
                 `plaza uninstall {account} {plugin}`"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Whether a record exists for the pair, decodable or not.
    pub fn exists(&self, account: &str, plugin: &str) -> Result<bool> {
        self.table.contains(&key(&[account, plugin]))
    }

    /// Creates; fails with a conflict if the plugin is already installed on the account.
    pub fn create(&self, inst: &Installation) -> Result<Pending<()>> {
        self.store.write(|tx| {
            if !tx.insert_new(&self.table, &key(&[&inst.account, &inst.plugin]), inst)? {
                return Err(PlazaError::Conflict(format!(
                    "plugin {:?} is already installed on account {:?}; update it instead",
                    inst.plugin, inst.account
                )));
            }
            Ok(())
        })
    }

    pub fn put(&self, inst: &Installation) -> Result<Pending<()>> {
        self.store
            .write(|tx| tx.put(&self.table, &key(&[&inst.account, &inst.plugin]), inst))
    }

    /// Removes the installation record — even one that no longer decodes — and its error log.
    pub fn remove(&self, account: &str, plugin: &str) -> Result<Pending<bool>> {
        let errors = self
            .errors
            .keys(&prefix(&[account, plugin]), None, usize::MAX)?;
        self.store.write(|tx| {
            for k in &errors {
                tx.delete(&self.errors, k)?;
            }
            tx.delete(&self.table, &key(&[account, plugin]))
        })
    }

    /// The account's installations whose records decode. One that does not was set aside at
    /// start (listed with its remedy, `plaza uninstall`, in `GET /system`) and must not hide the
    /// others.
    pub fn list(&self, account: &str) -> Result<Vec<Installation>> {
        Ok(self.list_lenient(account)?.0)
    }

    /// Like [`InstallationStore::list`], setting aside records that no longer decode.
    pub fn list_lenient(&self, account: &str) -> Result<(Vec<Installation>, Undecodable)> {
        self.table.values_lenient(&prefix(&[account]))
    }

    /// Keeps one failure (the newest [`ERRORS_KEPT`] per installation are kept). Nobody waits on
    /// it, so it is durable with the next flush.
    pub fn record_error(
        &self,
        account: &str,
        plugin: &str,
        seq: &str,
        rec: &PluginErrorRecord,
    ) -> Result<()> {
        let base = prefix(&[account, plugin]);
        let kept = self.errors.keys(&base, None, usize::MAX)?;
        let drop_oldest = (kept.len() + 1).saturating_sub(ERRORS_KEPT);
        self.store
            .write(|tx| {
                tx.put(
                    &self.errors,
                    &child(&[account, plugin], seq.as_bytes()),
                    rec,
                )?;
                for k in kept.iter().take(drop_oldest) {
                    tx.delete(&self.errors, k)?;
                }
                Ok(())
            })?
            .detach();
        Ok(())
    }

    pub fn errors(&self, account: &str, plugin: &str) -> Result<Vec<PluginErrorRecord>> {
        self.errors.values(&prefix(&[account, plugin]))
    }
}
