//! Installations: a plugin version switched on for one account, with its config, grants, priority,
//! and the log of its recent failures.

use std::sync::Arc;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::grants::InstallationGrant;
use crate::error::{PlazaError, Result};
use crate::storage::backend::{Tree, key, prefix};

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

pub struct InstallationStore {
    tree: Arc<dyn Tree>,
    errors: Arc<dyn Tree>,
}

impl InstallationStore {
    pub fn new(tree: Arc<dyn Tree>, errors: Arc<dyn Tree>) -> Self {
        InstallationStore { tree, errors }
    }

    pub fn get(&self, account: &str, plugin: &str) -> Result<Installation> {
        match self.tree.get(&key(&[account, plugin]))? {
            Some(b) => Ok(serde_json::from_slice(&b)?),
            None => Err(PlazaError::not_found(format!(
                "plugin {plugin:?} is not installed on account {account:?}"
            ))),
        }
    }

    /// Creates; fails with a conflict if the plugin is already installed on the account.
    pub fn create(&self, inst: &Installation) -> Result<()> {
        let k = key(&[&inst.account, &inst.plugin]);
        if !self
            .tree
            .compare_and_swap(&k, None, Some(&serde_json::to_vec(inst)?))?
        {
            return Err(PlazaError::Conflict(format!(
                "plugin {:?} is already installed on account {:?}; update it instead",
                inst.plugin, inst.account
            )));
        }
        Ok(())
    }

    pub fn put(&self, inst: &Installation) -> Result<()> {
        self.tree.insert(
            &key(&[&inst.account, &inst.plugin]),
            &serde_json::to_vec(inst)?,
        )?;
        Ok(())
    }

    pub fn remove(&self, account: &str, plugin: &str) -> Result<bool> {
        Ok(self.tree.remove(&key(&[account, plugin]))?.is_some())
    }

    pub fn list(&self, account: &str) -> Result<Vec<Installation>> {
        self.tree
            .scan_prefix(&prefix(&[account]), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }

    pub fn record_error(
        &self,
        account: &str,
        plugin: &str,
        seq: &str,
        rec: &PluginErrorRecord,
    ) -> Result<()> {
        let base = prefix(&[account, plugin]);
        let mut k = base.clone();
        k.extend_from_slice(seq.as_bytes());
        self.errors.insert(&k, &serde_json::to_vec(rec)?)?;
        // Keep the newest ERRORS_KEPT: drop from the oldest end.
        let all = self.errors.scan_prefix(&base, None, usize::MAX)?;
        if all.len() > ERRORS_KEPT {
            for (k, _) in &all[..all.len() - ERRORS_KEPT] {
                self.errors.remove(k)?;
            }
        }
        Ok(())
    }

    pub fn errors(&self, account: &str, plugin: &str) -> Result<Vec<PluginErrorRecord>> {
        self.errors
            .scan_prefix(&prefix(&[account, plugin]), None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
    }
}
