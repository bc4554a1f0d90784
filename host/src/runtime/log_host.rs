//! `log` and `config` imports: always available, no capability needed.

use super::bindings::v0_1_0::plaza::platform::{config, log, types};
use super::state::CallState;
use crate::error::PlazaError;

/// The longest single log line kept; longer lines are cut.
const MAX_LINE: usize = 4096;

impl log::Host for CallState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_budget == 0 {
            return Ok(());
        }
        let mut msg = message;
        if msg.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push('…');
        }
        self.log_budget = self.log_budget.saturating_sub(msg.len());
        let (account, plugin) = (self.account().id.as_str(), self.plugin_name());
        let version = &self.install.plugin.manifest.version;
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "plugin", account, plugin, %version, "{msg}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "plugin", account, plugin, %version, "{msg}")
            }
            log::Level::Info => {
                tracing::info!(target: "plugin", account, plugin, %version, "{msg}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "plugin", account, plugin, %version, "{msg}")
            }
            log::Level::Error => {
                tracing::error!(target: "plugin", account, plugin, %version, "{msg}")
            }
        }
        if self.log_budget == 0 {
            tracing::warn!(
                account,
                plugin,
                "plugin exceeded its per-call log budget; further lines dropped"
            );
        }
        Ok(())
    }
}

impl config::Host for CallState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        Ok(self.install.config_json.clone())
    }
}

impl types::Host for CallState {
    fn convert_error(&mut self, err: PlazaError) -> wasmtime::Result<types::Error> {
        Ok(err.into())
    }
}
