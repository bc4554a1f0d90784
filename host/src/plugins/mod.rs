//! Plugins: manifests, the registry of uploaded versions, per-account installations with their
//! grants, and the index of what is enabled where.

pub mod grants;
pub mod installations;
pub mod manifest;
pub mod query;
pub mod registry;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use semver::Version;
use serde::Deserialize;

use self::grants::{CallGrants, Capability, InstallationGrant};
use self::installations::{Installation, InstallationStore, PluginErrorRecord};
use self::registry::{LoadedPlugin, PluginRegistry, poisoned};
use crate::accounts::Account;
use crate::accounts::followers::PendingInteraction;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::plugin_api::CallContext;
use crate::runtime::{CallFailure, CallState, Invocation, Outcome, WarmInstance};

/// An enabled installation with everything a call needs resolved: the account, the compiled plugin
/// version and the config as the JSON text the plugin reads. Calls hold an `Arc` of it, so an
/// upgrade swaps in a new one while in-flight calls finish on the old.
pub struct ActiveInstallation {
    pub account: Account,
    pub installation: Installation,
    pub plugin: Arc<LoadedPlugin>,
    pub config_json: String,
    /// What every call of this installation may do (built once, shared by its calls).
    pub grants: Arc<CallGrants>,
}

impl ActiveInstallation {
    fn new(
        account: Account,
        installation: Installation,
        plugin: Arc<LoadedPlugin>,
    ) -> Result<Self> {
        let config_json = serde_json::to_string(&installation.config)?;
        let grants = Arc::new(CallGrants::new(
            &account.id,
            &plugin.manifest.name,
            &account.timezone,
            installation.grants.clone(),
        ));
        Ok(ActiveInstallation {
            account,
            installation,
            plugin,
            config_json,
            grants,
        })
    }
}

type ActiveList = Arc<[Arc<ActiveInstallation>]>;

pub struct PluginManager {
    pub registry: PluginRegistry,
    pub installations: InstallationStore,
    /// Enabled installations per account, highest priority first.
    active: RwLock<HashMap<String, ActiveList>>,
}

/// What an operator asks for when installing a plugin on an account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    pub plugin: String,
    /// Defaults to the newest registered version.
    pub version: Option<String>,
    /// Defaults to the manifest's `config.default`.
    pub config: Option<serde_json::Value>,
    /// Each capability must be one the manifest requests. Defaults to none.
    #[serde(default)]
    pub grants: Vec<Capability>,
    pub enabled: Option<bool>,
    pub priority: Option<i32>,
}

/// A change to an installation; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallationUpdate {
    /// Upgrade or roll back to this registered version.
    pub version: Option<String>,
    pub config: Option<serde_json::Value>,
    pub grants: Option<Vec<Capability>>,
    pub enabled: Option<bool>,
    pub priority: Option<i32>,
}

impl PluginManager {
    pub fn new(registry: PluginRegistry, installations: InstallationStore) -> Self {
        PluginManager {
            registry,
            installations,
            active: RwLock::new(HashMap::new()),
        }
    }

