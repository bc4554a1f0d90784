//! `log` and `config` imports: always available, no capability needed.

use super::bindings::v0_2_0::{config, log};
use super::state::CallState;
use crate::accounts::is_forbidden_char;

/// The longest single log line kept; longer lines are cut.
const MAX_LINE: usize = 4096;

/// A plugin's log text with every control and bidi character (see `accounts::is_forbidden_char`)
/// written as a visible escape (`\n`, `\u{1b}`, …), so that one call is one log line and a
/// plugin can neither forge lines that look like the host's nor send escape sequences to the
/// operator's terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_forbidden_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_forbidden_char(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

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
        let msg = escape_controls(&msg);
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

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape_controls("plain 文字 🙂"), "plain 文字 🙂");
        assert_eq!(
            escape_controls("ok\nERROR forged line\r\t"),
            "ok\\nERROR forged line\\r\\t"
        );
        assert_eq!(
            escape_controls("\u{1b}[31mred\u{1b}[0m"),
            "\\u{1b}[31mred\\u{1b}[0m"
        );
        assert_eq!(escape_controls("a\u{202e}b\0"), "a\\u{202e}b\\u{0}");
        let escaped = escape_controls("x\u{85}\u{2066}\u{7f}");
        assert!(
            !escaped.chars().any(crate::accounts::is_forbidden_char),
            "{escaped}"
        );
    }
}