    /// The account's enabled installations, highest priority first.
    pub fn active(&self, account: &str) -> ActiveList {
        self.active
            .read()
            .ok()
            .and_then(|a| a.get(account).cloned())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    pub fn find_active(&self, account: &str, plugin: &str) -> Option<Arc<ActiveInstallation>> {
        self.active(account)
            .iter()
            .find(|a| a.installation.plugin == plugin)
            .cloned()
    }

    /// Rebuilds the account's active list from storage and swaps it in atomically. Records that
    /// no longer decode are skipped and returned (with their keys), so that one cannot keep the
    /// account's other plugins from running.
    pub fn refresh(&self, account: &Account) -> Result<crate::storage::table::Undecodable> {
        let mut list = Vec::new();
        let (installations, undecodable) = self.installations.list_lenient(&account.id)?;
        for (k, e) in &undecodable {
            tracing::error!(account = %account.id, key = %String::from_utf8_lossy(k), error = %e,
                "stored installation does not decode; skipped");
        }
        for inst in installations {
            if !inst.enabled {
                continue;
            }
            match self.registry.get(&inst.plugin, &inst.version) {
                Some(plugin) => list.push(Arc::new(ActiveInstallation::new(
                    account.clone(),
                    inst,
                    plugin,
                )?)),
                None => tracing::error!(
                    account = %account.id, plugin = %inst.plugin, version = %inst.version,
                    "installed plugin version is not loaded; installation skipped"
                ),
            }
        }
        list.sort_by(|a, b| {
            b.installation
                .priority
                .cmp(&a.installation.priority)
                .then_with(|| a.installation.plugin.cmp(&b.installation.plugin))
        });
        self.active
            .write()
            .map_err(poisoned)?
            .insert(account.id.clone(), Arc::from(list));
        Ok(undecodable)
    }

    fn resolve_version(&self, plugin: &str, version: Option<&str>) -> Result<Arc<LoadedPlugin>> {
        match version {
            Some(v) => {
                let v = Version::parse(v)
                    .map_err(|e| PlazaError::invalid(format!("version {v:?}: {e}")))?;
                self.registry
                    .get(plugin, &v)
                    .ok_or_else(|| PlazaError::not_found(format!("plugin {plugin} version {v}")))
            }
            None => self
                .registry
                .latest(plugin)
                .ok_or_else(|| PlazaError::not_found(format!("plugin {plugin:?}"))),
        }
    }
}

fn check_requirements(plugin: &LoadedPlugin, account: &Account) -> Result<()> {
    let req = &plugin.manifest.requires;
    if !req.kinds.is_empty() && !req.kinds.contains(&account.kind) {
        return Err(PlazaError::invalid(format!(
            "plugin {} requires a {} account; {} is a {:?} account",
            plugin.manifest.name,
            req.kinds
                .iter()
                .map(|k| format!("{k:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(" or "),
            account.id,
            account.kind
        )));
    }
    if req.verified && !account.verified {
        return Err(PlazaError::invalid(format!(
            "plugin {} requires a verified account; {} is not verified",
            plugin.manifest.name, account.id
        )));
    }
    Ok(())
}

fn grant_from(plugin: &LoadedPlugin, caps: Vec<Capability>) -> Result<InstallationGrant> {
    let grant = InstallationGrant(caps.into_iter().collect());
    grant.check_within(&plugin.manifest.capabilities)?;
    Ok(grant)
}

/// What a plugin learns about the call it is serving.
pub fn call_context(
    active: &ActiveInstallation,
    follower: Option<String>,
    operator: bool,
) -> CallContext {
    let manifest = &active.plugin.manifest;
    CallContext {
        account: active.account.clone(),
        plugin: manifest.name.clone(),
        plugin_version: manifest.version.to_string(),
        follower,
        operator,
        caller: None,
    }
}

impl Platform {
    /// Installs a plugin on an account: checks requirements, config and grants, persists, runs
    /// the plugin's `on-install`, and only then makes it active. A failing `on-install` undoes it.
    pub async fn install_plugin(
        self: &Arc<Self>,
        account_id: &str,
        req: InstallRequest,
    ) -> Result<Installation> {
        let account = self.accounts.get(account_id)?;
        let plugin = self
            .plugins
            .resolve_version(&req.plugin, req.version.as_deref())?;
        check_requirements(&plugin, &account)?;
        let config = req
            .config
            .unwrap_or_else(|| plugin.manifest.config_default.clone());
        plugin.manifest.validate_config(&config)?;
        let grants = grant_from(&plugin, req.grants)?;
        let now = self.clock.now_ms();
        let inst = Installation {
            account: account.id.clone(),
            plugin: plugin.manifest.name.clone(),
            version: plugin.manifest.version.clone(),
            config,
            grants,
            enabled: req.enabled.unwrap_or(true),
            priority: req.priority.unwrap_or(0),
            installed_at: now,
            updated_at: now,
        };
        let active = Arc::new(ActiveInstallation::new(
            account.clone(),
            inst.clone(),
            plugin,
        )?);
        // Claimed first, so that a concurrent install of the same plugin is a conflict.
        self.plugins.installations.create(&inst)?.durable().await?;
        if let Err(e) = self
            .call_plugin(&active, None, false, Invocation::Install)
            .await
        {
            self.plugins
                .installations
                .remove(&account.id, &inst.plugin)?
                .durable()
                .await?;
            return Err(PlazaError::invalid(format!(
                "plugin {} refused to install: {e}",
                inst.plugin
            )));
        }
        self.plugins.refresh(&account)?;
        Ok(inst)
    }

    pub async fn update_installation(
        self: &Arc<Self>,
        account_id: &str,
        plugin_name: &str,
        upd: InstallationUpdate,
    ) -> Result<Installation> {
        let account = self.accounts.get(account_id)?;
        let mut inst = self.plugins.installations.get(account_id, plugin_name)?;
        let plugin = match &upd.version {
            Some(v) => self.plugins.resolve_version(plugin_name, Some(v))?,
            None => self
                .plugins
                .resolve_version(plugin_name, Some(&inst.version.to_string()))?,
        };
        check_requirements(&plugin, &account)?;
        if let Some(config) = upd.config {
            inst.config = config;
        }
        // Validated against the version being switched to, so a rollback with a config the old
        // version cannot read is refused rather than broken at the next message.
        plugin.manifest.validate_config(&inst.config)?;
        inst.grants = match upd.grants {
            Some(caps) => grant_from(&plugin, caps)?,
            None => {
                inst.grants
                    .check_within(&plugin.manifest.capabilities)
                    .map_err(|e| {
                        PlazaError::invalid(format!(
                            "{}; pass grants that version {} requests",
                            e.message(),
                            plugin.manifest.version
                        ))
                    })?;
                inst.grants
            }
        };
        inst.version = plugin.manifest.version.clone();
        if let Some(enabled) = upd.enabled {
            inst.enabled = enabled;
        }
        if let Some(priority) = upd.priority {
            inst.priority = priority;
        }
        inst.updated_at = self.clock.now_ms();
        self.plugins.installations.put(&inst)?.durable().await?;
        self.plugins.refresh(&account)?;
        Ok(inst)
    }

    /// Uninstalls: runs `on-uninstall` (best effort), removes the installation, and with `purge`
    /// also the plugin's stored data for the account. An installation whose stored record no
    /// longer decodes can still be uninstalled (without `on-uninstall`).
    pub async fn uninstall_plugin(
        self: &Arc<Self>,
        account_id: &str,
        plugin_name: &str,
        purge: bool,
    ) -> Result<()> {
        let account = self.accounts.get(account_id)?;
        if !self.plugins.installations.exists(account_id, plugin_name)? {
            return Err(PlazaError::not_found(format!(
                "plugin {plugin_name:?} is not installed on account {account_id:?}"
            )));
        }
        match self.plugins.installations.get(account_id, plugin_name) {
            Ok(inst) => {
                if let Some(plugin) = self.plugins.registry.get(&inst.plugin, &inst.version) {
                    let active = Arc::new(ActiveInstallation::new(
                        account.clone(),
                        inst.clone(),
                        plugin,
                    )?);
                    let _ = self
                        .call_plugin(&active, None, false, Invocation::Uninstall)
                        .await;
                }
            }
            Err(e) => tracing::warn!(account = %account_id, plugin = %plugin_name, error = %e,
                "uninstalling an installation whose record does not decode; on-uninstall skipped"),
        }
        self.plugins
            .installations
            .remove(account_id, plugin_name)?
            .durable()
            .await?;
        if purge {
            let ns = crate::storage::KvNamespace {
                account: account.id.clone(),
                plugin: plugin_name.to_string(),
            };
            self.kv.purge(&ns).await?;
        }
        self.plugins.refresh(&account)?;
        self.forget_problem(
            self.plugins.installations.table().name(),
            &crate::storage::backend::key(&[account_id, plugin_name]),
        );
        Ok(())
    }

    /// Calls one export of an installation in a fresh sandbox. A failure is logged with account,
    /// plugin and version, kept in the installation's error log, and returned; it never escapes
    /// as a host error.
    pub async fn call_plugin(
        self: &Arc<Self>,
        active: &Arc<ActiveInstallation>,
        follower: Option<String>,
        operator: bool,
        make: impl FnOnce(CallContext) -> Invocation,
    ) -> std::result::Result<Outcome, CallFailure> {
        self.call_plugin_during(active, follower, None, operator, make)
            .await
    }

    /// [`Platform::call_plugin`] while `interaction` of the follower is being handled, so that
    /// the plugin sees the follower as it will be once it is recorded.
    pub async fn call_plugin_during(
        self: &Arc<Self>,
        active: &Arc<ActiveInstallation>,
        follower: Option<String>,
        interaction: Option<PendingInteraction>,
        operator: bool,
        make: impl FnOnce(CallContext) -> Invocation,
    ) -> std::result::Result<Outcome, CallFailure> {
        let invocation = make(call_context(active, follower.clone(), operator));
        let mut state = CallState::new(self.clone(), active.clone(), follower);
        state.interaction = interaction;
        self.invoke_recorded(active, state, invocation).await
    }

    /// Runs one call in a fresh sandbox; a failure is logged and kept in the installation's
    /// error log. Every call is counted and timed in `/metrics`, and runs in a `plugin_call`
    /// span naming account, plugin, version and export, so whatever is logged during it (the
    /// plugin's own log lines, host warnings) says which call it belongs to.
    pub(crate) async fn invoke_recorded(
        self: &Arc<Self>,
        active: &Arc<ActiveInstallation>,
        state: CallState,
        invocation: Invocation,
    ) -> std::result::Result<Outcome, CallFailure> {
        use tracing::Instrument;
        let call = invocation.name();
        let plugin = &active.plugin.manifest;
        let span = tracing::info_span!(
            "plugin_call",
            account = %active.account.id,
            plugin = %plugin.name,
            version = %plugin.version,
            call,
        );
        let started = std::time::Instant::now();
        let result = self
            .plugins
            .registry
            .runtime()
            .invoke(&active.plugin.pre, state, invocation)
            .instrument(span)
            .await;
        let outcome = match &result {
            Ok(_) => crate::metrics::CALL_OK,
            Err(failure) => failure.kind(),
        };
        self.metrics
            .observe_plugin_call(&plugin.name, call, outcome, started.elapsed());
        if let Err(failure) = &result {
            // Names account, plugin and version itself; the caller's span (an inbound
            // message's) adds the message.
            self.record_failure(active, call, failure);
        }
        result
    }

    /// Instantiates an installation once for repeated calls (see [`crate::runtime::Runtime::warm`]).
    pub async fn warm_instance(
        self: &Arc<Self>,
        active: &Arc<ActiveInstallation>,
        follower: Option<String>,
    ) -> std::result::Result<WarmInstance, CallFailure> {
        let state = CallState::new(self.clone(), active.clone(), follower);
        self.plugins
            .registry
            .runtime()
            .warm(&active.plugin.pre, state)
            .await
    }

    fn record_failure(&self, active: &ActiveInstallation, call: &str, failure: &CallFailure) {
        let (account, plugin) = (&active.account.id, &active.plugin.manifest.name);
        let version = active.plugin.manifest.version.to_string();
        tracing::warn!(%account, %plugin, %version, call, kind = failure.kind(), "plugin call failed: {failure}");
        let rec = PluginErrorRecord {
            at: self.clock.now_ms(),
            version,
            call: call.to_string(),
            kind: failure.kind().to_string(),
            message: failure.to_string(),
        };
        let seq = self.ids.next("e");
        if let Err(e) = self
            .plugins
            .installations
            .record_error(account, plugin, &seq, &rec)
        {
            tracing::error!(%account, %plugin, error = %e, "cannot record plugin failure");
        }
    }
}
